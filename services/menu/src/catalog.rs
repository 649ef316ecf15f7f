//! The served catalog: one snapshot of the whole menu, loaded in one query, with every
//! response body pre-rendered, kept in a `moka` cache.
//!
//! Reads never touch the database while the snapshot is cached. The snapshot is dropped when
//! a `catalog.updated` arrives (from any replica, this one included), when this replica
//! commits a change itself, when NATS reconnects, and at the latest after `MENU_CACHE_TTL`.
//!
//! Invalidation bumps a generation number that is part of the cache key. A load that began
//! before an invalidation finishes under the old generation, so it is never served: without
//! that, a slow load racing a change could put the old catalog back for a whole TTL.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::http::HeaderValue;
use bytes::Bytes;
use moka::future::Cache;
use prometheus::{IntCounter, Opts};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use events::CatalogEvent;
use outbox::Broadcast;

use httpkit::Result;

use crate::{
    db::{self, CatalogRows},
    options::{self, OptionGroup},
    pizza::{ALL_SIZES, CATEGORIES, ItemDetail, ItemSize, MenuItem, PizzaType, parse_size},
};

static LOADS: LazyLock<IntCounter> = LazyLock::new(|| {
    telemetry::register(
        IntCounter::with_opts(Opts::new(
            "menu_catalog_loads_total",
            "Times the catalog was read from the database",
        ))
        .expect("valid counter"),
    )
});

/// A response body with its entity tag, and the same body gzip-compressed once, when that is
/// smaller: every browser asks for gzip, and the menu is ~20 KB of repetitive JSON. Cheap to
/// clone (shared bytes).
#[derive(Clone)]
pub struct Rendered {
    pub body: Bytes,
    pub etag: HeaderValue,
    /// The gzip representation and its own entity tag (a different representation is a
    /// different entity for caches).
    pub gzip: Option<(Bytes, HeaderValue)>,
}

/// Below this a body goes out as it is: compression would save less than a packet.
const GZIP_FROM: usize = 1024;

impl Rendered {
    fn of<T: Serialize>(value: &T) -> Self {
        Self::of_bytes(serde_json::to_vec(value).expect("catalog types serialize"))
    }

