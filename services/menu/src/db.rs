//! SQL of the `menu` schema, as free functions that return rows. Writes take the caller's
//! transaction: the use cases in [`crate::edit`] own it.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use httpkit::Result;

use crate::pizza::{MenuItem, PizzaType};

/// The whole catalog at one version.
pub struct CatalogRows {
    pub version: i64,
    pub items: Vec<MenuItem>,
    pub types: Vec<PizzaType>,
    /// (branch, pizza) sold out at that branch.
    pub sold_out: Vec<(String, String)>,
}

/// The whole catalog, in one round trip (the version from the same snapshot).
pub async fn load_catalog(db: &PgPool) -> Result<CatalogRows, sqlx::Error> {
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
    let sold_out = sqlx::query_as("SELECT bran_id, pizza_id FROM branch_sold_out")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(CatalogRows {
        version,
        items,
        types,
        sold_out,
    })
}

/// Whether the pizza is sold out at the branch.
pub async fn sold_out_at(conn: &mut PgConnection, bran_id: &str, pizza_id: &str) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM branch_sold_out WHERE bran_id = $1 AND pizza_id = $2)",
    )
    .bind(bran_id)
    .bind(pizza_id)
    .fetch_one(conn)
    .await?)
}

pub async fn set_sold_out_at(
    conn: &mut PgConnection,
    bran_id: &str,
    pizza_id: &str,
    sold_out: bool,
    who: &str,
) -> Result<()> {
    let sql = if sold_out {
        "INSERT INTO branch_sold_out (bran_id, pizza_id, changed_by) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM branch_sold_out WHERE bran_id = $1 AND pizza_id = $2 AND $3::text IS NOT NULL"
    };
    sqlx::query(sql)
        .bind(bran_id)
        .bind(pizza_id)
        .bind(who)
        .execute(conn)
        .await?;
    Ok(())
}

/// A pizza as `GetPrices` answers it.
#[derive(Debug, sqlx::FromRow)]
pub struct PriceRow {
    pub pizza_id: String,
    pub price: i64,
    pub available: bool,
    pub pizza_nm: String,
    pub size: String,
}

/// The pizzas `ids` as committed now, available only if so everywhere and (with a branch) not
/// sold out there, with the catalog version of the same snapshot: what an order is priced
/// with, never a cached copy, so a change the menu has acknowledged prices every order asked
/// after it.
pub async fn prices(
    db: &PgPool,
    ids: &[String],
    bran_id: Option<&str>,
) -> Result<(i64, Vec<PriceRow>)> {
    let rows: Vec<(i64, String, i64, bool, String, String)> = sqlx::query_as(
        "SELECT (SELECT version FROM catalog_version), p.pizza_id, p.price, \
                p.available AND NOT EXISTS ( \
                    SELECT 1 FROM branch_sold_out s WHERE s.bran_id = $2 AND s.pizza_id = p.pizza_id), \
                t.pizza_nm, p.size \
         FROM pizza p JOIN pizza_types t ON t.pizza_type_id = p.pizza_type_id \
         WHERE p.pizza_id = ANY($1)",
    )
    .bind(ids)
    .bind(bran_id)
    .fetch_all(db)
    .await?;
    let version = match rows.first() {
        Some(r) => r.0,
        // Only unknown ids: the version alone.
        None => {
            sqlx::query_scalar("SELECT version FROM catalog_version")
                .fetch_one(db)
                .await?
        }
    };
    Ok((
        version,
        rows.into_iter()
            .map(|(_, pizza_id, price, available, pizza_nm, size)| PriceRow {
                pizza_id,
                price,
                available,
                pizza_nm,
                size,
            })
            .collect(),
    ))
}

/// Bumps the catalog version (this also serialises catalog writes, which are rare, so
/// versions are in commit order).
pub async fn next_version(conn: &mut PgConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar("UPDATE catalog_version SET version = version + 1 RETURNING version")
            .fetch_one(conn)
            .await?,
    )
}

/// One change as it was made: who, which version, old → new.
pub struct Change<'a> {
    pub version: i64,
    pub who: &'a str,
    pub kind: &'a str,
    pub pizza_type_id: Option<&'a str>,
    pub pizza_id: Option<&'a str>,
    pub old: Option<Value>,
    pub new: Value,
}

pub async fn record_change(conn: &mut PgConnection, c: Change<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO catalog_change \
           (catalog_version, changed_by, kind, pizza_type_id, pizza_id, old_value, new_value) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.version)
    .bind(c.who)
    .bind(c.kind)
    .bind(c.pizza_type_id)
    .bind(c.pizza_id)
    .bind(c.old)
    .bind(c.new)
    .execute(conn)
    .await?;
    Ok(())
}

/// A pizza's price and availability, locked until the transaction ends.
pub async fn pizza_for_update(
    conn: &mut PgConnection,
    pizza_id: &str,
) -> Result<Option<(i64, bool)>> {
    Ok(
        sqlx::query_as("SELECT price, available FROM pizza WHERE pizza_id = $1 FOR UPDATE")
            .bind(pizza_id)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn set_pizza(
    conn: &mut PgConnection,
    pizza_id: &str,
    price: i64,
    available: bool,
) -> Result<()> {
    sqlx::query(
        "UPDATE pizza SET price = $2, available = $3, updated_at = now() WHERE pizza_id = $1",
    )
    .bind(pizza_id)
    .bind(price)
    .bind(available)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the type exists (held until the transaction ends, so it cannot go meanwhile).
pub async fn type_exists(conn: &mut PgConnection, pizza_type_id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT pizza_type_id FROM pizza_types WHERE pizza_type_id = $1 FOR SHARE",
    )
    .bind(pizza_type_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// `false` when a pizza with that id exists already.
pub async fn insert_pizza(
    conn: &mut PgConnection,
    pizza_id: &str,
    pizza_type_id: &str,
    size: &str,
    price: i64,
    available: bool,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO pizza (pizza_id, pizza_type_id, size, price, available) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(pizza_id)
    .bind(pizza_type_id)
    .bind(size)
    .bind(price)
    .bind(available)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// `false` when a type with that id or name exists already.
pub async fn insert_type(conn: &mut PgConnection, t: &PizzaType) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO pizza_types (pizza_type_id, pizza_nm, pizza_categ, pizza_img_url) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&t.pizza_type_id)
    .bind(&t.pizza_nm)
    .bind(&t.pizza_categ)
    .bind(&t.pizza_img_url)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
