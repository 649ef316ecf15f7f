//! Writing a priced order (docs/contract.md §6): one transaction holds the idempotency record
//! with its answer, the order, its lines, its first status and `order.created`, so all of
//! them exist or none does. `order.created` tells the payment service what a prepaid order
//! must be paid: its method, amount and payer name.

use events::{OrderEvent, order::OrderCreated};
use httpkit::Result;
use sqlx::PgPool;

use crate::{
    db::{self, NewOrder},
    hours::OpenState,
    idempotency,
    status::PaymentMethod,
    tables,
};

/// A line as the customer asked for it: a pizza, how many, and the options if named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedLine {
    pub pizza_id: String,
    pub quantity: i64,
    /// `None`: no `options` in the request (each required group's default); otherwise the
    /// option ids as given, sorted.
    pub options: Option<Vec<String>>,
}

/// How an order is to be paid, as the customer chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub method: PaymentMethod,
    /// `TRANSFER` only: the name the transfer will come from.
    pub payer_name: Option<String>,
}

impl Payment {
    pub const AT_PICKUP: Payment = Payment {
        method: PaymentMethod::AtPickup,
        payer_name: None,
    };
}

/// The provider's `orderName` (at most 100 characters): the first pizza and how many more,
/// as Korean checkouts write it ("The Hawaiian Pizza L 외 2건").
pub fn order_name(order: &NewOrder) -> String {
    let first = order
        .lines
        .first()
        .map(|l| format!("{} {}", l.pizza_nm, l.size))
        .unwrap_or_default();
    let name = match order.lines.len() {
        0 | 1 => first,
        n => format!("{first} 외 {}건", n - 1),
    };
    name.chars().take(100).collect()
}

/// Where an order is for, as the customer asked: a branch (to pick up at), or a table's
/// token (to eat at that table, at its branch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    Branch(String),
    Table(String),
}

/// What [`write`] did.
pub enum Placement {
    /// With its order number.
    Written(i32),
    /// Nothing written: no such branch.
    UnknownBranch,
    /// Nothing written: the table was retired after its token was read.
    TableRetired,
    /// Nothing written: the branch is closed or paused.
    Closed(OpenState),
    /// Nothing written: another request with the same key committed its order first.
    KeyTaken,
}

/// Orders committed, for "orders per minute" on the dashboards.
static PLACED: std::sync::LazyLock<prometheus::IntCounter> = std::sync::LazyLock::new(|| {
    telemetry::register(
        prometheus::IntCounter::new("orders_placed_total", "Orders committed")
            .expect("valid counter"),
    )
});

/// Exposes `orders_placed_total` (at 0 until the first order).
pub fn register_metrics() {
    std::sync::LazyLock::force(&PLACED);
}

/// Writes the order, its lines and its `order.created` event in one transaction (a span of
/// its own in the request's trace).
#[tracing::instrument(name = "place_order transaction", skip_all, fields(order.id = %order.order_id))]
pub async fn write(db: &PgPool, order: &NewOrder) -> Result<Placement> {
    let mut tx = db.begin().await?;
    let Some(branch) = db::branch(&mut tx, &order.bran_id).await? else {
        return Ok(Placement::UnknownBranch);
    };
    // Its hours and pause as committed now: a pause saved a moment ago already holds.
    let state = branch.schedule.state(order.created_at);
    if !state.open_now {
        return Ok(Placement::Closed(state));
    }
    if let Some(table) = &order.table
        && !tables::lock_live(&mut tx, table.table_id).await?
    {
        return Ok(Placement::TableRetired);
    }
    if let Some((key, hash, answer)) = &order.idempotency
        && !idempotency::claim(&mut tx, &order.member_id, key, hash, answer).await?
    {
        // Nothing was written; dropping the transaction rolls it back.
        return Ok(Placement::KeyTaken);
    }
    db::insert_order(&mut tx, order).await?;
    // The number last: its counter stays locked until the commit (the orders of a branch take
    // numbers one after another, and a rolled-back one gives its number back), so it is held
    // only for these few statements and the commit.
    let key = order
        .idempotency
        .as_ref()
        .map(|(key, _, _)| (order.member_id.as_str(), key.as_str()));
    let number = db::number_order(&mut tx, order, key).await?;
    let created = OrderCreated {
        order_id: order.order_id,
        member_id: order.member_id.clone(),
        bran_id: order.bran_id.clone(),
        status: order.status.as_str().to_owned(),
        total_price: order.total_price,
        payment_method: order.payment_method,
        payer_name: order.payer_name.clone(),
        order_name: order.payment_method.is_prepaid().then(|| order_name(order)),
        order_number: Some(number),
        table_label: order.table.as_ref().map(|t| t.label.clone()),
    };
    outbox::enqueue(&mut tx, OrderEvent::Created(created)).await?;
    tx.commit().await?;
    PLACED.inc();
    Ok(Placement::Written(number))
}