    pub fn of_bytes(body: Vec<u8>) -> Self {
        let digest = Sha256::digest(&body);
        let tag = hex::encode(&digest[..12]);
        let etag =
            HeaderValue::from_str(&format!("\"{tag}\"")).expect("hex is a valid header value");
        let gzip = (body.len() >= GZIP_FROM)
            .then(|| gzip(&body))
            .filter(|z| z.len() < body.len())
            .map(|z| {
                let etag = HeaderValue::from_str(&format!("\"{tag}-gz\""))
                    .expect("hex is a valid header value");
                (Bytes::from(z), etag)
            });
        Self {
            body: body.into(),
            etag,
            gzip,
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(body).expect("writing to memory");
    z.finish().expect("writing to memory")
}

/// The whole catalog at one version.
pub struct Catalog {
    pub version: i64,
    pub items: Vec<MenuItem>,
    pub types: Vec<PizzaType>,
    by_id: HashMap<String, usize>,
    by_name_size: HashMap<(String, &'static str), usize>,
    menu_all: Rendered,
    menu_by_category: HashMap<&'static str, Rendered>,
    types_rendered: Rendered,
    /// Per branch, the pizzas sold out there.
    sold_out: HashMap<String, HashSet<String>>,
    /// Per type, its option groups.
    groups: HashMap<String, Vec<OptionGroup>>,
    /// Per type, `GET /menu/items/{id}/` as every branch sees it.
    details: HashMap<String, Rendered>,
    /// `GET /menu/options/`: every group that some item offers, by id.
    all_groups: Rendered,
}

/// Pizzas first, then sides, then drinks (within each, by category and name, as before).
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "pizza" => 0,
        "side" => 1,
        _ => 2,
    }
}

impl Catalog {
    pub fn new(rows: CatalogRows) -> Self {
        let CatalogRows {
            version,
            mut items,
            types,
            sold_out,
            groups,
            options,
        } = rows;
        let size_rank = |s: &str| {
            ALL_SIZES
                .iter()
                .position(|x| *x == s)
                .unwrap_or(ALL_SIZES.len())
        };
        items.sort_by(|a, b| {
            (
                kind_rank(&a.kind),
                a.pizza_categ.as_str(),
                a.pizza_nm.as_str(),
                size_rank(&a.size),
            )
                .cmp(&(
                    kind_rank(&b.kind),
                    b.pizza_categ.as_str(),
                    b.pizza_nm.as_str(),
                    size_rank(&b.size),
                ))
        });
        let by_id = items
            .iter()
            .enumerate()
            .map(|(i, p)| (p.pizza_id.clone(), i))
            .collect();
        let by_name_size = items
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some(((p.pizza_nm.to_lowercase(), parse_size(&p.size)?), i)))
            .collect();
        let menu_by_category = CATEGORIES
            .iter()
            .map(|c| {
                let subset: Vec<&MenuItem> = items.iter().filter(|p| p.pizza_categ == *c).collect();
                (*c, Rendered::of(&subset))
            })
            .collect();
        let groups = options::groups_by_owner(groups, &options);
        let mut catalog = Self {
            version,
            menu_all: Rendered::of(&items),
            types_rendered: Rendered::of(&types),
            menu_by_category,
            by_id,
            by_name_size,
            items,
            types,
            sold_out: sold_out.into_iter().fold(HashMap::new(), |mut m, (b, p)| {
                m.entry(b).or_insert_with(HashSet::new).insert(p);
                m
            }),
            all_groups: {
                let mut all: Vec<&OptionGroup> = groups.values().flatten().collect();
                all.sort_by(|a, b| a.group_id.cmp(&b.group_id));
                all.dedup_by(|a, b| a.group_id == b.group_id);
                Rendered::of(&all)
            },
            groups,
            details: HashMap::new(),
        };
        catalog.details = catalog
            .types
            .iter()
            .map(|t| {
                let detail = catalog.detail(t, None);
                (t.pizza_type_id.clone(), Rendered::of(&detail))
            })
            .collect();
        catalog
    }

