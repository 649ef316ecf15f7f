//! The payment state machine's writes, each owning its transaction: the conditional update of
//! [`crate::db`] and the event it announces commit together, so an event exists exactly when
//! its change did, and a settlement that lost a race writes nothing.
//!
//! ```text
//! UNPAID → CONFIRMING → PAID → REFUNDING (card) / REFUND_DUE (transfer) → REFUNDED
//!            ↘ UNPAID (refused: payment.failed)
//! UNPAID → VOID                      (the order was closed before it was paid)
//! ```
//!
//! `payment.completed` and `payment.refunded` tell the order service; `payment.refund_requested`
//! is this service's own work queue ([`crate::refunds`]): written in the transaction that
//! decided the refund, it is acted on until the provider has cancelled the payment.

use events::{
    PaymentEvent,
    order::PaymentMethod,
    payment::{PaymentCompleted, PaymentFailed, PaymentRefunded, RefundRequested},
};
use httpkit::Result;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::{self, Changed, NewPayment, PaymentRow, State};

/// How the money came in.
pub enum Paid<'a> {
    /// A card payment the provider says is DONE, with its object.
    Card {
        payment_key: &'a str,
        provider: &'a Value,
    },
    /// A deposit matched to the order.
    Deposit { tx_id: &'a str },
}

/// Records a prepaid order (from its `order.created`); `false` if it was recorded before.
pub async fn record_order(db: &PgPool, p: &NewPayment<'_>) -> Result<bool> {
    let mut tx = db.begin().await?;
    let new = db::insert_payment(&mut tx, p).await?;
    tx.commit().await?;
    Ok(new)
}

/// Payments settled, by result (`done`, `failed`): the dashboards' payment failures.
static RESULTS: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    telemetry::register(
        prometheus::IntCounterVec::new(
            prometheus::Opts::new("payment_results_total", "Payments settled, by result"),
            &["result"],
        )
        .expect("valid counter"),
    )
});

/// Exposes `payment_results_total` for each result (at 0 until the first payment).
pub fn register_metrics() {
    for result in ["done", "failed"] {
        RESULTS.with_label_values(&[result]);
    }
}

/// Settles a payment as paid in `conn`'s transaction (the caller commits): PAID with
/// `payment.completed`, and for an order closed meanwhile its refund too. `None` if it was
/// settled before.
pub async fn settle_paid(
    conn: &mut PgConnection,
    order_id: Uuid,
    how: Paid<'_>,
) -> Result<Option<PaymentRow>> {
    let changed = match how {
        Paid::Card {
            payment_key,
            provider,
        } => db::settle_paid(conn, order_id, Some(payment_key), None, Some(provider)).await?,
        Paid::Deposit { tx_id } => db::settle_paid(conn, order_id, None, Some(tx_id), None).await?,
    };
    let Some(Changed { payment, .. }) = changed else {
        return Ok(None);
    };
    let completed = PaymentCompleted {
        order_id,
        method: payment.method,
        amount: payment.amount,
        paid_at: payment.paid_at.unwrap_or_else(chrono::Utc::now),
    };
    outbox::enqueue(&mut *conn, PaymentEvent::Completed(completed)).await?;
    request_refund_if_due(conn, &payment).await?;
    RESULTS.with_label_values(&["done"]).inc();
    tracing::info!(order.id = %order_id, state = %payment.state, amount = payment.amount, "payment settled as paid");
    Ok(Some(payment))
}

/// [`settle_paid`] in a transaction of its own.
pub async fn paid(db: &PgPool, order_id: Uuid, how: Paid<'_>) -> Result<Option<PaymentRow>> {
    let mut tx = db.begin().await?;
    let settled = settle_paid(&mut tx, order_id, how).await?;
    tx.commit().await?;
    Ok(settled)
}

/// The confirm of `payment_key` was refused by the provider: unpaid again, `payment.failed`.
pub async fn failed(
    db: &PgPool,
    order_id: Uuid,
    payment_key: &str,
    code: &str,
    message: &str,
) -> Result<Option<PaymentRow>> {
    let mut tx = db.begin().await?;
    let Some(payment) = db::settle_failed(&mut tx, order_id, payment_key, code, message).await?
    else {
        return Ok(None);
    };
    let failed = PaymentFailed {
        order_id,
        method: payment.method,
        code: code.to_owned(),
        message: message.to_owned(),
    };
    outbox::enqueue(&mut tx, PaymentEvent::Failed(failed)).await?;
    tx.commit().await?;
    RESULTS.with_label_values(&["failed"]).inc();
    tracing::info!(order.id = %order_id, code, "payment refused by the provider");
    Ok(Some(payment))
}

/// The order was rejected or cancelled (`reason` goes to the provider with a refund): a paid
/// card payment is queued for its refund, a paid transfer is due back from staff, an unpaid
/// one can no longer be paid.
pub async fn close_order(db: &PgPool, order_id: Uuid, reason: &str) -> Result<Option<State>> {
    let mut tx = db.begin().await?;
    let Some(Changed {
        payment,
        previous_state,
    }) = db::close_order(&mut tx, order_id, reason).await?
    else {
        return Ok(None);
    };
    if previous_state != payment.state {
        request_refund_if_due(&mut tx, &payment).await?;
    }
    tx.commit().await?;
    tracing::info!(order.id = %order_id, from = %previous_state, to = %payment.state, "order closed");
    Ok(Some(payment.state))
}

/// The money went back: REFUNDED, `payment.refunded`.
pub async fn refunded(
    db: &PgPool,
    order_id: Uuid,
    provider: Option<&Value>,
) -> Result<Option<PaymentRow>> {
    let mut tx = db.begin().await?;
    let Some(Changed { payment, .. }) = db::settle_refunded(&mut tx, order_id, provider).await?
    else {
        return Ok(None);
    };
    let refunded = PaymentRefunded {
        order_id,
        method: payment.method,
        amount: payment.amount,
        refunded_at: payment.refunded_at.unwrap_or_else(chrono::Utc::now),
    };
    outbox::enqueue(&mut tx, PaymentEvent::Refunded(refunded)).await?;
    tx.commit().await?;
    tracing::info!(order.id = %order_id, amount = payment.amount, "payment refunded");
    Ok(Some(payment))
}

/// A card payment that has just become REFUNDING gets its `payment.refund_requested`, in the
/// same transaction: the refunder then cancels it at the provider, with the event's id as the
/// `Idempotency-Key`, until the provider answers.
async fn request_refund_if_due(conn: &mut PgConnection, payment: &PaymentRow) -> Result<()> {
    if payment.state != State::Refunding || payment.method != PaymentMethod::Card {
        return Ok(());
    }
    let Some(payment_key) = payment.payment_key.clone() else {
        return Err(httpkit::Error::Internal(anyhow::anyhow!(
            "a paid card payment without a paymentKey: {}",
            payment.order_id
        )));
    };
    let requested = RefundRequested {
        order_id: payment.order_id,
        payment_key,
        amount: payment.amount,
        reason: payment
            .refund_reason
            .clone()
            .unwrap_or_else(|| "order cancelled".into()),
    };
    outbox::enqueue(conn, PaymentEvent::RefundRequested(requested)).await?;
    Ok(())
}
