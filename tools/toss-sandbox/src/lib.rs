//! A local stand-in for Toss Payments' Core API, for `make up` and the tests: the same paths,
//! Basic authentication with the secret key, bodies and error codes as the provider documents
//! (docs.tosspayments.com: "코어 API", "에러 코드", "멱등키"), on loopback, in memory.
//!
//! - `GET /checkout?clientKey&orderId&orderName&amount&successUrl&failUrl` — what the
//!   provider's payment window does: a page whose "approve" link authenticates the payment
//!   (status `IN_PROGRESS`) and redirects to `successUrl?paymentKey&orderId&amount&paymentType`;
//!   "cancel" redirects to `failUrl?code=PAY_PROCESS_CANCELED&message&orderId`.
//! - `POST /v1/payments/confirm`, `GET /v1/payments/{paymentKey}`,
//!   `GET /v1/payments/orders/{orderId}`, `POST /v1/payments/{paymentKey}/cancel`.
//! - `Idempotency-Key` on every POST: kept for the process's life (the provider: 15 days),
//!   matched on key, secret key, path and method — not the body, as the provider does; a
//!   repeat gets the first answer, a repeat while the first runs 409
//!   `IDEMPOTENT_REQUEST_PROCESSING`, a key over 300 characters 400 `INVALID_IDEMPOTENCY_KEY`.
//! - A payment authenticated but not confirmed within the confirm window (the provider: 10
//!   min) is `EXPIRED`; its confirm is 404 `NOT_FOUND_PAYMENT_SESSION`.
//!
//! Sandbox rules the provider leaves to its test keys (README): a confirm carrying
//! `TossPayments-Test-Code: <CODE>` fails with that code (as the provider's test mode does);
//! an amount ending in 13 won is declined (403 `REJECT_CARD_PAYMENT`); a confirm whose amount
//! is not the authenticated one is 400 `INVALID_REQUEST` (the provider documents no code).
//! `POST /sandbox/faults {"delay_ms", "delay_path", "fail_next", "refuse_next"}` makes API
//! answers slow (only of paths ending with `"delay_path"`, if given), the next N fail with 500 `FAILED_INTERNAL_SYSTEM_PROCESSING`, or the next one (of `"path"`, a
//! suffix, if given) be refused with 403 and `"code"` — all after doing nothing; `GET
//! /sandbox/ledger` lists every confirm and cancel the sandbox carried out; `GET /sandbox/calls`
//! every API call it answered (`{"method", "path", "status"}`, faults included).
//! `POST /sandbox/webhook {"url"}` sets where webhooks go (as the provider's dashboard does).
//!
//! Webhooks: with a `webhook_url`, every status change (a confirm, a cancel, an expiry) is
//! posted there as the provider does, `{"eventType": "PAYMENT_STATUS_CHANGED", "createdAt",
//! "data": <Payment>}`, unsigned (the provider signs only payout and seller events), and
//! sent again (up to 7 times, waits doubling from 1 s) until the receiver answers 200.
//!
//! An orderId may be paid once: a new checkout of an orderId whose payment was aborted or
//! expired authenticates a new payment; one whose payment was approved or cancelled is
//! `DUPLICATED_ORDER_ID`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// The sandbox's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub secret_key: String,
    pub client_key: String,
    /// How long an authenticated payment may wait for its confirm.
    pub confirm_window: Duration,
    /// Where payment status changes are posted (`PAYMENT_STATUS_CHANGED`).
    pub webhook_url: Option<String>,
}

#[derive(Clone)]
pub struct Sandbox(Arc<Mutex<Inner>>, Arc<Config>);

struct Payment {
    body: Value,
    authenticated_at: Instant,
}

/// What an `Idempotency-Key` is matched on: the key, the secret key, the path and the method.
type IdempotencyId = (String, String, String, String);

#[derive(Default)]
struct Inner {
    payments: HashMap<String, Payment>,
    by_order: HashMap<String, String>,
    /// (key, secret key, path, method) → the first answer, or `None` while it runs.
    idempotent: HashMap<IdempotencyId, Option<Answer>>,
    delay: Duration,
    /// Only calls whose path ends with this are delayed (empty: every call).
    delay_path: String,
    fail_next: u32,
    /// (path suffix, code): the next call whose path ends so is refused with that code.
    refuse_next: Option<(String, String)>,
    ledger: Vec<Value>,
    calls: Vec<Value>,
    /// Set at run time with `POST /sandbox/webhook`; else the configuration's.
    webhook_url: Option<String>,
}

