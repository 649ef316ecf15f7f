//! `pizza-order import-legacy`: pizza_back's branches and orders, brought over as history.
//!
//! Read through a read-only connection: branches whole, orders in batches of [`BATCH`] (by
//! id), each batch in one transaction here. Re-runnable: a branch or an order already here
//! (same id; an order by its old id) is skipped, so a second run adds only what pizza_back
//! took since.
//!
//! An imported order keeps its old integer id (`legacy_order_id`; `/api/order/myorder/`
//! shows it), is COMPLETED, was created at its `date` + `time` in Asia/Seoul, and emits no
//! `order.created`: it is history, not a new order. Its lines are priced as the menu's import
//! prices pizzas, `round(price × --won-per-unit)` in whole won (the price pizza_back has now:
//! it kept no price per order). An order whose id is not an integer, whose branch, date or
//! time cannot be read, or which has no lines or a line with an unknown pizza or a quantity
//! outside 1–100 is skipped and reported.

use std::{collections::HashMap, fmt};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::{self, LineRow, NewOrder};

/// Orders per batch (and per transaction).
pub const BATCH: i64 = 500;
const WHO: &str = "import-legacy";

#[derive(Debug, Default)]
pub struct Summary {
    pub branches_read: u64,
    pub branches_added: u64,
    pub orders_read: u64,
    pub orders_added: u64,
    pub already_here: u64,
    pub refused: u64,
    pub dry_run: bool,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "import-legacy order: read {} branches and {} orders, {} {} branches and {} orders, \
             skipped {} orders ({} already here, {} unreadable){}",
            self.branches_read,
            self.orders_read,
            if self.dry_run { "would add" } else { "added" },
            self.branches_added,
            self.orders_added,
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
struct LegacyOrder {
    order_id: String,
    member_id: Option<String>,
    bran_id: Option<String>,
    date: Option<String>,
    time: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LegacyLine {
    order_id: String,
    pizza_id: Option<String>,
    quantity: Option<i32>,
    pizza_nm: Option<String>,
    size: Option<String>,
    unit_price: Option<i64>,
}

/// Adds every branch and order of `source` not yet here; `report` gets one line per order
/// skipped as unreadable.
pub async fn history(
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
    let branches: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT bran_id::text, bran_nm::text FROM branch ORDER BY bran_id")
            .fetch_all(source)
            .await?;
    // Branches first, in the first batch's transaction, so its orders see them.
    let mut tx = target.begin().await?;
    for (bran_id, bran_nm) in branches {
        summary.branches_read += 1;
        let name = bran_nm
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| bran_id.clone());
        let added = sqlx::query(
            "INSERT INTO branch (bran_id, bran_nm) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(bran_id.trim())
        .bind(name.trim())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        summary.branches_added += added;
    }

    let mut after = String::new();
    loop {
        let orders: Vec<LegacyOrder> = sqlx::query_as(
            "SELECT order_id::text, member_id::text, bran_id::text, date::text, time::text \
             FROM orders WHERE order_id::text > $1 ORDER BY order_id::text COLLATE \"C\" LIMIT $2",
        )
        .bind(&after)
        .bind(BATCH)
        .fetch_all(source)
        .await?;
        let Some(last) = orders.last() else {
            break;
        };
        after = last.order_id.clone();
        let ids: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
        let lines: Vec<LegacyLine> = sqlx::query_as(
            "SELECT d.order_id::text, d.pizza_id::text, d.quantity, t.pizza_nm::text, \
                    p.size::text, round(p.price::numeric * $2::numeric)::bigint AS unit_price \
             FROM order_detail d \
             LEFT JOIN pizza p ON p.pizza_id = d.pizza_id \
             LEFT JOIN pizza_types t ON t.pizza_type_id = p.pizza_type_id \
             WHERE d.order_id::text = ANY($1) ORDER BY d.order_id::text, d.order_detail_id",
        )
        .bind(&ids)
        .bind(won_per_unit)
        .fetch_all(source)
        .await?;
        let mut lines_of: HashMap<String, Vec<LegacyLine>> = HashMap::new();
        for l in lines {
            lines_of.entry(l.order_id.clone()).or_default().push(l);
        }
        for o in orders {
            summary.orders_read += 1;
            let lines = lines_of.remove(&o.order_id).unwrap_or_default();
            let (legacy_id, order) = match readable(&o, lines) {
                Ok(read) => read,
                Err(why) => {
                    summary.refused += 1;
                    report(format!("skipped order {:?}: {why}", o.order_id));
                    continue;
                }
            };
            if db::branch_name(&mut tx, &order.bran_id).await?.is_none() {
                summary.refused += 1;
                report(format!(
                    "skipped order {legacy_id}: no branch {:?}",
                    order.bran_id
                ));
                continue;
            }
            if db::insert_historic_order(&mut tx, &order, legacy_id, WHO).await? {
                summary.orders_added += 1;
            } else {
                summary.already_here += 1;
            }
        }
        // A batch is one transaction; a dry run keeps one for everything and rolls it back.
        if !dry_run {
            tx.commit().await?;
            tx = target.begin().await?;
        }
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(summary)
}

/// The order as it will be stored, or why it cannot be.
fn readable(o: &LegacyOrder, lines: Vec<LegacyLine>) -> Result<(i64, NewOrder), String> {
    let legacy_id: i64 = o
        .order_id
        .trim()
        .parse()
        .map_err(|_| "its id is not an integer".to_owned())?;
    let member_id = o
        .member_id
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or("it has no member")?;
    let bran_id = o
        .bran_id
        .as_deref()
        .map(str::trim)
        .ok_or("it has no branch")?;
    let date = o
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
    let time = o
        .time
        .as_deref()
        .and_then(|t| NaiveTime::parse_from_str(t.trim(), "%H:%M:%S").ok());
    let (Some(date), Some(time)) = (date, time) else {
        return Err(format!(
            "its date {:?} or time {:?} is not YYYY-MM-DD / HH:MM:SS",
            o.date, o.time
        ));
    };
    let created_at = crate::http::seoul()
        .from_local_datetime(&NaiveDateTime::new(date, time))
        .single()
        .ok_or("its time does not exist in Asia/Seoul")?
        .to_utc();
    if lines.is_empty() {
        return Err("it has no lines".into());
    }
    let order_id = Uuid::now_v7();
    let mut rows = Vec::with_capacity(lines.len());
    for l in lines {
        let pizza_id = l.pizza_id.unwrap_or_default();
        let (Some(pizza_nm), Some(size), Some(unit_price)) = (l.pizza_nm, l.size, l.unit_price)
        else {
            return Err(format!(
                "pizza {pizza_id:?} of a line is not in pizza_back's catalog"
            ));
        };
        let quantity = l
            .quantity
            .filter(|q| (1..=100).contains(q))
            .ok_or_else(|| format!("a line's quantity {:?} is outside 1-100", l.quantity))?;
        if !(1..=1_000_000).contains(&unit_price) {
            return Err(format!(
                "{pizza_id} costs {unit_price} won, outside 1-1,000,000"
            ));
        }
        rows.push(LineRow {
            order_id,
            pizza_id,
            pizza_nm,
            size,
            quantity,
            unit_price,
            line_total: unit_price * i64::from(quantity),
            // pizza_back had none.
            options: sqlx::types::Json(vec![]),
        });
    }
    let total_price = rows.iter().map(|r| r.line_total).sum();
    Ok((
        legacy_id,
        NewOrder {
            order_id,
            member_id: member_id.to_owned(),
            bran_id: bran_id.to_owned(),
            total_price,
            created_at,
            status: crate::status::Status::Completed,
            payment_method: crate::status::PaymentMethod::AtPickup,
            payer_name: None,
            special_requests: None,
            table: None,
            lines: rows,
            idempotency: None,
        },
    ))
}
