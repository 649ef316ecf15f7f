//! Stream `ORDERS`, written by order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Stream};

pub const CREATED: &str = "order.created";
pub const STATUS_CHANGED: &str = "order.status_changed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OrderEvent {
    #[serde(rename = "order.created")]
    Created(OrderCreated),
    #[serde(rename = "order.status_changed")]
    StatusChanged(StatusChanged),
}

impl Event for OrderEvent {
    const STREAM: Stream = Stream {
        name: "ORDERS",
        subjects: "order.>",
    };

    fn subject(&self) -> &'static str {
        match self {
            OrderEvent::Created(_) => CREATED,
            OrderEvent::StatusChanged(_) => STATUS_CHANGED,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCreated {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    /// Always `PENDING`.
    pub status: String,
    /// Whole won.
    pub total_price: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChanged {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    pub status: String,
    pub previous_status: String,
    /// The order's version after the change (1 when created).
    pub version: i32,
    /// Set when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ready_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
pub(crate) fn examples() -> Vec<OrderEvent> {
    let order_id = Uuid::now_v7();
    vec![
        OrderEvent::Created(OrderCreated {
            order_id,
            member_id: "kim_minji".into(),
            bran_id: "gangnam".into(),
            status: "PENDING".into(),
            total_price: 76_600,
        }),
        OrderEvent::StatusChanged(StatusChanged {
            order_id,
            member_id: "kim_minji".into(),
            bran_id: "gangnam".into(),
            status: "ACCEPTED".into(),
            previous_status: "PENDING".into(),
            version: 2,
            estimated_ready_at: Some(Utc::now()),
        }),
        OrderEvent::StatusChanged(StatusChanged {
            order_id,
            member_id: "kim_minji".into(),
            bran_id: "gangnam".into(),
            status: "READY".into(),
            previous_status: "ACCEPTED".into(),
            version: 3,
            estimated_ready_at: None,
        }),
    ]
}
