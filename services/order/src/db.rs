//! SQL of the `ordering` schema, as free functions that return rows. They take a pool for
//! reads and the caller's transaction for writes: whoever changes an order (the use cases in
//! [`crate::place`] and [`crate::workflow`]) begins, calls these, writes the event, commits.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use events::{BranchEvent, branch::BranchUpdated};
use httpkit::Result;

use crate::{
    hours::{self, Opening, Schedule},
    paging::Cursor,
    status::{PaymentMethod, PaymentStatus, Service, Status},
    tables::AtTable,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    pub status: Status,
    pub total_price: i64,
    pub created_at: DateTime<Utc>,
    pub version: i32,
    pub estimated_ready_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    /// pizza_back's id of an imported order.
    pub legacy_order_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub payment_method: PaymentMethod,
    #[sqlx(try_from = "String")]
    pub payment_status: PaymentStatus,
    pub payer_name: Option<String>,
    /// Unique per branch and business day (none on pizza_back's orders).
    pub order_number: Option<i32>,
    pub special_requests: Option<String>,
    pub accept_message: Option<String>,
    #[sqlx(try_from = "String")]
    pub service: Service,
    pub table_label: Option<String>,
}

/// An order after a change, with what it was before.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Moved {
    #[sqlx(flatten)]
    pub order: OrderRow,
    pub previous_status: Status,
    #[sqlx(try_from = "String")]
    pub previous_payment_status: PaymentStatus,
}

impl OrderRow {
    /// Where this row is in a list ordered by (`created_at`, `order_id`).
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            order_id: self.order_id,
        }
    }
}

/// The columns of [`OrderRow`], for every query that reads one.
pub const ORDER_COLUMNS: &str = "order_id, member_id, bran_id, status, total_price, created_at, \
                                 version, estimated_ready_at, reject_reason, legacy_order_id, \
                                 payment_method, payment_status, payer_name, order_number, \
                                 special_requests, accept_message, service, table_label";

/// [`ORDER_COLUMNS`] of the updated row `o`, and the status and payment status of `before`:
/// what a change that locked the row in a CTE `before` returns, as a [`Moved`].
const MOVED_COLUMNS: &str = "o.order_id, o.member_id, o.bran_id, o.status, o.total_price, \
     o.created_at, o.version, o.estimated_ready_at, o.reject_reason, o.legacy_order_id, \
     o.payment_method, o.payment_status, o.payer_name, o.order_number, o.special_requests, \
     o.accept_message, o.service, o.table_label, before.status AS previous_status, before.payment_status AS previous_payment_status";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    pub order_id: Uuid,
    pub pizza_id: String,
    pub pizza_nm: String,
    pub size: String,
    pub quantity: i32,
    /// With its options' deltas.
    pub unit_price: i64,
    pub line_total: i64,
    /// As the menu priced them when the order was placed.
    pub options: sqlx::types::Json<Vec<crate::prices::ChosenOption>>,
}

/// An order about to be written. Owned, so that its write can run on a task of its own
/// ([`outbox::run_to_completion`]).
pub struct NewOrder {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    pub total_price: i64,
    pub created_at: DateTime<Utc>,
    /// `PENDING`, or `AWAITING_PAYMENT` when paid up front.
    pub status: Status,
    pub payment_method: PaymentMethod,
    pub payer_name: Option<String>,
    pub special_requests: Option<String>,
    /// DINE_IN: the table it was placed at.
    pub table: Option<AtTable>,
    pub lines: Vec<LineRow>,
    /// The `Idempotency-Key`, the request's hash, and the answer to replay for it.
    pub idempotency: Option<(String, Vec<u8>, Value)>,
}

/// Who may touch an order: staff bound to a branch, or its owner (`None`: anyone).
#[derive(Debug, Default, Clone)]
pub struct Scope<'a> {
    pub bran_id: Option<&'a str>,
    pub member_id: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------
// Branches

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

/// A branch with what decides when it takes orders.
#[derive(Debug, Clone)]
pub struct BranchRow {
    pub bran_id: String,
    pub bran_nm: String,
    pub schedule: Schedule,
}

