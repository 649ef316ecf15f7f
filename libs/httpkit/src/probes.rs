//! `/healthz` (readiness), `/livez` (liveness) and `/metrics`.
//!
//! Readiness fails when the database does not answer or the process is draining. NATS is
//! reported but never fails readiness: NATS down delays events, it does not stop requests.

use std::{
    sync::{
        Arc, LazyLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use prometheus::{IntGaugeVec, Opts};
use serde_json::json;
use sqlx::PgPool;

use crate::Shutdown;

/// Reports the NATS connection's state (`connected`, `disconnected`, …) for `/healthz`.
pub type NatsState = Arc<dyn Fn() -> &'static str + Send + Sync>;

static DB_POOL: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    telemetry::register(
        IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )
        .expect("valid gauge"),
    )
});

#[derive(Clone)]
pub struct Probes {
    /// The service name.
    pub service: &'static str,
    pub db: PgPool,
    pub shutdown: Shutdown,
    pub nats: Option<NatsState>,
    /// Event subscriptions by stream, and whether each is live (reported, never failing
    /// readiness: a missed event is bounded by the caches' TTL).
    pub subscriptions: Vec<(&'static str, Arc<AtomicBool>)>,
}

impl Probes {
    pub(crate) fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/livez", get(livez))
            .route("/metrics", get(metrics))
            .with_state(self)
    }
}

async fn healthz(State(p): State<Probes>) -> impl IntoResponse {
    let nats = p.nats.as_ref().map(|f| f()).unwrap_or("not used");
    let subscriptions: serde_json::Map<String, serde_json::Value> = p
        .subscriptions
        .iter()
        .map(|(name, live)| {
            let state = if live.load(Ordering::Acquire) {
                "live"
            } else {
                "down"
            };
            ((*name).to_owned(), json!(state))
        })
        .collect();
    if p.shutdown.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "draining", "nats": nats, "subscriptions": subscriptions})),
        );
    }
    let db_ok = tokio::time::timeout(
        Duration::from_secs(1),
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&p.db),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "status": if db_ok { "ok" } else { "unavailable" },
            "database": if db_ok { "up" } else { "down" },
            "nats": nats,
            "subscriptions": subscriptions,
        })),
    )
}

async fn livez() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

async fn metrics(State(p): State<Probes>) -> impl IntoResponse {
    // Pool usage is read at scrape time: the pool knows it, nothing needs to push it.
    let idle = p.db.num_idle() as i64;
    let size = i64::from(p.db.size());
    DB_POOL.with_label_values(&["idle"]).set(idle);
    DB_POOL.with_label_values(&["in_use"]).set(size - idle);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        telemetry::render_metrics(),
    )
}
