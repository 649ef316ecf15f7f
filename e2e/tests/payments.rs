//! Payments through the ingress, against the Toss Payments sandbox, with the binaries as
//! `make up` runs them: a card paid and confirmed twice but charged once, a changed amount,
//! a declined card, a confirm whose answer is lost, a refund that survives the provider
//! failing and the payment service being killed, transfers matched by signed deposit
//! notifications (replayed, forged, ambiguous), and an unpaid order that expires.

use std::time::Duration;

use e2e::{DEPOSIT_SECRET, Stack};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The body of the confirm the browser sends.
struct Approved(Value);

struct Shop<'a> {
    stack: &'a Stack,
    http: reqwest::Client,
}

impl<'a> Shop<'a> {
    fn new(stack: &'a Stack) -> Self {
        Shop {
            stack,
            http: testkit::http(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, self.stack.url(path))
            .bearer_auth(token)
            // As the web client's page sends it: the page's own origin.
            .header("origin", self.stack.url(""));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let res = self.send(reqwest::Method::GET, path, token, None).await;
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.unwrap()
    }

    async fn order(&self, token: &str, body: Value) -> Value {
        let res = self.post("/order/", token, body).await;
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    async fn card_order(&self, token: &str, pizza: &str) -> (String, i64) {
        let o = self
            .order(
                token,
                json!({"bran_id": "gangnam", "payment_method": "CARD",
                   "items": [{"pizza_id": pizza, "quantity": 1}]}),
            )
            .await;
        assert_eq!(o["status"], "AWAITING_PAYMENT");
        (
            o["order_id"].as_str().unwrap().to_owned(),
            o["total_price"].as_i64().unwrap(),
        )
    }

    /// The checkout, its page at the provider, "approve", and the redirect back to us: the
    /// confirm's body.
    async fn pay_at_provider(&self, token: &str, order_id: &str) -> Approved {
        // The order's creation is on its way to the payment service: the checkout waits a
        // moment for it, and the page would try again.
        let mut checkout = None;
        for _ in 0..20 {
            let res = self
                .post("/payment/checkout/", token, json!({"order_id": order_id}))
                .await;
            if res.status() == 200 {
                checkout = Some(res.json::<Value>().await.unwrap());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let checkout = checkout.expect("a checkout");
        assert_eq!(checkout["success_url"], self.stack.url("/?payment=success"));
        let approved =
            testkit::toss::approve(&self.http, checkout["checkout_url"].as_str().unwrap())
                .await
                .unwrap();
        assert!(
            approved
                .redirect
                .as_str()
                .starts_with(&self.stack.url("/?payment=success"))
        );
        Approved(approved.body())
    }

    async fn confirm(&self, token: &str, approved: &Value) -> reqwest::Response {
        self.post("/payment/confirm/", token, approved.clone())
            .await
    }

    async fn becomes(&self, token: &str, id: &str, status: &str, payment: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let o = self.get(&format!("/order/{id}/"), token).await;
            if o["status"] == status && o["payment_status"] == payment {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "order {id} never became {status}/{payment}: {o}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn ledger(&self, op: &str, id: &str) -> usize {
        self.stack
            .toss
            .ledger()
            .await
            .iter()
            .filter(|e| e["op"] == op && (e["orderId"] == id || e["paymentKey"] == id))
            .count()
    }

    async fn deposit(&self, body: &Value, secret: Option<&str>) -> reqwest::Response {
        let raw = serde_json::to_vec(body).unwrap();
        let mut req = self
            .http
            .post(self.stack.url("/payment/webhooks/deposit/"))
            .header("content-type", "application/json")
            .body(raw.clone());
        if let Some(secret) = secret {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(&raw);
            req = req.header("x-signature", hex::encode(mac.finalize().into_bytes()));
        }
        req.send().await.unwrap()
    }
}

async fn envelope(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["request_id"].is_string(), "{body}");
    (status, body["error"].clone())
}

#[tokio::test]
async fn card_payments_through_the_ingress_are_charged_once_and_never_for_another_amount() {
    let stack = Stack::start(&[]).await;
    let shop = Shop::new(&stack);
    let kim = stack.customer("e2e_card").await;

    // Paid, and confirmed twice (a reload of the success page): charged once.
    let (id, total) = shop.card_order(&kim, "bbq_ckn_l").await;
    let approved = shop.pay_at_provider(&kim, &id).await;
    let first = shop.confirm(&kim, &approved.0).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["payment_status"], "PAID");
    assert_eq!(first["amount"], total);
    let second = shop.confirm(&kim, &approved.0).await;
    assert_eq!(second.status(), 200);
    assert_eq!(
        second.json::<Value>().await.unwrap()["paid_at"],
        first["paid_at"]
    );
    assert_eq!(shop.ledger("confirm", &id).await, 1, "charged once");
    shop.becomes(&kim, &id, "PENDING", "PAID").await;

    // Another amount than the order's: refused, nothing confirmed; the right one then pays.
    let (id, total) = shop.card_order(&kim, "hawaiian_m").await;
    let approved = shop.pay_at_provider(&kim, &id).await;
    let mut tampered = approved.0.clone();
    tampered["amount"] = json!(100);
    let (status, err) = envelope(shop.confirm(&kim, &tampered).await).await;
    assert_eq!(status, 422);
    assert_eq!(err["details"]["amount"], total);
    assert_eq!(shop.ledger("confirm", &id).await, 0);
    assert_eq!(
        shop.get(&format!("/order/{id}/"), &kim).await["payment_status"],
        "UNPAID"
    );
    assert_eq!(shop.confirm(&kim, &approved.0).await.status(), 200);

    // A declined card (the sandbox declines amounts ending in 13 won): the provider's code,
    // nothing charged, the order still to pay.
    let admin = stack.member("e2e_price_admin", "ADMIN", None).await;
    let res = shop
        .send(
            reqwest::Method::PATCH,
            "/menu/pizzas/pepperoni_m/",
            &admin,
            Some(json!({"price": 17_513})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (id, total) = shop.card_order(&kim, "pepperoni_m").await;
    assert_eq!(total, 17_513);
    let approved = shop.pay_at_provider(&kim, &id).await;
    let (status, err) = envelope(shop.confirm(&kim, &approved.0).await).await;
    assert_eq!(status, 402);
    assert_eq!(err["code"], "PAYMENT_FAILED");
    assert_eq!(err["details"]["provider_code"], "REJECT_CARD_PAYMENT");
    assert_eq!(shop.ledger("confirm", &id).await, 0);
    let o = shop.get(&format!("/order/{id}/"), &kim).await;
    assert_eq!(
        (o["status"].as_str(), o["payment_status"].as_str()),
        (Some("AWAITING_PAYMENT"), Some("UNPAID"))
    );
}

#[tokio::test]
async fn a_lost_confirm_is_reconciled_and_a_refund_survives_provider_failures_and_a_kill() {
    let mut stack = Stack::start(&[]).await;
    let kim = stack.customer("e2e_refund").await;
    let staff = stack
        .member("e2e_refund_staff", "STAFF", Some("gangnam"))
        .await;

    // The provider confirms, but answers after the payment service's deadline (2 s here).
    let (id, approved) = {
        let shop = Shop::new(&stack);
        let (id, _) = shop.card_order(&kim, "bbq_ckn_l").await;
        let approved = shop.pay_at_provider(&kim, &id).await;
        stack.toss.faults(3_000, 0).await;
        let (status, err) = envelope(shop.confirm(&kim, &approved.0).await).await;
        assert_eq!(status, 503);
        assert_eq!(err["details"]["state"], "CONFIRMING");
        stack.toss.faults(0, 0).await;
        // Reconciled: the provider's webhook or the reconciler reads the payment back.
        shop.becomes(&kim, &id, "PENDING", "PAID").await;
        assert_eq!(shop.ledger("confirm", &id).await, 1, "charged once");
        (id, approved)
    };
    let key = approved.0["paymentKey"].as_str().unwrap().to_owned();

    // Rejected by the shop while the provider fails: the first cancel fails, every payment
    // replica is killed, the next one fails too, then it goes through — once.
    stack.toss.faults(0, 2).await;
    let res = Shop::new(&stack)
        .post(
            &format!("/order/{id}/reject/"),
            &staff,
            json!({"reason": "the oven is broken"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let cancels = |calls: Vec<Value>| {
        calls
            .into_iter()
            .filter(|c| c["path"].as_str().is_some_and(|p| p.ends_with("/cancel")))
            .count()
    };
    let first_failed = testkit::eventually(Duration::from_secs(15), || async {
        (cancels(stack.toss.calls().await) >= 1).then_some(())
    })
    .await;
    assert!(first_failed.is_some(), "the refund was tried");
    for p in stack.payment.iter_mut() {
        p.kill();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for p in stack.payment.iter_mut() {
        p.restart().await;
    }
    let shop = Shop::new(&stack);
    shop.becomes(&kim, &id, "REJECTED", "REFUNDED").await;
    assert_eq!(shop.ledger("cancel", &key).await, 1, "refunded once");
    let calls = stack.toss.calls().await;
    let failed = calls
        .iter()
        .filter(|c| {
            c["path"].as_str().is_some_and(|p| p.ends_with("/cancel")) && c["status"] == 500
        })
        .count();
    assert_eq!(failed, 2, "both failures happened: {calls:?}");
}

#[tokio::test]
async fn transfers_are_paid_by_signed_deposits_once_and_what_does_not_match_is_kept() {
    let stack =
        Stack::start_with_env(e2e::replicas(), &[], &[("PAYMENT_TIMEOUT_CARD", "4s")]).await;
    let shop = Shop::new(&stack);
    let kim = stack.customer("e2e_transfer").await;
    let staff = stack
        .member("e2e_deposit_staff", "STAFF", Some("gangnam"))
        .await;
    let transfer = |payer: &str| {
        json!({"bran_id": "gangnam", "payment_method": "TRANSFER", "payer_name": payer,
               "items": [{"pizza_id": "hawaiian_m", "quantity": 1}]})
    };
    let o = shop.order(&kim, transfer("김이체")).await;
    let id = o["order_id"].as_str().unwrap().to_owned();
    let amount = o["total_price"].as_i64().unwrap();
    assert_eq!(o["transfer"]["account_no"], "100148347666");
    assert!(
        o["transfer"]["deep_link"]
            .as_str()
            .unwrap()
            .starts_with(&format!("supertoss://send?amount={amount}&bank="))
    );
    let notice = |tx: &str, payer: &str| {
        json!({"tx_id": tx, "payer_name": payer, "amount": amount,
               "deposited_at": "2026-12-02T12:00:00+09:00"})
    };
    tokio::time::sleep(Duration::from_millis(500)).await; // order.created reaches payment

    // Forged: 401, nothing recorded.
    let (status, _) = envelope(shop.deposit(&notice("tx-e2e-1", "김이체"), None).await).await;
    assert_eq!(status, 401);
    let (status, _) = envelope(
        shop.deposit(
            &notice("tx-e2e-1", "김이체"),
            Some("a-forger-guessing-the-secret-key!!"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        shop.get(&format!("/order/{id}/"), &kim).await["payment_status"],
        "UNPAID"
    );

    // Signed: paid. Replayed: the same answer, one payment.
    let res = shop
        .deposit(&notice("tx-e2e-1", "김이체"), Some(DEPOSIT_SECRET))
        .await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["outcome"], "MATCHED");
    assert_eq!(answer["order_id"], id.as_str());
    let again: Value = shop
        .deposit(&notice("tx-e2e-1", "김이체"), Some(DEPOSIT_SECRET))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, answer);
    shop.becomes(&kim, &id, "PENDING", "PAID").await;
    let completed = stack
        .nats
        .events::<events::PaymentEvent>()
        .await
        .into_iter()
        .filter(|e| matches!(&e.event, events::PaymentEvent::Completed(c) if c.order_id.to_string() == id))
        .count();
    assert_eq!(completed, 1, "one payment");

    // Two unpaid orders of the same payer and amount: a deposit pays the oldest. The same
    // amount from another name pays neither: kept, shown to staff with the order it may be for.
    let a = shop.order(&kim, transfer("이중복")).await;
    let b = shop.order(&kim, transfer("이중복")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answer: Value = shop
        .deposit(&notice("tx-e2e-2", "이중복"), Some(DEPOSIT_SECRET))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["outcome"], "MATCHED");
    assert_eq!(answer["order_id"], a["order_id"]);
    let answer: Value = shop
        .deposit(&notice("tx-e2e-3", "친구이름"), Some(DEPOSIT_SECRET))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["outcome"], "AMBIGUOUS");
    let open = shop.get("/payment/deposits/", &staff).await;
    assert_eq!(open[0]["tx_id"], "tx-e2e-3");
    let candidates = open[0]["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0]["order_id"], b["order_id"]);
    let b_id = b["order_id"].as_str().unwrap();
    assert_eq!(
        shop.get(&format!("/order/{b_id}/"), &kim).await["payment_status"],
        "UNPAID"
    );

    // A card order nobody pays expires; it can no longer be paid.
    let (late, _) = shop.card_order(&kim, "bbq_ckn_s").await;
    let approved = shop.pay_at_provider(&kim, &late).await;
    shop.becomes(&kim, &late, "CANCELLED", "UNPAID").await;
    let void = testkit::eventually(Duration::from_secs(10), || async {
        (shop.get(&format!("/payment/orders/{late}/"), &kim).await["state"] == "VOID").then_some(())
    })
    .await;
    assert!(
        void.is_some(),
        "the payment service learnt of the cancellation"
    );
    let (status, err) = envelope(shop.confirm(&kim, &approved.0).await).await;
    assert_eq!(status, 409);
    assert_eq!(err["details"]["state"], "VOID");
    assert_eq!(shop.ledger("confirm", &late).await, 0, "nothing charged");
}
