//! The relay: publishes committed outbox rows to JetStream, marks them sent after the ack.
//! See the crate's docs.

use std::{
    future::{Future, IntoFuture},
    sync::LazyLock,
    time::Duration,
};

use async_nats::jetstream::{self, message::PublishMessage};
use events::Stream;
use prometheus::{IntCounter, IntGauge};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgListener};
use tracing::Instrument;
use uuid::Uuid;

use crate::{ensure_stream, run_to_completion};

static BACKLOG: LazyLock<IntGauge> = LazyLock::new(|| {
    telemetry::register(
        IntGauge::new(
            "outbox_backlog",
            "Outbox events committed but not yet published",
        )
        .expect("valid gauge"),
    )
});
static PUBLISHED: LazyLock<IntCounter> = LazyLock::new(|| {
    telemetry::register(
        IntCounter::new(
            "outbox_published_total",
            "Outbox events acknowledged by JetStream",
        )
        .expect("valid counter"),
    )
});
static FAILURES: LazyLock<IntCounter> = LazyLock::new(|| {
    telemetry::register(
        IntCounter::new(
            "outbox_publish_failures_total",
            "Failed publish attempts (retried)",
        )
        .expect("valid counter"),
    )
});
static LEADER: LazyLock<IntGauge> = LazyLock::new(|| {
    telemetry::register(
        IntGauge::new(
            "outbox_relay_leader",
            "1 when this process is the active relay",
        )
        .expect("valid gauge"),
    )
});

/// Publishes a service's outbox to JetStream. See the module docs.
#[derive(Clone)]
pub struct Relay {
    pub service: &'static str,
    pub pool: PgPool,
    pub jetstream: jetstream::Context,
    pub streams: Vec<Stream>,
    /// How many servers hold each stream the relay creates (1 on a single server, 3 on a
    /// NATS cluster).
    pub stream_replicas: usize,
    /// Rows published per round trip.
    pub batch: i64,
}

const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Fallback poll, in case a notification was missed (a reconnect of the listener).
const POLL: Duration = Duration::from_secs(5);

enum Round {
    /// Everything visible was published (or nothing was there).
    Drained,
    /// A full batch went out; more may be waiting.
    More,
    /// JetStream did not take everything; back off before trying again.
    NatsTrouble,
}

impl Relay {
    pub fn new(
        service: &'static str,
        pool: PgPool,
        jetstream: jetstream::Context,
        streams: Vec<Stream>,
    ) -> Self {
        // Exposed from the start (at 0), so dashboards and alerts see them before any event.
        for gauge in [&BACKLOG, &LEADER] {
            LazyLock::force(gauge);
        }
        for counter in [&PUBLISHED, &FAILURES] {
            LazyLock::force(counter);
        }
        Self {
            service,
            pool,
            jetstream,
            streams,
            stream_replicas: 1,
            batch: 256,
        }
    }

