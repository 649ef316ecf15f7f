//! The order status machine (docs/contract.md §6):
//!
//! ```text
//! PENDING → ACCEPTED → READY → COMPLETED
//! PENDING → REJECTED            (staff, with a reason)
//! PENDING → CANCELLED           (the customer, or the auto-cancel)
//! ```
//!
//! Every change is **one conditional update** (`… WHERE status = <expected>`): of two staff
//! clicking at once, one wins and the other gets 409 with the current status. The change,
//! its status-history row and `order.status_changed` are committed together.

use std::time::Duration;

use chrono::Utc;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use events::{OrderEvent, order::StatusChanged};

use httpkit::Result;

use crate::db::OrderRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Accept { minutes: i64 },
    Reject { reason: String },
    Ready,
    Complete,
    Cancel,
}

impl Action {
    /// The status the order must be in, and the one it moves to.
    pub fn transition(&self) -> (&'static str, &'static str) {
        match self {
            Action::Accept { .. } => ("PENDING", "ACCEPTED"),
            Action::Reject { .. } => ("PENDING", "REJECTED"),
            Action::Ready => ("ACCEPTED", "READY"),
            Action::Complete => ("READY", "COMPLETED"),
            Action::Cancel => ("PENDING", "CANCELLED"),
        }
    }

    /// Staff actions; `cancel` is the customer's.
    pub fn is_staff_action(&self) -> bool {
        !matches!(self, Action::Cancel)
    }
}

/// Who may touch the order: a branch (bound STAFF) and/or an owner (cancel).
#[derive(Debug, Default, Clone)]
pub struct Scope<'a> {
    pub bran_id: Option<&'a str>,
    pub member_id: Option<&'a str>,
}

pub enum Outcome {
    Done {
        order: OrderRow,
        previous: &'static str,
    },
    /// Not there, or not the caller's to see.
    NotFound,
    /// The order is not in the status the action needs.
    Conflict { current: String },
}

/// Applies `action` to an order, as `by`, in one transaction.
pub async fn apply(
    db: &PgPool,
    order_id: Uuid,
    action: &Action,
    by: &str,
    scope: Scope<'_>,
) -> Result<Outcome> {
    let (from, to) = action.transition();
    let (eta, reason) = match action {
        Action::Accept { minutes } => {
            (Some(Utc::now() + chrono::Duration::minutes(*minutes)), None)
        }
        Action::Reject { reason } => (None, Some(reason.as_str())),
        _ => (None, None),
    };
    let mut tx = db.begin().await?;
    let updated: Option<OrderRow> = sqlx::query_as(
        "UPDATE orders SET status = $3, version = version + 1, updated_at = now(), \
                estimated_ready_at = COALESCE($4, estimated_ready_at), \
                reject_reason = COALESCE($5, reject_reason) \
         WHERE order_id = $1 AND status = $2 \
           AND ($6::text IS NULL OR bran_id = $6) AND ($7::text IS NULL OR member_id = $7) \
         RETURNING order_id, member_id, bran_id, status, total_price, created_at, version, \
                   estimated_ready_at, reject_reason",
    )
    .bind(order_id)
    .bind(from)
    .bind(to)
    .bind(eta)
    .bind(reason)
    .bind(scope.bran_id)
    .bind(scope.member_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = updated else {
        let current: Option<String> = sqlx::query_scalar(
            "SELECT status FROM orders WHERE order_id = $1 \
               AND ($2::text IS NULL OR bran_id = $2) AND ($3::text IS NULL OR member_id = $3)",
        )
        .bind(order_id)
        .bind(scope.bran_id)
        .bind(scope.member_id)
        .fetch_optional(&mut *tx)
        .await?;
        return Ok(match current {
            Some(current) => Outcome::Conflict { current },
            None => Outcome::NotFound,
        });
    };
    record(&mut tx, &order, from, by, reason).await?;
    tx.commit().await?;
    Ok(Outcome::Done {
        order,
        previous: from,
    })
}

/// The history row and `order.status_changed`, in the caller's transaction.
async fn record(
    conn: &mut PgConnection,
    order: &OrderRow,
    previous: &str,
    by: &str,
    reason: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_status_history (order_id, version, status, changed_by, reason) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order.order_id)
    .bind(order.version)
    .bind(&order.status)
    .bind(by)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    let changed = StatusChanged {
        order_id: order.order_id,
        member_id: order.member_id.clone(),
        bran_id: order.bran_id.clone(),
        status: order.status.clone(),
        previous_status: previous.to_owned(),
        version: order.version,
        estimated_ready_at: order.estimated_ready_at,
    };
    outbox::enqueue(conn, OrderEvent::StatusChanged(changed)).await?;
    Ok(())
}

/// Cancels orders left PENDING longer than `timeout`, at most `batch` at a time. Safe with
/// several replicas: `SKIP LOCKED` hands each order to one of them, and the status check
/// makes a second cancel impossible anyway.
pub async fn cancel_stale(db: &PgPool, timeout: Duration, batch: i64) -> Result<Vec<Uuid>> {
    let mut tx = db.begin().await?;
    let cancelled: Vec<OrderRow> = sqlx::query_as(
        "WITH due AS ( \
            SELECT order_id FROM orders \
            WHERE status = 'PENDING' AND created_at < now() - make_interval(secs => $1) \
            ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE orders o SET status = 'CANCELLED', version = o.version + 1, updated_at = now() \
         FROM due WHERE o.order_id = due.order_id AND o.status = 'PENDING' \
         RETURNING o.order_id, o.member_id, o.bran_id, o.status, o.total_price, o.created_at, \
                   o.version, o.estimated_ready_at, o.reject_reason",
    )
    .bind(timeout.as_secs_f64())
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    for order in &cancelled {
        record(
            &mut tx,
            order,
            "PENDING",
            "system:auto-cancel",
            Some("not accepted in time"),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(cancelled.into_iter().map(|o| o.order_id).collect())
}

/// How often the auto-cancel sweep runs for `timeout`: a few times per timeout, but neither
/// hammering the database nor waiting too long.
pub fn sweep_period(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(200), Duration::from_secs(30))
}

/// One sweep: [`cancel_stale`] in batches until no full batch is left.
pub async fn sweep(db: PgPool, timeout: Duration) {
    loop {
        // On a task of its own: stopping the sweep never cuts a cancellation half-way.
        let pool = db.clone();
        match outbox::run_to_completion(async move { cancel_stale(&pool, timeout, 100).await })
            .await
        {
            Ok(ids) if ids.is_empty() => break,
            Ok(ids) => {
                tracing::info!(count = ids.len(), "auto-cancelled pending orders");
                if ids.len() < 100 {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "auto-cancel failed; will retry");
                break;
            }
        }
    }
}
