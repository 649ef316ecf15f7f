//! The services in-process, for their own tests (`services/*/tests/api`): each replica on
//! port 0 with a [`Shutdown`] the test holds, on a [`TestDb`] and a private [`NatsServer`]
//! (both from `testkit`).
//!
//! Configurations are the services' own `ServeConfig`, parsed like `main` parses them with
//! what every test needs (a JWT secret, no drain, quiet logs); a test changes a field by
//! name before it starts a replica:
//!
//! ```ignore
//! let mut cfg = harness::login_config(&db, &nats);
//! cfg.auth.auth_rate_limit_burst = 3;
//! let login = harness::start_login(cfg).await;
//! ```

use std::{net::SocketAddr, time::Duration};

use authclient::Role;
use clap::Parser;
use httpkit::Shutdown;
use serde_json::{Value, json};
use testkit::{NatsServer, TestDb};

/// The secret login signs test tokens with.
pub const SECRET: &str = "test-secret-0123456789-abcdefghijkl";
/// The password of every member [`member`] makes.
pub const PASSWORD: &str = "correct horse battery";
/// The provider's documented test keys, which the sandbox accepts.
pub const TOSS_SECRET_KEY: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";
pub const TOSS_CLIENT_KEY: &str = "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq";
/// The key deposit notifications are signed with in tests.
pub const DEPOSIT_SECRET: &str = "deposit-secret-0123456789-abcdefghij";

/// One running replica of a service.
pub struct Replica {
    pub http: SocketAddr,
    /// login and menu serve gRPC too.
    pub grpc: Option<SocketAddr>,
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// The gRPC address as a URL, for another service's `*_GRPC_URL`.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc.expect("this service serves gRPC"))
    }

    /// SIGTERM's second phase, and waits (up to 5 s) until the replica has stopped.
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

/// `serve` with `flags` after the ones every test shares.
fn parse<C: Parser>(binary: &str, flags: &[String]) -> C {
    let mut args = vec![
        binary.to_owned(),
        "serve".to_owned(),
        "--shutdown-drain".to_owned(),
        "0s".to_owned(),
        "--log-level".to_owned(),
        "warn".to_owned(),
    ];
    args.extend_from_slice(flags);
    C::try_parse_from(args).expect("a valid test configuration")
}

fn owned(flags: &[&str]) -> Vec<String> {
    flags.iter().map(|s| (*s).to_owned()).collect()
}

/// login on `db` (as its role) and `nats`; rate limits high enough for any test.
pub fn login_config(db: &TestDb, nats: &NatsServer) -> pizza_login::config::ServeConfig {
    let flags = owned(&[
        "--jwt-secret",
        SECRET,
        "--auth-rate-limit-burst",
        "1000",
        "--database-url",
        &db.url_as(pizza_login::DB_ROLE),
        "--nats-url",
        &nats.url(),
    ]);
    match parse::<pizza_login::config::Cli>("pizza-login", &flags).command {
        pizza_login::config::Command::Serve(cfg) => *cfg,
        _ => unreachable!("serve was asked for"),
    }
}

/// menu on `db` and `nats`, verifying tokens with `login`.
pub fn menu_config(
    db: &TestDb,
    nats: &NatsServer,
    login: &Replica,
) -> pizza_menu::config::ServeConfig {
    let flags = owned(&[
        "--database-url",
        &db.url_as(pizza_menu::DB_ROLE),
        "--nats-url",
        &nats.url(),
        "--login-grpc-url",
        &login.grpc_url(),
    ]);
    match parse::<pizza_menu::config::Cli>("pizza-menu", &flags).command {
        pizza_menu::config::Command::Serve(cfg) => *cfg,
        _ => unreachable!("serve was asked for"),
    }
}

/// order on `db` and `nats`, calling `login` and `menu`.
pub fn order_config(
    db: &TestDb,
    nats: &NatsServer,
    login: &Replica,
    menu: &Replica,
) -> pizza_order::config::ServeConfig {
    let flags = owned(&[
        "--database-url",
        &db.url_as(pizza_order::DB_ROLE),
        "--nats-url",
        &nats.url(),
        "--login-grpc-url",
        &login.grpc_url(),
        "--menu-grpc-url",
        &menu.grpc_url(),
    ]);
    match parse::<pizza_order::config::Cli>("pizza-order", &flags).command {
        pizza_order::config::Command::Serve(cfg) => *cfg,
        _ => unreachable!("serve was asked for"),
    }
}

