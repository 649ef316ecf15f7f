//! Calls from outside: the provider's webhook and the deposit notifications.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use httpkit::{ApiError, Error, Json, Result};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    AppState, card,
    transfer::{self, DepositAnswer, DepositNotice},
};

/// An event the provider posts (`PAYMENT_STATUS_CHANGED`, …); only `data.paymentKey` (or
/// `data.orderId`) is used, to read the payment back from the provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderEvent {
    #[schema(example = "PAYMENT_STATUS_CHANGED")]
    pub event_type: String,
    /// The provider's Payment object (never believed).
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, Value>,
}

#[utoipa::path(post, path = "/payment/webhooks/tosspayments/", tag = "webhooks",
    request_body = ProviderEvent,
    responses(
        (status = 200, description = "Taken (reconciled, or not a payment of ours)"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 503, body = httpkit::doc::ErrorEnvelope, description = "The provider could not be asked; it sends the webhook again"),
    ))]
pub(super) async fn provider(State(s): State<AppState>, body: Bytes) -> Result<StatusCode> {
    httpkit::refuse_escaped_nul(&body)?;
    let event: ProviderEvent = serde_json::from_slice(&body)
        .map_err(|e| Error::Validation(format!("invalid request body: {e}")))?;
    tracing::debug!(event_type = %event.event_type, "provider webhook");
    card::provider_webhook(&s, &Value::Object(event.data)).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/payment/webhooks/deposit/", tag = "webhooks",
    request_body = DepositNotice,
    params(("X-Signature" = String, Header, description = "hex(HMAC-SHA256(DEPOSIT_WEBHOOK_SECRET, body))")),
    responses(
        (status = 200, body = DepositAnswer, description = "Recorded (or recorded before: the same answer): MATCHED pays the order; UNMATCHED and AMBIGUOUS are kept for staff"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope, description = "No or a wrong signature; nothing recorded"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "The tx_id was reported before with another amount"),
    ))]
pub(super) async fn deposit(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DepositAnswer>> {
    // The signature first: an unsigned body is not even read.
    let signed = s.deposit_secret.as_ref().is_some_and(|secret| {
        transfer::signature_valid(
            secret.expose().as_bytes(),
            &body,
            headers.get("x-signature"),
        )
    });
    if !signed {
        tracing::warn!("deposit notification with no or a wrong signature refused");
        return Err(ApiError::unauthorized("missing or wrong X-Signature").into());
    }
    httpkit::refuse_escaped_nul(&body)?;
    let notice: DepositNotice = serde_json::from_slice(&body)
        .map_err(|e| Error::Validation(format!("invalid request body: {e}")))?;
    Ok(Json(transfer::deposit(&s, notice).await?))
}
