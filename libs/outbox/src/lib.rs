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
//! CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
//! ```
//!
//! Published rows are kept an hour, then deleted by [`retention::prune_published`], which the
//! service runs beside the relay, never inside its loop.
//!
//! Replicas: only the holder of a PostgreSQL advisory lock (one per schema) relays, so
//! events leave in commit order per service and two replicas never race on a row; the
//! others stand by and take over when the holder's connection goes away. The commit wakes
//! the relay through `NOTIFY outbox_<schema>` (a notification sent inside a transaction is
//! delivered at commit); a slow poll is only the fallback.

use events::{Envelope, Event};
use sqlx::PgConnection;
use uuid::Uuid;

mod nats;
mod queue;
mod relay;
pub mod retention;
mod subscribe;
mod write;

pub use nats::{Nats, connect_nats, ensure_stream, jetstream, nats_state, servers};
pub use queue::{Handled, WorkHandler, WorkQueue, retry_delay};
pub use relay::Relay;
pub use subscribe::{Broadcast, EventHandler};
pub use write::{run_to_completion, writes_finished};

/// The span an event is handled in: a consumer span in the trace of the request that wrote
/// the event (its `traceparent` header, set by the relay's publish span).
pub(crate) fn consumer_span(
    consumer: &str,
    message: &async_nats::Message,
    event_id: Option<Uuid>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "consume",
        otel.name = %format_args!("{} process", message.subject),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.destination.name = %message.subject,
        messaging.consumer.group.name = consumer,
        messaging.message.id = event_id.map(tracing::field::display),
    );
    let traceparent = message
        .headers
        .as_ref()
        .and_then(|h| h.get("traceparent"))
        .map(|v| v.as_str());
    telemetry::adopt_traceparent(&span, traceparent);
    span
}

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