/// payment on `db` and `nats`, verifying tokens with `login`, paying at the provider (the
/// sandbox) at `toss_api_url`; unanswered confirms are reconciled after a second.
pub fn payment_config(
    db: &TestDb,
    nats: &NatsServer,
    login: &Replica,
    toss_api_url: &str,
) -> pizza_payment::config::ServeConfig {
    let checkout = format!("{toss_api_url}/checkout");
    let flags = owned(&[
        "--database-url",
        &db.url_as(pizza_payment::DB_ROLE),
        "--nats-url",
        &nats.url(),
        "--login-grpc-url",
        &login.grpc_url(),
        "--toss-api-url",
        toss_api_url,
        "--toss-secret-key",
        TOSS_SECRET_KEY,
        "--toss-client-key",
        TOSS_CLIENT_KEY,
        "--toss-checkout-url",
        &checkout,
        "--toss-timeout",
        "1s",
        "--deposit-webhook-secret",
        DEPOSIT_SECRET,
        "--payment-reconcile-after",
        "1s",
    ]);
    match parse::<pizza_payment::config::Cli>("pizza-payment", &flags).command {
        pizza_payment::config::Command::Serve(cfg) => *cfg,
        _ => unreachable!("serve was asked for"),
    }
}

pub async fn start_payment(cfg: pizza_payment::config::ServeConfig) -> Replica {
    cfg.validate().expect("a valid test configuration");
    let h = testkit::listener().await;
    let http = h.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(pizza_payment::run(cfg, h, shutdown.clone()));
    Replica {
        http,
        grpc: None,
        shutdown,
        task,
    }
}

pub async fn start_login(cfg: pizza_login::config::ServeConfig) -> Replica {
    let (h, g) = (testkit::listener().await, testkit::listener().await);
    start_login_on(cfg, h, g)
}

/// [`start_login`] on listeners bound before (a test that must know the address first:
/// social login's redirect URIs).
pub fn start_login_on(
    cfg: pizza_login::config::ServeConfig,
    h: tokio::net::TcpListener,
    g: tokio::net::TcpListener,
) -> Replica {
    cfg.validate().expect("a valid test configuration");
    let (http, grpc) = (h.local_addr().unwrap(), g.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let listeners = pizza_login::Listeners { http: h, grpc: g };
    let task = tokio::spawn(pizza_login::run(cfg, listeners, shutdown.clone()));
    Replica {
        http,
        grpc: Some(grpc),
        shutdown,
        task,
    }
}

pub async fn start_menu(cfg: pizza_menu::config::ServeConfig) -> Replica {
    cfg.validate().expect("a valid test configuration");
    let (h, g) = (testkit::listener().await, testkit::listener().await);
    let (http, grpc) = (h.local_addr().unwrap(), g.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let listeners = pizza_menu::Listeners { http: h, grpc: g };
    let task = tokio::spawn(pizza_menu::run(cfg, listeners, shutdown.clone()));
    Replica {
        http,
        grpc: Some(grpc),
        shutdown,
        task,
    }
}

pub async fn start_order(cfg: pizza_order::config::ServeConfig) -> Replica {
    cfg.validate().expect("a valid test configuration");
    let h = testkit::listener().await;
    let http = h.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(pizza_order::run(cfg, h, shutdown.clone()));
    Replica {
        http,
        grpc: None,
        shutdown,
        task,
    }
}

/// Waits (up to 15 s) until `replica` is ready and each of its event subscriptions named in
/// `streams` is live, so no event of the test can be missed.
pub async fn wait_live(client: &reqwest::Client, replica: &Replica, streams: &[&str]) {
    let ok = testkit::eventually(Duration::from_secs(15), || async {
        let body: Value = client
            .get(replica.url("/healthz"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (body["status"] == "ok" && streams.iter().all(|s| body["subscriptions"][*s] == "live"))
            .then_some(())
    })
    .await;
    assert!(ok.is_some(), "{} did not become live", replica.http);
}

/// A member with `role` (and branch), made as the operator command makes one, with
/// [`PASSWORD`]; `login_db` is a pool as login's role.
pub async fn member(login_db: &sqlx::PgPool, member_id: &str, role: Role, bran_id: Option<&str>) {
    let hash = pizza_login::passwords::Passwords::new(1)
        .hash(PASSWORD.into())
        .await
        .expect("hash");
    let created =
        pizza_login::account::register(login_db, member_id, "테스트", &hash, role, bran_id)
            .await
            .expect("register");
    assert!(created, "member {member_id} exists already");
}

/// Logs `member_id` in (with [`PASSWORD`]) on `login`; its access token.
pub async fn token(client: &reqwest::Client, login: &Replica, member_id: &str) -> String {
    let res: Value = client
        .post(login.url("/login/"))
        .json(&json!({"member_id": member_id, "member_pwd": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login answer");
    res["token"].as_str().expect("a token").to_owned()
}

/// An error answer, checked to be the envelope: its status, code, and the `error` object.
pub async fn envelope(res: reqwest::Response) -> (u16, String, Value) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("a JSON envelope");
    assert!(body["error"]["request_id"].is_string(), "{body}");
    let code = body["error"]["code"].as_str().expect("a code").to_owned();
    (status, code, body["error"].clone())
}
