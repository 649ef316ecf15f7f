//! Toss Payments' Core API, as the provider documents it (docs.tosspayments.com, "코어 API"):
//! `POST /v1/payments/confirm`, `GET /v1/payments/{paymentKey}`,
//! `GET /v1/payments/orders/{orderId}`, `POST /v1/payments/{paymentKey}/cancel`, with
//! `Authorization: Basic base64("<secret key>:")` and an `Idempotency-Key` on every POST (the
//! provider answers a repeated key with its first answer, for 15 days).
//!
//! Every answer is one of three things ([`Answer`]): the provider's Payment object; a
//! refusal the provider stands by (`{"code", "message"}` with a 4xx: a declined card, an
//! expired session); or no answer to trust (a timeout, a refused connection, a 5xx, or a
//! repeated key still being processed) — then the call's outcome is unknown, and is learnt
//! again by reading the payment.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// What the provider says a payment is.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub payment_key: String,
    pub order_id: String,
    /// READY, IN_PROGRESS, WAITING_FOR_DEPOSIT, DONE, CANCELED, PARTIAL_CANCELED, ABORTED,
    /// EXPIRED.
    pub status: String,
    pub total_amount: i64,
    #[serde(default)]
    pub balance_amount: Option<i64>,
    /// The whole object, as the provider sent it (kept with the payment).
    #[serde(skip)]
    pub raw: Value,
}

impl Payment {
    fn parse(body: Value) -> Result<Payment, Failure> {
        let mut p: Payment = serde_json::from_value(body.clone())
            .map_err(|e| Failure::Unknown(format!("the provider's payment is unreadable: {e}")))?;
        p.raw = body;
        Ok(p)
    }
}

/// A call that did not give a Payment.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    /// The provider answered and refused, with its code (`REJECT_CARD_PAYMENT`, …).
    #[error("the provider refused: {code} ({message})")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer to trust: what happened at the provider is not known.
    #[error("no answer from the provider: {0}")]
    Unknown(String),
}

impl Failure {
    /// Any failure of a call whose refusal decides nothing (a read): not known.
    pub fn unknown(self) -> Failure {
        match self {
            Failure::Refused { status, code, .. } => Failure::Unknown(format!("{status} {code}")),
            unknown => unknown,
        }
    }
}

pub type Answer = Result<Payment, Failure>;

/// A client of the provider's API with the secret key.
#[derive(Clone)]
pub struct Toss {
    http: reqwest::Client,
    base: String,
    authorization: String,
}

impl Toss {
    pub fn new(base: &str, secret_key: &str, timeout: Duration) -> Self {
        // reqwest's rustls takes its crypto from the process: ring, as sqlx's does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .build()
            .expect("a plain HTTP client builds");
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            authorization: format!("Basic {}", STANDARD.encode(format!("{secret_key}:"))),
        }
    }

    /// Approves an authenticated payment: the money moves only here.
    pub async fn confirm(
        &self,
        payment_key: &str,
        order_id: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Answer {
        let body = json!({"paymentKey": payment_key, "orderId": order_id, "amount": amount});
        self.post("/v1/payments/confirm", &body, idempotency_key)
            .await
    }

    pub async fn payment(&self, payment_key: &str) -> Answer {
        self.get(&format!("/v1/payments/{}", segment(payment_key)))
            .await
    }

    pub async fn payment_of_order(&self, order_id: &str) -> Answer {
        self.get(&format!("/v1/payments/orders/{}", segment(order_id)))
            .await
    }

    /// Cancels the whole payment (the money goes back).
    pub async fn cancel(&self, payment_key: &str, reason: &str, idempotency_key: &str) -> Answer {
        let reason: String = reason.chars().take(200).collect();
        self.post(
            &format!("/v1/payments/{}/cancel", segment(payment_key)),
            &json!({"cancelReason": reason}),
            idempotency_key,
        )
        .await
    }

    async fn get(&self, path: &str) -> Answer {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", &self.authorization)
            .send()
            .await;
        answer(res).await
    }

    async fn post(&self, path: &str, body: &Value, idempotency_key: &str) -> Answer {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", &self.authorization)
            .header("idempotency-key", idempotency_key)
            .json(body)
            .send()
            .await;
        answer(res).await
    }
}

async fn answer(res: reqwest::Result<reqwest::Response>) -> Answer {
    let res = res.map_err(|e| Failure::Unknown(e.without_url().to_string()))?;
    let status = res.status();
    let body: Value = res
        .json()
        .await
        .map_err(|e| Failure::Unknown(format!("{status}, unreadable body: {e}")))?;
    if status.is_success() {
        return Payment::parse(body);
    }
    let code = body["code"].as_str().unwrap_or("UNKNOWN").to_owned();
    let message = body["message"].as_str().unwrap_or("").to_owned();
    // 5xx, too many requests, a repeated Idempotency-Key whose first request is still running,
    // and a key the provider does not take (ours, not the customer's card: an operator's
    // mistake, logged loudly): the request was not carried out, or not known to be.
    let ours = matches!(
        code.as_str(),
        "UNAUTHORIZED_KEY" | "INCORRECT_BASIC_AUTH_FORMAT" | "INVALID_API_KEY"
    );
    if ours {
        tracing::error!(%status, code, "the provider refuses this service's key (TOSS_SECRET_KEY)");
    }
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::CONFLICT && code == "IDEMPOTENT_REQUEST_PROCESSING"
        || ours
    {
        return Err(Failure::Unknown(format!("{status} {code}: {message}")));
    }
    Err(Failure::Refused {
        status: status.as_u16(),
        code,
        message,
    })
}

/// A path segment: the ids are the provider's and ours (`[A-Za-z0-9_-]`), but a client's
/// `paymentKey` must never reach the path as anything else.
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
