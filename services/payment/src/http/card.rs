//! Paying by card: the checkout's parameters, the confirm, and one order's payment.

use authclient::{Caller, Role};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
};
use httpkit::{Error, Json, Result};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    card::{self, Checkout, ConfirmRequest, PaymentView},
    db,
};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckoutRequest {
    /// The order to pay (placed with `"payment_method": "CARD"`).
    pub order_id: Uuid,
}

#[utoipa::path(post, path = "/payment/checkout/", tag = "payment",
    security(("bearer" = [])),
    request_body = CheckoutRequest,
    responses(
        (status = 200, body = Checkout, description = "What the provider's checkout needs; the browser comes back to success_url with paymentKey, orderId and amount"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Asked from a page that is not ours"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such order of the caller's to pay"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "Paid by transfer, paid already, being confirmed, or cancelled (details.state)"),
        (status = 503, body = httpkit::doc::ErrorEnvelope, description = "An order placed a moment ago that this service has not heard of yet: try again"),
    ))]
pub(super) async fn checkout(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<CheckoutRequest>,
) -> Result<Json<Checkout>> {
    let base = card::return_base(&s, &headers)?;
    Ok(Json(
        card::checkout(&s, &caller, req.order_id, &base).await?,
    ))
}

#[utoipa::path(post, path = "/payment/confirm/", tag = "payment",
    security(("bearer" = [])),
    request_body = ConfirmRequest,
    responses(
        (status = 200, body = PaymentView, description = "Paid (payment_status PAID); the same answer again for a repeated confirm, charged once"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 402, body = httpkit::doc::ErrorEnvelope, description = "The provider refused (details.provider_code: REJECT_CARD_PAYMENT, NOT_FOUND_PAYMENT_SESSION, …); nothing charged, the order stays unpaid"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such order of the caller's to pay"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "Paid already with another payment, or cancelled (details.state)"),
        (status = 422, body = httpkit::doc::ErrorEnvelope, description = "The amount is not the order's (details.amount); nothing confirmed"),
        (status = 503, body = httpkit::doc::ErrorEnvelope, description = "The provider did not answer; the payment is reconciled and shows on the order"),
    ))]
pub(super) async fn confirm(
    State(s): State<AppState>,
    caller: Caller,
    Json(req): Json<ConfirmRequest>,
) -> Result<Json<PaymentView>> {
    Ok(Json(card::confirm(&s, &caller, req).await?))
}

#[utoipa::path(get, path = "/payment/orders/{order_id}/", tag = "payment",
    security(("bearer" = [])),
    params(("order_id" = String, Path)),
    responses(
        (status = 200, body = PaymentView),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No payment of that order, or not the caller's to see"),
    ))]
pub(super) async fn one(
    State(s): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
) -> Result<Json<PaymentView>> {
    let not_found = || Error::NotFound("no payment of that order".into());
    let id: Uuid = order_id.parse().map_err(|_| not_found())?;
    let p = db::payment(&s.db, id).await?.ok_or_else(not_found)?;
    let allowed = caller.member_id == p.member_id
        || caller.role != Role::Customer && caller.bound_branch().is_none_or(|b| b == p.bran_id);
    if !allowed {
        return Err(not_found());
    }
    Ok(Json(PaymentView::of(&p)))
}
