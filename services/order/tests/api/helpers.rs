//! `spawn(n)`: one database with all three schemas, a private NATS server, a real
//! pizza-login and pizza-menu, and `n` pizza-order replicas, all in-process on port 0.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use events::{AuthEvent, CatalogEvent, Event, OrderEvent};
use httpkit::Shutdown;
use serde_json::{Value, json};
use testkit::{NatsServer, TestDb};

pub const SECRET: &str = "order-test-secret-0123456789-abcdefg";
pub const PASSWORD: &str = "correct horse battery";

pub struct Replica {
    pub http: SocketAddr,
    pub grpc: Option<SocketAddr>,
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub async fn stop(&self) {
        self.shutdown.stop();
        for _ in 0..250 {
            if self.task.is_finished() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

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

fn args(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| (*s).to_owned()).collect()
}

async fn start_login(db: &TestDb, nats: &NatsServer) -> Replica {
    let a = args(
        &[
            "pizza-login",
            "serve",
            "--jwt-secret",
            SECRET,
            "--shutdown-drain",
            "0s",
            "--log-level",
            "warn",
            "--auth-rate-limit-burst",
            "1000",
        ],
        &[
            "--database-url",
            &db.url_as(pizza_login::DB_ROLE),
            "--nats-url",
            &nats.url(),
        ],
    );
    let pizza_login::config::Command::Serve(cfg) =
        pizza_login::config::Cli::try_parse_from(a).unwrap().command
    else {
        unreachable!()
    };
    let (h, g) = (testkit::listener().await, testkit::listener().await);
    let (http, grpc) = (h.local_addr().unwrap(), g.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(pizza_login::run(
        *cfg,
        pizza_login::Listeners { http: h, grpc: g },
        shutdown.clone(),
    ));
    Replica {
        http,
        grpc: Some(grpc),
        shutdown,
        task,
    }
}

async fn start_menu(db: &TestDb, nats: &NatsServer, login: &Replica) -> Replica {
    let a = args(
        &[
            "pizza-menu",
            "serve",
            "--shutdown-drain",
            "0s",
            "--log-level",
            "warn",
        ],
        &[
            "--database-url",
            &db.url_as(pizza_menu::DB_ROLE),
            "--nats-url",
            &nats.url(),
            "--login-grpc-url",
            &format!("http://{}", login.grpc.unwrap()),
        ],
    );
    let pizza_menu::config::Command::Serve(cfg) =
        pizza_menu::config::Cli::try_parse_from(a).unwrap().command
    else {
        unreachable!()
    };
    let (h, g) = (testkit::listener().await, testkit::listener().await);
    let (http, grpc) = (h.local_addr().unwrap(), g.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(pizza_menu::run(
        *cfg,
        pizza_menu::Listeners { http: h, grpc: g },
        shutdown.clone(),
    ));
    Replica {
        http,
        grpc: Some(grpc),
        shutdown,
        task,
    }
}

pub async fn start_order(
    app_db: &TestDb,
    nats: &NatsServer,
    login: &Replica,
    menu: &Replica,
    extra: &[&str],
) -> Replica {
    let mut a = args(
        &[
            "pizza-order",
            "serve",
            "--shutdown-drain",
            "0s",
            "--log-level",
            "warn",
        ],
        &[
            "--database-url",
            &app_db.url_as(pizza_order::DB_ROLE),
            "--nats-url",
            &nats.url(),
            "--login-grpc-url",
            &format!("http://{}", login.grpc.unwrap()),
            "--menu-grpc-url",
            &format!("http://{}", menu.grpc.unwrap()),
        ],
    );
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    let pizza_order::config::Command::Serve(cfg) =
        pizza_order::config::Cli::try_parse_from(a).unwrap().command
    else {
        unreachable!()
    };
    cfg.validate().expect("a valid test configuration");
    let h = testkit::listener().await;
    let http = h.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(pizza_order::run(*cfg, h, shutdown.clone()));
    Replica {
        http,
        grpc: None,
        shutdown,
        task,
    }
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
    let login = start_login(&db, &nats).await;
    let menu = start_menu(&db, &nats, &login).await;
    let mut orders = vec![];
    for _ in 0..replicas {
        orders.push(start_order(&db, &nats, &login, &menu, &[]).await);
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
    app.wait_live(&app.menu).await;
    for o in &app.orders {
        app.wait_live(o).await;
    }
    app
}

impl TestApp {
    /// Ready, with its event subscriptions live.
    pub async fn wait_live(&self, r: &Replica) {
        let ok = testkit::eventually(Duration::from_secs(15), || async {
            let b: Value = self
                .client
                .get(r.url("/healthz"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (b["status"] == "ok"
                && b["subscriptions"][CatalogEvent::STREAM.name] == "live"
                && b["subscriptions"][AuthEvent::STREAM.name] == "live")
                .then_some(())
        })
        .await;
        assert!(ok.is_some(), "{} did not become live", r.http);
    }

    /// A member with `role` (made as the operator command makes it), logged in.
    pub async fn token_with(&self, member_id: &str, role: &str, bran_id: Option<&str>) -> String {
        let hash = pizza_login::passwords::Passwords::new(1)
            .hash(PASSWORD.into())
            .await
            .unwrap();
        let mut conn = self.login_db.acquire().await.unwrap();
        pizza_login::db::insert_member(
            &mut conn,
            member_id,
            "테스트",
            &hash,
            authclient::Role::parse(role).expect("a role"),
            bran_id,
        )
        .await
        .unwrap();
        let res: Value = self
            .client
            .post(self.login.url("/login/"))
            .json(&json!({"member_id": member_id, "member_pwd": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["token"].as_str().expect("token").to_owned()
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
             WHERE wait_event_type = 'Lock' AND query LIKE '{prefix}%'"
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

pub async fn envelope(res: reqwest::Response) -> (u16, String, Value) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("JSON envelope");
    assert!(body["error"]["request_id"].is_string(), "{body}");
    (
        status,
        body["error"]["code"].as_str().unwrap().to_owned(),
        body["error"].clone(),
    )
}
