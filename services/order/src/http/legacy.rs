//! pizza_back's order API (`/api/order/…`), for its old front end during the switch: thin
//! adapters over the same pricing, placement (outbox, `order.created`) and reads as `/order`.
//! The old client names pizzas by type name and size; the menu resolves them
//! (`MenuService/FindPizzas`). Errors are `{"detail": …}` ([`httpkit::legacy`]); pizza_back
//! knew no 422, so a refusal of the business (sold out, unknown branch) is its 400.

use std::collections::BTreeMap;

use authclient::Caller;
use axum::{extract::State, http::StatusCode, response::IntoResponse};
use httpkit::{Error, Json, LegacyRoutes, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Branch, place, read, with_lines};
use crate::{AppState, db};

pub static ROUTES: LegacyRoutes = LegacyRoutes {
    service: "order",
    successors: &[
        ("/api/order", "/order/"),
        ("/api/order/myorder", "/order/myorder/"),
        ("/api/order/branch", "/order/branch/"),
    ],
    unauthorized: "unauthorized",
};

/// The most orders `/api/order/myorder/` lists (newest first); the new API pages instead.
pub const MY_ORDERS_MAX: i64 = 500;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LegacyNewOrder {
    #[serde(rename = "branchId")]
    #[schema(example = "gangnam")]
    branch_id: Option<String>,
    lines: Option<Vec<LegacyLine>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LegacyLine {
    /// The pizza type's name, as `/api/menu/` lists it.
    #[schema(example = "The Barbecue Chicken Pizza")]
    name: Option<String>,
    #[schema(example = "M")]
    size: Option<String>,
    /// 1 to 100; pizza_back took `null` or 0 as "missing".
    #[schema(value_type = Option<i64>, example = 2, minimum = 1, maximum = 100)]
    quantity: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyPlaced {
    order_id: Uuid,
}

/// An order's id as pizza_back's client shows it: the old integer of an imported order, the
/// id of one placed here.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LegacyOrderId {
    Imported(i64),
    Placed(Uuid),
}

/// One line of one order, as pizza_back listed them.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyOrderLine {
    order_id: LegacyOrderId,
    bran_id: String,
    pizza_id: String,
    quantity: i32,
    /// Asia/Seoul, `YYYY-MM-DD`.
    date: String,
    /// Asia/Seoul, `HH:MM:SS`.
    time: String,
}

fn invalid(detail: &str) -> Error {
    Error::Validation(detail.to_owned())
}

#[deprecated = "pizza_back's API: use POST /order/"]
#[utoipa::path(post, path = "/api/order/", tag = "legacy", operation_id = "legacy_create_order",
    security(("bearer" = [])),
    request_body = LegacyNewOrder,
    responses(
        (status = 201, body = LegacyPlaced, description = "Placed, priced by the server"),
        (status = 400, body = httpkit::doc::LegacyError, description = "`invalid payload`, `missing item details`, an unknown pizza (named), sold out, unknown branch"),
        (status = 401, body = httpkit::doc::LegacyError, description = "`unauthorized`"),
        (status = 503, body = httpkit::doc::LegacyError, description = "The menu or token checks are unavailable; nothing written"),
    ))]
