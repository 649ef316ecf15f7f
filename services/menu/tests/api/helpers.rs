//! `spawn()`: a fresh database with the menu and login schemas, a private NATS server, a
//! real pizza-login (for VerifyToken) and N pizza-menu replicas on port 0.

use events::{AuthEvent, CatalogEvent, Event, catalog::CatalogUpdated};
use serde_json::Value;
use testkit::{NatsServer, TestDb};

pub use harness::{Replica, envelope};

pub struct TestApp {
    pub db: TestDb,
    pub login_db: sqlx::PgPool,
    pub nats: NatsServer,
    pub login: Replica,
    pub menus: Vec<Replica>,
    pub client: reqwest::Client,
}

/// A menu replica on `db` and `nats`, verifying tokens with `login`; `change` adjusts its
/// configuration first (`|c| c.menu_cache_ttl = Duration::from_secs(1)`).
pub async fn start_menu(
    db: &TestDb,
    nats: &NatsServer,
    login: &Replica,
    change: impl FnOnce(&mut pizza_menu::config::ServeConfig),
) -> Replica {
    let mut cfg = harness::menu_config(db, nats, login);
    change(&mut cfg);
    harness::start_menu(cfg).await
}

pub async fn spawn(replicas: usize) -> TestApp {
    let db = TestDb::new(pizza_menu::DB_ROLE, &pizza_menu::MIGRATOR)
        .await
        .unwrap();
    let login_db = db
        .migrate_as(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let login = harness::start_login(harness::login_config(&db, &nats)).await;
    let mut menus = vec![];
    for _ in 0..replicas {
        menus.push(start_menu(&db, &nats, &login, |_| {}).await);
    }
    let app = TestApp {
        db,
        login_db,
        nats,
        login,
        menus,
        client: testkit::http(),
    };
    for m in &app.menus {
        app.wait_until_live(m).await;
    }
    app
}

impl TestApp {
    /// Ready, with both event subscriptions live (so no event of the test can be missed).
    pub async fn wait_until_live(&self, m: &Replica) {
        let streams = [CatalogEvent::STREAM.name, AuthEvent::STREAM.name];
        harness::wait_live(&self.client, m, &streams).await;
    }

    /// Creates a member with `role` the way the operator command does, and logs it in.
    pub async fn token(&self, member_id: &str, role: &str) -> String {
        let role = authclient::Role::parse(role).expect("a role");
        harness::member(&self.login_db, member_id, role, None).await;
        harness::token(&self.client, &self.login, member_id).await
    }

    pub async fn menu(&self, replica: usize) -> Vec<Value> {
        self.client
            .get(self.menus[replica].url("/menu/"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn price_on(&self, replica: usize, pizza_id: &str) -> i64 {
        self.menu(replica)
            .await
            .into_iter()
            .find(|p| p["pizza_id"] == pizza_id)
            .and_then(|p| p["price"].as_i64())
            .expect("pizza on the menu")
    }

    pub async fn patch(
        &self,
        replica: usize,
        token: &str,
        pizza_id: &str,
        body: Value,
    ) -> reqwest::Response {
        self.client
            .patch(self.menus[replica].url(&format!("/menu/pizzas/{pizza_id}/")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// The catalog changes announced so far (this test's own NATS server).
    pub async fn catalog_events(&self) -> Vec<CatalogUpdated> {
        self.nats
            .events::<CatalogEvent>()
            .await
            .into_iter()
            .map(|e| {
                let CatalogEvent::Updated(u) = e.event;
                u
            })
            .collect()
    }

    pub async fn metric(&self, replica: usize, name: &str) -> f64 {
        let text = self
            .client
            .get(self.menus[replica].url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}