/// Branches (one, or all) with their hours and pause, in one query.
async fn branch_rows<'c, E: sqlx::PgExecutor<'c>>(
    conn: E,
    bran_id: Option<&str>,
) -> Result<Vec<BranchRow>> {
    type Row = (
        String,
        String,
        bool,
        Option<DateTime<Utc>>,
        Vec<i16>,
        Vec<NaiveTime>,
        Vec<NaiveTime>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT b.bran_id, b.bran_nm, b.paused, b.paused_until, \
                COALESCE(array_agg(h.day ORDER BY h.day) FILTER (WHERE h.day IS NOT NULL), '{}'), \
                COALESCE(array_agg(h.opens ORDER BY h.day) FILTER (WHERE h.day IS NOT NULL), '{}'), \
                COALESCE(array_agg(h.closes ORDER BY h.day) FILTER (WHERE h.day IS NOT NULL), '{}') \
         FROM branch b LEFT JOIN branch_hours h ON h.bran_id = b.bran_id \
         WHERE $1::text IS NULL OR b.bran_id = $1 \
         GROUP BY b.bran_id ORDER BY b.bran_id",
    )
    .bind(bran_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(bran_id, bran_nm, paused, paused_until, days, opens, closes)| {
                let week = days
                    .iter()
                    .zip(opens.iter().zip(&closes))
                    .filter_map(|(d, (o, c))| {
                        Some(Opening {
                            day: hours::from_day_number(*d)?,
                            opens: *o,
                            closes: *c,
                        })
                    })
                    .collect();
                BranchRow {
                    bran_id,
                    bran_nm,
                    schedule: Schedule {
                        week,
                        paused,
                        paused_until,
                    },
                }
            },
        )
        .collect())
}

pub async fn branch_list(db: &PgPool) -> Result<Vec<BranchRow>> {
    branch_rows(db, None).await
}

/// One branch, in the caller's transaction (an order reads its branch's hours there).
pub async fn branch(conn: &mut PgConnection, bran_id: &str) -> Result<Option<BranchRow>> {
    Ok(branch_rows(conn, Some(bran_id)).await?.pop())
}

/// Replaces the branch's week (empty: open around the clock).
pub async fn set_hours(db: &PgPool, bran_id: &str, week: &[Opening]) -> Result<()> {
    let mut tx = db.begin().await?;
    // The branch row first: two staff saving at once save one after the other.
    let (paused, paused_until): (bool, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT paused, paused_until FROM branch WHERE bran_id = $1 FOR UPDATE")
            .bind(bran_id)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM branch_hours WHERE bran_id = $1")
        .bind(bran_id)
        .execute(&mut *tx)
        .await?;
    let days: Vec<i16> = week.iter().map(|o| hours::day_number(o.day)).collect();
    let opens: Vec<NaiveTime> = week.iter().map(|o| o.opens).collect();
    let closes: Vec<NaiveTime> = week.iter().map(|o| o.closes).collect();
    sqlx::query(
        "INSERT INTO branch_hours (bran_id, day, opens, closes) \
         SELECT $1, * FROM unnest($2::smallint[], $3::time[], $4::time[])",
    )
    .bind(bran_id)
    .bind(&days)
    .bind(&opens)
    .bind(&closes)
    .execute(&mut *tx)
    .await?;
    announce_branch(&mut tx, bran_id, paused, paused_until).await?;
    tx.commit().await?;
    Ok(())
}

/// Announces a change of the branch's hours or pause in the caller's transaction.
async fn announce_branch(
    conn: &mut PgConnection,
    bran_id: &str,
    paused: bool,
    paused_until: Option<DateTime<Utc>>,
) -> Result<()> {
    let updated = BranchUpdated {
        bran_id: bran_id.to_owned(),
        paused,
        paused_until,
    };
    outbox::enqueue(conn, BranchEvent::Updated(updated)).await?;
    Ok(())
}

/// Pauses new orders (until `until`, or until resumed), or resumes them.
pub async fn set_pause(
    db: &PgPool,
    bran_id: &str,
    paused: bool,
    until: Option<DateTime<Utc>>,
) -> Result<()> {
    let until = until.filter(|_| paused);
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE branch SET paused = $2, paused_until = $3 WHERE bran_id = $1")
        .bind(bran_id)
        .bind(paused)
        .bind(until)
        .execute(&mut *tx)
        .await?;
    announce_branch(&mut tx, bran_id, paused, until).await?;
    tx.commit().await?;
    Ok(())
}

/// Cancels the branch's orders still PENDING that were placed before it closed at `closed`
/// (at most `batch`), with the reason for the customer. Safe with several replicas, like
/// [`cancel_overdue`].
pub async fn cancel_at_close(
    conn: &mut PgConnection,
    bran_id: &str,
    closed: DateTime<Utc>,
    reason: &str,
    batch: i64,
) -> Result<Vec<Moved>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH before AS ( \
            SELECT order_id, status, payment_status FROM orders \
            WHERE status = 'PENDING' AND bran_id = $1 AND created_at < $2 \
            ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
         UPDATE orders o SET status = 'CANCELLED', version = o.version + 1, updated_at = now(), \
                             reject_reason = $3 \
         FROM before WHERE o.order_id = before.order_id \
         RETURNING {MOVED_COLUMNS}"
    )))
    .bind(bran_id)
    .bind(closed)
    .bind(reason)
    .bind(batch)
    .fetch_all(conn)
    .await?)
}

