//! `pizza-menu import-legacy`: pizza_back's catalog (`pizza_types`, `pizza`) brought over.
//!
//! The catalog is small (tens of types, about a hundred pizzas), so it is read whole through a
//! read-only connection and written in one transaction that, if anything was added, bumps the
//! catalog version, records each addition (`changed_by = import-legacy`) and announces
//! `catalog.updated`, like any edit. Re-runnable: a type or pizza already here (same id) is
//! skipped, so a second run adds only what pizza_back gained since.
//!
//! - Prices: pizza_back keeps a float in a currency unit; each becomes
//!   `round(price × --won-per-unit)` in whole won, half away from zero, computed by
//!   PostgreSQL on the price as `numeric` (its shortest decimal form, so 12.75 is 12.75, not
//!   12.7499999…). A price outside 1–1,000,000 won is reported and skipped.
//! - Pizza ids stay as they are (orders name them); a type's picture is this platform's.
//! - A type whose id, name or category breaks this catalog's rules, or a pizza whose size does,
//!   is skipped and reported.

use std::fmt;

use events::{CatalogEvent, catalog::CatalogUpdated};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::{
    db::{self, Change},
    pizza::{self, PizzaType},
};

const WHO: &str = "import-legacy";

#[derive(Debug, Default)]
pub struct Summary {
    pub types_read: u64,
    pub types_added: u64,
    pub pizzas_read: u64,
    pub pizzas_added: u64,
    pub already_here: u64,
    pub refused: u64,
    pub dry_run: bool,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "import-legacy menu: read {} types and {} pizzas, {} {} types and {} pizzas, skipped {} \
             ({} already here, {} outside the rules){}",
            self.types_read,
            self.pizzas_read,
            if self.dry_run { "would add" } else { "added" },
            self.types_added,
            self.pizzas_added,
            self.already_here + self.refused,
            self.already_here,
            self.refused,
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
        )
    }
}

#[derive(sqlx::FromRow)]
struct LegacyType {
    pizza_type_id: String,
    pizza_nm: Option<String>,
    pizza_categ: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LegacyPizza {
    pizza_id: String,
    pizza_type_id: Option<String>,
    size: Option<String>,
    price_won: Option<i64>,
}

/// Adds every type and pizza of `source` not yet here; `report` gets one line per one skipped
/// for breaking a rule.
pub async fn catalog(
    target: &PgPool,
    source: &PgPool,
    won_per_unit: &str,
    dry_run: bool,
    mut report: impl FnMut(String),
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        dry_run,
        ..Summary::default()
    };
    let types: Vec<LegacyType> = sqlx::query_as(
        "SELECT pizza_type_id::text, pizza_nm::text, pizza_categ::text FROM pizza_types \
         ORDER BY pizza_type_id",
    )
    .fetch_all(source)
    .await?;
    let pizzas: Vec<LegacyPizza> = sqlx::query_as(
        "SELECT pizza_id::text, pizza_type_id::text, size::text, \
                round(price::numeric * $1::numeric)::bigint AS price_won \
         FROM pizza ORDER BY pizza_id",
    )
    .bind(won_per_unit)
    .fetch_all(source)
    .await?;

    let mut tx = target.begin().await?;
    let mut added_ids: Vec<String> = Vec::new();
    let mut changes: Vec<(
        &'static str,
        Option<String>,
        Option<String>,
        serde_json::Value,
    )> = Vec::new();
    for t in types {
        summary.types_read += 1;
        let checked = PizzaType::checked(
            &t.pizza_type_id,
            t.pizza_nm.as_deref().unwrap_or_default(),
            t.pizza_categ.as_deref().unwrap_or_default(),
        );
        let new = match checked {
            Ok(new) => new,
            Err(rule) => {
                summary.refused += 1;
                report(format!("skipped type {:?}: {rule}", t.pizza_type_id));
                continue;
            }
        };
        if db::insert_type(&mut tx, &new).await? {
            summary.types_added += 1;
            changes.push((
                "type_added",
                Some(new.pizza_type_id.clone()),
                None,
                json!({"pizza_nm": new.pizza_nm, "pizza_categ": new.pizza_categ}),
            ));
        } else if db::type_exists(&mut tx, &new.pizza_type_id).await? {
            summary.already_here += 1;
        } else {
            summary.refused += 1;
            report(format!(
                "skipped type {}: another type here is named {:?}",
                new.pizza_type_id, new.pizza_nm
            ));
        }
    }
    for p in pizzas {
        summary.pizzas_read += 1;
        let size = p.size.as_deref().and_then(pizza::parse_size);
        let price = p.price_won.filter(|w| (1..=1_000_000).contains(w));
        let (Some(type_id), Some(size), Some(price)) = (p.pizza_type_id.as_deref(), size, price)
        else {
            summary.refused += 1;
            report(format!(
                "skipped pizza {:?}: no type, a size outside {}, or a price outside 1-1,000,000 won \
                 (got {:?} won)",
                p.pizza_id,
                pizza::SIZES.join(", "),
                p.price_won
            ));
            continue;
        };
        if !db::type_exists(&mut tx, type_id).await? {
            summary.refused += 1;
            report(format!(
                "skipped pizza {}: no type {type_id:?} here",
                p.pizza_id
            ));
            continue;
        }
        if db::insert_pizza(&mut tx, &p.pizza_id, type_id, size, price, true).await? {
            summary.pizzas_added += 1;
            changes.push((
                "pizza_added",
                Some(type_id.to_owned()),
                Some(p.pizza_id.clone()),
                json!({"size": size, "price": price, "available": true}),
            ));
            added_ids.push(p.pizza_id);
        } else if pizza_id_here(&mut tx, &p.pizza_id).await? {
            summary.already_here += 1;
        } else {
            summary.refused += 1;
            report(format!(
                "skipped pizza {}: {type_id} already has a size {size} here",
                p.pizza_id
            ));
        }
    }
    if !changes.is_empty() {
        let version = db::next_version(&mut tx).await?;
        for (kind, pizza_type_id, pizza_id, new) in changes {
            let change = Change {
                version,
                who: WHO,
                kind,
                pizza_type_id: pizza_type_id.as_deref(),
                pizza_id: pizza_id.as_deref(),
                old: None,
                new,
            };
            db::record_change(&mut tx, change).await?;
        }
        let updated = CatalogUpdated {
            catalog_version: version,
            pizza_ids: added_ids,
            bran_id: None,
        };
        outbox::enqueue(&mut tx, CatalogEvent::Updated(updated)).await?;
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(summary)
}

async fn pizza_id_here(conn: &mut PgConnection, id: &str) -> anyhow::Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT pizza_id FROM pizza WHERE pizza_id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}
