//! pizza-menu: the catalog.
//!
//! - [`http`] — `/menu` reads (with `ETag`), pizza lookup, images, ADMIN writes, OpenAPI.
//! - [`grpc`] — `MenuService/GetPrices` for the order service.
//! - [`catalog`] — the served snapshot, its `moka` cache and the broadcast subscription to
//!   `catalog.updated` that keeps every replica's copy fresh; [`db`] — the SQL of schema
//!   `menu`, each change with its `catalog.updated` (crate `events`) written through the
//!   outbox; [`images`] — the pictures.
//!
//! [`run`] takes already-bound listeners and a [`Shutdown`], so tests bind port 0.

pub mod catalog;
pub mod config;
pub mod db;
pub mod grpc;
pub mod http;
pub mod images;

use std::{sync::Arc, time::Duration};

use authclient::AuthClient;
use axum::extract::FromRef;
use events::{CatalogEvent, Event};
use httpkit::{Probes, Shutdown};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{catalog::CatalogCache, config::ServeConfig};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DB_ROLE: &str = "menu_svc";

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
    pub catalog: CatalogCache,
    pub auth: AuthClient,
}

impl FromRef<AppState> for AuthClient {
    fn from_ref(s: &AppState) -> Self {
        s.auth.clone()
    }
}

pub struct Listeners {
    pub http: TcpListener,
    pub grpc: TcpListener,
}

/// Serves HTTP and gRPC, relays the outbox and follows the catalog and auth events, until
/// `shutdown` stops; then finishes in-flight requests, stops the relay and returns.
pub async fn run(cfg: ServeConfig, listeners: Listeners, shutdown: Shutdown) -> anyhow::Result<()> {
    let db = cfg.db.pool(DB_ROLE)?;
    let nats = outbox::connect_nats(&cfg.nats.nats_url, "pizza-menu").await?;
    let auth = AuthClient::from_args(&cfg.auth).map_err(|e| anyhow::anyhow!(e))?;
    let catalog = CatalogCache::new(db.clone(), cfg.menu_cache_ttl);
    let state = AppState(Arc::new(Shared {
        db: db.clone(),
        catalog: catalog.clone(),
        auth: auth.clone(),
    }));

    let stopped = {
        let s = shutdown.clone();
        move || {
            let s = s.clone();
            async move { s.stopped().await }
        }
    };
    let catalog_sub = catalog.subscription();
    let auth_sub = auth.subscription();
    let live = vec![catalog_sub.health(), auth_sub.health()];
    let subscriptions = [
        tokio::spawn(catalog_sub.run(nats.clone(), stopped())),
        tokio::spawn(auth_sub.run(nats.clone(), stopped())),
    ];
    let (relay_stop, relay_stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = outbox::Relay::new(
        "menu",
        db.clone(),
        outbox::jetstream(nats.client.clone()),
        vec![CatalogEvent::STREAM],
    );
    let relay = tokio::spawn(relay.run(async move {
        let _ = relay_stopped.await;
    }));

    let client = nats.client.clone();
    let probes = Probes {
        service: "menu",
        db: db.clone(),
        shutdown: shutdown.clone(),
        nats: Some(Arc::new(move || outbox::nats_state(&client))),
        subscriptions: live,
    };
    let app = httpkit::stack(http::router(state), "menu", &cfg.http, probes);
    let grpc = grpckit::GrpcService {
        routes: tonic::service::Routes::new(
            proto::menu::v1::menu_service_server::MenuServiceServer::new(grpc::MenuGrpc::new(
                catalog,
            )),
        ),
        names: vec!["pizza.menu.v1.MenuService"],
        descriptors: vec![proto::FILE_DESCRIPTOR_SET],
    };
    tracing::info!(
        http = %listeners.http.local_addr()?,
        grpc = %listeners.grpc.local_addr()?,
        "pizza-menu serving"
    );
    let (h, g) = tokio::join!(
        httpkit::serve(listeners.http, app, shutdown.clone()),
        grpckit::serve(listeners.grpc, grpc, shutdown.clone()),
    );
    let _ = relay_stop.send(());
    let _ = relay.await;
    outbox::writes_finished(Duration::from_secs(10)).await;
    for s in subscriptions {
        let _ = s.await;
    }
    h?;
    g?;
    tracing::info!("pizza-menu stopped");
    Ok(())
}