type Answer = (StatusCode, Value);

fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    (status, json!({"code": code, "message": message}))
}

fn now() -> String {
    Utc::now()
        .with_timezone(&FixedOffset::east_opt(9 * 3600).expect("KST"))
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

impl Sandbox {
    pub fn new(config: Config) -> Self {
        // reqwest's rustls (for the webhook) takes its crypto from the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self(Arc::default(), Arc::new(config))
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/checkout", get(checkout))
            .route("/checkout/approve", get(approve))
            .route("/v1/payments/confirm", post(api))
            .route("/v1/payments/orders/{order_id}", get(api))
            .route("/v1/payments/{payment_key}", get(api))
            .route("/v1/payments/{payment_key}/cancel", post(api))
            .route("/sandbox/faults", post(faults))
            .route("/sandbox/ledger", get(ledger))
            .route("/sandbox/calls", get(calls))
            .route("/sandbox/webhook", post(set_webhook))
            .with_state(self)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckoutQuery {
    client_key: String,
    order_id: String,
    order_name: String,
    amount: i64,
    success_url: String,
    fail_url: String,
}

/// The payment window: one approve link, one cancel link.
async fn checkout(State(s): State<Sandbox>, Query(q): Query<CheckoutQuery>) -> Response {
    if q.client_key != s.1.client_key {
        let (status, body) = error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED_KEY",
            "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
        );
        return (status, Json(body)).into_response();
    }
    let approve = format!(
        "/checkout/approve?orderId={}&orderName={}&amount={}&successUrl={}",
        enc(&q.order_id),
        enc(&q.order_name),
        q.amount,
        enc(&q.success_url)
    );
    let cancel = format!(
        "{}{}code=PAY_PROCESS_CANCELED&message={}&orderId={}",
        q.fail_url,
        if q.fail_url.contains('?') { "&" } else { "?" },
        enc("사용자에 의해 결제가 취소되었습니다."),
        enc(&q.order_id)
    );
    Html(format!(
        "<!doctype html><html lang=\"ko\"><meta charset=\"utf-8\"><title>Toss Payments sandbox</title>\
         <h1>결제 (sandbox)</h1><p>{} — {} 원</p>\
         <p><a id=\"approve\" href=\"{}\">결제하기</a> <a id=\"cancel\" href=\"{}\">취소</a></p></html>",
        html(&q.order_name),
        q.amount,
        html(&approve),
        html(&cancel)
    ))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApproveQuery {
    order_id: String,
    order_name: String,
    amount: i64,
    success_url: String,
}

/// Authenticates the payment (`IN_PROGRESS`) and sends the browser back, as the provider does.
async fn approve(State(s): State<Sandbox>, Query(q): Query<ApproveQuery>) -> Response {
    let valid_order_id = (6..=64).contains(&q.order_id.len())
        && q.order_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_order_id || q.amount <= 0 {
        let (status, body) = error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "잘못된 요청입니다.",
        );
        return (status, Json(body)).into_response();
    }
    let payment_key = format!("tsbx{}", uuid::Uuid::new_v4().simple());
    let body = json!({
        "mId": "tosspayments", "lastTransactionKey": null, "paymentKey": payment_key,
        "orderId": q.order_id, "orderName": q.order_name, "taxExemptionAmount": 0,
        "status": "IN_PROGRESS", "requestedAt": now(), "approvedAt": null, "useEscrow": false,
        "cultureExpense": false, "card": null, "virtualAccount": null, "transfer": null,
        "mobilePhone": null, "giftCertificate": null, "cashReceipt": null, "cashReceipts": null,
        "discount": null, "cancels": null, "secret": null, "type": "NORMAL", "easyPay": null,
        "country": "KR", "failure": null, "isPartialCancelable": true, "receipt": null,
        "checkout": null, "currency": "KRW", "totalAmount": q.amount,
        "balanceAmount": q.amount, "suppliedAmount": 0, "vat": 0, "taxFreeAmount": 0,
        "metadata": null, "method": "카드", "version": "2022-11-16",
    });
    {
        let mut inner = s.lock();
        let taken = inner
            .by_order
            .get(&q.order_id)
            .and_then(|key| inner.payments.get(key))
            .is_some_and(|p| {
                !matches!(
                    p.body["status"].as_str(),
                    Some("ABORTED" | "EXPIRED" | "IN_PROGRESS")
                )
            });
        if taken {
            let (status, body) = error(
                StatusCode::BAD_REQUEST,
                "DUPLICATED_ORDER_ID",
                "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.",
            );
            return (status, Json(body)).into_response();
        }
        inner
            .by_order
            .insert(q.order_id.clone(), payment_key.clone());
        inner.payments.insert(
            payment_key.clone(),
            Payment {
                body,
                authenticated_at: Instant::now(),
            },
        );
    }
    let sep = if q.success_url.contains('?') {
        "&"
    } else {
        "?"
    };
    Redirect::to(&format!(
        "{}{sep}paymentKey={}&orderId={}&amount={}&paymentType=NORMAL",
        q.success_url,
        payment_key,
        enc(&q.order_id),
        q.amount
    ))
    .into_response()
}

/// Every `/v1` call: authentication, faults, idempotency, then the operation.
async fn api(
    State(s): State<Sandbox>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, body) = api_answer(&s, &method, uri.path(), &headers, &body).await;
    s.lock()
        .calls
        .push(json!({"method": method.as_str(), "path": uri.path(), "status": status.as_u16()}));
    (status, Json(body)).into_response()
}

async fn api_answer(
    s: &Sandbox,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    if let Err(e) = authenticate(&s.1.secret_key, headers) {
        return e;
    }
    let delay = {
        let inner = s.lock();
        if path.ends_with(inner.delay_path.as_str()) {
            inner.delay
        } else {
            Duration::ZERO
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    {
        let mut inner = s.lock();
        if inner.fail_next > 0 {
            inner.fail_next -= 1;
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "FAILED_INTERNAL_SYSTEM_PROCESSING",
                "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요.",
            );
        }
        if inner
            .refuse_next
            .as_ref()
            .is_some_and(|(suffix, _)| path.ends_with(suffix.as_str()))
            && let Some((_, code)) = inner.refuse_next.take()
        {
            return error(
                StatusCode::FORBIDDEN,
                &code,
                "샌드박스가 거절한 요청입니다.",
            );
        }
    }
    let key = (*method == Method::POST)
        .then(|| headers.get("idempotency-key"))
        .flatten()
        .map(|k| String::from_utf8_lossy(k.as_bytes()).into_owned());
    let Some(key) = key else {
        return operate_and_announce(s, method, path, headers, body);
    };
    if key.len() > 300 {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_IDEMPOTENCY_KEY",
            "멱등키는 300자 이하여야 합니다.",
        );
    }
    let id = (
        key,
        s.1.secret_key.clone(),
        path.to_owned(),
        method.to_string(),
    );
    {
        let mut inner = s.lock();
        match inner.idempotent.get(&id) {
            Some(Some(first)) => return first.clone(),
            Some(None) => {
                return error(
                    StatusCode::CONFLICT,
                    "IDEMPOTENT_REQUEST_PROCESSING",
                    "이전 멱등 요청이 처리중입니다.",
                );
            }
            None => {
                inner.idempotent.insert(id.clone(), None);
            }
        }
    }
    let answer = operate_and_announce(s, method, path, headers, body);
    s.lock().idempotent.insert(id, Some(answer.clone()));
    answer
}

/// A confirm or a cancel that changed a payment is announced to the webhook.
fn operate_and_announce(
    s: &Sandbox,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let answer = operate(s, method, path, headers, body);
    if *method == Method::POST && answer.0 == StatusCode::OK {
        let url = webhook_url(s, &s.lock());
        announce(url, &answer.1);
    }
    answer
}

fn authenticate(secret_key: &str, headers: &HeaderMap) -> Result<(), Answer> {
    let unauthorized = || {
        error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED_KEY",
            "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
        )
    };
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(unauthorized)?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or_else(unauthorized)?;
    let Some(key) = decoded.strip_suffix(':') else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "INCORRECT_BASIC_AUTH_FORMAT",
            "잘못된 요청입니다. ':' 를 포함해 인코딩해주세요.",
        ));
    };
    if key != secret_key {
        return Err(unauthorized());
    }
    Ok(())
}

