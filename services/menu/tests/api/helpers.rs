//! `spawn()`: a fresh database with the menu and login schemas, a private NATS server, a
//! real pizza-login (for VerifyToken) and N pizza-menu replicas on port 0.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use events::{AuthEvent, CatalogEvent, Event, catalog::CatalogUpdated};
use httpkit::Shutdown;
use serde_json::{Value, json};
use testkit::{NatsServer, TestDb};

pub const SECRET: &str = "menu-test-secret-0123456789-abcdefgh";
pub const PASSWORD: &str = "correct horse battery";

pub struct Replica {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }
}

pub struct TestApp {
    pub db: TestDb,
    pub login_db: sqlx::PgPool,
    pub nats: NatsServer,
    pub login: Replica,
    pub menus: Vec<Replica>,
    pub client: reqwest::Client,
}

async fn start_login(db: &TestDb, nats: &NatsServer) -> Replica {
    let cfg = match pizza_login::config::Cli::try_parse_from([
        "pizza-login",
        "serve",
        "--jwt-secret",
        SECRET,
        "--database-url",
        &db.url_as(pizza_login::DB_ROLE),
        "--nats-url",
        &nats.url(),
        "--shutdown-drain",
        "0s",
        "--log-level",
        "warn",
        "--auth-rate-limit-burst",
        "100",
    ])
    .unwrap()
    .command
    {
        pizza_login::config::Command::Serve(c) => *c,
        _ => unreachable!(),
    };
    let (h, g) = (testkit::listener().await, testkit::listener().await);
    let (http, grpc) = (h.local_addr().unwrap(), g.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(pizza_login::run(
        cfg,
        pizza_login::Listeners { http: h, grpc: g },
        shutdown.clone(),
    ));
    Replica {
        http,
        grpc,
        shutdown,
        task,
    }
}

pub async fn start_menu(
    db: &TestDb,
    nats: &NatsServer,
    login_grpc: SocketAddr,
    extra: &[&str],
) -> Replica {
    let login_url = format!("http://{login_grpc}");
    let mut args = vec![
        "pizza-menu",
        "serve",
        "--database-url",
        db.url_as(pizza_menu::DB_ROLE).leak(),
        "--nats-url",
        nats.url().leak(),
        "--login-grpc-url",
        login_url.leak(),
        "--shutdown-drain",
        "0s",
        "--log-level",
        "warn",
    ];
    args.extend_from_slice(extra);
    let cfg = match pizza_menu::config::Cli::try_parse_from(args)
        .unwrap()
        .command
    {
        pizza_menu::config::Command::Serve(c) => *c,
        _ => unreachable!(),
    };
    cfg.validate().expect("a valid test configuration");
    let (h, g) = (testkit::listener().await, testkit::listener().await);
    let (http, grpc) = (h.local_addr().unwrap(), g.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(pizza_menu::run(
        cfg,
        pizza_menu::Listeners { http: h, grpc: g },
        shutdown.clone(),
    ));
    Replica {
        http,
        grpc,
        shutdown,
        task,
    }
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
    let login = start_login(&db, &nats).await;
    let mut menus = vec![];
    for _ in 0..replicas {
        menus.push(start_menu(&db, &nats, login.grpc, &[]).await);
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
        let ok = testkit::eventually(Duration::from_secs(15), || async {
            let r = self.client.get(m.url("/healthz")).send().await.ok()?;
            let body: Value = r.json().await.ok()?;
            (body["status"] == "ok"
                && body["subscriptions"][CatalogEvent::STREAM.name] == "live"
                && body["subscriptions"][AuthEvent::STREAM.name] == "live")
                .then_some(())
        })
        .await;
        assert!(ok.is_some(), "menu replica {} did not become live", m.http);
    }

    /// Creates a member with `role` the way the operator command does, and logs it in.
    pub async fn token(&self, member_id: &str, role: &str) -> String {
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
            None,
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
        res["token"].as_str().expect("a token").to_owned()
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

pub async fn envelope(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("JSON envelope");
    assert!(body["error"]["request_id"].is_string(), "{body}");
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}
