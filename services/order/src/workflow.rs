//! The order status machine (docs/contract.md §6):
//!
//! ```text
//! AWAITING_PAYMENT → PENDING       (payment.completed: a card or transfer order is paid)
//! AWAITING_PAYMENT → CANCELLED     (the customer, or not paid within PAYMENT_TIMEOUT_*)
//! PENDING → ACCEPTED → READY → COMPLETED
//! PENDING → REJECTED               (staff, with a reason)
//! PENDING → CANCELLED              (the customer, or the auto-cancel)
//! ```
//!
//! Every change is **one conditional update** (`… WHERE status = <expected>`): of two staff
//! clicking at once, one wins and the other gets 409 with the current status. The functions
//! here own the change's transaction: the update, its status-history row and
//! `order.status_changed` are committed together.
//!
//! The payment status (`AT_PICKUP`, `UNPAID`, `PAID`, `REFUNDED`) follows the payment
//! service's events ([`apply_payment`]). Refunds are the payment service's to make: it reads
//! `order.status_changed`, and a PAID order that is rejected or cancelled is refunded there,
//! then announced back as `payment.refunded`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{
    Envelope, OrderEvent, PaymentEvent,
    order::{PaymentChanged, StatusChanged},
};
use httpkit::Result;
use outbox::retention::{PAUSE, pause_after};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    db::{self, Moved, OrderRow, Scope},
    status::{PaymentMethod, Status},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// With what staff tell the customer, if anything.
    Accept {
        minutes: i64,
        message: Option<String>,
    },
    Reject {
        reason: String,
    },
    Ready,
    Complete,
    Cancel,
}

impl Action {
    /// The statuses the order may be in, and the one it moves to.
    pub fn transition(&self) -> (&'static [Status], Status) {
        match self {
            Action::Accept { .. } => (&[Status::Pending], Status::Accepted),
            Action::Reject { .. } => (&[Status::Pending], Status::Rejected),
            Action::Ready => (&[Status::Accepted], Status::Ready),
            Action::Complete => (&[Status::Ready], Status::Completed),
            Action::Cancel => (
                &[Status::Pending, Status::AwaitingPayment],
                Status::Cancelled,
            ),
        }
    }

    /// Staff actions; `cancel` is the customer's.
    pub fn is_staff_action(&self) -> bool {
        !matches!(self, Action::Cancel)
    }
}

pub enum Outcome {
    Done {
        order: Box<OrderRow>,
        previous: Status,
    },
    /// Not there, or not the caller's to see.
    NotFound,
    /// The order is not in the status the action needs.
    Conflict { current: Status },
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
    let (eta, reason, message) = match action {
        Action::Accept { minutes, message } => (
            Some(Utc::now() + chrono::Duration::minutes(*minutes)),
            None,
            message.as_deref(),
        ),
        Action::Reject { reason } => (None, Some(reason.as_str()), None),
        _ => (None, None, None),
    };
    let mut tx = db.begin().await?;
    let Some(moved) =
        db::move_status(&mut tx, order_id, from, to, eta, reason, message, &scope).await?
    else {
        return Ok(match db::status_of(&mut tx, order_id, &scope).await? {
            Some(current) => Outcome::Conflict { current },
            None => Outcome::NotFound,
        });
    };
    record(&mut tx, &moved, by, reason).await?;
    tx.commit().await?;
    Ok(Outcome::Done {
        previous: moved.previous_status,
        order: Box::new(moved.order),
    })
}

/// The history row and `order.status_changed` of a change, in its transaction.
async fn record(
    conn: &mut PgConnection,
    moved: &Moved,
    by: &str,
    reason: Option<&str>,
) -> Result<()> {
    let order = &moved.order;
    db::insert_history(conn, order, by, reason).await?;
    let changed = StatusChanged {
        order_id: order.order_id,
        member_id: order.member_id.clone(),
        bran_id: order.bran_id.clone(),
        status: order.status.as_str().to_owned(),
        previous_status: moved.previous_status.as_str().to_owned(),
        version: order.version,
        estimated_ready_at: order.estimated_ready_at,
        payment_status: Some(order.payment_status),
        // Said when it was accepted, and only then.
        message: (order.status == Status::Accepted)
            .then(|| order.accept_message.clone())
            .flatten(),
    };
    outbox::enqueue(conn, OrderEvent::StatusChanged(changed)).await?;
    Ok(())
}

/// What the sweep cancels, and after how long: PENDING orders nobody accepted, and prepaid
/// orders nobody paid (per method).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub pending: Duration,
    pub card: Duration,
    pub transfer: Duration,
}