pub(super) async fn create_order(
    State(s): State<AppState>,
    caller: Caller,
    Json(req): Json<LegacyNewOrder>,
) -> Result<impl IntoResponse> {
    let bran_id = req
        .branch_id
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| invalid("invalid payload"))?;
    let lines = req
        .lines
        .filter(|l| !l.is_empty())
        .ok_or_else(|| invalid("invalid payload"))?;
    // Before the names go to the menu (the merged lines are checked again below).
    if lines.len() > place::MAX_LINES {
        return Err(invalid(&format!(
            "at most {} lines per order",
            place::MAX_LINES
        )));
    }
    let mut names = Vec::with_capacity(lines.len());
    let mut quantities = Vec::with_capacity(lines.len());
    for line in lines {
        let (Some(name), Some(size), Some(quantity)) = (line.name, line.size, line.quantity) else {
            return Err(invalid("missing item details"));
        };
        // An integer as written (as on the new API); `null` and 0 were pizza_back's "missing".
        let quantity = match quantity {
            serde_json::Value::Null => return Err(invalid("missing item details")),
            q => q
                .as_i64()
                .ok_or_else(|| invalid("quantity must be an integer"))?,
        };
        if quantity == 0 {
            return Err(invalid("missing item details"));
        }
        names.push((name, size));
        quantities.push(quantity);
    }
    let ids = s.prices.find(&names).await?;
    // The old page may list one pizza twice: one line of their sum.
    let mut by_id: BTreeMap<String, i64> = BTreeMap::new();
    for ((id, (name, _)), quantity) in ids.into_iter().zip(&names).zip(quantities) {
        let id = id.ok_or_else(|| invalid(&format!("피자 '{name}'을 찾을 수 없습니다.")))?;
        let sum = by_id.entry(id).or_default();
        *sum = sum.saturating_add(quantity);
    }
    // From here on it is a new-API order: the same rules check it.
    let lines = place::validate(&place::NewOrder {
        payment_method: None,
        payer_name: None,
        special_requests: None,
        bran_id: Some(bran_id.clone()),
        table_token: None,
        items: by_id
            .into_iter()
            .map(|(pizza_id, quantity)| place::NewOrderLine {
                pizza_id,
                quantity,
                options: None,
            })
            .collect(),
    })?;
    let placing = place::Placing {
        bran_id: &bran_id,
        table: None,
        lines: &lines,
        pay: crate::place::Payment::AT_PICKUP,
        special_requests: None,
    };
    let order = place::price_and_write(&s, &caller, placing, None)
        .await
        .map_err(business_refusal_is_400)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no key, yet the key was taken")))?;
    Ok((
        StatusCode::CREATED,
        Json(LegacyPlaced {
            order_id: order.order_id,
        }),
    ))
}

fn business_refusal_is_400(e: Error) -> Error {
    match e {
        Error::Unprocessable(m) => Error::Validation(m),
        Error::Api(a) if a.status == StatusCode::UNPROCESSABLE_ENTITY => {
            Error::Validation(a.message)
        }
        e => e,
    }
}

#[deprecated = "pizza_back's API: use GET /order/myorder/"]
#[utoipa::path(get, path = "/api/order/myorder/", tag = "legacy", operation_id = "legacy_my_orders",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<LegacyOrderLine>, description = "One row per line of the caller's newest 500 orders, newest first (imported ones with their pizza_back id)"),
        (status = 401, body = httpkit::doc::LegacyError, description = "`unauthorized`"),
    ))]
pub(super) async fn my_orders(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<LegacyOrderLine>>> {
    let rows = db::member_orders(&s.db, &caller.member_id, None, MY_ORDERS_MAX).await?;
    let orders = with_lines(&s, &rows).await?;
    Ok(Json(
        orders
            .into_iter()
            .flat_map(|o| {
                let order_id = match o.legacy_order_id {
                    Some(old) => LegacyOrderId::Imported(old),
                    None => LegacyOrderId::Placed(o.order_id),
                };
                let (bran_id, date, time) = (o.bran_id, o.date, o.time);
                o.items.into_iter().map(move |l| LegacyOrderLine {
                    order_id,
                    bran_id: bran_id.clone(),
                    pizza_id: l.pizza_id,
                    quantity: l.quantity,
                    date: date.clone(),
                    time: time.clone(),
                })
            })
            .collect(),
    ))
}

#[deprecated = "pizza_back's API: use GET /order/branch/"]
#[utoipa::path(get, path = "/api/order/branch/", tag = "legacy", operation_id = "legacy_branches",
    responses((status = 200, body = Vec<Branch>)))]
pub(super) async fn branches(State(s): State<AppState>) -> Result<Json<Vec<Branch>>> {
    Ok(Json(read::all_branches(&s).await?))
}
