//! SQL of the ordering schema, as free functions.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use events::{OrderEvent, order::OrderCreated};

use httpkit::{Error, Result};

/// What an `Idempotency-Key` used before leads to.
pub enum Recorded {
    /// Done before with the same request: answer the same again.
    Replay { status: u16, body: Value },
    /// The key was used with a different request.
    Mismatch,
}

/// What the key of this member says about this request, if it was used in the last 24 h.
///
/// A key is written only in the transaction that places its order ([`insert_order`]), so a
/// request that dies half-way (its process killed, the database restarted) leaves nothing
/// behind, and a retry simply runs again.
pub async fn recorded(
    db: &PgPool,
    member_id: &str,
    key: &str,
    request_hash: &[u8],
) -> Result<Option<Recorded>> {
    let row: Option<(Vec<u8>, Option<i32>, Option<Value>)> = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_key \
         WHERE member_id = $1 AND idem_key = $2 AND state = 'DONE' \
           AND created_at >= now() - interval '24 hours'",
    )
    .bind(member_id)
    .bind(key)
    .fetch_optional(db)
    .await?;
    match row {
        None => Ok(None),
        Some((hash, _, _)) if hash != request_hash => Ok(Some(Recorded::Mismatch)),
        Some((_, Some(status), Some(body))) => Ok(Some(Recorded::Replay {
            status: status as u16,
            body,
        })),
        Some(_) => Err(Error::Internal(anyhow::anyhow!(
            "idempotency key {key} is DONE without its answer"
        ))),
    }
}

pub async fn branch_name(conn: &mut PgConnection, bran_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT bran_nm FROM branch WHERE bran_id = $1")
            .bind(bran_id)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn branches(db: &PgPool) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT bran_id, bran_nm FROM branch ORDER BY bran_id")
            .fetch_all(db)
            .await?,
    )
}

/// An order about to be written. Owned, so that its write can run on a task of its own
/// ([`outbox::run_to_completion`]).
pub struct NewOrder {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    pub total_price: i64,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<LineRow>,
    /// The `Idempotency-Key`, the request's hash, and the answer to replay for it.
    pub idempotency: Option<(String, Vec<u8>, Value)>,
}

/// What [`place_order`] did.
pub enum Placement {
    Written,
    /// Nothing written: no such branch.
    UnknownBranch,
    /// Nothing written: another request with the same key committed its order first.
    KeyTaken,
}

/// Writes `order` in one transaction: checks the branch, then [`insert_order`].
pub async fn place_order(db: &PgPool, order: &NewOrder) -> Result<Placement> {
    let mut tx = db.begin().await?;
    if branch_name(&mut tx, &order.bran_id).await?.is_none() {
        return Ok(Placement::UnknownBranch);
    }
    if !insert_order(&mut tx, order).await? {
        // Nothing was written; dropping the transaction rolls it back.
        return Ok(Placement::KeyTaken);
    }
    tx.commit().await?;
    Ok(Placement::Written)
}

