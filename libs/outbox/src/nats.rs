//! The NATS side: a connection that survives NATS being down, the JetStream context the
//! relay publishes with, and the streams it creates.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use events::Stream;

/// Creates `stream` in JetStream if it does not exist yet, on `replicas` servers
/// (idempotent; the relay does it before it publishes, and a durable consumer before it
/// reads). An existing stream keeps its settings.
pub async fn ensure_stream(
    js: &jetstream::Context,
    stream: Stream,
    replicas: usize,
) -> anyhow::Result<()> {
    js.get_or_create_stream(stream::Config {
        name: stream.name.to_owned(),
        subjects: vec![stream.subjects.to_owned()],
        storage: stream::StorageType::File,
        // On a NATS cluster (R=3), a stream outlives the loss of a server.
        num_replicas: replicas,
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
    /// How many servers hold each stream this process creates (NATS_STREAM_REPLICAS).
    pub stream_replicas: usize,
}

impl Nats {
    /// Streams made from here on are kept on `n` servers.
    pub fn stream_replicas(mut self, n: usize) -> Self {
        self.stream_replicas = n;
        self
    }
}

/// Connects to NATS without failing when it is down: the client keeps retrying in the
/// background, and the relay backs off until it is back. `options` carries the credentials
/// and TLS settings (`settings::NatsArgs::connect_options`).
pub async fn connect_nats(
    url: &str,
    options: async_nats::ConnectOptions,
    name: &str,
) -> anyhow::Result<Nats> {
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    let client = options
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
        .connect(servers(url)?)
        .await?;
    Ok(Nats {
        client,
        connections: rx,
        stream_replicas: 1,
    })
}

/// The servers of a `NATS_URL`: one URL, or several separated by commas (a cluster's).
pub fn servers(url: &str) -> anyhow::Result<Vec<async_nats::ServerAddr>> {
    url.split(',')
        .map(|u| {
            u.trim()
                .parse::<async_nats::ServerAddr>()
                .map_err(|e| anyhow::anyhow!("{u:?} is not a NATS URL: {e}"))
        })
        .collect()
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
