//! pizza-login: members, sessions and tokens.
//!
//! - [`http`] — the public API under `/login` (register, login, logout, refresh, me,
//!   password) and its OpenAPI document.
//! - [`grpc`] — `AuthService/VerifyToken` for the other services.
//! - [`tokens`] — JWT access tokens and opaque refresh and device tokens; [`passwords`] —
//!   argon2id; [`throttle`] — failed-password limits no attacker can turn on the owner.
//! - [`account`] — every change to a member or a session, each in one transaction;
//!   [`db`] — the SQL of schema `login`, and `auth.session_revoked` (crate `events`) written
//!   through the outbox in the transaction that revokes.
//! - [`social`] — logging in with Google, Kakao and Naver (and the local `dev` provider).
//! - [`ops`] — operator commands; [`config`] — environment and command line.
//!
//! [`run`] takes already-bound listeners and a [`Shutdown`], so tests bind port 0 and own
//! the shutdown.

pub mod account;
pub mod config;
pub mod db;
pub mod django;
pub mod grpc;
pub mod http;
pub mod import;
pub mod ops;
pub mod passwords;
pub mod social;
pub mod throttle;
pub mod tokens;

use std::{sync::Arc, time::Duration};

use events::{AuthEvent, Event};
use httpkit::Shutdown;
use lifecycle::Lifecycle;
use settings::Cidrs;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{
    config::{AuthArgs, ServeConfig},
    http::Authenticated,
    passwords::Passwords,
    tokens::Tokens,
};
use httpkit::{Error, Result};

/// This service's migrations, run by `pizza-login migrate` as `login_svc`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database role (and default `DB_USER`) of this service.
pub const DB_ROLE: &str = "login_svc";

/// What every handler needs, behind one `Arc`: axum clones the state for each request, and
/// cloning the fields one by one (pool, caches, gRPC channels) showed in the menu's profile.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub db: PgPool,
    pub tokens: Arc<Tokens>,
    pub passwords: Passwords,
    pub auth: Arc<AuthArgs>,
    pub trusted_proxies: Cidrs,
    pub social: social::Social,
}

const INVALID_TOKEN: &str = "invalid or expired token";

impl AppState {
    pub fn new(db: PgPool, cfg: &ServeConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self(Arc::new(Shared {
            db,
            tokens: Arc::new(Tokens::new(
                cfg.auth.jwt_secret.expose().as_bytes(),
                cfg.auth
                    .jwt_secret_previous
                    .as_ref()
                    .map(|s| s.expose().as_bytes()),
                cfg.auth.access_token_ttl,
            )),
            passwords: Passwords::new(cfg.auth.password_hash_concurrency.unwrap_or(cores)),
            auth: Arc::new(cfg.auth.clone()),
            trusted_proxies: cfg.http.trusted_proxies.clone(),
            social: social::Social::new(&cfg.social),
        }))
    }

    /// A valid access token of a live session, with the member as it is now.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated> {
        let claims = self
            .tokens
            .verify(token)
            .ok_or(Error::Unauthorized(INVALID_TOKEN))?;
        let member = db::live_session(&self.db, claims.sid)
            .await?
            .filter(|m| m.member_id == claims.sub)
            .ok_or(Error::Unauthorized(INVALID_TOKEN))?;
        Ok(Authenticated { claims, member })
    }
}

pub struct Listeners {
    pub http: TcpListener,
    pub grpc: TcpListener,
}

/// Serves HTTP and gRPC, relays the outbox and prunes dead sessions until `shutdown` stops,
/// then stops it all ([`Lifecycle::serve`]).
pub async fn run(cfg: ServeConfig, listeners: Listeners, shutdown: Shutdown) -> anyhow::Result<()> {
    let db = cfg.db.pool(DB_ROLE)?;
    let nats = lifecycle::connect_nats(&cfg.nats, "pizza-login").await?;
    let state = AppState::new(db.clone(), &cfg);
    let mut life = Lifecycle::new("login", db.clone(), nats, shutdown);
    life.relay(vec![AuthEvent::STREAM]);
    let access_ttl = cfg.auth.access_token_ttl;
    life.every(Duration::from_secs(300), move || {
        prune(db.clone(), access_ttl)
    });
    let (routes, forget_idle_clients) = http::router(state.clone());
    life.every(Duration::from_secs(60), move || {
        forget_idle_clients();
        std::future::ready(())
    });

    let app = httpkit::stack(routes, "login", &cfg.http, life.probes());
    let grpc = grpckit::GrpcService {
        routes: tonic::service::Routes::new(
            proto::auth::v1::auth_service_server::AuthServiceServer::new(grpc::AuthGrpc::new(
                state,
            )),
        ),
        names: vec!["pizza.auth.v1.AuthService"],
        descriptors: vec![proto::FILE_DESCRIPTOR_SET],
    };
    life.serve((listeners.http, app), Some((listeners.grpc, grpc)))
        .await
}

/// Deletes dead sessions and stale login counters; a failure waits for the next round.
async fn prune(db: PgPool, access_ttl: Duration) {
    match db::prune(&db, access_ttl).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "pruned dead sessions and login counters"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "prune failed; will retry"),
    }
}