    /// Runs until `stop` resolves. Database trouble is logged and retried with backoff.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut backoff = BACKOFF_MIN;
        loop {
            let result = tokio::select! {
                r = self.lead() => r,
                _ = &mut stop => break,
            };
            LEADER.set(0);
            if let Err(e) = result {
                tracing::warn!(service = self.service, error = %format!("{e:#}"), "outbox relay interrupted; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut stop => break,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        LEADER.set(0);
        tracing::info!(service = self.service, "outbox relay stopped");
    }

    /// Waits for the relay lock, then publishes until an error. Cancel-safe: it is only
    /// ever dropped at an await, and a row is marked sent only after its ack.
    async fn lead(&self) -> anyhow::Result<()> {
        let mut lock = PgConnection::connect_with(&self.pool.connect_options()).await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut lock)
            .await?;
        loop {
            let got: bool = sqlx::query_scalar(
                "SELECT pg_try_advisory_lock(hashtext('outbox_relay:' || current_schema()))",
            )
            .fetch_one(&mut lock)
            .await?;
            if got {
                break;
            }
            // Standing by: keep the backlog metric honest anyway.
            self.update_backlog().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        LEADER.set(1);
        tracing::info!(service = self.service, "outbox relay is active");

        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&format!("outbox_{schema}")).await?;

        let mut streams_ready = false;
        let mut backoff = BACKOFF_MIN;
        loop {
            if !streams_ready {
                match self.ensure_streams().await {
                    Ok(()) => streams_ready = true,
                    Err(e) => {
                        tracing::warn!(service = self.service, error = %format!("{e:#}"), "cannot create streams yet");
                        FAILURES.inc();
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                }
            }
            match self.round().await? {
                Round::More => {
                    backoff = BACKOFF_MIN;
                    continue;
                }
                Round::NatsTrouble => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
                Round::Drained => backoff = BACKOFF_MIN,
            }
            self.update_backlog().await;
            tokio::select! {
                n = listener.recv() => { n?; }
                _ = tokio::time::sleep(POLL) => {}
            }
            // Still holding the lock? A dead session released it; start over.
            sqlx::query("SELECT 1").execute(&mut lock).await?;
        }
    }

    async fn ensure_streams(&self) -> anyhow::Result<()> {
        for s in &self.streams {
            ensure_stream(&self.jetstream, *s, self.stream_replicas).await?;
        }
        Ok(())
    }

    async fn round(&self) -> anyhow::Result<Round> {
        let rows: Vec<(i64, Uuid, String, String, Option<String>)> = sqlx::query_as(
            "SELECT seq, id, subject, payload::text, traceparent FROM outbox \
             WHERE published_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(self.batch)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Round::Drained);
        }
        let full = rows.len() as i64 == self.batch;

        // Send the whole batch, then await the acks in order: JetStream stores messages of
        // one connection in the order sent, so pipelining keeps the per-service order.
        let mut pending = Vec::with_capacity(rows.len());
        let mut trouble = false;
        for (seq, id, subject, payload, traceparent) in rows {
            // A span per event in the trace of the request that wrote it, ending when
            // JetStream acknowledges it; consumers continue from this span.
            let span = tracing::info_span!(
                "publish",
                otel.name = %format_args!("{subject} publish"),
                otel.kind = "producer",
                messaging.system = "nats",
                messaging.destination.name = %subject,
                messaging.message.id = %id,
            );
            telemetry::adopt_traceparent(&span, traceparent.as_deref());
            let mut msg = PublishMessage::build()
                .payload(payload.into_bytes().into())
                .message_id(id.to_string());
            if let Some(tp) = telemetry::traceparent_of(&span) {
                msg = msg.header("traceparent", tp.as_str());
            }
            match self.jetstream.send_publish(subject, msg).await {
                Ok(ack) => pending.push((seq, ack, span)),
                Err(e) => {
                    tracing::warn!(service = self.service, error = %e, "publish failed");
                    trouble = true;
                    break;
                }
            }
        }
        let mut acked = Vec::with_capacity(pending.len());
        for (seq, ack, span) in pending {
            match ack.into_future().instrument(span).await {
                Ok(_) => acked.push(seq),
                Err(e) => {
                    // Not marked: it is sent again later, and the Nats-Msg-Id makes the
                    // repeat a no-op if this one did arrive after all.
                    tracing::warn!(service = self.service, error = %e, "no ack from JetStream");
                    trouble = true;
                    break;
                }
            }
        }
        if !acked.is_empty() {
            // In a transaction of its own, on a task that finishes even if the relay is stopped
            // meanwhile (ARCHITECTURE.md, "Cancel-safe writes"). Rows left unmarked would only
            // be sent again, and JetStream would drop the repeats.
            let (pool, marked) = (self.pool.clone(), acked.len() as u64);
            run_to_completion(async move {
                let mut tx = pool.begin().await?;
                sqlx::query("UPDATE outbox SET published_at = now() WHERE seq = ANY($1)")
                    .bind(&acked)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            })
            .await?;
            PUBLISHED.inc_by(marked);
        }
        if trouble {
            FAILURES.inc();
            return Ok(Round::NatsTrouble);
        }
        Ok(if full { Round::More } else { Round::Drained })
    }

    async fn update_backlog(&self) {
        if let Ok(n) =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&self.pool)
                .await
        {
            BACKLOG.set(n);
        }
    }
}
