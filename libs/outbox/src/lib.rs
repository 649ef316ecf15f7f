//! The transactional outbox (docs/contract.md §5).
//!
//! A service writes an event with [`enqueue`] **inside the transaction that makes the
//! change**, into the `outbox` table of its own schema (the role's `search_path` resolves
//! it; each service creates the table in its own migrations, with the columns below). The
//! [`Relay`] publishes committed rows to JetStream with the event id as `Nats-Msg-Id`, and
//! marks them sent only after JetStream acknowledged them. So an event exists exactly when
//! its change committed, and NATS being down delays events without losing them or failing
//! a request.
//!
//! ```sql
//! CREATE TABLE outbox (
//!     seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
//!     id           UUID NOT NULL UNIQUE,
//!     subject      TEXT NOT NULL,
//!     payload      JSONB NOT NULL,      -- the whole envelope, published as is
//!     traceparent  TEXT,
//!     created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     published_at TIMESTAMPTZ
//! );
//! CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
//! ```
//!
//! Replicas: only the holder of a PostgreSQL advisory lock (one per schema) relays, so
//! events leave in commit order per service and two replicas never race on a row; the
//! others stand by and take over when the holder's connection goes away. The commit wakes
//! the relay through `NOTIFY outbox_<schema>` (a notification sent inside a transaction is
//! delivered at commit); a slow poll is only the fallback.

use std::{
    future::Future,
    sync::{
        LazyLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, message::PublishMessage, stream};
use events::{Envelope, Event, Stream};
use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgListener};
use uuid::Uuid;

mod subscribe;
pub use subscribe::{Broadcast, EventHandler};

/// Writes `event` to the outbox in the caller's transaction; returns the event id.
pub async fn enqueue<E: Event>(conn: &mut PgConnection, event: E) -> Result<Uuid, sqlx::Error> {
    let envelope = Envelope::new(event);
    let payload = serde_json::to_value(&envelope).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query("INSERT INTO outbox (id, subject, payload, traceparent) VALUES ($1, $2, $3, $4)")
        .bind(envelope.id)
        .bind(envelope.subject())
        .bind(payload)
        .bind(telemetry::current_traceparent())
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_notify('outbox_' || current_schema(), '')")
        .execute(&mut *conn)
        .await?;
    Ok(envelope.id)
}

/// Runs `work` on a task of its own and waits for it: once started, it runs to its end even
/// if the caller is dropped — a client hanging up (hyper drops the handler), the request
/// timeout, shutdown. For writes that must finish once begun (placing an order, a status
/// change, the relay's mark): they commit or roll back on their own terms, never because the
/// caller happened to be parked at one of their awaits. The current span (request id, trace)
/// goes with it, so its logs and the `traceparent` of its events are the caller's.
pub async fn run_to_completion<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    use tracing::Instrument;
    let running = Running::start();
    let work = async move {
        let _running = running;
        work.await
    };
    match tokio::spawn(work.in_current_span()).await {
        Ok(out) => out,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only when the runtime itself shuts down, after serving stopped.
        Err(e) => panic!("a write task was cancelled by the runtime: {e}"),
    }
}

/// Writes started by [`run_to_completion`] and not finished yet, in this process.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

struct Running;

impl Running {
    fn start() -> Running {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits, at most `limit`, until every write started by [`run_to_completion`] has finished:
/// the last step of a shutdown, after serving and the relay stopped, so that a write whose
/// client hung up is not cut off by the process exiting.
pub async fn writes_finished(limit: Duration) {
    let deadline = Instant::now() + limit;
    while RUNNING.load(Ordering::SeqCst) > 0 {
        if Instant::now() > deadline {
            tracing::warn!("exiting with writes still running");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Creates `stream` in JetStream if it does not exist yet (idempotent; the relay does it
/// before it publishes, and a durable consumer before it reads).
pub async fn ensure_stream(js: &jetstream::Context, stream: Stream) -> anyhow::Result<()> {
    js.get_or_create_stream(stream::Config {
        name: stream.name.to_owned(),
        subjects: vec![stream.subjects.to_owned()],
        storage: stream::StorageType::File,
        // Dedup by Nats-Msg-Id across relay retries and takeovers (≥ 10 min; ARCHITECTURE.md).
        duplicate_window: Duration::from_secs(15 * 60),
        // Consumers only need recent history; nothing grows without bound.
        max_age: Duration::from_secs(7 * 24 * 3600),
        ..Default::default()
    })
    .await?;
    Ok(())
}

/// A NATS connection and a counter of its (re)connections, so consumers can treat their
/// caches as stale after a reconnect (events may have been missed while away).
#[derive(Clone)]
pub struct Nats {
    pub client: async_nats::Client,
    pub connections: tokio::sync::watch::Receiver<u64>,
}

/// Connects to NATS without failing when it is down: the client keeps retrying in the
/// background, and the relay backs off until it is back.
pub async fn connect_nats(url: &str, name: &str) -> anyhow::Result<Nats> {
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tx.send_modify(|n| *n += 1);
                    }
                    async_nats::Event::Disconnected => tracing::warn!("NATS disconnected"),
                    other => tracing::debug!(event = %other, "NATS event"),
                }
            }
        })
        .connect(url)
        .await?;
    Ok(Nats {
        client,
        connections: rx,
    })
}

/// A JetStream context whose acks time out quickly enough for the relay to back off.
pub fn jetstream(client: async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(3))
        .build(client)
}