impl Timeouts {
    fn each(&self) -> [(Status, Option<PaymentMethod>, Duration, &'static str); 3] {
        [
            (Status::Pending, None, self.pending, "not accepted in time"),
            (
                Status::AwaitingPayment,
                Some(PaymentMethod::Card),
                self.card,
                "not paid in time",
            ),
            (
                Status::AwaitingPayment,
                Some(PaymentMethod::Transfer),
                self.transfer,
                "not paid in time",
            ),
        ]
    }

    /// How often the sweep runs: a few times per shortest timeout, but neither hammering the
    /// database nor waiting too long.
    pub fn sweep_period(&self) -> Duration {
        let shortest = self.pending.min(self.card).min(self.transfer);
        (shortest / 4).clamp(Duration::from_millis(200), Duration::from_secs(30))
    }
}

/// Cancels orders left in `status` (with `method`) longer than `timeout`, at most `batch` at
/// a time. Safe with several replicas: `SKIP LOCKED` hands each order to one of them, and the
/// status check makes a second cancel impossible anyway.
pub async fn cancel_stale(
    db: &PgPool,
    status: Status,
    method: Option<PaymentMethod>,
    timeout: Duration,
    why: &str,
    batch: i64,
) -> Result<Vec<Uuid>> {
    let mut tx = db.begin().await?;
    let cancelled = db::cancel_overdue(&mut tx, status, method, timeout, batch).await?;
    for moved in &cancelled {
        record(&mut tx, moved, "system:auto-cancel", Some(why)).await?;
    }
    tx.commit().await?;
    Ok(cancelled.into_iter().map(|m| m.order.order_id).collect())
}

/// Cancels what each branch's closing left PENDING: orders placed before its last closing
/// time ([`crate::hours::Schedule::last_close`]), up to `batch` per branch, with the reason
/// for the customer. Safe with several replicas, like [`cancel_stale`]. How many it
/// cancelled, and whether a branch had a full batch (more may be left).
pub async fn cancel_closed(db: &PgPool, now: DateTime<Utc>, batch: i64) -> Result<(usize, bool)> {
    let (mut count, mut more) = (0, false);
    for branch in db::branch_list(db).await? {
        let Some(closed) = branch.schedule.last_close(now) else {
            continue;
        };
        let reason = format!(
            "the shop closed at {}",
            closed.with_timezone(&crate::http::seoul()).format("%H:%M")
        );
        let mut tx = db.begin().await?;
        let cancelled =
            db::cancel_at_close(&mut tx, &branch.bran_id, closed, &reason, batch).await?;
        for moved in &cancelled {
            record(&mut tx, moved, "system:closing", Some(&reason)).await?;
        }
        tx.commit().await?;
        count += cancelled.len();
        more |= cancelled.len() as i64 == batch;
    }
    Ok((count, more))
}

/// One sweep: [`cancel_closed`], then [`cancel_stale`] for each timeout, in batches until no
/// full batch is left. Each batch is a task of its own (stopping the sweep never cuts a
/// cancellation half-way), and a backlog is cleared with rests between batches
/// ([`pause_after`]) so the requests' writes keep going.
pub async fn sweep(db: PgPool, timeouts: Timeouts) {
    loop {
        let pool = db.clone();
        let started = std::time::Instant::now();
        match outbox::run_to_completion(async move { cancel_closed(&pool, Utc::now(), 100).await })
            .await
        {
            Ok((0, _)) => break,
            Ok((n, more)) => {
                tracing::info!(count = n, "cancelled orders left PENDING at closing time");
                if !more {
                    break;
                }
                tokio::time::sleep(pause_after(started.elapsed(), PAUSE)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "closing-time cancel failed; will retry");
                break;
            }
        }
    }
    for (status, method, timeout, why) in timeouts.each() {
        loop {
            let pool = db.clone();
            let started = std::time::Instant::now();
            match outbox::run_to_completion(async move {
                cancel_stale(&pool, status, method, timeout, why, 100).await
            })
            .await
            {
                Ok(ids) if ids.is_empty() => break,
                Ok(ids) => {
                    tracing::info!(count = ids.len(), from = %status, method = ?method, "auto-cancelled orders");
                    if ids.len() < 100 {
                        break;
                    }
                    // A backlog: leave the requests' writes room between batches.
                    tokio::time::sleep(pause_after(started.elapsed(), PAUSE)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "auto-cancel failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Applies one of the payment service's events to its order, in one transaction with what
/// it announces: a payment brings an AWAITING_PAYMENT order to PENDING (history row,
/// `order.status_changed`) or, for an order already cancelled, only its payment status
/// (`order.payment_changed`); a refund makes it REFUNDED. Idempotent: a redelivered event
/// finds nothing left to change.
pub async fn apply_payment(db: &PgPool, event: &Envelope<PaymentEvent>) -> Result<()> {
    let order_id = event.event.order_id();
    let mut tx = db.begin().await?;
    let moved = match &event.event {
        PaymentEvent::Completed(_) => db::mark_paid(&mut tx, order_id).await?,
        PaymentEvent::Refunded(_) => db::mark_refunded(&mut tx, order_id).await?,
        PaymentEvent::Failed(f) => {
            tracing::info!(order.id = %order_id, code = %f.code, "a payment attempt failed; the order stays unpaid");
            None
        }
        PaymentEvent::RefundRequested(_) => None,
    };
    let Some(moved) = moved else {
        return Ok(());
    };
    if moved.order.status != moved.previous_status {
        let why = (moved.order.status == Status::Cancelled).then_some("refunded at the provider");
        record(&mut tx, &moved, "system:payment", why).await?;
    } else {
        let order = &moved.order;
        let changed = PaymentChanged {
            order_id: order.order_id,
            member_id: order.member_id.clone(),
            bran_id: order.bran_id.clone(),
            status: order.status.as_str().to_owned(),
            payment_status: order.payment_status,
            previous_payment_status: moved.previous_payment_status,
        };
        outbox::enqueue(&mut tx, OrderEvent::PaymentChanged(changed)).await?;
    }
    tx.commit().await?;
    tracing::info!(order.id = %order_id, status = %moved.order.status, payment_status = moved.order.payment_status.as_str(), "payment applied");
    Ok(())
}

/// The work queue that applies `payment.*` to orders (once across the replicas).
pub fn payments_queue(db: PgPool) -> outbox::WorkQueue<PaymentEvent> {
    outbox::WorkQueue::new(
        "order-payments",
        "payment.>",
        std::sync::Arc::new(move |event| {
            let db = db.clone();
            Box::pin(async move {
                // On a task of its own: a shutdown never cuts the change half-way.
                outbox::run_to_completion(async move { apply_payment(&db, &event).await })
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
            })
        }),
    )
}
