//! Staff: deposits to settle and transfer refunds to make.

use authclient::{Caller, Role};
use axum::extract::{Path, State};
use httpkit::{Error, Json, Result};
use uuid::Uuid;

use crate::{
    AppState,
    card::PaymentView,
    refunds,
    transfer::{self, DepositAnswer, OpenDeposit, Settlement},
};

#[utoipa::path(get, path = "/payment/deposits/", tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<OpenDeposit>, description = "Deposits that paid nothing yet (unmatched or ambiguous), oldest first, with the payer's unpaid transfer orders"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
    ))]
pub(super) async fn open_deposits(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<OpenDeposit>>> {
    caller.require(&[Role::Staff, Role::Admin])?;
    Ok(Json(transfer::open_deposits(&s).await?))
}

#[utoipa::path(post, path = "/payment/deposits/{tx_id}/settle/", tag = "staff",
    security(("bearer" = [])),
    params(("tx_id" = String, Path)),
    request_body = Settlement,
    responses(
        (status = 200, body = DepositAnswer, description = "Settled: it paid order_id, or was sent back"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not STAFF/ADMIN, or a branch's STAFF marking it sent back"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such deposit, or no such order (of the caller's branch)"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "Settled already, or the order is not an unpaid transfer"),
        (status = 422, body = httpkit::doc::ErrorEnvelope, description = "The order's amount is not the deposit's"),
    ))]
pub(super) async fn settle_deposit(
    State(s): State<AppState>,
    caller: Caller,
    Path(tx_id): Path<String>,
    Json(settlement): Json<Settlement>,
) -> Result<Json<DepositAnswer>> {
    caller.require(&[Role::Staff, Role::Admin])?;
    Ok(Json(
        transfer::settle(&s, &caller, tx_id, settlement).await?,
    ))
}

#[utoipa::path(get, path = "/payment/refunds/", tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<PaymentView>, description = "Refunds for staff to make: cancelled paid transfers (REFUND_DUE: send the money back to payer_name) and card refunds the provider refused (REFUND_FAILED: refund at its dashboard); then mark each done"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
    ))]
pub(super) async fn refunds_due(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PaymentView>>> {
    caller.require(&[Role::Staff, Role::Admin])?;
    let due = refunds::due(&s, &caller).await?;
    Ok(Json(due.iter().map(PaymentView::of).collect()))
}

#[utoipa::path(post, path = "/payment/refunds/{order_id}/done/", tag = "staff",
    security(("bearer" = [])),
    params(("order_id" = String, Path)),
    responses(
        (status = 200, body = PaymentView, description = "Refunded"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such order (of the caller's branch)"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "No refund is due from staff for it"),
    ))]
pub(super) async fn refund_done(
    State(s): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
) -> Result<Json<PaymentView>> {
    caller.require(&[Role::Staff, Role::Admin])?;
    let id: Uuid = order_id
        .parse()
        .map_err(|_| Error::NotFound("no such order".into()))?;
    let p = refunds::refunded_by_staff(&s, &caller, id).await?;
    Ok(Json(PaymentView::of(&p)))
}
