//! Stream `PAYMENTS`, written by payment.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Stream, order::PaymentMethod};

pub const COMPLETED: &str = "payment.completed";
pub const FAILED: &str = "payment.failed";
pub const REFUNDED: &str = "payment.refunded";
pub const REFUND_REQUESTED: &str = "payment.refund_requested";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PaymentEvent {
    /// The order's money is in: the kitchen may start.
    #[serde(rename = "payment.completed")]
    Completed(PaymentCompleted),
    /// An attempt to pay was refused (a declined card); the order stays unpaid and may be
    /// paid again.
    #[serde(rename = "payment.failed")]
    Failed(PaymentFailed),
    /// The money went back to the customer.
    #[serde(rename = "payment.refunded")]
    Refunded(PaymentRefunded),
    /// Payment's own work queue: cancel this payment at the provider (retried until the
    /// provider answers; the event id is the provider's `Idempotency-Key`).
    #[serde(rename = "payment.refund_requested")]
    RefundRequested(RefundRequested),
}

impl Event for PaymentEvent {
    const STREAM: Stream = Stream {
        name: "PAYMENTS",
        subjects: "payment.>",
    };

    fn subject(&self) -> &'static str {
        match self {
            PaymentEvent::Completed(_) => COMPLETED,
            PaymentEvent::Failed(_) => FAILED,
            PaymentEvent::Refunded(_) => REFUNDED,
            PaymentEvent::RefundRequested(_) => REFUND_REQUESTED,
        }
    }
}

impl PaymentEvent {
    /// The order the event is about.
    pub fn order_id(&self) -> Uuid {
        match self {
            PaymentEvent::Completed(e) => e.order_id,
            PaymentEvent::Failed(e) => e.order_id,
            PaymentEvent::Refunded(e) => e.order_id,
            PaymentEvent::RefundRequested(e) => e.order_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCompleted {
    pub order_id: Uuid,
    pub method: PaymentMethod,
    /// Whole won: always the order's total.
    pub amount: i64,
    pub paid_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub order_id: Uuid,
    pub method: PaymentMethod,
    /// The provider's error code (`REJECT_CARD_PAYMENT`, …).
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub order_id: Uuid,
    pub method: PaymentMethod,
    pub amount: i64,
    pub refunded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequested {
    pub order_id: Uuid,
    pub payment_key: String,
    pub amount: i64,
    /// For the provider's `cancelReason` (1 to 200 characters).
    pub reason: String,
}

#[cfg(test)]
pub(crate) fn examples() -> Vec<PaymentEvent> {
    let order_id = Uuid::now_v7();
    vec![
        PaymentEvent::Completed(PaymentCompleted {
            order_id,
            method: PaymentMethod::Card,
            amount: 76_600,
            paid_at: Utc::now(),
        }),
        PaymentEvent::Failed(PaymentFailed {
            order_id,
            method: PaymentMethod::Card,
            code: "REJECT_CARD_PAYMENT".into(),
            message: "한도초과 혹은 잔액부족으로 결제에 실패했습니다.".into(),
        }),
        PaymentEvent::RefundRequested(RefundRequested {
            order_id,
            payment_key: "tsbx0123".into(),
            amount: 76_600,
            reason: "rejected by the shop".into(),
        }),
        PaymentEvent::Refunded(PaymentRefunded {
            order_id,
            method: PaymentMethod::Transfer,
            amount: 76_600,
            refunded_at: Utc::now(),
        }),
    ]
}
