//! Card payments through Toss Payments.
//!
//! 1. [`checkout`]: what the provider's browser checkout needs (client key, the provider's
//!    orderId, the amount, where to come back), for the order's owner, while it is unpaid.
//! 2. The browser authenticates the payment at the provider and comes back to `success_url`
//!    with `paymentKey`, `orderId` and `amount`.
//! 3. [`confirm`]: the amount is checked against the order's own (the browser's word is never
//!    taken for it), then the provider is asked to approve — the only call that moves money,
//!    sent with an `Idempotency-Key` of the paymentKey, so a repeat is charged once.
//!
//! What the provider answered decides ([`settle`]): DONE is PAID (`payment.completed`); a
//! refusal (a declined card, an expired session) leaves the order unpaid (`payment.failed`);
//! no answer (a timeout, a 5xx) leaves it CONFIRMING, and [`reconcile`] — run for confirms
//! left unanswered, and on every webhook of the provider — reads the payment back from the
//! provider and settles it the same way. A webhook's body is never believed: it only says
//! which payment to read.

use std::time::Duration;

use authclient::Caller;
use axum::http::{HeaderMap, StatusCode, header};
use events::order::PaymentMethod;
use hmac::{Hmac, Mac};
use httpkit::{ApiError, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    db::{self, PaymentRow, State},
    toss::{self, Failure},
    workflow::{self, Paid},
};

/// The provider's name in answers.
pub const PROVIDER: &str = "tosspayments";

/// What the provider's checkout needs (its browser SDK's `requestPayment`, or the sandbox's
/// page at `checkout_url`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Checkout {
    #[schema(example = "tosspayments")]
    pub provider: &'static str,
    pub client_key: String,
    /// The provider's orderId for this order (6 to 64 of `A-Za-z0-9_-`).
    pub order_id: String,
    /// Whole won: the order's total.
    pub amount: i64,
    #[schema(example = "The Hawaiian Pizza L 외 1건")]
    pub order_name: String,
    /// Who pays, as the provider knows them (derived from the member; reveals nothing).
    pub customer_key: String,
    pub success_url: String,
    pub fail_url: String,
    /// A page that runs the whole checkout (the local sandbox); absent: use the SDK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

/// What the browser brings back from the provider's checkout.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmRequest {
    /// The provider's key for the payment (at most 200 characters).
    #[schema(pattern = "^[\\x21-\\x7E]{1,200}$")]
    pub payment_key: String,
    /// The provider's orderId, from the checkout.
    #[schema(pattern = "^[A-Za-z0-9_-]{6,64}$")]
    pub order_id: String,
    /// Whole won; must be the order's total.
    #[serde(deserialize_with = "httpkit::whole::number")]
    pub amount: i64,
}

/// A payment, as customers and staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub order_id: Uuid,
    pub method: PaymentMethod,
    pub amount: i64,
    /// The order's view: UNPAID, PAID or REFUNDED.
    pub payment_status: events::order::PaymentStatus,
    /// This service's: UNPAID, CONFIRMING, PAID, REFUNDING, REFUND_DUE, REFUNDED, VOID.
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<String>,
    /// The provider's code and message of the last refused attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Value>,
    /// TRANSFER: the name the money came (or is to come) from — whom a refund goes back to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_name: Option<String>,
}

impl PaymentView {
    pub fn of(p: &PaymentRow) -> Self {
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        };
        PaymentView {
            order_id: p.order_id,
            method: p.method,
            amount: p.amount,
            payment_status: p.state.payment_status(),
            state: p.state,
            payment_key: p.payment_key.clone(),
            paid_at: time(p.paid_at),
            refunded_at: time(p.refunded_at),
            failure: p
                .failure_code
                .as_ref()
                .map(|code| json!({"code": code, "message": p.failure_message})),
            payer_name: p.payer_name.clone(),
        }
    }
}

/// Who pays, for the provider: stable per member, 2 to 50 of `A-Za-z0-9-_=.@`, and nothing
/// anyone can tie back to a member id without `key` (an HMAC under this service's secret).
pub fn customer_key(key: &[u8], member_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(member_id.as_bytes());
    format!("m_{}", &hex::encode(mac.finalize().into_bytes())[..32])
}

/// How long a checkout waits for an order placed a moment ago to arrive (its `order.created`
/// is on its way through the outbox).
const ARRIVAL_WAIT: Duration = Duration::from_secs(2);

/// Whether `order_id` may be an order placed a few minutes ago whose `order.created` has not
/// arrived yet (NATS down, say): order ids are UUIDv7, which carry their creation time.
fn just_placed(order_id: Uuid) -> bool {
    let Some(ts) = order_id.get_timestamp() else {
        return false;
    };
    let (secs, _) = ts.to_unix();
    let now = chrono::Utc::now().timestamp();
    (now - 300..=now + 5).contains(&(secs as i64))
}