/// `connected`, `disconnected` or `pending`, for `/healthz`.
pub fn nats_state(client: &async_nats::Client) -> &'static str {
    match client.connection_state() {
        async_nats::connection::State::Connected => "connected",
        async_nats::connection::State::Disconnected => "disconnected",
        async_nats::connection::State::Pending => "pending",
    }
}

static BACKLOG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    telemetry::register(
        IntGaugeVec::new(
            Opts::new(
                "outbox_backlog",
                "Outbox events committed but not yet published",
            ),
            &["service"],
        )
        .expect("valid gauge"),
    )
});
static PUBLISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    telemetry::register(
        IntCounterVec::new(
            Opts::new(
                "outbox_published_total",
                "Outbox events acknowledged by JetStream",
            ),
            &["service"],
        )
        .expect("valid counter"),
    )
});
static FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    telemetry::register(
        IntCounterVec::new(
            Opts::new(
                "outbox_publish_failures_total",
                "Failed publish attempts (retried)",
            ),
            &["service"],
        )
        .expect("valid counter"),
    )
});
static LEADER: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    telemetry::register(
        IntGaugeVec::new(
            Opts::new(
                "outbox_relay_leader",
                "1 when this process is the active relay",
            ),
            &["service"],
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
    /// Rows published per round trip.
    pub batch: i64,
    /// How long published rows are kept (for inspection) before they are pruned.
    pub keep_published: Duration,
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
        Self {
            service,
            pool,
            jetstream,
            streams,
            batch: 256,
            keep_published: Duration::from_secs(3600),
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
            LEADER.with_label_values(&[self.service]).set(0);
            if let Err(e) = result {
                tracing::warn!(service = self.service, error = %format!("{e:#}"), "outbox relay interrupted; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut stop => break,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        LEADER.with_label_values(&[self.service]).set(0);
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
        LEADER.with_label_values(&[self.service]).set(1);
        tracing::info!(service = self.service, "outbox relay is active");

        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&format!("outbox_{schema}")).await?;

        let mut streams_ready = false;
        let mut backoff = BACKOFF_MIN;
        let mut last_prune = Instant::now() - Duration::from_secs(3600);
        loop {
            if !streams_ready {
                match self.ensure_streams().await {
                    Ok(()) => streams_ready = true,
                    Err(e) => {
                        tracing::warn!(service = self.service, error = %format!("{e:#}"), "cannot create streams yet");
                        FAILURES.with_label_values(&[self.service]).inc();
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
            if last_prune.elapsed() > Duration::from_secs(60) {
                self.prune().await?;
                last_prune = Instant::now();
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
            ensure_stream(&self.jetstream, *s).await?;
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
            let mut msg = PublishMessage::build()
                .payload(payload.into_bytes().into())
                .message_id(id.to_string());
            if let Some(tp) = traceparent {
                msg = msg.header("traceparent", tp.as_str());
            }
            match self.jetstream.send_publish(subject, msg).await {
                Ok(ack) => pending.push((seq, ack)),
                Err(e) => {
                    tracing::warn!(service = self.service, error = %e, "publish failed");
                    trouble = true;
                    break;
                }
            }
        }
        let mut acked = Vec::with_capacity(pending.len());
        for (seq, ack) in pending {
            match ack.await {
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
            PUBLISHED.with_label_values(&[self.service]).inc_by(marked);
        }
        if trouble {
            FAILURES.with_label_values(&[self.service]).inc();
            return Ok(Round::NatsTrouble);
        }
        Ok(if full { Round::More } else { Round::Drained })
    }

    async fn prune(&self) -> anyhow::Result<()> {
        let keep = self.keep_published.as_secs_f64();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)")
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_backlog(&self) {
        if let Ok(n) =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&self.pool)
                .await
        {
            BACKLOG.with_label_values(&[self.service]).set(n);
        }
    }
}
