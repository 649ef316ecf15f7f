//! Test support on real infrastructure.
//!
//! - [`TestDb`]: a fresh database per test, bootstrapped exactly like production
//!   (`deploy/db/roles.sql` + `deploy/db/schemas.sql`) and migrated by the service's own role.
//! - [`NatsServer`]: a private `nats-server` with JetStream on a free port, so tests that
//!   count events never see another test's, and can stop and restart it freely.
//! - [`PgServer`]: a private PostgreSQL cluster (`initdb` in a temporary folder, a free
//!   port), for tests that stop and restart the database itself.
//! - [`pizza_back::PizzaBack`]: a database shaped like pizza_back's, with Django's own hashes.
//! - [`oidc::OidcProvider`]: the local OpenID provider (and Naver sandbox), one per test, and
//!   [`oidc::log_in_at`], its login screens gone through as a browser does.
//! - [`otlp::Collector`]: a stand-in OTLP trace receiver that keeps the spans it is sent.
//! - [`toss::approve`]: the payment provider's checkout page approved, as a browser does it.
//! - [`nats_accounts::OperatorMode`]: NATS's operator mode, and a user's `.creds` file.
//! - [`tls::TestCa`]: a certificate authority of the test's own, for servers that speak TLS.
//! - [`listener`]: a socket on port 0 for a service under test.
//!
//! PostgreSQL is reached as a superuser through `TEST_DATABASE_ADMIN_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust auth as on the dev machines and CI).
use std::time::Duration;

mod db;
mod nats;
pub mod nats_accounts;
pub mod oidc;
pub mod otlp;
mod pg;
pub mod pizza_back;
pub mod qr;
pub mod tls;
pub mod toss;

pub use db::TestDb;
pub use nats::{NatsCluster, NatsServer};
pub use pg::PgServer;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// An HTTP client for tests. reqwest's TLS takes its crypto from the process (the
/// workspace builds it without a bundled provider), so install ring's first, as the order
/// service does.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// `GET url` with [`http`]'s client.
pub async fn get(url: &str) -> reqwest::Result<reqwest::Response> {
    http().get(url).send().await
}

/// A listener on 127.0.0.1, port 0, for a service under test.
pub async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// Waits until `f` returns `Some`, polling every 20 ms, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