// ---------------------------------------------------------------------------------------
// Writing orders

/// Gives the order the next number of its branch's business day (the day its `created_at`
/// falls in, from the branch's `day_start`, Asia/Seoul), and writes it into the answer
/// recorded for its `Idempotency-Key` (`key`: member and key), in one statement. The
/// counter's row stays locked until the caller's transaction ends, so concurrent orders of a
/// branch take numbers one after another, and an order that is rolled back gives its number
/// back: no gaps, no twice. The number.
pub async fn number_order(
    conn: &mut PgConnection,
    order: &NewOrder,
    key: Option<(&str, &str)>,
) -> Result<i32> {
    Ok(sqlx::query_scalar(
        "WITH day AS ( \
            SELECT ((($2::timestamptz AT TIME ZONE 'Asia/Seoul') - day_start))::date AS d \
            FROM branch WHERE bran_id = $1), \
         n AS ( \
            INSERT INTO order_number (bran_id, business_day, last) SELECT $1, d, 1 FROM day \
            ON CONFLICT (bran_id, business_day) DO UPDATE SET last = order_number.last + 1 \
            RETURNING business_day, last), \
         k AS ( \
            UPDATE idempotency_key \
            SET response_body = jsonb_set(response_body, '{order_number}', \
                                          to_jsonb((SELECT last FROM n))) \
            WHERE member_id = $4 AND idem_key = $5) \
         UPDATE orders o SET business_day = n.business_day, order_number = n.last \
         FROM n WHERE o.order_id = $3 RETURNING n.last",
    )
    .bind(&order.bran_id)
    .bind(order.created_at)
    .bind(order.order_id)
    .bind(key.map(|k| k.0))
    .bind(key.map(|k| k.1))
    .fetch_one(conn)
    .await?)
}

/// The payment status an order starts with.
pub fn initial_payment_status(method: PaymentMethod) -> PaymentStatus {
    if method.is_prepaid() {
        PaymentStatus::Unpaid
    } else {
        PaymentStatus::AtPickup
    }
}

/// The order, all its lines (one statement) and its first status-history row.
pub async fn insert_order(conn: &mut PgConnection, order: &NewOrder) -> Result<()> {
    sqlx::query(
        "INSERT INTO orders (order_id, member_id, bran_id, status, total_price, created_at, \
                             updated_at, payment_method, payment_status, payer_name, pending_since, \
                             special_requests, service, table_id, table_label) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, \
                 CASE WHEN $4 = 'PENDING' THEN $6 END, $10, \
                 CASE WHEN $11::uuid IS NULL THEN 'PICKUP' ELSE 'DINE_IN' END, $11, $12)",
    )
    .bind(order.order_id)
    .bind(&order.member_id)
    .bind(&order.bran_id)
    .bind(order.status)
    .bind(order.total_price)
    .bind(order.created_at)
    .bind(order.payment_method.as_str())
    .bind(initial_payment_status(order.payment_method).as_str())
    .bind(&order.payer_name)
    .bind(&order.special_requests)
    .bind(order.table.as_ref().map(|t| t.table_id))
    .bind(order.table.as_ref().map(|t| t.label.as_str()))
    .execute(&mut *conn)
    .await?;
    insert_lines(conn, order).await?;
    insert_first_status(conn, order, order.status, &order.member_id).await
}

