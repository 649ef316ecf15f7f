//! pizza-payment: the money of prepaid orders. The only workload that holds the provider's
//! secret key, and the only one allowed to reach the provider.
//!
//! - [`card`] — Toss Payments: checkout, confirm (the amount is the order's, never the
//!   browser's), and reconciling confirms whose answer was lost and the provider's webhooks
//!   by reading the payment back ([`toss`] is the provider's API).
//! - [`transfer`] — bank transfers: signed deposit notifications matched to unpaid orders by
//!   payer name and amount; what does not match is kept for staff.
//! - [`refunds`] — card refunds at the provider through a work queue, exactly once; transfer
//!   refunds staff make.
//! - [`orders`] — what is to be paid and what was closed, from the order service's events.
//! - [`workflow`] — the payment state machine's writes, each with its event (crate `events`,
//!   stream PAYMENTS) through the outbox; [`db`] — the SQL of schema `payment`.
//!
//! [`run`] takes an already-bound listener and a [`Shutdown`], so tests bind port 0.

pub mod card;
pub mod config;
pub mod db;
pub mod http;
pub mod orders;
pub mod refunds;
pub mod toss;
pub mod transfer;
pub mod workflow;

use std::{sync::Arc, time::Duration};

use authclient::AuthClient;
use axum::extract::FromRef;
use events::{Event, PaymentEvent};
use httpkit::Shutdown;
use lifecycle::Lifecycle;
use settings::Secret;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{config::ServeConfig, toss::Toss};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DB_ROLE: &str = "payment_svc";

/// What every handler needs, behind one `Arc` (as in the other services).
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
    pub auth: AuthClient,
    pub toss: Toss,
    /// `TOSS_CLIENT_KEY`, for the browser's checkout.
    pub client_key: String,
    /// `TOSS_CHECKOUT_URL`: the sandbox's checkout page, if any.
    pub checkout_url: Option<String>,
    /// `PAYMENT_RETURN_URL`, if set.
    pub return_url: Option<String>,
    /// `CORS_ALLOWED_ORIGINS`: other pages that may start a checkout.
    pub allowed_origins: Vec<String>,
    /// `DEPOSIT_WEBHOOK_SECRET`; without it every deposit notification is refused.
    pub deposit_secret: Option<Secret>,
    /// `PAYMENT_RECONCILE_AFTER`.
    pub reconcile_after: Duration,
    /// `TOSS_TIMEOUT`: how long one call to the provider may take.
    pub toss_timeout: Duration,
    /// What customer keys are derived with ([`card::customer_key`]): the secret key, so nobody
    /// else can tie one to a member.
    pub customer_key_secret: Vec<u8>,
}

impl FromRef<AppState> for AuthClient {
    fn from_ref(s: &AppState) -> Self {
        s.auth.clone()
    }
}

/// Serves HTTP, relays the outbox, follows the orders and auth events, refunds, and
/// reconciles unanswered confirms until `shutdown` stops, then stops it all
/// ([`Lifecycle::serve`]).
pub async fn run(cfg: ServeConfig, http: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
    let db = cfg.db.pool(DB_ROLE)?;
    let nats = lifecycle::connect_nats(&cfg.nats, "pizza-payment").await?;
    let auth = AuthClient::from_args(&cfg.auth).map_err(|e| anyhow::anyhow!(e))?;
    let toss = Toss::new(
        &cfg.toss.toss_api_url,
        cfg.toss.toss_secret_key.expose(),
        cfg.toss.toss_timeout,
    );
    let state = AppState(Arc::new(Shared {
        db: db.clone(),
        auth: auth.clone(),
        toss,
        client_key: cfg.toss.toss_client_key.clone(),
        checkout_url: cfg.toss.toss_checkout_url.clone(),
        return_url: cfg.payment_return_url.clone(),
        allowed_origins: cfg.http.cors_allowed_origins.0.clone(),
        deposit_secret: cfg.deposit_webhook_secret.clone(),
        reconcile_after: cfg.payment_reconcile_after,
        toss_timeout: cfg.toss.toss_timeout,
        customer_key_secret: cfg.toss.toss_secret_key.expose().as_bytes().to_vec(),
    }));
    let mut life = Lifecycle::new("payment", db.clone(), nats.clone(), shutdown);
    life.subscribe(auth.subscription());
    life.relay(vec![PaymentEvent::STREAM]);
    life.work(orders::queue(db.clone()));
    life.work(refunds::queue(state.clone()));
    let reconciling = state.clone();
    let period = (cfg.payment_reconcile_after / 2)
        .clamp(Duration::from_millis(500), Duration::from_secs(10));
    life.every(period, move || {
        card::reconcile_unanswered(reconciling.clone())
    });

    workflow::register_metrics();
    let app = httpkit::stack(http::router(state), "payment", &cfg.http, life.probes());
    life.serve((http, app), None).await
}
