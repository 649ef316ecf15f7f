//! pizza-order: orders.
//!
//! - [`http`] — `POST /order/` (priced by the server, idempotent), my orders, one order,
//!   branches, OpenAPI.
//! - [`prices`] — `MenuService/GetPrices` over gRPC, cached per pizza until a
//!   `catalog.updated`; token checks go through `authclient` (login's `VerifyToken`).
//! - [`db`] — the SQL of schema `ordering`, and `order.created` (crate `events`) written
//!   through the outbox with the order.
//! - [`workflow`] — the status machine (staff, customer, auto-cancel, payments), each change
//!   with its `order.status_changed`; the payment service's `payment.*` events move prepaid
//!   orders from AWAITING_PAYMENT and set their payment status.
//! - [`tables`] — dine-in tables, their tokens and QR codes; [`hours`] — when a branch takes
//!   orders; [`branch_cache`] — both as the public reads serve them, following `branch.*`.
//! - [`live`] — order changes pushed to WebSockets; [`notify`] — the webhook notifications.
//!
//! [`run`] takes an already-bound listener and a [`Shutdown`], so tests bind port 0.

pub mod branch_cache;
pub mod config;
pub mod db;
pub mod hours;
pub mod http;
pub mod idempotency;
pub mod import;
pub mod live;
pub mod notify;
pub mod paging;
pub mod place;
pub mod prices;
pub mod status;
pub mod tables;
pub mod workflow;

use std::{sync::Arc, time::Duration};

use authclient::AuthClient;
use axum::extract::FromRef;
use events::{BranchEvent, Event, OrderEvent};
use httpkit::Shutdown;
use lifecycle::Lifecycle;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{config::ServeConfig, prices::Prices};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DB_ROLE: &str = "order_svc";

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
    pub prices: Prices,
    /// The branch list and tables by token, as the public reads serve them.
    pub branches: branch_cache::BranchCache,
    pub auth: AuthClient,
    pub hub: live::Hub,
    pub shutdown: Shutdown,
    /// `CORS_ALLOWED_ORIGINS`: other origins whose pages may open the live feed.
    pub allowed_origins: Vec<String>,
    /// Where transfers go (`TRANSFER_BANK`, `TRANSFER_ACCOUNT_NO`); `None`: no transfers.
    pub transfer: Option<TransferAccount>,
    pub timeouts: workflow::Timeouts,
    /// `PUBLIC_WEB_URL`: the web client's address that table QR codes open; `None`: the
    /// address the staff member reached us at.
    pub public_web_url: Option<url::Url>,
}

/// The shop's account that transfer orders are paid into.
#[derive(Debug, Clone)]
pub struct TransferAccount {
    pub bank: String,
    pub account_no: String,
}

impl FromRef<AppState> for AuthClient {
    fn from_ref(s: &AppState) -> Self {
        s.auth.clone()
    }
}

/// Serves HTTP, relays the outbox, follows catalog, auth and order events, cancels stale
/// orders and sends notifications until `shutdown` stops, then stops it all
/// ([`Lifecycle::serve`]).
pub async fn run(cfg: ServeConfig, http: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
    let db = cfg.db.pool(DB_ROLE)?;
    let nats = lifecycle::connect_nats(&cfg.nats, "pizza-order").await?;
    let auth = AuthClient::from_args(&cfg.auth).map_err(|e| anyhow::anyhow!(e))?;
    let prices = Prices::new(
        &cfg.menu_grpc_url,
        cfg.auth.grpc_call_timeout,
        cfg.price_cache_ttl,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let hub = live::Hub::default();
    let branches = branch_cache::BranchCache::new(db.clone());
    let state = AppState(Arc::new(Shared {
        db: db.clone(),
        prices: prices.clone(),
        branches: branches.clone(),
        auth: auth.clone(),
        hub: hub.clone(),
        shutdown: shutdown.clone(),
        allowed_origins: cfg.http.cors_allowed_origins.0.clone(),
        transfer: cfg.transfer_account(),
        timeouts: cfg.timeouts(),
        public_web_url: cfg.public_web_url()?,
    }));
    let mut life = Lifecycle::new("order", db.clone(), nats.clone(), shutdown);
    life.subscribe(prices.subscription());
    life.subscribe(auth.subscription());
    life.subscribe(hub.subscription());
    life.subscribe(branches.subscription());
    life.relay(vec![OrderEvent::STREAM, BranchEvent::STREAM]);
    let pruned = db.clone();
    life.every(Duration::from_secs(600), move || prune(pruned.clone()));
    let timeouts = cfg.timeouts();
    let swept = db.clone();
    life.every(timeouts.sweep_period(), move || {
        workflow::sweep(swept.clone(), timeouts)
    });
    life.work(workflow::payments_queue(db.clone()));
    if let Some(url) = cfg.order_webhook_url.clone() {
        // reqwest's rustls takes its crypto from the process: ring, as sqlx's does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        life.work(notify::Notifier::new(db, url).queue());
    }

    place::register_metrics();
    let app = httpkit::stack(http::router(state), "order", &cfg.http, life.probes());
    life.serve((http, app), None).await
}

/// Forgets idempotency keys after 24 h; a failure waits for the next round.
async fn prune(db: PgPool) {
    match idempotency::prune(&db).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "pruned expired idempotency keys"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "prune failed; will retry"),
    }
}
