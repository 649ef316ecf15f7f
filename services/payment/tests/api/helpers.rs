//! `spawn()`: one database with the four schemas, a private NATS server, real pizza-login,
//! pizza-menu and pizza-order, pizza-payment, and the Toss Payments sandbox (the only
//! stand-in: the provider is outside the system), all in-process on port 0. The sandbox
//! posts its webhooks to the payment service, as the provider's dashboard would be set up.

use std::time::Duration;

use events::{AuthEvent, Event, PaymentEvent};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use testkit::{NatsServer, TestDb};

pub use harness::{Replica, envelope};

pub struct TestApp {
    pub db: TestDb,
    pub login_db: sqlx::PgPool,
    pub nats: NatsServer,
    pub login: Replica,
    pub menu: Replica,
    pub order: Replica,
    pub payment: Replica,
    /// The sandbox's base URL.
    pub toss: String,
    pub client: reqwest::Client,
}

pub use testkit::toss::Approved;

/// The whole platform with the order's unpaid orders cancelled after `card_timeout`.
pub async fn spawn_with(card_timeout: Duration) -> TestApp {
    let db = TestDb::new(pizza_payment::DB_ROLE, &pizza_payment::MIGRATOR)
        .await
        .unwrap();
    let login_db = db
        .migrate_as(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .unwrap();
    db.migrate_as(pizza_menu::DB_ROLE, &pizza_menu::MIGRATOR)
        .await
        .unwrap();
    db.migrate_as(pizza_order::DB_ROLE, &pizza_order::MIGRATOR)
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let login = harness::start_login(harness::login_config(&db, &nats)).await;
    let menu = harness::start_menu(harness::menu_config(&db, &nats, &login)).await;
    let mut order_cfg = harness::order_config(&db, &nats, &login, &menu);
    order_cfg.transfer_bank = Some("케이뱅크".into());
    order_cfg.transfer_account_no = Some("100148347666".into());
    order_cfg.payment_timeout_card = card_timeout;
    let order = harness::start_order(order_cfg).await;

    // The provider first (its address goes into the payment service's configuration), then
    // the payment service, then the provider's webhook pointed at it.
    let toss_listener = testkit::listener().await;
    let toss = format!("http://{}", toss_listener.local_addr().unwrap());
    let payment = harness::start_payment(harness::payment_config(&db, &nats, &login, &toss)).await;
    let sandbox = toss_sandbox::Config {
        secret_key: harness::TOSS_SECRET_KEY.into(),
        client_key: harness::TOSS_CLIENT_KEY.into(),
        confirm_window: Duration::from_secs(600),
        webhook_url: Some(payment.url("/payment/webhooks/tosspayments/")),
    };
    tokio::spawn(toss_sandbox::serve(toss_listener, sandbox));

    let app = TestApp {
        db,
        login_db,
        nats,
        login,
        menu,
        order,
        payment,
        toss,
        client: testkit::http(),
    };
    harness::wait_live(&app.client, &app.order, &[AuthEvent::STREAM.name]).await;
    harness::wait_live(&app.client, &app.payment, &[AuthEvent::STREAM.name]).await;
    app
}

pub async fn spawn() -> TestApp {
    spawn_with(Duration::from_secs(900)).await
}

impl TestApp {
    /// A member with `role`, logged in.
    pub async fn member(&self, member_id: &str, role: &str, bran_id: Option<&str>) -> String {
        let role = authclient::Role::parse(role).expect("a role");
        harness::member(&self.login_db, member_id, role, bran_id).await;
        harness::token(&self.client, &self.login, member_id).await
    }

    pub async fn customer(&self, member_id: &str) -> String {
        self.member(member_id, "CUSTOMER", None).await
    }

    /// Places an order (201 expected); its answer.
    pub async fn place(&self, token: &str, body: Value) -> Value {
        let res = self
            .client
            .post(self.order.url("/order/"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    /// A card order of two pizzas at gangnam.
    pub async fn card_order(&self, token: &str) -> Value {
        self.place(
            token,
            json!({"bran_id": "gangnam", "payment_method": "CARD", "items": [
                {"pizza_id": "bbq_ckn_l", "quantity": 1}, {"pizza_id": "hawaiian_m", "quantity": 1}]}),
        )
        .await
    }

    pub async fn transfer_order(&self, token: &str, payer: &str, pizza: &str) -> Value {
        self.place(
            token,
            json!({"bran_id": "gangnam", "payment_method": "TRANSFER", "payer_name": payer,
                   "items": [{"pizza_id": pizza, "quantity": 1}]}),
        )
        .await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.payment.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, token: &str, url: &str) -> Value {
        let res = self
            .client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{url}");
        res.json().await.unwrap()
    }

    pub async fn checkout(&self, token: &str, order_id: &str) -> Value {
        let res = self
            .post(token, "/payment/checkout/", json!({"order_id": order_id}))
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// What the browser does with a checkout: opens the provider's page, approves, and is
    /// sent back to `success_url` with the payment's key, order id and amount.
    pub async fn approve(&self, checkout: &Value) -> Approved {
        let approved = testkit::toss::approve(
            &self.client,
            checkout["checkout_url"].as_str().expect("a checkout page"),
        )
        .await
        .unwrap();
        let success = checkout["success_url"].as_str().unwrap();
        assert!(
            approved.redirect.as_str().starts_with(success),
            "{}",
            approved.redirect
        );
        approved
    }

    pub async fn confirm(&self, token: &str, body: Value) -> reqwest::Response {
        self.post(token, "/payment/confirm/", body).await
    }

    /// Everything the sandbox carried out: `{"op": "confirm"|"cancel", …}`.
    pub async fn ledger(&self) -> Vec<Value> {
        self.sandbox_get("/sandbox/ledger").await
    }

    pub async fn sandbox_get(&self, path: &str) -> Vec<Value> {
        testkit::get(&format!("{}{path}", self.toss))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn sandbox_post(&self, path: &str, body: Value) {
        let res = self
            .client
            .post(format!("{}{path}", self.toss))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{path}");
    }

    pub async fn ledger_count(&self, op: &str, order_or_key: &str) -> usize {
        self.ledger()
            .await
            .iter()
            .filter(|e| {
                e["op"] == op && (e["orderId"] == order_or_key || e["paymentKey"] == order_or_key)
            })
            .count()
    }

    /// Makes the provider slow (`delay_ms`) or fail the next `fail_next` calls with 500.
    pub async fn faults(&self, delay_ms: u64, fail_next: u32) {
        self.sandbox_post(
            "/sandbox/faults",
            json!({"delay_ms": delay_ms, "fail_next": fail_next}),
        )
        .await;
    }

    /// Makes the provider refuse (403 `code`) its next call whose path ends with `path`.
    pub async fn refuse_next(&self, code: &str, path: &str) {
        self.sandbox_post(
            "/sandbox/faults",
            json!({"refuse_next": {"code": code, "path": path}}),
        )
        .await;
    }

    /// The order as its owner sees it on the order service.
    pub async fn order_of(&self, token: &str, order_id: &str) -> Value {
        self.get(token, &self.order.url(&format!("/order/{order_id}/")))
            .await
    }

    /// Waits (15 s at most) until the order's status and payment status are these.
    pub async fn order_becomes(&self, token: &str, id: &str, status: &str, payment: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let o = self.order_of(token, id).await;
            if o["status"] == status && o["payment_status"] == payment {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "order {id} never became {status}/{payment}: {o}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The payment service's view of an order's payment, as its owner sees it.
    pub async fn payment_of(&self, token: &str, order_id: &str) -> Value {
        self.get(
            token,
            &self.payment.url(&format!("/payment/orders/{order_id}/")),
        )
        .await
    }

    /// Waits until the payment service knows the order (its order.created arrived).
    pub async fn payment_known(&self, token: &str, order_id: &str) {
        let url = self.payment.url(&format!("/payment/orders/{order_id}/"));
        let known = testkit::eventually(Duration::from_secs(10), || async {
            let r = self.client.get(&url).bearer_auth(token).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await;
        assert!(known.is_some(), "payment of {order_id} never recorded");
    }

    /// A deposit notification as the bank's service sends it: signed with `secret`.
    pub async fn deposit(&self, body: &Value, secret: Option<&str>) -> reqwest::Response {
        let raw = serde_json::to_vec(body).unwrap();
        let mut req = self
            .client
            .post(self.payment.url("/payment/webhooks/deposit/"))
            .header("content-type", "application/json")
            .body(raw.clone());
        if let Some(secret) = secret {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(&raw);
            req = req.header("x-signature", hex::encode(mac.finalize().into_bytes()));
        }
        req.send().await.unwrap()
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Every event in the PAYMENTS stream (this test's own NATS server).
    pub async fn payment_events(&self) -> Vec<PaymentEvent> {
        self.nats
            .events::<PaymentEvent>()
            .await
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}
