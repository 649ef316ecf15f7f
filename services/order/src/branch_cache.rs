//! The branches as the public reads serve them — the list with hours and pause (`GET
//! /order/branch/`, every visitor's first call) and what a table's token names (`GET
//! /order/table/{token}/`, every guest's first call at a table) — kept in `moka`.
//!
//! Every `branch.updated` and `branch.table_changed` (from any order replica, this one
//! included) drops them on every replica: a broadcast subscription per process; a reconnect
//! drops everything, and `BACKSTOP` bounds their age should an event be lost. As with the
//! other caches, the key carries a generation bumped by each invalidation, so a read racing a
//! change never puts the old copy back.
//!
//! Nothing that decides an order is read from here: the order reads its branch's hours and
//! pause, and locks its table, in its own transaction.

use std::{
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use authclient::CACHE_REQUESTS;
use events::BranchEvent;
use httpkit::Result;
use moka::future::Cache;
use outbox::Broadcast;
use prometheus::IntCounter;
use sqlx::PgPool;

use crate::{
    db::{self, BranchRow},
    tables::{self, AtTable},
};

/// The longest a copy is kept should its event be lost.
pub const BACKSTOP: Duration = Duration::from_secs(60);

static HITS: LazyLock<IntCounter> =
    LazyLock::new(|| CACHE_REQUESTS.with_label_values(&["branches", "hit"]));
static MISSES: LazyLock<IntCounter> =
    LazyLock::new(|| CACHE_REQUESTS.with_label_values(&["branches", "miss"]));

#[derive(Clone)]
pub struct BranchCache {
    db: PgPool,
    list: Cache<u64, Arc<Vec<BranchRow>>>,
    /// Tokens of tables in use only: an unknown token is asked of the database each time, so
    /// made-up tokens cannot fill the cache.
    tables: Cache<(u64, String), Arc<(AtTable, String)>>,
    generation: Arc<AtomicU64>,
}

impl BranchCache {
    pub fn new(db: PgPool) -> Self {
        LazyLock::force(&HITS);
        LazyLock::force(&MISSES);
        Self {
            db,
            list: Cache::builder()
                .max_capacity(1)
                .time_to_live(BACKSTOP)
                .build(),
            tables: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(BACKSTOP)
                .build(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Every branch with its hours and pause.
    pub async fn list(&self) -> Result<Arc<Vec<BranchRow>>> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(list) = self.list.get(&generation).await {
            HITS.inc();
            return Ok(list);
        }
        MISSES.inc();
        let list = Arc::new(db::branch_list(&self.db).await?);
        self.list.insert(generation, list.clone()).await;
        Ok(list)
    }

    /// The table in use that `token` names, with its branch's name.
    pub async fn table(&self, token: &str) -> Result<Option<Arc<(AtTable, String)>>> {
        let generation = self.generation.load(Ordering::Acquire);
        let key = (generation, token.to_owned());
        if let Some(t) = self.tables.get(&key).await {
            HITS.inc();
            return Ok(Some(t));
        }
        MISSES.inc();
        let Some(found) = tables::by_token(&self.db, token).await? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        self.tables.insert(key, found.clone()).await;
        Ok(Some(found))
    }

    /// Drops every copy.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.list.invalidate_all();
        self.tables.invalidate_all();
    }

    /// The broadcast subscription to `branch.*` that keeps these copies honest.
    pub fn subscription(&self) -> Broadcast<BranchEvent> {
        let (on_event, on_reset) = (self.clone(), self.clone());
        Broadcast::new(
            Arc::new(move |_| on_event.invalidate()),
            Arc::new(move || on_reset.invalidate()),
        )
    }
}
