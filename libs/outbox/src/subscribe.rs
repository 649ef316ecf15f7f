//! Broadcast subscriptions: every process reads a stream with its own ephemeral ordered
//! consumer, so **every replica sees every event** — what cache invalidation needs.
//! (Work that must happen once uses a durable consumer shared by the replicas instead.)
//!
//! Whenever the subscription (re)starts, or the NATS connection comes back, events may have
//! been missed: `on_reset` runs so the caller treats its caches as stale.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull::OrderedConfig};
use events::{Envelope, Event};
use futures::StreamExt;

use crate::Nats;

/// Called with each event; must be cheap (it runs on the subscription's task).
pub type EventHandler<E> = Arc<dyn Fn(&Envelope<E>) + Send + Sync>;

/// One broadcast subscription to the stream of `E` (every subject in it): what to do with
/// each event, and what to do when events may have been missed.
pub struct Broadcast<E> {
    pub on_event: EventHandler<E>,
    pub on_reset: Arc<dyn Fn() + Send + Sync>,
    /// `true` while the subscription is live (reported by `/healthz`).
    pub live: Arc<AtomicBool>,
}

impl<E: Event> Broadcast<E> {
    pub fn new(on_event: EventHandler<E>, on_reset: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self {
            on_event,
            on_reset,
            live: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The stream's name and the live flag, for `/healthz`.
    pub fn health(&self) -> (&'static str, Arc<AtomicBool>) {
        (E::STREAM.name, self.live.clone())
    }

    /// Runs until `stop` resolves.
    pub async fn run(self, nats: Nats, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let js = jetstream::new(nats.client.clone());
        let mut connections = nats.connections.clone();
        let mut backoff = Duration::from_millis(200);
        loop {
            tokio::select! {
                r = self.consume(&js, &mut connections) => {
                    if let Err(e) = r {
                        tracing::debug!(stream = E::STREAM.name, error = %format!("{e:#}"), "subscription interrupted");
                    }
                }
                _ = &mut stop => return,
            }
            // Events may be missed from now until the next subscription starts.
            if self.live.swap(false, Ordering::AcqRel) {
                (self.on_reset)();
                backoff = Duration::from_millis(200);
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut stop => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn consume(
        &self,
        js: &jetstream::Context,
        connections: &mut tokio::sync::watch::Receiver<u64>,
    ) -> anyhow::Result<()> {
        // The publisher creates the stream; until it has, there is nothing to miss.
        let stream = js.get_stream(E::STREAM.name).await?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: E::STREAM.subjects.to_owned(),
                deliver_policy: DeliverPolicy::New,
                // Short, so the consumer comes back at once after a server restart.
                max_expires: Duration::from_secs(4),
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        // Anything before this point was not seen.
        (self.on_reset)();
        self.live.store(true, Ordering::Release);
        connections.mark_unchanged();
        tracing::info!(stream = E::STREAM.name, "subscribed");
        loop {
            tokio::select! {
                m = messages.next() => match m {
                    Some(Ok(msg)) => match Envelope::<E>::decode(&msg.payload) {
                        Ok(event) => crate::consumer_span(E::STREAM.name, &msg, Some(event.id))
                            .in_scope(|| (self.on_event)(&event)),
                        // An event type newer than this build, say: nothing to do with it.
                        Err(e) => tracing::warn!(stream = E::STREAM.name, subject = %msg.subject, error = %e, "undecodable event skipped"),
                    },
                    Some(Err(e)) => anyhow::bail!("consumer error: {e}"),
                    None => anyhow::bail!("consumer ended"),
                },
                changed = connections.changed() => {
                    changed?;
                    tracing::info!(stream = E::STREAM.name, "NATS reconnected: caches are stale");
                    (self.on_reset)();
                }
            }
        }
    }
}