/// The caller's payment of `order_id`; 404 when it is not there (or not theirs). For an
/// order placed a moment ago it waits [`ARRIVAL_WAIT`] for its creation to arrive, then
/// answers 503 (try again): the order is there, this service has not heard of it yet.
async fn own_payment(s: &AppState, caller: &Caller, order_id: Uuid) -> Result<PaymentRow> {
    let fresh = just_placed(order_id);
    let deadline = tokio::time::Instant::now() + if fresh { ARRIVAL_WAIT } else { Duration::ZERO };
    loop {
        if let Some(p) = db::payment(&s.db, order_id).await? {
            if p.member_id != caller.member_id {
                break;
            }
            return Ok(p);
        }
        if tokio::time::Instant::now() > deadline {
            if fresh {
                return Err(ApiError::unavailable(
                    "this order is not known to payments yet; try again in a moment",
                )
                .with_header(
                    header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("1"),
                )
                .into());
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(Error::NotFound("no such order to pay".into()))
}

/// Why a payment in `state` cannot be paid now (409).
fn not_payable(state: State) -> Error {
    let why = match state {
        State::Confirming => "a payment of this order is being confirmed",
        State::Void => "the order was cancelled; nothing can be paid",
        State::Paid
        | State::Refunding
        | State::RefundDue
        | State::RefundFailed
        | State::Refunded => "this order is paid already",
        State::Unpaid => "this order can be paid",
    };
    ApiError::conflict(why)
        .with_details(json!({"state": state}))
        .into()
}

/// Where the browser comes back to: `PAYMENT_RETURN_URL`, else the page that asked, if it is
/// ours (same host, or a CORS-allowed origin).
pub fn return_base(s: &AppState, headers: &HeaderMap) -> Result<String> {
    if let Some(url) = &s.return_url {
        return Ok(url.clone());
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if !httpkit::origin_allowed(headers, &s.allowed_origins) {
            return Err(ApiError::forbidden("this page may not start a checkout").into());
        }
        return Ok(format!("{}/", origin.trim_end_matches('/')));
    }
    httpkit::reached_at(headers)
        .ok_or_else(|| Error::Validation("no Host to send the browser back to".into()))
}

fn with_query(base: &str, query: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The checkout of the caller's unpaid card order.
pub async fn checkout(
    s: &AppState,
    caller: &Caller,
    order_id: Uuid,
    return_base: &str,
) -> Result<Checkout> {
    let p = own_payment(s, caller, order_id).await?;
    if p.method != PaymentMethod::Card {
        return Err(Error::Conflict(
            "this order is paid by transfer, not by card".into(),
        ));
    }
    if p.state != State::Unpaid {
        return Err(not_payable(p.state));
    }
    let success_url = with_query(return_base, "payment=success");
    let fail_url = with_query(return_base, "payment=fail");
    let customer_key = customer_key(&s.customer_key_secret, &p.member_id);
    let checkout_url = s.checkout_url.as_ref().map(|page| {
        with_query(
            page,
            &format!(
                "clientKey={}&orderId={}&orderName={}&amount={}&customerKey={}&successUrl={}&failUrl={}",
                enc(&s.client_key),
                enc(&p.provider_order_id),
                enc(&p.order_name),
                p.amount,
                enc(&customer_key),
                enc(&success_url),
                enc(&fail_url)
            ),
        )
    });
    Ok(Checkout {
        provider: PROVIDER,
        client_key: s.client_key.clone(),
        order_id: p.provider_order_id,
        amount: p.amount,
        order_name: p.order_name,
        customer_key,
        success_url,
        fail_url,
        checkout_url,
    })
}

/// 400 unless the browser's values can be the provider's.
fn validate(req: &ConfirmRequest) -> Result<()> {
    let key = req.payment_key.as_bytes();
    if !(1..=200).contains(&key.len()) || !key.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Error::Validation(
            "paymentKey must be 1 to 200 visible ASCII characters".into(),
        ));
    }
    let id = req.order_id.as_bytes();
    if !(6..=64).contains(&id.len())
        || !id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    {
        return Err(Error::Validation(
            "orderId must be 6 to 64 of A-Z, a-z, 0-9, - and _".into(),
        ));
    }
    Ok(())
}

/// Confirms the payment the browser came back with, for the order's owner.
pub async fn confirm(s: &AppState, caller: &Caller, req: ConfirmRequest) -> Result<PaymentView> {
    validate(&req)?;
    let not_found = || Error::NotFound("no such order to pay".into());
    let p = db::payment_by_provider_order(&s.db, &req.order_id)
        .await?
        .filter(|p| p.member_id == caller.member_id)
        .ok_or_else(not_found)?;
    if p.method != PaymentMethod::Card {
        return Err(not_found());
    }
    // The amount is the order's, whatever the browser says: a changed one confirms nothing.
    if req.amount != p.amount {
        return Err(ApiError::unprocessable(format!(
            "the amount is not the order's ({} won); nothing was charged",
            p.amount
        ))
        .with_details(json!({"amount": p.amount}))
        .into());
    }
    match p.state {
        State::Unpaid | State::Confirming => {}
        // A repeat of the confirm that paid: the same answer, no second charge.
        _ if p.payment_key.as_deref() == Some(req.payment_key.as_str()) => {
            return Ok(PaymentView::of(&p));
        }
        state => return Err(not_payable(state)),
    }
    // Once the provider is asked, what it answers is recorded even if the browser hangs up.
    let (s2, key) = (s.clone(), req.payment_key.clone());
    outbox::run_to_completion(async move { confirm_at_provider(&s2, p, &key).await }).await
}

async fn confirm_at_provider(s: &AppState, p: PaymentRow, key: &str) -> Result<PaymentView> {
    let mut tx = s.db.begin().await?;
    let started = db::start_confirm(&mut tx, p.order_id, key).await?;
    tx.commit().await?;
    let Some(p) = started else {
        let now = db::payment(&s.db, p.order_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("payment {} vanished", p.order_id)))?;
        if now.payment_key.as_deref() == Some(key) && now.state != State::Unpaid {
            return Ok(PaymentView::of(&now));
        }
        return Err(not_payable(now.state));
    };
    let now = confirm_once(s, &p, key).await?;
    match now.state {
        State::Unpaid | State::Void => Err(declined(
            now.failure_code.as_deref().unwrap_or("UNKNOWN"),
            now.failure_message.as_deref().unwrap_or(""),
        )),
        State::Confirming => Err(unanswered()),
        _ => Ok(PaymentView::of(&now)),
    }
}

/// Asks the provider to confirm `p`'s payment with `key` — the first time, or again for a
/// confirm whose answer was lost (the same `Idempotency-Key`: the provider answers what it
/// did the first time, or does it now) — and records the answer ([`settle`]). Only the
/// confirm's own refusal makes the payment unpaid again: a read that fails after
/// `ALREADY_PROCESSED_PAYMENT` leaves it CONFIRMING, for the next attempt. The payment as it
/// is now.
async fn confirm_once(s: &AppState, p: &PaymentRow, key: &str) -> Result<PaymentRow> {
    let answer = s
        .toss
        .confirm(
            key,
            &p.provider_order_id,
            p.amount,
            &format!("confirm-{key}"),
        )
        .await;
    let answer = match answer {
        // Confirmed before with another key (a different request of ours): read what it did.
        Err(Failure::Refused { code, .. }) if code == "ALREADY_PROCESSED_PAYMENT" => {
            s.toss.payment(key).await.map_err(Failure::unknown)
        }
        other => other,
    };
    match answer {
        Ok(provider) => settle(s, p, &provider).await,
        Err(Failure::Refused { code, message, .. }) => {
            workflow::failed(&s.db, p.order_id, key, &code, &message).await?;
            current(s, p).await
        }
        Err(Failure::Unknown(why)) => {
            tracing::warn!(order.id = %p.order_id, error = %why, "confirm unanswered; it will be reconciled");
            current(s, p).await
        }
    }
}

async fn current(s: &AppState, p: &PaymentRow) -> Result<PaymentRow> {
    db::payment(&s.db, p.order_id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("payment {} vanished", p.order_id)))
}

