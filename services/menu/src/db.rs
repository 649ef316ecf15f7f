//! SQL of the menu schema. Every write runs in one transaction that bumps the catalog
//! version, records the change (who, when, old → new) and writes `catalog.updated` to the
//! outbox.

use events::{CatalogEvent, catalog::CatalogUpdated};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::catalog::{Catalog, MenuItem, PizzaType};
use httpkit::{Error, Result};

/// The whole catalog, in one round trip (the snapshot's version from the same transaction).
pub async fn load_catalog(db: &PgPool) -> Result<Catalog, sqlx::Error> {
    let mut tx = db.begin().await?;
    // One consistent view: version, pizzas and types as of the same moment.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let version: i64 = sqlx::query_scalar("SELECT version FROM catalog_version")
        .fetch_one(&mut *tx)
        .await?;
    let items: Vec<MenuItem> = sqlx::query_as(
        "SELECT p.pizza_id, p.pizza_type_id, t.pizza_nm, t.pizza_categ, t.pizza_img_url, \
                p.size, p.price, p.available \
         FROM pizza p JOIN pizza_types t ON t.pizza_type_id = p.pizza_type_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let types: Vec<PizzaType> = sqlx::query_as(
        "SELECT pizza_type_id, pizza_nm, pizza_categ, pizza_img_url FROM pizza_types \
         ORDER BY pizza_categ, pizza_nm",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Catalog::new(version, items, types))
}

/// Bumps the catalog version in the caller's transaction (this also serialises catalog
/// writes, which are rare, so versions are in commit order).
async fn next_version(conn: &mut PgConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar("UPDATE catalog_version SET version = version + 1 RETURNING version")
            .fetch_one(conn)
            .await?,
    )
}

/// Writes `catalog.updated` in the caller's transaction.
async fn announce(conn: &mut PgConnection, version: i64, pizza_ids: &[&str]) -> Result<()> {
    let updated = CatalogUpdated {
        catalog_version: version,
        pizza_ids: pizza_ids.iter().map(|s| (*s).to_owned()).collect(),
    };
    outbox::enqueue(conn, CatalogEvent::Updated(updated)).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn record(
    conn: &mut PgConnection,
    version: i64,
    who: &str,
    kind: &str,
    pizza_type_id: Option<&str>,
    pizza_id: Option<&str>,
    old: Option<Value>,
    new: Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO catalog_change \
           (catalog_version, changed_by, kind, pizza_type_id, pizza_id, old_value, new_value) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(version)
    .bind(who)
    .bind(kind)
    .bind(pizza_type_id)
    .bind(pizza_id)
    .bind(old)
    .bind(new)
    .execute(conn)
    .await?;
    Ok(())
}

/// Changes a pizza's price and/or availability. `Ok(None)` when nothing changed.
pub async fn update_pizza(
    db: &PgPool,
    who: &str,
    pizza_id: &str,
    price: Option<i64>,
    available: Option<bool>,
) -> Result<Option<i64>> {
    let mut tx = db.begin().await?;
    let current: Option<(i64, bool)> =
        sqlx::query_as("SELECT price, available FROM pizza WHERE pizza_id = $1 FOR UPDATE")
            .bind(pizza_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (old_price, old_available) =
        current.ok_or_else(|| Error::NotFound(format!("no pizza '{pizza_id}'")))?;
    let new_price = price.unwrap_or(old_price);
    let new_available = available.unwrap_or(old_available);
    if (new_price, new_available) == (old_price, old_available) {
        return Ok(None);
    }
    let version = next_version(&mut tx).await?;
    sqlx::query(
        "UPDATE pizza SET price = $2, available = $3, updated_at = now() WHERE pizza_id = $1",
    )
    .bind(pizza_id)
    .bind(new_price)
    .bind(new_available)
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        version,
        who,
        "pizza_updated",
        None,
        Some(pizza_id),
        Some(json!({"price": old_price, "available": old_available})),
        json!({"price": new_price, "available": new_available}),
    )
    .await?;
    announce(&mut tx, version, &[pizza_id]).await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// Adds a size of an existing type.
pub async fn add_pizza(
    db: &PgPool,
    who: &str,
    pizza_type_id: &str,
    size: &str,
    price: i64,
    available: bool,
) -> Result<String> {
    let pizza_id = format!("{pizza_type_id}_{}", size.to_lowercase());
    let mut tx = db.begin().await?;
    let exists: Option<String> = sqlx::query_scalar(
        "SELECT pizza_type_id FROM pizza_types WHERE pizza_type_id = $1 FOR SHARE",
    )
    .bind(pizza_type_id)
    .fetch_optional(&mut *tx)
    .await?;
    if exists.is_none() {
        return Err(Error::Unprocessable(format!(
            "no pizza type '{pizza_type_id}'"
        )));
    }
    let inserted = sqlx::query(
        "INSERT INTO pizza (pizza_id, pizza_type_id, size, price, available) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&pizza_id)
    .bind(pizza_type_id)
    .bind(size)
    .bind(price)
    .bind(available)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::Conflict(format!(
            "'{pizza_type_id}' already has a size {size} ({pizza_id})"
        )));
    }
    let version = next_version(&mut tx).await?;
    record(
        &mut tx,
        version,
        who,
        "pizza_added",
        Some(pizza_type_id),
        Some(&pizza_id),
        None,
        json!({"size": size, "price": price, "available": available}),
    )
    .await?;
    announce(&mut tx, version, &[&pizza_id]).await?;
    tx.commit().await?;
    Ok(pizza_id)
}

/// Adds a pizza type (its sizes come with `add_pizza`).
pub async fn add_type(db: &PgPool, who: &str, t: &PizzaType) -> Result<()> {
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO pizza_types (pizza_type_id, pizza_nm, pizza_categ, pizza_img_url) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&t.pizza_type_id)
    .bind(&t.pizza_nm)
    .bind(&t.pizza_categ)
    .bind(&t.pizza_img_url)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::Conflict(format!(
            "a pizza type with id '{}' or name '{}' exists already",
            t.pizza_type_id, t.pizza_nm
        )));
    }
    let version = next_version(&mut tx).await?;
    record(
        &mut tx,
        version,
        who,
        "type_added",
        Some(&t.pizza_type_id),
        None,
        None,
        json!({"pizza_nm": t.pizza_nm, "pizza_categ": t.pizza_categ}),
    )
    .await?;
    announce(&mut tx, version, &[]).await?;
    tx.commit().await?;
    Ok(())
}
