//! pizza-menu: the catalog.
//!
//! - [`http`] — `/menu` reads (with `ETag`), pizza lookup, images, ADMIN writes, OpenAPI.
//! - [`grpc`] — `MenuService/GetPrices` for the order service.
//! - [`pizza`] — what the menu sells: sizes, categories, pizzas, types.
//! - [`catalog`] — the served snapshot, its `moka` cache and the broadcast subscription to
//!   `catalog.updated` that keeps every replica's copy fresh.
//! - [`edit`] — the ADMIN's changes, each in one transaction with its `catalog.updated`
//!   (crate `events`) written through the outbox; [`db`] — the SQL of schema `menu`.
//! - [`images`] — the pictures.
//!
//! [`run`] takes already-bound listeners and a [`Shutdown`], so tests bind port 0.

pub mod catalog;
pub mod config;
pub mod db;
pub mod edit;
pub mod grpc;
pub mod http;
pub mod images;
pub mod import;
pub mod options;
pub mod photos;
pub mod pizza;

use std::sync::Arc;

use authclient::AuthClient;
use axum::extract::FromRef;
use events::{CatalogEvent, Event};
use httpkit::Shutdown;
use lifecycle::Lifecycle;
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

/// Serves HTTP and gRPC, relays the outbox and follows the catalog and auth events until
/// `shutdown` stops, then stops it all ([`Lifecycle::serve`]).
pub async fn run(cfg: ServeConfig, listeners: Listeners, shutdown: Shutdown) -> anyhow::Result<()> {
    let db = cfg.db.pool(DB_ROLE)?;
    let nats = lifecycle::connect_nats(&cfg.nats, "pizza-menu").await?;
    let auth = AuthClient::from_args(&cfg.auth).map_err(|e| anyhow::anyhow!(e))?;
    let catalog = CatalogCache::new(db.clone(), cfg.menu_cache_ttl);
    let state = AppState(Arc::new(Shared {
        db: db.clone(),
        catalog: catalog.clone(),
        auth: auth.clone(),
    }));
    let pool = db.clone();
    let mut life = Lifecycle::new("menu", db, nats, shutdown);
    life.subscribe(catalog.subscription());
    life.subscribe(auth.subscription());
    life.relay(vec![CatalogEvent::STREAM]);

    let app = httpkit::stack(http::router(state), "menu", &cfg.http, life.probes());
    let grpc = grpckit::GrpcService {
        routes: tonic::service::Routes::new(
            proto::menu::v1::menu_service_server::MenuServiceServer::new(grpc::MenuGrpc::new(
                catalog, pool,
            )),
        ),
        names: vec!["pizza.menu.v1.MenuService"],
        descriptors: vec![proto::FILE_DESCRIPTOR_SET],
    };
    life.serve((listeners.http, app), Some((listeners.grpc, grpc)))
        .await
}
