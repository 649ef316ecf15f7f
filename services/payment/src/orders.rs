//! What this service learns of orders, from the ORDERS stream through a work queue (one
//! durable consumer shared by the replicas, so each event is acted on once):
//!
//! - `order.created` of a CARD or TRANSFER order: a payment to collect, of exactly its total;
//! - `order.status_changed` to REJECTED or CANCELLED of a prepaid order: nothing more may be
//!   paid, and what was paid goes back ([`crate::workflow::close_order`]).
//!
//! Both are idempotent (an insert that keeps the first, a conditional update), so a
//! redelivery changes nothing. A close that arrives before its order's creation was recorded
//! is not acknowledged, and comes again once it can be applied.

use std::{sync::Arc, time::Duration};

use events::{
    Envelope, OrderEvent,
    order::{OrderCreated, PaymentStatus, StatusChanged},
};
use sqlx::PgPool;

use crate::{db::NewPayment, workflow};

/// The work queue. Its events are quick to apply (one transaction), so its ack wait is short:
/// those a dying replica had taken reach another within seconds, and checkouts do not wait
/// long for an order to be known.
pub fn queue(db: PgPool) -> outbox::WorkQueue<OrderEvent> {
    let mut queue = outbox::WorkQueue::new(
        "payment-orders",
        "order.>",
        Arc::new(move |event| {
            let db = db.clone();
            // On a task of its own: a shutdown never cuts the change half-way.
            Box::pin(outbox::run_to_completion(
                async move { apply(&db, event).await },
            ))
        }),
    );
    queue.ack_wait = Duration::from_secs(5);
    queue
}

async fn apply(db: &PgPool, event: Envelope<OrderEvent>) -> anyhow::Result<()> {
    match &event.event {
        OrderEvent::Created(c) if c.payment_method.is_prepaid() => created(db, c).await,
        OrderEvent::StatusChanged(c) if closes(c) => closed(db, c).await,
        _ => Ok(()),
    }
}

async fn created(db: &PgPool, c: &OrderCreated) -> anyhow::Result<()> {
    let order_name = c.order_name.clone().unwrap_or_else(|| "pizza".into());
    let new = NewPayment {
        order_id: c.order_id,
        member_id: &c.member_id,
        bran_id: &c.bran_id,
        method: c.payment_method,
        amount: c.total_price,
        order_name: &order_name,
        payer_name: c.payer_name.as_deref(),
    };
    if workflow::record_order(db, &new).await? {
        tracing::info!(order.id = %c.order_id, method = c.payment_method.as_str(), amount = c.total_price, "payment to collect");
    }
    Ok(())
}

/// Rejected or cancelled, and paid (or to be paid) up front. Events from before payments
/// carry no payment status: their orders were paid at pickup.
fn closes(c: &StatusChanged) -> bool {
    matches!(c.status.as_str(), "REJECTED" | "CANCELLED")
        && matches!(
            c.payment_status,
            Some(PaymentStatus::Unpaid | PaymentStatus::Paid)
        )
}

async fn closed(db: &PgPool, c: &StatusChanged) -> anyhow::Result<()> {
    let reason = if c.status == "REJECTED" {
        "rejected by the shop"
    } else {
        "cancelled"
    };
    if workflow::close_order(db, c.order_id, reason)
        .await?
        .is_none()
        && crate::db::payment(db, c.order_id).await?.is_none()
    {
        anyhow::bail!(
            "order {} closed before its creation was recorded",
            c.order_id
        );
    }
    Ok(())
}
