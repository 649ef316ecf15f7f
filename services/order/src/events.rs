//! Events order emits (DESIGN §5): `order.created` (and, with the status workflow,
//! `order.status_changed`) on stream `ORDERS`.

use outbox::StreamSpec;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Result;

pub const ORDER_CREATED: &str = "order.created";

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
