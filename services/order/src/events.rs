//! Events order emits (DESIGN §5): `order.created` (and, with the status workflow,
//! `order.status_changed`) on stream `ORDERS`.

use outbox::StreamSpec;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{db::OrderRow, error::Result};

pub const ORDER_CREATED: &str = "order.created";
pub const STATUS_CHANGED: &str = "order.status_changed";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderCreated {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    pub status: String,
    pub total_price: i64,
}

pub fn streams() -> Vec<StreamSpec> {
    vec![StreamSpec {
        name: "ORDERS",
        subjects: vec!["order.>"],
    }]
}

pub async fn order_created(
    conn: &mut PgConnection,
    order_id: Uuid,
    member_id: &str,
    bran_id: &str,
    total_price: i64,
) -> Result<()> {
    let data = OrderCreated {
        order_id,
        member_id: member_id.to_owned(),
        bran_id: bran_id.to_owned(),
        status: "PENDING".to_owned(),
        total_price,
    };
    outbox::enqueue(conn, ORDER_CREATED, &data).await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusChanged {
    pub order_id: Uuid,
    pub member_id: String,
    pub bran_id: String,
    pub status: String,
    pub previous_status: String,
    pub version: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ready_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn status_changed(
    conn: &mut PgConnection,
    order: &OrderRow,
    previous: &str,
) -> Result<()> {
    let data = StatusChanged {
        order_id: order.order_id,
        member_id: order.member_id.clone(),
        bran_id: order.bran_id.clone(),
        status: order.status.clone(),
        previous_status: previous.to_owned(),
        version: order.version,
        estimated_ready_at: order.estimated_ready_at,
    };
    outbox::enqueue(conn, STATUS_CHANGED, &data).await?;
    Ok(())
}