/// The idempotency record, the order, its lines, its first status and `order.created`, in
/// the caller's transaction. `Ok(false)`, with nothing written, when the key was taken by
/// another request in the meantime (its transaction committed first; a concurrent one with
/// the same key waits here until the first commits or rolls back).
async fn insert_order(conn: &mut PgConnection, order: &NewOrder) -> Result<bool> {
    let NewOrder {
        order_id,
        member_id,
        bran_id,
        total_price,
        created_at,
        lines,
        idempotency,
    } = order;
    if let Some((key, request_hash, response)) = idempotency {
        // A key older than 24 h is forgotten. IN_FLIGHT rows come from the version that
        // claimed keys in their own transaction before placing the order; during a rolling
        // update such a pod may still be pricing, so its claim is taken over only once it is
        // a minute old (as that version did), never at once.
        let ours: Option<bool> = sqlx::query_scalar(
            "INSERT INTO idempotency_key \
               (member_id, idem_key, request_hash, state, response_status, response_body) \
             VALUES ($1, $2, $3, 'DONE', 201, $4) \
             ON CONFLICT (member_id, idem_key) DO UPDATE \
               SET request_hash = EXCLUDED.request_hash, state = 'DONE', \
                   response_status = 201, response_body = EXCLUDED.response_body, \
                   created_at = now() \
             WHERE idempotency_key.created_at < now() - interval '24 hours' \
                OR (idempotency_key.state = 'IN_FLIGHT' \
                    AND idempotency_key.created_at < now() - interval '1 minute') \
             RETURNING true",
        )
        .bind(member_id)
        .bind(key)
        .bind(request_hash)
        .bind(response)
        .fetch_optional(&mut *conn)
        .await?;
        if ours.is_none() {
            return Ok(false);
        }
    }
    sqlx::query(
        "INSERT INTO orders (order_id, member_id, bran_id, total_price, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(order_id)
    .bind(member_id)
    .bind(bran_id)
    .bind(total_price)
    .bind(created_at)
    .execute(&mut *conn)
    .await?;
    // All lines in one statement.
    let line_no: Vec<i16> = (1..=lines.len() as i16).collect();
    let pizza_id: Vec<&str> = lines.iter().map(|l| l.pizza_id.as_str()).collect();
    let pizza_nm: Vec<&str> = lines.iter().map(|l| l.pizza_nm.as_str()).collect();
    let size: Vec<&str> = lines.iter().map(|l| l.size.as_str()).collect();
    let quantity: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let unit_price: Vec<i64> = lines.iter().map(|l| l.unit_price).collect();
    let line_total: Vec<i64> = lines.iter().map(|l| l.line_total).collect();
    sqlx::query(
        "INSERT INTO order_detail \
           (order_id, line_no, pizza_id, pizza_nm, size, quantity, unit_price, line_total) \
         SELECT $1, * FROM UNNEST($2::int2[], $3::text[], $4::text[], $5::text[], \
                                  $6::int4[], $7::int8[], $8::int8[])",
    )
    .bind(order_id)
    .bind(&line_no)
    .bind(&pizza_id)
    .bind(&pizza_nm)
    .bind(&size)
    .bind(&quantity)
    .bind(&unit_price)
    .bind(&line_total)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO order_status_history (order_id, version, status, changed_by, changed_at) \
         VALUES ($1, 1, 'PENDING', $2, $3)",
    )
    .bind(order_id)
    .bind(member_id)
    .bind(created_at)
    .execute(&mut *conn)
    .await?;
    let created = OrderCreated {
        order_id: *order_id,
        member_id: member_id.clone(),
        bran_id: bran_id.clone(),
        status: "PENDING".to_owned(),
        total_price: *total_price,
    };
    outbox::enqueue(conn, OrderEvent::Created(created)).await?;
    Ok(true)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    pub status: String,
    pub total_price: i64,
    pub created_at: DateTime<Utc>,
    pub version: i32,
    pub estimated_ready_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
}

/// The columns of [`OrderRow`], for every query that reads one.
pub const ORDER_COLUMNS: &str = "order_id, member_id, bran_id, status, total_price, created_at, \
                                 version, estimated_ready_at, reject_reason";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    pub order_id: Uuid,
    pub pizza_id: String,
    pub pizza_nm: String,
    pub size: String,
    pub quantity: i32,
    pub unit_price: i64,
    pub line_total: i64,
}

/// A member's orders, newest first, after the keyset `before` (exclusive).
pub async fn member_orders(
    db: &PgPool,
    member_id: &str,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<OrderRow>> {
    let (at, id) = before.unzip();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders \
         WHERE member_id = $1 \
           AND ($2::timestamptz IS NULL OR (created_at, order_id) < ($2, $3)) \
         ORDER BY created_at DESC, order_id DESC LIMIT $4"
    )))
    .bind(member_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The lines of many orders in one query (never one query per order).
pub async fn lines_of(db: &PgPool, order_ids: &[Uuid]) -> Result<Vec<LineRow>> {
    Ok(sqlx::query_as(
        "SELECT order_id, pizza_id, pizza_nm, size, quantity, unit_price, line_total \
         FROM order_detail WHERE order_id = ANY($1) ORDER BY order_id, line_no",
    )
    .bind(order_ids)
    .fetch_all(db)
    .await?)
}

pub async fn order(db: &PgPool, order_id: Uuid) -> Result<Option<OrderRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1"
    )))
    .bind(order_id)
    .fetch_optional(db)
    .await?)
}

/// The staff queue: orders by status and branch, oldest first, after the keyset `after`.
pub async fn queue(
    db: &PgPool,
    status: Option<&str>,
    bran_id: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<OrderRow>> {
    let (at, id) = after.unzip();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders \
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR bran_id = $2) \
           AND ($3::timestamptz IS NULL OR (created_at, order_id) > ($3, $4)) \
         ORDER BY created_at, order_id LIMIT $5"
    )))
    .bind(status)
    .bind(bran_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Forgets idempotency keys after 24 h.
pub async fn prune(db: &PgPool) -> Result<u64> {
    let mut tx = db.begin().await?;
    let gone =
        sqlx::query("DELETE FROM idempotency_key WHERE created_at < now() - interval '24 hours'")
            .execute(&mut *tx)
            .await?
            .rows_affected();
    tx.commit().await?;
    Ok(gone)
}
