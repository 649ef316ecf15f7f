//! Order notifications (Discord-style webhook messages): on `order.created`, POST
//! `{"content": "…"}` to `ORDER_WEBHOOK_URL`.
//!
//! Work that must happen **once** across replicas, so — unlike the cache subscriptions — it
//! reads through one durable JetStream consumer shared by every replica: each event goes to
//! one of them at a time. A receiver that fails gets the event again later (a NAK with a
//! delay that doubles per attempt, capped at 30 s). Delivery is at least once, so the
//! notifier is idempotent by event id: a sent event is recorded in `notification_sent` and
//! never sent again; the event id also travels as the `Idempotency-Key` header, for
//! receivers that can use it.

use std::time::Duration;

use async_nats::jetstream::{
    self, AckKind,
    consumer::{AckPolicy, DeliverPolicy, pull},
};
use events::{Envelope, Event, OrderEvent, order::OrderCreated};
use futures::StreamExt;
use serde_json::json;
use sqlx::PgPool;

const CONSUMER: &str = "order-notifier";

pub struct Notifier {
    pub db: PgPool,
    pub jetstream: jetstream::Context,
    pub webhook_url: String,
    pub http: reqwest::Client,
}

impl Notifier {
    pub fn new(db: PgPool, jetstream: jetstream::Context, webhook_url: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a plain HTTP client builds");
        Self {
            db,
            jetstream,
            webhook_url,
            http,
        }
    }

    /// Runs until `stop` resolves; NATS trouble is retried.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut backoff = Duration::from_millis(200);
        loop {
            tokio::select! {
                r = self.consume() => if let Err(e) = r {
                    tracing::warn!(error = %format!("{e:#}"), "notifier interrupted; retrying");
                },
                _ = &mut stop => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut stop => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn consume(&self) -> anyhow::Result<()> {
        // The consumer is made with the stream, before any order, so `New` misses nothing;
        // being durable, it remembers its place across restarts.
        outbox::ensure_stream(&self.jetstream, OrderEvent::STREAM).await?;
        let stream = self.jetstream.get_stream(OrderEvent::STREAM.name).await?;
        let consumer = stream
            .get_or_create_consumer(
                CONSUMER,
                pull::Config {
                    durable_name: Some(CONSUMER.into()),
                    filter_subject: events::order::CREATED.into(),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    deliver_policy: DeliverPolicy::New,
                    ..Default::default()
                },
            )
            .await?;
        let mut messages = consumer.messages().await?;
        tracing::info!("notifier consuming order.created");
        while let Some(msg) = messages.next().await {
            let msg = msg.map_err(|e| anyhow::anyhow!("{e}"))?;
            let (event_id, created) = match Envelope::<OrderEvent>::decode(&msg.payload) {
                Ok(Envelope {
                    id,
                    event: OrderEvent::Created(created),
                    ..
                }) => (id, created),
                Ok(_) => {
                    // Not one of ours (the consumer reads order.created only).
                    msg.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "undecodable order.created dropped");
                    msg.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                    continue;
                }
            };
            if self.already_sent(event_id).await? {
                msg.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                continue;
            }
            match self.post(event_id, &created).await {
                Ok(()) => {
                    // Recorded even if the notifier is stopped meanwhile: the receiver has it.
                    let (db, order_id) = (self.db.clone(), created.order_id);
                    outbox::run_to_completion(async move {
                        let mut tx = db.begin().await?;
                        sqlx::query(
                            "INSERT INTO notification_sent (event_id, order_id) \
                             VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        )
                        .bind(event_id)
                        .bind(order_id)
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await
                    })
                    .await?;
                    msg.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                Err(e) => {
                    let attempt = msg.info().map(|i| i.delivered).unwrap_or(1).max(1);
                    let delay = Duration::from_millis(500)
                        .saturating_mul(1u32 << (attempt - 1).min(6) as u32)
                        .min(Duration::from_secs(30));
                    tracing::warn!(error = %e, attempt, retry_in_ms = delay.as_millis() as u64, "webhook failed");
                    msg.ack_with(AckKind::Nak(Some(delay)))
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
            }
        }
        anyhow::bail!("consumer ended")
    }

    async fn already_sent(&self, event_id: uuid::Uuid) -> anyhow::Result<bool> {
        Ok(sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM notification_sent WHERE event_id = $1)",
        )
        .bind(event_id)
        .fetch_one(&self.db)
        .await?)
    }

    async fn post(&self, event_id: uuid::Uuid, order: &OrderCreated) -> anyhow::Result<()> {
        let content = format!(
            "🍕 New order {} at {} — {}원 (member {})",
            order.order_id, order.bran_id, order.total_price, order.member_id,
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
