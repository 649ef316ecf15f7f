//! Reading orders: the caller's (newest first, paged), one order, the branches.

use authclient::{Caller, Role};
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use httpkit::{Error, Json, Result};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{Branch, Order, with_lines};
use crate::{
    AppState,
    db::{self, OrderRow},
    paging::{self, Page},
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// From the `Link: <…>; rel="next"` header of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/order/myorder/", tag = "order",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Vec<Order>, description = "The caller's orders, newest first; the next page is in the Link header"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
    ))]
pub(super) async fn my_orders(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let mut rows = db::member_orders(&s.db, &caller.member_id, page.after, page.fetch()).await?;
    let next = page.cut(&mut rows, OrderRow::cursor);
    let mut res = Json(with_lines(&s, &rows).await?).into_response();
    paging::link_next(&mut res, "/order/myorder/", &page, next, &[]);
    Ok(res)
}

#[utoipa::path(get, path = "/order/{order_id}/", tag = "order",
    security(("bearer" = [])),
    params(("order_id" = String, Path)),
    responses(
        (status = 200, body = Order),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such order, or not yours to see"),
    ))]
pub(super) async fn one_order(
    State(s): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
) -> Result<Json<Order>> {
    let not_found = || Error::NotFound("no such order".into());
    let id: Uuid = order_id.parse().map_err(|_| not_found())?;
    let row = db::order(&s.db, id).await?.ok_or_else(not_found)?;
    let allowed = match caller.role {
        Role::Admin => true,
        Role::Staff => caller.bran_id.as_deref().is_none_or(|b| b == row.bran_id),
        Role::Customer => caller.member_id == row.member_id,
    } || caller.member_id == row.member_id;
    // Someone else's order is "not found", so its existence is not revealed.
    if !allowed {
        return Err(not_found());
    }
    let mut orders = with_lines(&s, std::slice::from_ref(&row)).await?;
    Ok(Json(orders.remove(0)))
}

pub(super) async fn all_branches(s: &AppState) -> Result<Vec<Branch>> {
    Ok(db::branches(&s.db)
        .await?
        .into_iter()
        .map(|(bran_id, bran_nm)| Branch { bran_id, bran_nm })
        .collect())
}