/// Where webhooks go now.
fn webhook_url(s: &Sandbox, inner: &Inner) -> Option<String> {
    inner
        .webhook_url
        .clone()
        .or_else(|| s.1.webhook_url.clone())
}

/// Posts a status change to the webhook URL, as the provider does, on a task of its own.
fn announce(url: Option<String>, payment: &Value) {
    let Some(url) = url else {
        return;
    };
    let event = json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": now(), "data": payment});
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a plain HTTP client builds");
        let mut wait = Duration::from_secs(1);
        for _ in 0..8 {
            if let Ok(res) = http.post(&url).json(&event).send().await
                && res.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    });
}

fn operate(s: &Sandbox, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Answer {
    let rest = path.trim_start_matches("/v1/payments/");
    match (method.as_str(), rest) {
        ("POST", "confirm") => confirm(s, headers, body),
        ("GET", r) if r.starts_with("orders/") => {
            let order_id = &r["orders/".len()..];
            let key = s.lock().by_order.get(order_id).cloned();
            key.map_or_else(not_found, |k| read(s, &k))
        }
        ("POST", r) if r.ends_with("/cancel") => cancel(s, r.trim_end_matches("/cancel"), body),
        ("GET", key) => read(s, key),
        _ => not_found(),
    }
}

fn not_found() -> Answer {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND_PAYMENT",
        "존재하지 않는 결제 입니다.",
    )
}

