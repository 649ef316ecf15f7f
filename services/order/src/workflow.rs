//! The order status machine (docs/contract.md §6):
//!
//! ```text
//! PENDING → ACCEPTED → READY → COMPLETED
//! PENDING → REJECTED            (staff, with a reason)
//! PENDING → CANCELLED           (the customer, or the auto-cancel)
//! ```
//!
//! Every change is **one conditional update** (`… WHERE status = <expected>`): of two staff
//! clicking at once, one wins and the other gets 409 with the current status. The functions
//! here own the change's transaction: the update, its status-history row and
//! `order.status_changed` are committed together.

use std::time::Duration;

use chrono::Utc;
use events::{OrderEvent, order::StatusChanged};
use httpkit::Result;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    db::{self, OrderRow, Scope},
    status::Status,
};

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
    pub fn transition(&self) -> (Status, Status) {
        match self {
            Action::Accept { .. } => (Status::Pending, Status::Accepted),
            Action::Reject { .. } => (Status::Pending, Status::Rejected),
            Action::Ready => (Status::Accepted, Status::Ready),
            Action::Complete => (Status::Ready, Status::Completed),
            Action::Cancel => (Status::Pending, Status::Cancelled),
        }
    }

    /// Staff actions; `cancel` is the customer's.
    pub fn is_staff_action(&self) -> bool {
        !matches!(self, Action::Cancel)
    }
}

pub enum Outcome {
    Done {
        order: OrderRow,
        previous: Status,
    },
    /// Not there, or not the caller's to see.
    NotFound,
    /// The order is not in the status the action needs.
    Conflict {
        current: Status,
    },
}

/// Applies `action` to an order, as `by`, within `scope`, in one transaction.
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
    let Some(order) = db::move_status(&mut tx, order_id, from, to, eta, reason, &scope).await?
    else {
        return Ok(match db::status_of(&mut tx, order_id, &scope).await? {
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

/// The history row and `order.status_changed` of a change, in its transaction.
async fn record(
    conn: &mut PgConnection,
    order: &OrderRow,
    previous: Status,
    by: &str,
    reason: Option<&str>,
) -> Result<()> {
    db::insert_history(conn, order, by, reason).await?;
    let changed = StatusChanged {
        order_id: order.order_id,
        member_id: order.member_id.clone(),
        bran_id: order.bran_id.clone(),
        status: order.status.as_str().to_owned(),
        previous_status: previous.as_str().to_owned(),
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
    let cancelled = db::cancel_overdue(&mut tx, timeout, batch).await?;
    for order in &cancelled {
        record(
            &mut tx,
            order,
            Status::Pending,
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
