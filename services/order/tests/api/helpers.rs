//! `spawn(n)`: one database with all three schemas, a private NATS server, a real
//! pizza-login and pizza-menu, and `n` pizza-order replicas, all in-process on port 0.

use std::time::Duration;

use events::{AuthEvent, BranchEvent, CatalogEvent, Event, OrderEvent};
use serde_json::{Value, json};
use testkit::{NatsServer, TestDb};

pub use harness::{Replica, envelope};

pub struct TestApp {
    pub db: TestDb,
    pub login_db: sqlx::PgPool,
    pub menu_db: sqlx::PgPool,
    pub nats: NatsServer,
    pub login: Replica,
    pub menu: Replica,
    pub orders: Vec<Replica>,
    pub client: reqwest::Client,
}

/// An order replica on `app_db` and `nats`, calling `login` and `menu`; `change` adjusts its
/// configuration first (`|c| c.order_pending_timeout = Duration::from_secs(1)`).
pub async fn start_order(
    app_db: &TestDb,
    nats: &NatsServer,
    login: &Replica,
    menu: &Replica,
    change: impl FnOnce(&mut pizza_order::config::ServeConfig),
) -> Replica {
    let mut cfg = harness::order_config(app_db, nats, login, menu);
    change(&mut cfg);
    harness::start_order(cfg).await
}

pub async fn spawn(replicas: usize) -> TestApp {
    let db = TestDb::new(pizza_order::DB_ROLE, &pizza_order::MIGRATOR)
        .await
        .unwrap();
    let login_db = db
        .migrate_as(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .unwrap();
    let menu_db = db
        .migrate_as(pizza_menu::DB_ROLE, &pizza_menu::MIGRATOR)
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let login = harness::start_login(harness::login_config(&db, &nats)).await;
    let menu = harness::start_menu(harness::menu_config(&db, &nats, &login)).await;
    let mut orders = vec![];
    for _ in 0..replicas {
        orders.push(start_order(&db, &nats, &login, &menu, |_| {}).await);
    }
    let app = TestApp {
        db,
        login_db,
        menu_db,
        nats,
        login,
        menu,
        orders,
        client: testkit::http(),
    };
    let menu_streams = [CatalogEvent::STREAM.name, AuthEvent::STREAM.name];
    harness::wait_live(&app.client, &app.menu, &menu_streams).await;
    for o in &app.orders {
        app.wait_live(o).await;
    }
    app
}

impl TestApp {
    /// An order replica ready, with its catalog, auth and branch subscriptions live.
    pub async fn wait_live(&self, r: &Replica) {
        let streams = [
            CatalogEvent::STREAM.name,
            AuthEvent::STREAM.name,
            BranchEvent::STREAM.name,
        ];
        harness::wait_live(&self.client, r, &streams).await;
    }

    /// A member with `role` (made as the operator command makes it), logged in.
    pub async fn token_with(&self, member_id: &str, role: &str, bran_id: Option<&str>) -> String {
        let role = authclient::Role::parse(role).expect("a role");
        harness::member(&self.login_db, member_id, role, bran_id).await;
        harness::token(&self.client, &self.login, member_id).await
    }

    pub async fn customer(&self, member_id: &str) -> String {
        self.token_with(member_id, "CUSTOMER", None).await
    }

    pub async fn order(
        &self,
        replica: usize,
        token: &str,
        body: &Value,
        key: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.orders[replica].url("/order/"))
            .bearer_auth(token)
            .json(body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send().await.unwrap()
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Whether a statement starting with `prefix` comes to wait on a lock within 5 s.
    pub async fn waits_on_a_lock(&self, prefix: &str) -> bool {
        let sql = format!(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '{prefix}%'"
        );
        testkit::eventually(Duration::from_secs(5), || async {
            (self.scalar(&sql).await == 1).then_some(())
        })
        .await
        .is_some()
    }

    /// Every event in the ORDERS stream (this test's own NATS server).
    pub async fn order_events(&self) -> Vec<OrderEvent> {
        self.nats
            .events::<OrderEvent>()
            .await
            .into_iter()
            .map(|e| e.event)
            .collect()
    }

    pub async fn set_price(&self, admin: &str, pizza_id: &str, body: Value) {
        let res = self
            .client
            .patch(self.menu.url(&format!("/menu/pizzas/{pizza_id}/")))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

/// Two pizzas at gangnam: the usual order of these tests.
pub fn two_pizzas() -> Value {
    json!({"bran_id": "gangnam", "items": [
        {"pizza_id": "bbq_ckn_l", "quantity": 2},
        {"pizza_id": "hawaiian_m", "quantity": 1}
    ]})
}
