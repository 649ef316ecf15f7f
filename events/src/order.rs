//! Stream `ORDERS`, written by order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Stream};

pub const CREATED: &str = "order.created";
pub const STATUS_CHANGED: &str = "order.status_changed";
pub const PAYMENT_CHANGED: &str = "order.payment_changed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OrderEvent {
    #[serde(rename = "order.created")]
    Created(OrderCreated),
    #[serde(rename = "order.status_changed")]
    StatusChanged(StatusChanged),
    /// The order's payment status moved without its status moving (paid after it was
    /// cancelled, refunded).
    #[serde(rename = "order.payment_changed")]
    PaymentChanged(PaymentChanged),
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
            OrderEvent::PaymentChanged(_) => PAYMENT_CHANGED,
        }
    }
}

/// How an order is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentMethod {
    /// At the counter, as before payments existed.
    #[default]
    AtPickup,
    /// By card, through the provider's checkout, before the kitchen starts.
    Card,
    /// By bank transfer, matched by the deposit notification, before the kitchen starts.
    Transfer,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 3] = [
        PaymentMethod::AtPickup,
        PaymentMethod::Card,
        PaymentMethod::Transfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::AtPickup => "AT_PICKUP",
            PaymentMethod::Card => "CARD",
            PaymentMethod::Transfer => "TRANSFER",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Paid before the kitchen sees the order.
    pub fn is_prepaid(self) -> bool {
        self != PaymentMethod::AtPickup
    }
}

/// For rows that store the name as text.
impl TryFrom<String> for PaymentMethod {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown payment method {s:?}"))
    }
}

impl TryFrom<String> for PaymentStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown payment status {s:?}"))
    }
}

/// Where an order's money is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Paid at the counter, outside the platform.
    AtPickup,
    Unpaid,
    Paid,
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 4] = [
        PaymentStatus::AtPickup,
        PaymentStatus::Unpaid,
        PaymentStatus::Paid,
        PaymentStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::AtPickup => "AT_PICKUP",
            PaymentStatus::Unpaid => "UNPAID",
            PaymentStatus::Paid => "PAID",
            PaymentStatus::Refunded => "REFUNDED",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentStatus> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCreated {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    /// `PENDING`, or `AWAITING_PAYMENT` for an order paid up front.
    pub status: String,
    /// Whole won: what a prepaid order must be paid exactly.
    pub total_price: i64,
    /// Events from before payments existed read as `AT_PICKUP`.
    #[serde(default)]
    pub payment_method: PaymentMethod,
    /// The name a bank transfer must come from (`TRANSFER` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_name: Option<String>,
    /// What the customer sees on the provider's checkout ("The Hawaiian Pizza L 외 1건").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_name: Option<String>,
    /// The order's number in its branch's business day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<i32>,
    /// Placed at a table (DINE_IN): its label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_label: Option<String>,
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
    /// The payment status after the change (absent in events from before payments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<PaymentStatus>,
    /// What staff said to the customer when accepting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentChanged {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    /// The order's status (unchanged by this event).
    pub status: String,
    pub payment_status: PaymentStatus,
    pub previous_payment_status: PaymentStatus,
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
            payment_method: PaymentMethod::AtPickup,
            payer_name: None,
            order_name: None,
            order_number: Some(42),
            table_label: Some("7".into()),
        }),
        OrderEvent::Created(OrderCreated {
            order_id,
            member_id: "kim_minji".into(),
            bran_id: "gangnam".into(),
            status: "AWAITING_PAYMENT".into(),
            total_price: 76_600,
            payment_method: PaymentMethod::Transfer,
            payer_name: Some("김민지".into()),
            order_name: Some("The Barbecue Chicken Pizza L 외 1건".into()),
            order_number: Some(43),
            table_label: None,
        }),
        OrderEvent::StatusChanged(StatusChanged {
            order_id,
            member_id: "kim_minji".into(),
            bran_id: "gangnam".into(),
            status: "ACCEPTED".into(),
            previous_status: "PENDING".into(),
            version: 2,
            estimated_ready_at: Some(Utc::now()),
            payment_status: Some(PaymentStatus::Paid),
            message: Some("피클 넉넉히 드릴게요".into()),
        }),
        OrderEvent::StatusChanged(StatusChanged {
            order_id,
            member_id: "kim_minji".into(),
            bran_id: "gangnam".into(),
            status: "READY".into(),
            previous_status: "ACCEPTED".into(),
            version: 3,
            estimated_ready_at: None,
            payment_status: None,
            message: None,
        }),
        OrderEvent::PaymentChanged(PaymentChanged {
            order_id,
            member_id: "kim_minji".into(),
            bran_id: "gangnam".into(),
            status: "CANCELLED".into(),
            payment_status: PaymentStatus::Refunded,
            previous_payment_status: PaymentStatus::Paid,
        }),
    ]
}