fn read(s: &Sandbox, payment_key: &str) -> Answer {
    let mut inner = s.lock();
    if let Some(expired) = expire(&mut inner, payment_key, s.1.confirm_window) {
        announce(webhook_url(s, &inner), &expired);
    }
    match inner.payments.get(payment_key) {
        Some(p) => (StatusCode::OK, p.body.clone()),
        None => not_found(),
    }
}

/// An authenticated payment left unconfirmed past the window is `EXPIRED`; the payment, if
/// it expired just now.
fn expire(inner: &mut Inner, payment_key: &str, window: Duration) -> Option<Value> {
    let p = inner.payments.get_mut(payment_key)?;
    if p.body["status"] == "IN_PROGRESS" && p.authenticated_at.elapsed() > window {
        p.body["status"] = json!("EXPIRED");
        p.body["failure"] =
            json!({"code": "EXPIRED_PAYMENT", "message": "결제 유효 시간이 지나 만료되었습니다."});
        return Some(p.body.clone());
    }
    None
}

fn confirm(s: &Sandbox, headers: &HeaderMap, body: &[u8]) -> Answer {
    let invalid = || {
        error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "잘못된 요청입니다.",
        )
    };
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return invalid();
    };
    let (Some(payment_key), Some(order_id), Some(amount)) = (
        req["paymentKey"].as_str(),
        req["orderId"].as_str(),
        req["amount"].as_i64(),
    ) else {
        return invalid();
    };
    if let Some(code) = headers
        .get("tosspayments-test-code")
        .and_then(|v| v.to_str().ok())
    {
        return error(
            StatusCode::BAD_REQUEST,
            code,
            "테스트 코드로 요청한 에러입니다.",
        );
    }
    let mut inner = s.lock();
    if let Some(expired) = expire(&mut inner, payment_key, s.1.confirm_window) {
        announce(webhook_url(s, &inner), &expired);
    }
    let Some(p) = inner.payments.get_mut(payment_key) else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND_PAYMENT_SESSION",
            "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
        );
    };
    match p.body["status"].as_str() {
        Some("IN_PROGRESS") => {}
        Some("EXPIRED") => {
            return error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND_PAYMENT_SESSION",
                "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
            );
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "ALREADY_PROCESSED_PAYMENT",
                "이미 처리된 결제 입니다.",
            );
        }
    }
    if p.body["orderId"] != order_id || p.body["totalAmount"] != amount {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "결제 정보가 인증된 결제와 일치하지 않습니다.",
        );
    }
    if amount % 100 == 13 {
        p.body["status"] = json!("ABORTED");
        p.body["failure"] = json!({"code": "REJECT_CARD_PAYMENT", "message": "한도초과 혹은 잔액부족으로 결제에 실패했습니다."});
        return error(
            StatusCode::FORBIDDEN,
            "REJECT_CARD_PAYMENT",
            "한도초과 혹은 잔액부족으로 결제에 실패했습니다.",
        );
    }
    let approved = now();
    p.body["status"] = json!("DONE");
    p.body["approvedAt"] = json!(approved);
    p.body["lastTransactionKey"] = json!(uuid::Uuid::new_v4().simple().to_string());
    p.body["card"] = json!({
        "issuerCode": "61", "acquirerCode": "31", "number": "43301234****123*",
        "installmentPlanMonths": 0, "isInterestFree": false, "interestPayer": null,
        "approveNo": "00000000", "useCardPoint": false, "cardType": "신용",
        "ownerType": "개인", "acquireStatus": "READY", "amount": amount,
    });
    p.body["receipt"] = json!({"url": format!("https://dashboard.tosspayments.com/receipt/redirection?transactionId={payment_key}&ref=PX")});
    let answer = p.body.clone();
    inner.ledger.push(
        json!({"op": "confirm", "paymentKey": payment_key, "orderId": order_id, "amount": amount}),
    );
    (StatusCode::OK, answer)
}

