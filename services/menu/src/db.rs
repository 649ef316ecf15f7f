//! SQL of the `menu` schema, as free functions that return rows. Writes take the caller's
//! transaction: the use cases in [`crate::edit`] own it.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use httpkit::Result;

use crate::{
    options::{GroupRow, ItemOption},
    pizza::{MenuItem, PizzaType},
};

/// The whole catalog at one version.
pub struct CatalogRows {
    pub version: i64,
    pub items: Vec<MenuItem>,
    pub types: Vec<PizzaType>,
    /// (branch, pizza) sold out at that branch.
    pub sold_out: Vec<(String, String)>,
    /// The groups each type offers (owner: the type), in its order.
    pub groups: Vec<GroupRow>,
    pub options: Vec<ItemOption>,
}

const OPTION_COLUMNS: &str =
    "option_id, group_id, name_ko, name_en, price_delta, available, is_default, position";

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
                p.size, p.price, p.available, t.kind, t.description_ko, t.description_en, \
                t.allergens, \
                EXISTS (SELECT 1 FROM item_option_group i \
                        WHERE i.pizza_type_id = t.pizza_type_id) AS has_options \
         FROM pizza p JOIN pizza_types t ON t.pizza_type_id = p.pizza_type_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let types: Vec<PizzaType> = sqlx::query_as(
        "SELECT pizza_type_id, pizza_nm, pizza_categ, pizza_img_url, kind, description_ko, \
                description_en, allergens FROM pizza_types \
         ORDER BY pizza_categ, pizza_nm",
    )
    .fetch_all(&mut *tx)
    .await?;
    let sold_out = sqlx::query_as("SELECT bran_id, pizza_id FROM branch_sold_out")
        .fetch_all(&mut *tx)
        .await?;
    let groups = sqlx::query_as(
        "SELECT i.pizza_type_id AS owner, g.group_id, g.name_ko, g.name_en, g.min_choices, \
                g.max_choices \
         FROM item_option_group i JOIN option_group g ON g.group_id = i.group_id \
         ORDER BY i.pizza_type_id, i.position, g.group_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let options = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {OPTION_COLUMNS} FROM item_option"
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(CatalogRows {
        version,
        items,
        types,
        sold_out,
        groups,
        options,
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

/// What `GetPrices` needs to price lines with options, in one statement (one snapshot): the
/// catalog version, the pizzas `ids` (as [`prices`]), the groups each of them offers (owner:
/// the pizza id) and the options that could be chosen — every one `asked` names, and every
/// default of a group they offer.
pub struct Quote {
    pub version: i64,
    pub prices: Vec<PriceRow>,
    pub groups: Vec<GroupRow>,
    pub options: Vec<ItemOption>,
}

pub async fn quote(
    db: &PgPool,
    ids: &[String],
    bran_id: Option<&str>,
    asked: &[String],
) -> Result<Quote> {
    #[derive(serde::Deserialize)]
    struct Price {
        pizza_id: String,
        price: i64,
        available: bool,
        pizza_nm: String,
        size: String,
    }
    let (version, prices, groups, options): (i64, Value, Value, Value) = sqlx::query_as(
        "WITH p AS (SELECT * FROM pizza WHERE pizza_id = ANY($1)), \
              offered AS ( \
                SELECT p.pizza_id, i.position, g.* FROM p \
                JOIN item_option_group i ON i.pizza_type_id = p.pizza_type_id \
                JOIN option_group g ON g.group_id = i.group_id) \
         SELECT (SELECT version FROM catalog_version), \
           COALESCE((SELECT json_agg(json_build_object( \
                'pizza_id', p.pizza_id, 'price', p.price, 'pizza_nm', t.pizza_nm, 'size', p.size, \
                'available', p.available AND NOT EXISTS ( \
                    SELECT 1 FROM branch_sold_out s WHERE s.bran_id = $2 AND s.pizza_id = p.pizza_id))) \
              FROM p JOIN pizza_types t ON t.pizza_type_id = p.pizza_type_id), '[]'), \
           COALESCE((SELECT json_agg(json_build_object( \
                'owner', pizza_id, 'group_id', group_id, 'name_ko', name_ko, 'name_en', name_en, \
                'min_choices', min_choices, 'max_choices', max_choices) \
                ORDER BY pizza_id, position, group_id) FROM offered), '[]'), \
           COALESCE((SELECT json_agg(row_to_json(o)) FROM ( \
                SELECT option_id, group_id, name_ko, name_en, price_delta, available, is_default, position \
                FROM item_option \
                WHERE option_id = ANY($3) \
                   OR (is_default AND group_id IN (SELECT group_id FROM offered))) o), '[]')",
    )
    .bind(ids)
    .bind(bran_id)
    .bind(asked)
    .fetch_one(db)
    .await?;
    let bad = |e: serde_json::Error| httpkit::Error::Internal(e.into());
    let prices: Vec<Price> = serde_json::from_value(prices).map_err(bad)?;
    Ok(Quote {
        version,
        prices: prices
            .into_iter()
            .map(|p| PriceRow {
                pizza_id: p.pizza_id,
                price: p.price,
                available: p.available,
                pizza_nm: p.pizza_nm,
                size: p.size,
            })
            .collect(),
        groups: serde_json::from_value(groups).map_err(bad)?,
        options: serde_json::from_value(options).map_err(bad)?,
    })
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

impl Change<'_> {
    /// The option a change is about, if it is about one: kept in `new.option_id`.
    fn option_id(&self) -> Option<&str> {
        self.new.get("option_id").and_then(Value::as_str)
    }
}

pub async fn record_change(conn: &mut PgConnection, c: Change<'_>) -> Result<()> {
    let option_id = c.option_id().map(str::to_owned);
    sqlx::query(
        "INSERT INTO catalog_change \
           (catalog_version, changed_by, kind, pizza_type_id, pizza_id, old_value, new_value, \
            option_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.version)
    .bind(c.who)
    .bind(c.kind)
    .bind(c.pizza_type_id)
    .bind(c.pizza_id)
    .bind(c.old)
    .bind(c.new)
    .bind(option_id)
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

/// The type's kind (`pizza`, `side`, `drink`) if it exists, held until the transaction ends
/// so it cannot go meanwhile.
pub async fn type_kind(conn: &mut PgConnection, pizza_type_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT kind FROM pizza_types WHERE pizza_type_id = $1 FOR SHARE")
            .bind(pizza_type_id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Whether the type exists (held until the transaction ends, so it cannot go meanwhile).
pub async fn type_exists(conn: &mut PgConnection, pizza_type_id: &str) -> Result<bool> {
    Ok(type_kind(conn, pizza_type_id).await?.is_some())
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
        "INSERT INTO pizza_types (pizza_type_id, pizza_nm, pizza_categ, pizza_img_url, kind) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&t.pizza_type_id)
    .bind(&t.pizza_nm)
    .bind(&t.pizza_categ)
    .bind(&t.pizza_img_url)
    .bind(&t.kind)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// An option's price and availability, locked until the transaction ends.
pub async fn option_for_update(
    conn: &mut PgConnection,
    option_id: &str,
) -> Result<Option<(i64, bool)>> {
    Ok(sqlx::query_as(
        "SELECT price_delta, available FROM item_option WHERE option_id = $1 FOR UPDATE",
    )
    .bind(option_id)
    .fetch_optional(conn)
    .await?)
}

pub async fn set_option(
    conn: &mut PgConnection,
    option_id: &str,
    price_delta: i64,
    available: bool,
) -> Result<()> {
    sqlx::query(
        "UPDATE item_option SET price_delta = $2, available = $3, updated_at = now() \
         WHERE option_id = $1",
    )
    .bind(option_id)
    .bind(price_delta)
    .bind(available)
    .execute(conn)
    .await?;
    Ok(())
}

/// What an item says about itself: its descriptions and allergens, locked until the
/// transaction ends.
pub async fn about_for_update(
    conn: &mut PgConnection,
    pizza_type_id: &str,
) -> Result<Option<(String, Option<String>, Vec<String>)>> {
    Ok(sqlx::query_as(
        "SELECT description_ko, description_en, allergens FROM pizza_types \
         WHERE pizza_type_id = $1 FOR UPDATE",
    )
    .bind(pizza_type_id)
    .fetch_optional(conn)
    .await?)
}

pub async fn set_about(
    conn: &mut PgConnection,
    pizza_type_id: &str,
    description_ko: &str,
    description_en: Option<&str>,
    allergens: &[String],
) -> Result<()> {
    sqlx::query(
        "UPDATE pizza_types SET description_ko = $2, description_en = $3, allergens = $4 \
         WHERE pizza_type_id = $1",
    )
    .bind(pizza_type_id)
    .bind(description_ko)
    .bind(description_en)
    .bind(allergens)
    .execute(conn)
    .await?;
    Ok(())
}
