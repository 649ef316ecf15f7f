//! Writing a priced order (docs/contract.md §6): one transaction holds the idempotency record
//! with its answer, the order, its lines, its first status and `order.created`, so all of
//! them exist or none does.

use events::{OrderEvent, order::OrderCreated};
use httpkit::Result;
use sqlx::PgPool;

use crate::{
    db::{self, NewOrder},
    idempotency,
    status::Status,
};

/// What [`write`] did.
pub enum Placement {
    Written,
    /// Nothing written: no such branch.
    UnknownBranch,
    /// Nothing written: another request with the same key committed its order first.
    KeyTaken,
}

pub async fn write(db: &PgPool, order: &NewOrder) -> Result<Placement> {
    let mut tx = db.begin().await?;
    if db::branch_name(&mut tx, &order.bran_id).await?.is_none() {
        return Ok(Placement::UnknownBranch);
    }
    if let Some((key, hash, answer)) = &order.idempotency
        && !idempotency::claim(&mut tx, &order.member_id, key, hash, answer).await?
    {
        // Nothing was written; dropping the transaction rolls it back.
        return Ok(Placement::KeyTaken);
    }
    db::insert_order(&mut tx, order).await?;
    let created = OrderCreated {
        order_id: order.order_id,
        member_id: order.member_id.clone(),
        bran_id: order.bran_id.clone(),
        status: Status::Pending.as_str().to_owned(),
        total_price: order.total_price,
    };
    outbox::enqueue(&mut tx, OrderEvent::Created(created)).await?;
    tx.commit().await?;
    Ok(Placement::Written)
}