/// One of pizza_back's orders, as history: COMPLETED, with its old id; `false` (nothing
/// written) when an order with that old id is here already.
pub async fn insert_historic_order(
    conn: &mut PgConnection,
    order: &NewOrder,
    legacy_order_id: i64,
    imported_by: &str,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO orders (order_id, member_id, bran_id, status, total_price, created_at, \
                             updated_at, legacy_order_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT (legacy_order_id) DO NOTHING",
    )
    .bind(order.order_id)
    .bind(&order.member_id)
    .bind(&order.bran_id)
    .bind(Status::Completed)
    .bind(order.total_price)
    .bind(order.created_at)
    .bind(legacy_order_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    insert_lines(conn, order).await?;
    insert_first_status(conn, order, Status::Completed, imported_by).await?;
    Ok(true)
}

async fn insert_lines(conn: &mut PgConnection, order: &NewOrder) -> Result<()> {
    let lines = &order.lines;
    let line_no: Vec<i16> = (1..=lines.len() as i16).collect();
    let pizza_id: Vec<&str> = lines.iter().map(|l| l.pizza_id.as_str()).collect();
    let pizza_nm: Vec<&str> = lines.iter().map(|l| l.pizza_nm.as_str()).collect();
    let size: Vec<&str> = lines.iter().map(|l| l.size.as_str()).collect();
    let quantity: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let unit_price: Vec<i64> = lines.iter().map(|l| l.unit_price).collect();
    let line_total: Vec<i64> = lines.iter().map(|l| l.line_total).collect();
    let options: Vec<&sqlx::types::Json<Vec<crate::prices::ChosenOption>>> =
        lines.iter().map(|l| &l.options).collect();
    sqlx::query(
        "INSERT INTO order_detail \
           (order_id, line_no, pizza_id, pizza_nm, size, quantity, unit_price, line_total, \
            options) \
         SELECT $1, * FROM UNNEST($2::int2[], $3::text[], $4::text[], $5::text[], \
                                  $6::int4[], $7::int8[], $8::int8[], $9::jsonb[])",
    )
    .bind(order.order_id)
    .bind(&line_no)
    .bind(&pizza_id)
    .bind(&pizza_nm)
    .bind(&size)
    .bind(&quantity)
    .bind(&unit_price)
    .bind(&line_total)
    .bind(&options)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_first_status(
    conn: &mut PgConnection,
    order: &NewOrder,
    status: Status,
    changed_by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_status_history (order_id, version, status, changed_by, changed_at) \
         VALUES ($1, 1, $2, $3, $4)",
    )
    .bind(order.order_id)
    .bind(status)
    .bind(changed_by)
    .bind(order.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves the order to `to` if it is in one of `from` and in `scope` (one conditional update:
/// of two racing changes one wins); the order as it is now, or `None`.
#[allow(clippy::too_many_arguments)]
pub async fn move_status(
    conn: &mut PgConnection,
    order_id: Uuid,
    from: &[Status],
    to: Status,
    estimated_ready_at: Option<DateTime<Utc>>,
    reject_reason: Option<&str>,
    accept_message: Option<&str>,
    scope: &Scope<'_>,
) -> Result<Option<Moved>> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH before AS ( \
            SELECT order_id, status, payment_status FROM orders \
            WHERE order_id = $1 AND status = ANY($2) \
              AND ($6::text IS NULL OR bran_id = $6) AND ($7::text IS NULL OR member_id = $7) \
            FOR UPDATE) \
         UPDATE orders o SET status = $3, version = o.version + 1, updated_at = now(), \
                estimated_ready_at = COALESCE($4, o.estimated_ready_at), \
                reject_reason = COALESCE($5, o.reject_reason), \
                accept_message = COALESCE($8, o.accept_message) \
         FROM before WHERE o.order_id = before.order_id \
         RETURNING {MOVED_COLUMNS}"
    )))
    .bind(order_id)
    .bind(&from)
    .bind(to)
    .bind(estimated_ready_at)
    .bind(reject_reason)
    .bind(scope.bran_id)
    .bind(scope.member_id)
    .bind(accept_message)
    .fetch_optional(conn)
    .await?)
}