    /// One item as its sheet shows it, at `bran_id` if given.
    fn detail(&self, t: &PizzaType, bran_id: Option<&str>) -> ItemDetail {
        let gone = bran_id.and_then(|b| self.sold_out.get(b));
        ItemDetail {
            pizza_type_id: t.pizza_type_id.clone(),
            pizza_nm: t.pizza_nm.clone(),
            pizza_categ: t.pizza_categ.clone(),
            kind: t.kind.clone(),
            pizza_img_url: t.pizza_img_url.clone(),
            description_ko: t.description_ko.clone(),
            description_en: t.description_en.clone(),
            allergens: t.allergens.clone(),
            sizes: self
                .items
                .iter()
                .filter(|p| p.pizza_type_id == t.pizza_type_id)
                .map(|p| ItemSize {
                    pizza_id: p.pizza_id.clone(),
                    size: p.size.clone(),
                    price: p.price,
                    available: p.available && !gone.is_some_and(|g| g.contains(&p.pizza_id)),
                })
                .collect(),
            option_groups: self
                .groups
                .get(&t.pizza_type_id)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// `GET /menu/items/{id}/`, at `bran_id` if given (rendered on demand when something is
    /// sold out there); `None` for no such item.
    pub fn item_detail(&self, pizza_type_id: &str, bran_id: Option<&str>) -> Option<Rendered> {
        let t = self
            .types
            .iter()
            .find(|t| t.pizza_type_id == pizza_type_id)?;
        match bran_id
            .and_then(|b| self.sold_out.get(b))
            .filter(|s| !s.is_empty())
        {
            Some(_) => Some(Rendered::of(&self.detail(t, bran_id))),
            None => self.details.get(pizza_type_id).cloned(),
        }
    }

    /// `GET /menu/?bran_id=`: the menu as that branch sells it, rendered on demand (a
    /// branch with nothing sold out is the shared rendering).
    pub fn menu_at(&self, category: Option<&'static str>, bran_id: &str) -> Option<Rendered> {
        let gone = self.sold_out.get(bran_id).filter(|s| !s.is_empty())?;
        let items: Vec<MenuItem> = self
            .items
            .iter()
            .filter(|p| category.is_none_or(|c| p.pizza_categ == c))
            .map(|p| MenuItem {
                available: p.available && !gone.contains(&p.pizza_id),
                ..p.clone()
            })
            .collect();
        Some(Rendered::of(&items))
    }

    /// `GET /menu/` (all, or one category).
    pub fn menu(&self, category: Option<&'static str>) -> &Rendered {
        match category {
            None => &self.menu_all,
            Some(c) => &self.menu_by_category[c],
        }
    }

    /// `GET /menu/types/`.
    pub fn types(&self) -> &Rendered {
        &self.types_rendered
    }

    pub fn item(&self, pizza_id: &str) -> Option<&MenuItem> {
        self.by_id.get(pizza_id).map(|i| &self.items[*i])
    }

    pub fn find(&self, pizza_nm: &str, size: &'static str) -> Option<&MenuItem> {
        self.by_name_size
            .get(&(pizza_nm.trim().to_lowercase(), size))
            .map(|i| &self.items[*i])
    }

    /// `GET /menu/options/`.
    pub fn option_groups(&self) -> &Rendered {
        &self.all_groups
    }

    /// An option, wherever it belongs.
    pub fn option(&self, option_id: &str) -> Option<&crate::options::ItemOption> {
        self.groups
            .values()
            .flatten()
            .flat_map(|g| &g.options)
            .find(|o| o.option_id == option_id)
    }

    pub fn has_type(&self, pizza_type_id: &str) -> bool {
        self.types.iter().any(|t| t.pizza_type_id == pizza_type_id)
    }
}

/// The snapshot cache shared by HTTP and gRPC handlers.
#[derive(Clone)]
pub struct CatalogCache {
    db: PgPool,
    cache: Cache<u64, Arc<Catalog>>,
    generation: Arc<AtomicU64>,
}

/// The hit counter, looked up once (it counts every read).
static HITS: LazyLock<IntCounter> =
    LazyLock::new(|| authclient::CACHE_REQUESTS.with_label_values(&["menu", "hit"]));

impl CatalogCache {
    pub fn new(db: PgPool, ttl: Duration) -> Self {
        // Exposed from the start (at 0), so dashboards see them before the first request.
        LazyLock::force(&HITS);
        LazyLock::force(&LOADS);
        authclient::CACHE_REQUESTS.with_label_values(&["menu", "miss"]);
        Self {
            db,
            cache: Cache::builder().max_capacity(4).time_to_live(ttl).build(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The current snapshot; loads it (once, however many ask at once) when there is none.
    pub async fn get(&self) -> Result<Arc<Catalog>> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(c) = self.cache.get(&generation).await {
            HITS.inc();
            return Ok(c);
        }
        authclient::CACHE_REQUESTS
            .with_label_values(&["menu", "miss"])
            .inc();
        let db = self.db.clone();
        let c = self
            .cache
            .try_get_with(generation, async move {
                LOADS.inc();
                let rows = db::load_catalog(&db).await?;
                Ok::<_, sqlx::Error>(Arc::new(Catalog::new(rows)))
            })
            .await?;
        Ok(c)
    }

    /// Drops the snapshot: the next read loads the catalog again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
    }

    /// The broadcast subscription that drops the snapshot whenever any replica changed the
    /// catalog (or events may have been missed).
    pub fn subscription(&self) -> Broadcast<CatalogEvent> {
        let (on_event, on_reset) = (self.clone(), self.clone());
        Broadcast::new(
            Arc::new(move |event| {
                let CatalogEvent::Updated(u) = &event.event;
                tracing::debug!(
                    catalog_version = u.catalog_version,
                    "catalog.updated: dropping the served menu"
                );
                on_event.invalidate();
            }),
            Arc::new(move || on_reset.invalidate()),
        )
    }
}