/// 402 with the provider's code: the order stays unpaid and may be paid again.
fn declined(code: &str, message: &str) -> Error {
    ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "the card company refused the payment; nothing was charged",
    )
    .with_details(json!({"provider": PROVIDER, "provider_code": code, "provider_message": message}))
    .into()
}

/// 503: the provider did not answer; what it did is learnt by asking it again.
fn unanswered() -> Error {
    ApiError::unavailable(
        "the card company has not answered yet; the payment is being checked and will show on the order",
    )
    .with_details(json!({"state": State::Confirming}))
    .with_header(header::RETRY_AFTER, axum::http::HeaderValue::from_static("2"))
    .into()
}

/// Records what the provider says of `p`'s payment: DONE → PAID; CANCELED → REFUNDED if it
/// was recorded paid, else (charged and given back before this service knew) unpaid again;
/// ABORTED or EXPIRED → unpaid again; anything else (still in progress) → nothing yet. The
/// payment as it is now.
pub async fn settle(s: &AppState, p: &PaymentRow, provider: &toss::Payment) -> Result<PaymentRow> {
    if provider.order_id != p.provider_order_id {
        return Err(Error::Internal(anyhow::anyhow!(
            "the provider's payment {} is of order {}, not {}",
            provider.payment_key,
            provider.order_id,
            p.provider_order_id
        )));
    }
    let recorded_paid = matches!(
        p.state,
        State::Paid | State::Refunding | State::RefundDue | State::RefundFailed
    );
    match provider.status.as_str() {
        "DONE" | "PARTIAL_CANCELED" => {
            if provider.total_amount != p.amount {
                // Cannot happen through this service (it confirms the order's amount only).
                return Err(Error::Internal(anyhow::anyhow!(
                    "the provider's payment {} is of {} won, the order of {}",
                    provider.payment_key,
                    provider.total_amount,
                    p.amount
                )));
            }
            let how = Paid::Card {
                payment_key: &provider.payment_key,
                provider: &provider.raw,
            };
            workflow::paid(&s.db, p.order_id, how).await?;
        }
        "CANCELED" if recorded_paid => {
            workflow::refunded(&s.db, p.order_id, Some(&provider.raw)).await?;
        }
        "CANCELED" | "ABORTED" | "EXPIRED" => {
            let failure = &provider.raw["failure"];
            let code = failure["code"].as_str().unwrap_or(&provider.status);
            let message = failure["message"].as_str().unwrap_or("");
            workflow::failed(&s.db, p.order_id, &provider.payment_key, code, message).await?;
        }
        _ => {}
    }
    current(s, p).await
}

