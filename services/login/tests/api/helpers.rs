//! `spawn_app()`: a fresh database, a private NATS server, and pizza-login on port 0 (HTTP
//! and gRPC), with an HTTP client and a gRPC client.

use std::{net::SocketAddr, time::Duration};

use events::{AuthEvent, auth::SessionRevoked};
use httpkit::Shutdown;
use pizza_login::config::ServeConfig;
use proto::auth::v1::auth_service_client::AuthServiceClient;
use serde_json::{Value, json};
use testkit::{NatsServer, TestDb};
use tonic::transport::Channel;

pub use harness::{PASSWORD, SECRET};

pub struct TestApp {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub db: TestDb,
    pub nats: NatsServer,
    pub client: reqwest::Client,
    pub shutdown: Shutdown,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `change` adjusts the configuration first, e.g. `|c| c.auth.auth_rate_limit_burst = 3`.
pub async fn spawn_app_with(change: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let db = TestDb::new(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .expect("test database");
    let nats = NatsServer::start().await.expect("nats-server");
    let mut cfg = harness::login_config(&db, &nats);
    change(&mut cfg);
    TestApp::around(harness::start_login(cfg).await, db, nats)
}

impl TestApp {
    /// The test's view of a login replica started on `db` and `nats`.
    pub fn around(login: harness::Replica, db: TestDb, nats: NatsServer) -> TestApp {
        TestApp {
            http: login.http,
            grpc: login.grpc.expect("login serves gRPC"),
            db,
            nats,
            client: testkit::http(),
            shutdown: login.shutdown,
            server: login.task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, member_id: &str) -> reqwest::Response {
        self.post(
            "/login/register/",
            &json!({"member_id": member_id, "member_pwd": PASSWORD, "member_nm": "테스트"}),
        )
        .await
    }

    pub async fn login(&self, member_id: &str, password: &str) -> reqwest::Response {
        self.post(
            "/login/",
            &json!({"member_id": member_id, "member_pwd": password}),
        )
        .await
    }

    /// Registers and logs in; returns the login response body.
    pub async fn member_with_session(&self, member_id: &str) -> Value {
        assert_eq!(self.register(member_id).await.status(), 201);
        let res = self.login(member_id, PASSWORD).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn grpc_client(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::connect(format!("http://{}", self.grpc))
            .await
            .expect("grpc connect")
    }

    /// `VerifyToken` over real gRPC: `Ok(member_id)` or the status code.
    pub async fn verify(&self, token: &str) -> Result<String, tonic::Code> {
        let mut c = self.grpc_client().await;
        c.verify_token(proto::auth::v1::VerifyTokenRequest {
            token: token.to_owned(),
        })
        .await
        .map(|r| r.into_inner().member_id)
        .map_err(|s| s.code())
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Every `auth.*` event in the AUTH stream so far (the stream is this test's own),
    /// as the session revocations they are.
    pub async fn auth_events(&self) -> Vec<SessionRevoked> {
        self.nats
            .events::<AuthEvent>()
            .await
            .into_iter()
            .map(|e| {
                let AuthEvent::SessionRevoked(r) = e.event;
                r
            })
            .collect()
    }

    pub async fn wait_for_auth_events(&self, n: usize, within: Duration) -> Vec<SessionRevoked> {
        testkit::eventually(within, || async {
            let e = self.auth_events().await;
            (e.len() >= n).then_some(e)
        })
        .await
        .unwrap_or_else(|| panic!("expected {n} auth events within {within:?}"))
    }
}

/// The envelope's fields, asserting it is one.
pub async fn envelope(res: reqwest::Response) -> (u16, String, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("JSON envelope");
    let e = &body["error"];
    assert!(e["request_id"].is_string(), "no request_id in {body}");
    (
        status,
        e["code"].as_str().unwrap().to_owned(),
        e["message"].as_str().unwrap().to_owned(),
    )
}