fn cancel(s: &Sandbox, payment_key: &str, body: &[u8]) -> Answer {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "잘못된 요청입니다.",
        );
    };
    let Some(reason) = req["cancelReason"]
        .as_str()
        .filter(|r| !r.is_empty() && r.chars().count() <= 200)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "잘못된 요청입니다.",
        );
    };
    let mut inner = s.lock();
    let Some(p) = inner.payments.get_mut(payment_key) else {
        return not_found();
    };
    match p.body["status"].as_str() {
        Some("DONE" | "PARTIAL_CANCELED") => {}
        Some("CANCELED") => {
            return error(
                StatusCode::BAD_REQUEST,
                "ALREADY_CANCELED_PAYMENT",
                "이미 취소된 결제 입니다.",
            );
        }
        _ => {
            return error(
                StatusCode::FORBIDDEN,
                "NOT_CANCELABLE_PAYMENT",
                "취소 할 수 없는 결제 입니다.",
            );
        }
    }
    let balance = p.body["balanceAmount"].as_i64().unwrap_or(0);
    let amount = req["cancelAmount"].as_i64().unwrap_or(balance);
    if amount <= 0 || amount > balance {
        return error(
            StatusCode::FORBIDDEN,
            "NOT_CANCELABLE_AMOUNT",
            "취소 할 수 없는 금액 입니다.",
        );
    }
    let left = balance - amount;
    let entry = json!({
        "transactionKey": uuid::Uuid::new_v4().simple().to_string(), "cancelReason": reason,
        "taxExemptionAmount": 0, "canceledAt": now(), "transferDiscountAmount": 0,
        "easyPayDiscountAmount": 0, "receiptKey": null, "cancelAmount": amount,
        "taxFreeAmount": 0, "refundableAmount": left, "cancelStatus": "DONE",
        "cancelRequestId": null,
    });
    let mut cancels = p.body["cancels"].as_array().cloned().unwrap_or_default();
    cancels.push(entry);
    p.body["cancels"] = json!(cancels);
    p.body["balanceAmount"] = json!(left);
    p.body["status"] = json!(if left == 0 {
        "CANCELED"
    } else {
        "PARTIAL_CANCELED"
    });
    let answer = p.body.clone();
    inner
        .ledger
        .push(json!({"op": "cancel", "paymentKey": payment_key, "amount": amount}));
    (StatusCode::OK, answer)
}

#[derive(Deserialize)]
struct Faults {
    #[serde(default)]
    delay_ms: u64,
    /// Delay only the calls whose path ends with this (default: all).
    #[serde(default)]
    delay_path: String,
    #[serde(default)]
    fail_next: u32,
    #[serde(default)]
    refuse_next: Option<Refusal>,
}

#[derive(Deserialize)]
struct Refusal {
    code: String,
    #[serde(default)]
    path: String,
}

async fn faults(State(s): State<Sandbox>, Json(f): Json<Faults>) -> StatusCode {
    let mut inner = s.lock();
    inner.delay = Duration::from_millis(f.delay_ms);
    inner.delay_path = f.delay_path;
    inner.fail_next = f.fail_next;
    inner.refuse_next = f.refuse_next.map(|r| (r.path, r.code));
    StatusCode::NO_CONTENT
}

async fn calls(State(s): State<Sandbox>) -> Json<Value> {
    Json(json!(s.lock().calls))
}

#[derive(Deserialize)]
struct Webhook {
    url: String,
}

async fn set_webhook(State(s): State<Sandbox>, Json(w): Json<Webhook>) -> StatusCode {
    s.lock().webhook_url = Some(w.url);
    StatusCode::NO_CONTENT
}

async fn ledger(State(s): State<Sandbox>) -> Json<Value> {
    Json(json!(s.lock().ledger))
}

fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves the sandbox on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, config: Config) -> std::io::Result<()> {
    axum::serve(listener, Sandbox::new(config).router()).await
}