/// Learns what became of a confirm whose answer never came: reads the order's payment at the
/// provider (by its orderId); if that is this attempt and settled there (DONE, CANCELED,
/// ABORTED, EXPIRED), it is recorded so. Anything else — only authenticated, another attempt,
/// or the read itself failing — is confirmed again with the same `Idempotency-Key`, whose
/// answer decides (charged once whatever the first attempt did).
pub async fn reconcile(s: &AppState, p: &PaymentRow) -> Result<PaymentRow> {
    let Some(key) = p.payment_key.clone() else {
        return Ok(p.clone());
    };
    match s.toss.payment_of_order(&p.provider_order_id).await {
        Ok(provider)
            if provider.payment_key == key
                && matches!(
                    provider.status.as_str(),
                    "DONE" | "PARTIAL_CANCELED" | "CANCELED" | "ABORTED" | "EXPIRED"
                ) =>
        {
            settle(s, p, &provider).await
        }
        _ => confirm_once(s, p, &key).await,
    }
}

/// The periodic job: every confirm unanswered for `PAYMENT_RECONCILE_AFTER` is reconciled.
/// Replicas may do the same one at once: settling is a conditional update, so one wins.
pub async fn reconcile_unanswered(s: AppState) {
    let after = s.reconcile_after.as_secs_f64();
    let due = match db::unanswered_confirms(&s.db, after, 50).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for unanswered confirms; will retry");
            return;
        }
    };
    for p in due {
        match reconcile(&s, &p).await {
            Ok(now) if now.state == State::Confirming => {
                tracing::warn!(order.id = %p.order_id, "confirm still unanswered; will retry")
            }
            Ok(now) => {
                tracing::info!(order.id = %p.order_id, state = %now.state, "unanswered confirm reconciled")
            }
            Err(e) => {
                tracing::warn!(order.id = %p.order_id, error = %e, "reconcile failed; will retry")
            }
        }
    }
}

/// A webhook of the provider (`PAYMENT_STATUS_CHANGED`, …): its `data` only names a payment,
/// which is read back from the provider and reconciled. A payment the provider does not know
/// (a forged call), or that is not one of ours, changes nothing.
pub async fn provider_webhook(s: &AppState, data: &Value) -> Result<()> {
    let answer = if let Some(key) = data["paymentKey"].as_str().filter(|k| valid_id(k, 200)) {
        s.toss.payment(key).await
    } else if let Some(order_id) = data["orderId"].as_str().filter(|k| valid_id(k, 64)) {
        s.toss.payment_of_order(order_id).await
    } else {
        return Ok(());
    };
    let provider = match answer {
        Ok(p) => p,
        Err(Failure::Refused { code, .. }) => {
            tracing::info!(
                code,
                "webhook of a payment the provider does not know; ignored"
            );
            return Ok(());
        }
        Err(Failure::Unknown(_)) => {
            // The provider retries a webhook that was not answered 200.
            return Err(Error::DependencyDown(
                "the card company did not answer; send it again",
            ));
        }
    };
    let Some(p) = db::payment_by_provider_order(&s.db, &provider.order_id).await? else {
        return Ok(());
    };
    let now = settle(s, &p, &provider).await?;
    tracing::info!(order.id = %p.order_id, provider_status = %provider.status, state = %now.state, "provider webhook reconciled");
    Ok(())
}

fn valid_id(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}
