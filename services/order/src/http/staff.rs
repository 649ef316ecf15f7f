//! Staff: the queue, and the status actions (staff's, and the customer's `cancel`).

use authclient::{Caller, Role};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use httpkit::{Error, Json, Result};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Order, with_lines};
use crate::{
    AppState,
    db::{self, OrderRow, Scope},
    paging::{self, Page},
    status::Status,
    workflow::{self, Action, Outcome},
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// PENDING, ACCEPTED, READY, COMPLETED, REJECTED, CANCELLED or AWAITING_PAYMENT. Without
    /// it, the board: the orders still to act on (PENDING, ACCEPTED and READY); finished ones
    /// only by their status, unpaid ones only when asked for.
    status: Option<String>,
    /// One branch (a STAFF member bound to a branch sees only that one).
    bran_id: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/order/", tag = "staff",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, body = Vec<Order>, description = "Oldest first; the next page is in the Link header"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not STAFF/ADMIN, or another branch than the one the STAFF member is bound to"),
    ))]
pub(super) async fn staff_queue(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> Result<Response> {
    caller.require(&[Role::Staff, Role::Admin])?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(st) => Some(Status::parse(st).ok_or_else(|| {
            Error::Validation(format!("status must be one of {}", Status::names()))
        })?),
    };
    let wanted = q.bran_id.as_deref().filter(|b| !b.is_empty());
    let bran_id = match (caller.role, caller.bran_id.as_deref()) {
        (Role::Staff, Some(bound)) => {
            if wanted.is_some_and(|w| w != bound) {
                return Err(httpkit::ApiError::forbidden(format!(
                    "you are bound to branch '{bound}'"
                ))
                .into());
            }
            Some(bound)
        }
        _ => wanted,
    };
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let mut rows = db::queue(&s.db, status, bran_id, page.after, page.fetch()).await?;
    let next = page.cut(&mut rows, OrderRow::cursor);
    let mut res = Json(with_lines(&s, &rows).await?).into_response();
    let mut query = vec![];
    if let Some(st) = status {
        query.push(("status", st.as_str()));
    }
    if let Some(b) = bran_id {
        query.push(("bran_id", b));
    }
    paging::link_next(&mut res, "/order/", &page, next, &query);
    Ok(res)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptBody {
    /// Minutes until ready, 1 to 180.
    #[serde(deserialize_with = "httpkit::whole::number")]
    #[schema(minimum = 1, maximum = 180)]
    pub estimated_time_minutes: i64,
    /// Shown to the customer with the time (at most 200 characters).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectBody {
    /// Why, for the customer (1 to 500 characters).
    pub reason: String,
}

fn body_as<T: serde::de::DeserializeOwned>(body: &Bytes, what: &str) -> Result<T> {
    httpkit::refuse_escaped_nul(body)?;
    serde_json::from_slice(body).map_err(|e| Error::Validation(format!("{what}: {e}")))
}

/// The action named in the path, with what its body says; 404 for a name that is no action,
/// 400 for a body the action cannot take.
fn parse_action(name: &str, body: &Bytes) -> Result<Action> {
    Ok(match name {
        "accept" => {
            let b: AcceptBody = body_as(body, "accept needs {\"estimated_time_minutes\": 1..180}")?;
            if !(1..=180).contains(&b.estimated_time_minutes) {
                return Err(Error::Validation(
                    "estimated_time_minutes must be 1 to 180".into(),
                ));
            }
            let message = b
                .message
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned);
            if message
                .as_deref()
                .is_some_and(|m| m.chars().count() > 200 || m.chars().any(char::is_control))
            {
                return Err(Error::Validation(
                    "message must be at most 200 characters, on one line".into(),
                ));
            }
            Action::Accept {
                minutes: b.estimated_time_minutes,
                message,
            }
        }
        "reject" => {
            let b: RejectBody = body_as(body, "reject needs {\"reason\": \"…\"}")?;
            let reason = b.reason.trim();
            if reason.is_empty() || reason.chars().count() > 500 {
                return Err(Error::Validation(
                    "reason must be 1 to 500 characters".into(),
                ));
            }
            Action::Reject {
                reason: reason.to_owned(),
            }
        }
        "ready" => Action::Ready,
        "complete" => Action::Complete,
        "cancel" => Action::Cancel,
        _ => return Err(Error::NotFound(format!("no action '{name}'"))),
    })
}

#[utoipa::path(post, path = "/order/{order_id}/{action}/", tag = "staff",
    security(("bearer" = [])),
    params(
        ("order_id" = String, Path),
        ("action" = String, Path, description = "accept (STAFF/ADMIN, body AcceptBody), reject (STAFF/ADMIN, body RejectBody), ready, complete (STAFF/ADMIN), cancel (the customer, while PENDING)"),
    ),
    request_body(content = AcceptBody, description = "For accept; RejectBody for reject; nothing for the others"),
    responses(
        (status = 200, body = Order, description = "The order in its new status"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "A CUSTOMER calling a staff action"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such order, or not the caller's (branch)"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "Not allowed from the current status (details.current_status), or lost a race"),
    ))]
pub(super) async fn order_action(
    State(s): State<AppState>,
    caller: Caller,
    Path((order_id, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Order>> {
    let staff = match name.as_str() {
        "accept" | "reject" | "ready" | "complete" => true,
        "cancel" => false,
        _ => return Err(Error::NotFound(format!("no action '{name}'"))),
    };
    // A customer calling a staff action is refused before the order is even looked up (and
    // before its body is read).
    if staff {
        caller.require(&[Role::Staff, Role::Admin])?;
    }
    let action = parse_action(&name, &body)?;
    let not_found = || Error::NotFound("no such order".into());
    let id: Uuid = order_id.parse().map_err(|_| not_found())?;
    // Who may touch it: bound staff their branch, a customer their own orders.
    let (bran_id, member_id) = if action.is_staff_action() {
        let bound = (caller.role == Role::Staff).then(|| caller.bran_id.clone());
        (bound.flatten(), None)
    } else {
        (None, Some(caller.member_id.clone()))
    };
    // Once begun, the change runs to its end even if the client hangs up: a retry then gets
    // 409 with the status it already moved to (ARCHITECTURE.md).
    let (db, by, act) = (s.db.clone(), caller.member_id.clone(), action.clone());
    let outcome = outbox::run_to_completion(async move {
        let scope = Scope {
            bran_id: bran_id.as_deref(),
            member_id: member_id.as_deref(),
        };
        workflow::apply(&db, id, &act, &by, scope).await
    })
    .await?;
    match outcome {
        Outcome::Done { order, previous } => {
            tracing::info!(order.id = %id, from = %previous, to = %order.status, by = %caller.member_id, "order status changed");
            let mut orders = with_lines(&s, std::slice::from_ref(&order)).await?;
            Ok(Json(orders.remove(0)))
        }
        Outcome::NotFound => Err(not_found()),
        Outcome::Conflict { current } => {
            let (from, to) = action.transition();
            let from = from
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ");
            Err(httpkit::ApiError::conflict(format!(
                "cannot move the order from {current} to {to} (it must be {from})"
            ))
            .with_details(json!({"current_status": current}))
            .into())
        }
    }
}