/// The order's money is in (`payment.completed`): an unpaid order becomes PAID, and one still
/// AWAITING_PAYMENT moves to PENDING with it (a new version). An order cancelled before the
/// payment arrived stays cancelled, PAID, until its refund. `None` if it was not unpaid (a
/// redelivered event, or a refund that was applied first).
pub async fn mark_paid(conn: &mut PgConnection, order_id: Uuid) -> Result<Option<Moved>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH before AS ( \
            SELECT order_id, status, payment_status FROM orders \
            WHERE order_id = $1 AND payment_status = 'UNPAID' FOR UPDATE) \
         UPDATE orders o SET payment_status = 'PAID', updated_at = now(), \
                status = CASE WHEN before.status = 'AWAITING_PAYMENT' THEN 'PENDING' ELSE o.status END, \
                pending_since = CASE WHEN before.status = 'AWAITING_PAYMENT' THEN now() \
                                     ELSE o.pending_since END, \
                version = o.version + CASE WHEN before.status = 'AWAITING_PAYMENT' THEN 1 ELSE 0 END \
         FROM before WHERE o.order_id = before.order_id \
         RETURNING {MOVED_COLUMNS}"
    )))
    .bind(order_id)
    .fetch_optional(conn)
    .await?)
}

/// The money went back (`payment.refunded`). From UNPAID too: should the refund be applied
/// before its payment (a redelivery can reorder them), the payment then finds nothing unpaid
/// and the order ends REFUNDED, as it should. An order the kitchen has not accepted yet is
/// cancelled with it (a refund made at the provider's dashboard): nobody cooks what was paid
/// back.
pub async fn mark_refunded(conn: &mut PgConnection, order_id: Uuid) -> Result<Option<Moved>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH before AS ( \
            SELECT order_id, status, payment_status FROM orders \
            WHERE order_id = $1 AND payment_status IN ('UNPAID', 'PAID') FOR UPDATE) \
         UPDATE orders o SET payment_status = 'REFUNDED', updated_at = now(), \
                status = CASE WHEN before.status IN ('AWAITING_PAYMENT', 'PENDING') \
                              THEN 'CANCELLED' ELSE o.status END, \
                version = o.version + CASE WHEN before.status IN ('AWAITING_PAYMENT', 'PENDING') \
                                           THEN 1 ELSE 0 END \
         FROM before WHERE o.order_id = before.order_id \
         RETURNING {MOVED_COLUMNS}"
    )))
    .bind(order_id)
    .fetch_optional(conn)
    .await?)
}

/// The order's status, if it exists within `scope`.
pub async fn status_of(
    conn: &mut PgConnection,
    order_id: Uuid,
    scope: &Scope<'_>,
) -> Result<Option<Status>> {
    Ok(sqlx::query_scalar(
        "SELECT status FROM orders WHERE order_id = $1 \
           AND ($2::text IS NULL OR bran_id = $2) AND ($3::text IS NULL OR member_id = $3)",
    )
    .bind(order_id)
    .bind(scope.bran_id)
    .bind(scope.member_id)
    .fetch_optional(conn)
    .await?)
}

/// The history row of the order's current version.
pub async fn insert_history(
    conn: &mut PgConnection,
    order: &OrderRow,
    by: &str,
    reason: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_status_history (order_id, version, status, changed_by, reason) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order.order_id)
    .bind(order.version)
    .bind(order.status)
    .bind(by)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels up to `batch` orders left in `status` (PENDING, or AWAITING_PAYMENT with
/// `method`) longer than `timeout`, skipping those another replica is cancelling
/// (`SKIP LOCKED`); the orders cancelled.
pub async fn cancel_overdue(
    conn: &mut PgConnection,
    status: Status,
    method: Option<PaymentMethod>,
    timeout: Duration,
    batch: i64,
) -> Result<Vec<Moved>> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(cancel_overdue_sql(status, method)))
            .bind(timeout.as_secs_f64())
            .bind(batch)
            .fetch_all(conn)
            .await?,
    )
}

