//! Order notifications (Discord-style webhook messages): POST `{"content": "…"}` to
//! `ORDER_WEBHOOK_URL` for every order the kitchen is to make — on `order.created` of an
//! order paid at pickup, and on the `order.status_changed` that brings a prepaid order from
//! `AWAITING_PAYMENT` to `PENDING` (the kitchen never hears of an unpaid one).
//!
//! Work that must happen **once** across replicas, so it reads through a
//! [`outbox::WorkQueue`]: a receiver that fails gets the event again later. Delivery is at
//! least once, so the notifier is idempotent by event id: a sent event is recorded in
//! `notification_sent` and never sent again; the event id also travels as the
//! `Idempotency-Key` header, for receivers that can use it.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::consumer::DeliverPolicy;
use events::{Envelope, OrderEvent};
use outbox::WorkQueue;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::status::Status;

/// Reads all of `order.>` (one filter subject per consumer), to see prepaid orders paid.
const CONSUMER: &str = "order-kitchen-notifier";

pub struct Notifier {
    pub db: PgPool,
    pub webhook_url: String,
    pub http: reqwest::Client,
}

/// What the kitchen is told of.
struct NewForKitchen {
    order_id: Uuid,
    bran_id: String,
    member_id: String,
    /// Known from the event (paid at pickup); `None`: a prepaid order, now paid.
    total_price: Option<i64>,
}

impl Notifier {
    pub fn new(db: PgPool, webhook_url: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a plain HTTP client builds");
        Self {
            db,
            webhook_url,
            http,
        }
    }

    /// The work queue that sends the notifications. It starts at the newest event: a
    /// notifier deployed for the first time does not announce last week's orders.
    pub fn queue(self) -> WorkQueue<OrderEvent> {
        let me = Arc::new(self);
        let mut queue = WorkQueue::new(
            CONSUMER,
            "order.>",
            Arc::new(move |event| {
                let me = me.clone();
                Box::pin(async move { me.handle(event).await })
            }),
        );
        queue.deliver_policy = DeliverPolicy::New;
        queue
    }

    async fn handle(&self, event: Envelope<OrderEvent>) -> anyhow::Result<()> {
        let order = match &event.event {
            OrderEvent::Created(c) if c.status == Status::Pending.as_str() => NewForKitchen {
                order_id: c.order_id,
                bran_id: c.bran_id.clone(),
                member_id: c.member_id.clone(),
                total_price: Some(c.total_price),
            },
            OrderEvent::StatusChanged(c)
                if c.previous_status == Status::AwaitingPayment.as_str()
                    && c.status == Status::Pending.as_str() =>
            {
                NewForKitchen {
                    order_id: c.order_id,
                    bran_id: c.bran_id.clone(),
                    member_id: c.member_id.clone(),
                    total_price: None,
                }
            }
            _ => return Ok(()),
        };
        if self.already_sent(event.id).await? {
            return Ok(());
        }
        self.post(event.id, &order).await?;
        // Recorded even if the notifier is stopped meanwhile: the receiver has it.
        let (db, event_id) = (self.db.clone(), event.id);
        outbox::run_to_completion(async move {
            let mut tx = db.begin().await?;
            sqlx::query(
                "INSERT INTO notification_sent (event_id, order_id) \
                 VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(event_id)
            .bind(order.order_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })
        .await?;
        Ok(())
    }

    async fn already_sent(&self, event_id: Uuid) -> anyhow::Result<bool> {
        Ok(sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM notification_sent WHERE event_id = $1)",
        )
        .bind(event_id)
        .fetch_one(&self.db)
        .await?)
    }

    async fn post(&self, event_id: Uuid, order: &NewForKitchen) -> anyhow::Result<()> {
        let (total, number, requests, table): (i64, Option<i32>, Option<String>, Option<String>) =
            sqlx::query_as(
                "SELECT total_price, order_number, special_requests, table_label \
                 FROM orders WHERE order_id = $1",
            )
            .bind(order.order_id)
            .fetch_one(&self.db)
            .await?;
        let paid = if order.total_price.is_none() {
            ", paid"
        } else {
            ""
        };
        let number = number.map(|n| format!("#{n} ")).unwrap_or_default();
        let requests = requests
            .map(|r| format!(" — \"{}\"", r.replace('\n', " ")))
            .unwrap_or_default();
        let table = table.map(|t| format!(", table {t}")).unwrap_or_default();
        let content = format!(
            "🍕 New order {number}{} at {}{table} — {}원{paid} (member {}){requests}",
            order.order_id, order.bran_id, total, order.member_id,
        );
        let res = self
            .http
            .post(&self.webhook_url)
            .header("idempotency-key", event_id.to_string())
            .json(&json!({ "content": content }))
            .send()
            .await?;
        if !res.status().is_success() {
            anyhow::bail!("receiver answered {}", res.status());
        }
        Ok(())
    }
}
