//! Work queues: events that must be acted on **once** across replicas (a notification, a
//! refund at the provider, an order's payment status), read through one durable JetStream
//! consumer that every replica of the service shares. Unlike a [`crate::Broadcast`], each
//! event goes to one replica at a time.
//!
//! Events are fetched a few at a time ([`BATCH`]) and handled one by one: the ack wait of an
//! event runs from its delivery, so a large batch behind a slow handler would time out and be
//! delivered to another replica while still waiting here.
//!
//! Delivery is at least once: an event is acknowledged only after its handler returned `Ok`,
//! and a handler that fails gets the event again later (a NAK with a delay that doubles per
//! attempt, 0.5 s up to 30 s), as does an event whose replica died while handling it (after
//! the consumer's ack wait). So handlers must be idempotent: a conditional update, a row
//! per event id, or an `Idempotency-Key` at the far end.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use async_nats::jetstream::{
    self, AckKind,
    consumer::{AckPolicy, DeliverPolicy, pull},
};
use events::{Envelope, Event};
use futures::StreamExt;
use tracing::Instrument;

use crate::ensure_stream;

/// Events fetched per request to the server.
pub const BATCH: usize = 8;

/// What a handler makes of an event.
pub type Handled = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Acts on one event; `Err` means "not done, give it to me again later".
pub type WorkHandler<E> = Arc<dyn Fn(Envelope<E>) -> Handled + Send + Sync>;

/// One durable consumer of `E`'s stream, shared by a service's replicas.
pub struct WorkQueue<E> {
    /// The durable consumer's name (one per purpose, stable across releases).
    pub name: &'static str,
    /// The subjects it reads (one filter: NATS 2.9), within `E`'s stream.
    pub filter: &'static str,
    /// How long a delivered event may go unacknowledged before another replica gets it.
    pub ack_wait: Duration,
    /// Where a consumer created now starts: `All` (the default) also acts on events written
    /// before it existed; `New` for work that must not be done for the past (notifications).
    pub deliver_policy: DeliverPolicy,
    pub handler: WorkHandler<E>,
}

impl<E: Event> WorkQueue<E> {
    pub fn new(name: &'static str, filter: &'static str, handler: WorkHandler<E>) -> Self {
        Self {
            name,
            filter,
            ack_wait: Duration::from_secs(30),
            deliver_policy: DeliverPolicy::All,
            handler,
        }
    }

    /// Runs until `stop` resolves; NATS trouble is retried. An event being handled when
    /// `stop` comes is not acknowledged: it is delivered again (to another replica, or after
    /// the restart), which the handler's idempotence makes harmless.
    /// Consumes until `stop`; the stream, when it is made here, is kept on `replicas` servers.
    pub async fn run(
        self,
        js: jetstream::Context,
        replicas: usize,
        stop: impl Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let mut backoff = Duration::from_millis(200);
        loop {
            tokio::select! {
                r = self.consume(&js, replicas) => if let Err(e) = r {
                    tracing::warn!(consumer = self.name, error = %format!("{e:#}"), "work queue interrupted; retrying");
                },
                _ = &mut stop => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut stop => return,
            }
            // Short: after NATS is back the queue must resume soon (the client's own reconnect
            // backs off up to 4 s already).
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn consume(&self, js: &jetstream::Context, replicas: usize) -> anyhow::Result<()> {
        // Made with the stream if it is not there yet (same settings as its publisher's);
        // being durable, it remembers its place across restarts and replicas.
        ensure_stream(js, E::STREAM, replicas).await?;
        let stream = js.get_stream(E::STREAM.name).await?;
        let consumer = stream
            .get_or_create_consumer(
                self.name,
                pull::Config {
                    durable_name: Some(self.name.into()),
                    filter_subject: self.filter.into(),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: self.ack_wait,
                    deliver_policy: self.deliver_policy,
                    ..Default::default()
                },
            )
            .await?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(BATCH)
            .messages()
            .await?;
        tracing::info!(
            consumer = self.name,
            filter = self.filter,
            "work queue consuming"
        );
        while let Some(msg) = messages.next().await {
            let msg = msg.map_err(|e| anyhow::anyhow!("{e}"))?;
            let event = match Envelope::<E>::decode(&msg.payload) {
                Ok(event) => event,
                Err(e) => {
                    // An event type newer than this build, say: not ours to act on.
                    tracing::warn!(consumer = self.name, subject = %msg.subject, error = %e, "undecodable event skipped");
                    msg.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                    continue;
                }
            };
            let id = event.id;
            let span = crate::consumer_span(self.name, &msg, Some(id));
            match (self.handler)(event).instrument(span).await {
                Ok(()) => msg.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?,
                Err(e) => {
                    let attempt = msg.info().map(|i| i.delivered).unwrap_or(1).max(1);
                    let delay = retry_delay(attempt);
                    tracing::warn!(consumer = self.name, event.id = %id, error = %format!("{e:#}"), attempt, retry_in_ms = delay.as_millis() as u64, "event not handled; will retry");
                    msg.ack_with(AckKind::Nak(Some(delay)))
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
            }
        }
        anyhow::bail!("consumer ended")
    }
}

/// 0.5 s, doubling per delivery, at most 30 s.
pub fn retry_delay(attempt: i64) -> Duration {
    Duration::from_millis(500)
        .saturating_mul(1u32 << (attempt - 1).clamp(0, 6) as u32)
        .min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_half_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|a| retry_delay(a).as_millis() as u64).collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(retry_delay(0), Duration::from_millis(500));
    }
}