/// [`cancel_overdue`]'s statement. Parameters: the timeout in seconds, the batch size.
pub fn cancel_overdue_sql(status: Status, method: Option<PaymentMethod>) -> String {
    // The status and the method are written into the statement (ours, never the client's),
    // so the planner can use the partial index on the status (`orders_pending_age`, …).
    // A PENDING order's time runs from when it became PENDING (its payment, if prepaid).
    let since = if status == Status::Pending {
        "COALESCE(pending_since, created_at)"
    } else {
        "created_at"
    };
    let status = status.as_str();
    let method = method
        .map(|m| format!("AND payment_method = '{}'", m.as_str()))
        .unwrap_or_default();
    format!(
        "WITH before AS ( \
            SELECT order_id, status, payment_status FROM orders \
            WHERE status = '{status}' AND {since} < now() - make_interval(secs => $1) \
              {method} \
            ORDER BY {since} LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE orders o SET status = 'CANCELLED', version = o.version + 1, updated_at = now() \
         FROM before WHERE o.order_id = before.order_id \
         RETURNING {MOVED_COLUMNS}"
    )
}

// ---------------------------------------------------------------------------------------
// Reading orders

/// A member's orders, newest first, after the keyset `before` (exclusive; none: from the
/// newest). No catch-all: the first page compares with a keyset above every order, so every
/// page is one range of `orders_member_recent`.
pub fn member_orders_sql() -> String {
    format!(
        "SELECT {ORDER_COLUMNS} FROM orders \
         WHERE member_id = $1 \
           AND (created_at, order_id) < (COALESCE($2, 'infinity'::timestamptz), \
                                         COALESCE($3, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)) \
         ORDER BY created_at DESC, order_id DESC LIMIT $4"
    )
}

pub async fn member_orders(
    db: &PgPool,
    member_id: &str,
    before: Option<Cursor>,
    limit: i64,
) -> Result<Vec<OrderRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(member_orders_sql()))
        .bind(member_id)
        .bind(before.map(|c| c.created_at))
        .bind(before.map(|c| c.order_id))
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// The lines of many orders in one query (never one query per order).
pub const LINES_SQL: &str = "SELECT order_id, pizza_id, pizza_nm, size, quantity, unit_price, \
     line_total, options FROM order_detail WHERE order_id = ANY($1) ORDER BY order_id, line_no";

pub async fn lines_of(db: &PgPool, order_ids: &[Uuid]) -> Result<Vec<LineRow>> {
    Ok(sqlx::query_as(LINES_SQL)
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

/// The statuses of the staff board when no status is asked for: what the kitchen still has
/// to act on (never the history, which only grows).
pub const ACTIVE: [Status; 3] = [Status::Pending, Status::Accepted, Status::Ready];

/// The staff queue's statement for one filter: `status` (none: the active ones), for one
/// branch or all; oldest first from the keyset after `$…` (none: from the oldest). Each
/// variant is one range of its own index (migrations `…_orders_*`), so its cost does not grow
/// with the orders a branch ever had: no catch-all predicate the planner could turn into a
/// scan. Parameters: [bran_id,] [status,] cursor time, cursor id, limit.
pub fn queue_sql(status: bool, branch: bool) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut filter = vec![];
    if branch {
        filter.push(format!("bran_id = {}", next()));
    }
    if status {
        filter.push(format!("status = {}", next()));
    } else {
        // Written out, so the partial indexes' predicate (the same list) matches.
        let active: Vec<String> = ACTIVE.iter().map(|s| format!("'{}'", s.as_str())).collect();
        filter.push(format!("status IN ({})", active.join(", ")));
    }
    let (at, id, limit) = (next(), next(), next());
    format!(
        "SELECT {ORDER_COLUMNS} FROM orders \
         WHERE {} \
           AND (created_at, order_id) > (COALESCE({at}, '-infinity'::timestamptz), \
                                         COALESCE({id}, '00000000-0000-0000-0000-000000000000'::uuid)) \
         ORDER BY created_at, order_id LIMIT {limit}",
        filter.join(" AND ")
    )
}

/// The staff queue: orders in `status` (none: [`ACTIVE`]) at `bran_id` (none: every branch),
/// oldest first, after the keyset `after`. Orders awaiting their payment appear only when
/// asked for: the kitchen does not see them until they are paid.
pub async fn queue(
    db: &PgPool,
    status: Option<Status>,
    bran_id: Option<&str>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<OrderRow>> {
    let sql = queue_sql(status.is_some(), bran_id.is_some());
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    if let Some(b) = bran_id {
        q = q.bind(b);
    }
    if let Some(st) = status {
        q = q.bind(st);
    }
    Ok(q.bind(after.map(|c| c.created_at))
        .bind(after.map(|c| c.order_id))
        .bind(limit)
        .fetch_all(db)
        .await?)
}
