//! The sandbox run as `make up` runs it, spoken to as the provider's documentation says:
//! Basic auth with the secret key, the checkout redirect, confirm, query, cancel,
//! `Idempotency-Key`, the error codes.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use base64::Engine;
use serde_json::{Value, json};

const SECRET: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";
const CLIENT: &str = "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq";

struct Sandbox {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start() -> Sandbox {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_toss-sandbox"))
        .env("TOSS_SANDBOX_ADDR", "127.0.0.1:0")
        .env("TOSS_SANDBOX_CONFIRM_WINDOW_SECS", "2")
        .stdout(Stdio::piped())
        .spawn()
        .expect("toss-sandbox runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    Sandbox {
        child,
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

impl Sandbox {
    /// The payment window, approved: the success redirect's query.
    async fn approve(&self, order_id: &str, amount: i64) -> Vec<(String, String)> {
        let amount = amount.to_string();
        let url = reqwest::Url::parse_with_params(
            &format!("{}/checkout", self.base),
            &[
                ("clientKey", CLIENT),
                ("orderId", order_id),
                ("orderName", "하와이안 피자 외 1건"),
                ("amount", amount.as_str()),
                ("successUrl", "http://shop.test/pay/success"),
                ("failUrl", "http://shop.test/pay/fail"),
            ],
        )
        .unwrap();
        let page = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = page.find("id=\"approve\" href=\"").unwrap() + 19;
        let href = page[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&");
        let res = self
            .http
            .get(format!("{}{href}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("http://shop.test/pay/success?"),
            "{location}"
        );
        let url = reqwest::Url::parse(&location).unwrap();
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", basic(&format!("{SECRET}:")));
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    async fn confirm(
        &self,
        key: &str,
        order: &str,
        amount: i64,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let body = json!({"paymentKey": key, "orderId": order, "amount": amount});
        self.call(
            reqwest::Method::POST,
            "/v1/payments/confirm",
            Some(body),
            extra,
        )
        .await
    }

    async fn ledger(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/sandbox/ledger", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> &'a str {
    &q.iter().find(|(k, _)| k == name).unwrap().1
}

#[tokio::test]
async fn a_card_payment_is_confirmed_once_and_cancelled_once() {
    let s = start();
    let q = s.approve("order-0001-abc", 29000).await;
    assert_eq!(param(&q, "orderId"), "order-0001-abc");
    assert_eq!(param(&q, "amount"), "29000");
    assert_eq!(param(&q, "paymentType"), "NORMAL");
    let key = param(&q, "paymentKey").to_owned();

    // Confirmed twice under one Idempotency-Key: one answer, one charge.
    let first = s
        .confirm(&key, "order-0001-abc", 29000, &[("idempotency-key", "k1")])
        .await;
    assert_eq!(first.0, 200);
    assert_eq!(first.1["status"], "DONE");
    assert_eq!(first.1["method"], "카드");
    assert_eq!(first.1["totalAmount"], 29000);
    let again = s
        .confirm(&key, "order-0001-abc", 29000, &[("idempotency-key", "k1")])
        .await;
    assert_eq!(again, first);
    // Without the key, a second confirm is the provider's ALREADY_PROCESSED_PAYMENT.
    let (status, body) = s.confirm(&key, "order-0001-abc", 29000, &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("ALREADY_PROCESSED_PAYMENT"))
    );

    let by_order = s
        .call(
            reqwest::Method::GET,
            "/v1/payments/orders/order-0001-abc",
            None,
            &[],
        )
        .await;
    assert_eq!(by_order.1["paymentKey"], key.as_str());
    let by_key = s
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/{key}"),
            None,
            &[],
        )
        .await;
    assert_eq!(by_key, by_order);

    let cancel = |amount: Option<i64>, idem: &'static str| {
        let mut body = json!({"cancelReason": "가게 사정으로 주문 거절"});
        if let Some(a) = amount {
            body["cancelAmount"] = json!(a);
        }
        let path = format!("/v1/payments/{key}/cancel");
        let s = &s;
        async move {
            s.call(
                reqwest::Method::POST,
                &path,
                Some(body),
                &[("idempotency-key", idem)],
            )
            .await
        }
    };
    let partial = cancel(Some(9000), "c1").await;
    assert_eq!(
        (partial.0, partial.1["status"].as_str()),
        (200, Some("PARTIAL_CANCELED"))
    );
    assert_eq!(partial.1["balanceAmount"], 20000);
    let over = cancel(Some(30000), "c2").await;
    assert_eq!(over.1["code"], "NOT_CANCELABLE_AMOUNT");
    let rest = cancel(None, "c3").await;
    assert_eq!(rest.1["status"], "CANCELED");
    assert_eq!(
        cancel(None, "c3").await,
        rest,
        "the same key, the same answer"
    );
    let twice = cancel(None, "c4").await;
    assert_eq!(
        (twice.0, twice.1["code"].as_str()),
        (400, Some("ALREADY_CANCELED_PAYMENT"))
    );
    assert_eq!(rest.1["cancels"].as_array().unwrap().len(), 2);

    let ops: Vec<String> = s
        .ledger()
        .await
        .iter()
        .map(|o| o["op"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ops, ["confirm", "cancel", "cancel"]);
}

#[tokio::test]
async fn keys_tampering_declines_test_codes_and_expiry_answer_the_documented_errors() {
    let s = start();
    let q = s.approve("order-0002-xyz", 17800).await;
    let key = param(&q, "paymentKey").to_owned();
    // Authentication.
    for (header, status, code) in [
        (basic("wrong_sk:"), 401, "UNAUTHORIZED_KEY"),
        (basic(SECRET), 403, "INCORRECT_BASIC_AUTH_FORMAT"),
        ("Bearer x".into(), 401, "UNAUTHORIZED_KEY"),
    ] {
        let res = s
            .http
            .get(format!("{}/v1/payments/{key}", s.base))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], code);
    }
    // Another amount than the authenticated one: refused, nothing charged.
    let (status, body) = s.confirm(&key, "order-0002-xyz", 100, &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_REQUEST"))
    );
    // The provider's test mode: the error asked for.
    let (status, body) = s
        .confirm(
            &key,
            "order-0002-xyz",
            17800,
            &[("tosspayments-test-code", "PROVIDER_ERROR")],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("PROVIDER_ERROR"))
    );
    let (_, still) = s
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/{key}"),
            None,
            &[],
        )
        .await;
    assert_eq!(still["status"], "IN_PROGRESS");
    // Not confirmed in time (2 s here): the session is gone, the payment EXPIRED.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = s.confirm(&key, "order-0002-xyz", 17800, &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT_SESSION"))
    );
    let (_, expired) = s
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/{key}"),
            None,
            &[],
        )
        .await;
    assert_eq!(expired["status"], "EXPIRED");

    // The sandbox's documented decline: an amount ending in 13 won.
    let q = s.approve("order-0003-dec", 17813).await;
    let (status, body) = s
        .confirm(param(&q, "paymentKey"), "order-0003-dec", 17813, &[])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("REJECT_CARD_PAYMENT"))
    );
    assert!(s.ledger().await.is_empty(), "nothing was charged");
    let (status, body) = s
        .call(reqwest::Method::GET, "/v1/payments/no-such-key", None, &[])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT"))
    );
}

#[tokio::test]
async fn failures_on_demand_do_nothing_and_a_repeated_key_finds_the_one_that_worked() {
    let s = start();
    let q = s.approve("order-0004-flt", 23900).await;
    let key = param(&q, "paymentKey").to_owned();
    let res = s
        .http
        .post(format!("{}/sandbox/faults", s.base))
        .json(&json!({"fail_next": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for _ in 0..2 {
        let (status, body) = s
            .confirm(
                &key,
                "order-0004-flt",
                23900,
                &[("idempotency-key", "retry-me")],
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (500, Some("FAILED_INTERNAL_SYSTEM_PROCESSING"))
        );
    }
    let (status, body) = s
        .confirm(
            &key,
            "order-0004-flt",
            23900,
            &[("idempotency-key", "retry-me")],
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("DONE")));
    assert_eq!(s.ledger().await.len(), 1);
    let long = "k".repeat(301);
    let (status, body) = s
        .confirm(&key, "order-0004-flt", 23900, &[("idempotency-key", &long)])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_IDEMPOTENCY_KEY"))
    );
}
