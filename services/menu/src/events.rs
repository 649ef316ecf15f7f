//! Events menu emits and reacts to (DESIGN §5).
//!
//! It emits `catalog.updated` on stream `CATALOG`. It reacts, on every replica, to
//! `catalog.updated` (drop the served catalog) and `auth.session_revoked` (drop cached token
//! verifications) — through broadcast subscriptions, never a shared durable consumer.

use std::sync::Arc;

use outbox::{Broadcast, StreamSpec};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::{catalog::CatalogCache, error::Result};

pub const CATALOG_UPDATED: &str = "catalog.updated";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogUpdated {
    pub catalog_version: i64,
    /// The pizzas whose price or availability changed, or that were added (empty when only a
    /// type was added).
    pub pizza_ids: Vec<String>,
}

pub fn streams() -> Vec<StreamSpec> {
    vec![StreamSpec {
        name: "CATALOG",
        subjects: vec!["catalog.>"],
    }]
}

pub async fn catalog_updated(
    conn: &mut PgConnection,
    version: i64,
    pizza_ids: &[&str],
) -> Result<()> {
    let data = CatalogUpdated {
        catalog_version: version,
        pizza_ids: pizza_ids.iter().map(|s| (*s).to_owned()).collect(),
    };
    outbox::enqueue(conn, CATALOG_UPDATED, &data).await?;
    Ok(())
}

/// Drops the served catalog whenever any replica changed it (or events may have been missed).
pub fn catalog_subscription(cache: CatalogCache) -> Broadcast {
    let on_reset = cache.clone();
    Broadcast::new(
        "CATALOG",
        CATALOG_UPDATED,
        Arc::new(move |event| {
            tracing::debug!(catalog_version = %event.data["catalog_version"], "catalog.updated: dropping the served menu");
            cache.invalidate();
        }),
        Arc::new(move || on_reset.invalidate()),
    )
}
