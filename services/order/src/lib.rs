//! pizza-order: orders.
//!
//! - [`http`] — `POST /order/` (priced by the server, idempotent), my orders, one order,
//!   branches, OpenAPI.
//! - [`prices`] — `MenuService/GetPrices` over gRPC, cached per pizza until a
//!   `catalog.updated`; token checks go through `authclient` (login's `VerifyToken`).
//! - [`db`] — the SQL of schema `ordering`, and `order.created` (crate `events`) written
//!   through the outbox with the order.
//! - [`workflow`] — the status machine (staff, customer, auto-cancel), each change with its
//!   `order.status_changed`.
//! - [`live`] — order changes pushed to WebSockets; [`notify`] — the webhook notifications.
//!
//! [`run`] takes an already-bound listener and a [`Shutdown`], so tests bind port 0.

pub mod config;
pub mod db;
pub mod http;
pub mod live;
pub mod notify;
pub mod prices;
pub mod workflow;

use std::{sync::Arc, time::Duration};

use authclient::AuthClient;
use axum::extract::FromRef;
use events::{Event, OrderEvent};
use httpkit::{Probes, Shutdown};
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
    pub auth: AuthClient,
    pub hub: live::Hub,
    pub shutdown: Shutdown,
}

impl FromRef<AppState> for AuthClient {
    fn from_ref(s: &AppState) -> Self {
        s.auth.clone()
    }
}

/// Serves HTTP, relays the outbox and follows catalog and auth events, until `shutdown`
/// stops; then finishes in-flight requests, stops the relay and returns.
pub async fn run(cfg: ServeConfig, http: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
    let db = cfg.db.pool(DB_ROLE)?;
    let nats = outbox::connect_nats(&cfg.nats.nats_url, "pizza-order").await?;
    let auth = AuthClient::from_args(&cfg.auth).map_err(|e| anyhow::anyhow!(e))?;
    let prices = Prices::new(
        &cfg.menu_grpc_url,
        cfg.auth.grpc_call_timeout,
        cfg.price_cache_ttl,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let hub = live::Hub::default();
    let state = AppState(Arc::new(Shared {
        db: db.clone(),
        prices: prices.clone(),
        auth: auth.clone(),
        hub: hub.clone(),
        shutdown: shutdown.clone(),
    }));

    let prices_sub = prices.subscription();
    let auth_sub = auth.subscription();
    let orders_sub = hub.subscription();
    let live = vec![prices_sub.health(), auth_sub.health(), orders_sub.health()];
    let stopped = || {
        let s = shutdown.clone();
        async move { s.stopped().await }
    };
    let subscriptions = [
        tokio::spawn(prices_sub.run(nats.clone(), stopped())),
        tokio::spawn(auth_sub.run(nats.clone(), stopped())),
        tokio::spawn(orders_sub.run(nats.clone(), stopped())),
    ];
    let (relay_stop, relay_stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = outbox::Relay::new(
        "order",
        db.clone(),
        outbox::jetstream(nats.client.clone()),
        vec![OrderEvent::STREAM],
    );
    let relay = tokio::spawn(relay.run(async move {
        let _ = relay_stopped.await;
    }));
    let pruner = tokio::spawn(prune_forever(db.clone()));
    let notifier = cfg.order_webhook_url.clone().map(|url| {
        // reqwest's rustls takes its crypto from the process: ring, as sqlx's does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let n = notify::Notifier::new(db.clone(), outbox::jetstream(nats.client.clone()), url);
        tokio::spawn(n.run(stopped()))
    });
    let auto_cancel = tokio::spawn(workflow::auto_cancel_forever(
        db.clone(),
        cfg.order_pending_timeout,
    ));

    let client = nats.client.clone();
    let probes = Probes {
        service: "order",
        db: db.clone(),
        shutdown: shutdown.clone(),
        nats: Some(Arc::new(move || outbox::nats_state(&client))),
        subscriptions: live,
    };
    let app = httpkit::stack(http::router(state), "order", &cfg.http, probes);
    tracing::info!(http = %http.local_addr()?, "pizza-order serving");
    let served = httpkit::serve(http, app, shutdown.clone()).await;
    let _ = relay_stop.send(());
    let _ = relay.await;
    outbox::writes_finished(Duration::from_secs(10)).await;
    for s in subscriptions.into_iter().chain(notifier) {
        let _ = s.await;
    }
    pruner.abort();
    auto_cancel.abort();
    served?;
    tracing::info!("pizza-order stopped");
    Ok(())
}

async fn prune_forever(db: PgPool) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        match db::prune(&db).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "pruned expired idempotency keys"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "prune failed; will retry"),
        }
    }
}
