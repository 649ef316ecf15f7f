//! A service process from start to exit, the same for login, menu and order.
//!
//! A service's `run` builds its state, then hands [`Lifecycle`] what runs beside its servers —
//! event subscriptions, the outbox relay, periodic jobs, other long tasks — and finally its
//! servers. [`Lifecycle::serve`] serves until the [`Shutdown`] stops, then stops everything in
//! an order that loses nothing:
//!
//! 1. the servers stop accepting and finish the requests in flight (so every write they make
//!    is committed, its outbox row included);
//! 2. subscriptions, jobs and tasks return at their next step (a job run in progress
//!    finishes: nothing is aborted half-way);
//! 3. the relay stops (rows it has not sent go out from another replica or after restart);
//! 4. writes still running on their own tasks ([`outbox::run_to_completion`], their clients
//!    gone) finish, for at most [`WRITES_GRACE`].
//!
//! Each `main` is the other end: parse the configuration ([`settings::parse`]), start
//! [`telemetry`], bind, call the service's `run`, and hand the outcome to
//! [`settings::exit_code`].

use std::{
    future::Future,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use events::{Event, Stream};
use httpkit::{Probes, Shutdown};
use outbox::{Broadcast, Nats};
use settings::{ConfigError, LogArgs};
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// How long an exiting process waits for writes whose clients are gone.
pub const WRITES_GRACE: Duration = Duration::from_secs(10);

/// What runs beside a service's servers, and stops with them.
pub struct Lifecycle {
    name: &'static str,
    db: PgPool,
    nats: Nats,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<()>>,
    relay: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    subscriptions: Vec<(&'static str, Arc<AtomicBool>)>,
}

/// The service's NATS connection as `args` say: the servers, credentials and TLS, and how
/// many servers keep the streams it creates. `name` is the client name the server shows.
pub async fn connect_nats(args: &settings::NatsArgs, name: &str) -> anyhow::Result<Nats> {
    Ok(
        outbox::connect_nats(&args.nats_url, args.connect_options().await?, name)
            .await?
            .stream_replicas(args.nats_stream_replicas.into()),
    )
}

impl Lifecycle {
    /// `name` is the service's (`login`, `menu`, `order`): metrics and logs carry it.
    pub fn new(name: &'static str, db: PgPool, nats: Nats, shutdown: Shutdown) -> Self {
        Self {
            name,
            db,
            nats,
            shutdown,
            tasks: Vec::new(),
            relay: None,
            subscriptions: Vec::new(),
        }
    }

    /// Resolves once the servers are told to stop.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let shutdown = self.shutdown.clone();
        async move { shutdown.stopped().await }
    }

    /// Follows `E`'s stream on this replica until shutdown (every replica sees every event);
    /// `/healthz` reports whether it is live.
    pub fn subscribe<E: Event>(&mut self, subscription: Broadcast<E>) {
        self.subscriptions.push(subscription.health());
        let stopped = self.stopped();
        self.tasks
            .push(tokio::spawn(subscription.run(self.nats.clone(), stopped)));
    }

    /// Acts on `queue`'s events (once across the replicas) until shutdown.
    pub fn work<E: Event>(&mut self, queue: outbox::WorkQueue<E>) {
        let js = outbox::jetstream(self.nats.client.clone());
        let stopped = self.stopped();
        let replicas = self.nats.stream_replicas;
        self.tasks
            .push(tokio::spawn(queue.run(js, replicas, stopped)));
    }

    /// Publishes this service's outbox to `streams` until the servers have stopped.
    pub fn relay(&mut self, streams: Vec<Stream>) {
        let mut relay = outbox::Relay::new(
            self.name,
            self.db.clone(),
            outbox::jetstream(self.nats.client.clone()),
            streams,
        );
        relay.stream_replicas = self.nats.stream_replicas;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relay.run(async move {
            let _ = stopped.await;
        }));
        self.relay = Some((stop, task));
        // Published rows go after an hour, beside the relay (on every replica), never in its
        // loop: publishing does not wait on a delete.
        let pool = self.db.clone();
        self.every(Duration::from_secs(60), move || {
            let pool = pool.clone();
            async move {
                match outbox::retention::prune_published(&pool, outbox::retention::KEEP_PUBLISHED)
                    .await
                {
                    Ok(n) if n > 0 => tracing::debug!(rows = n, "pruned published outbox rows"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "outbox prune failed; will retry"),
                }
            }
        });
    }

    /// Runs `job` now and then every `period` until shutdown. A run that has begun finishes;
    /// the next one does not start.
    pub fn every<F, Fut>(&mut self, period: Duration, mut job: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let stopped = self.stopped();
        self.tasks.push(tokio::spawn(async move {
            tokio::pin!(stopped);
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => job().await,
                    _ = &mut stopped => return,
                }
            }
        }));
    }

    /// A long task of its own (a durable consumer, say), given a future that resolves at
    /// shutdown; it must return soon after.
    pub fn spawn<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stopped = Box::pin(self.stopped());
        self.tasks.push(tokio::spawn(task(stopped)));
    }

    /// The probes for [`httpkit::stack`]: the database, NATS and every subscription so far
    /// (so subscribe before asking).
    pub fn probes(&self) -> Probes {
        let client = self.nats.client.clone();
        Probes {
            service: self.name,
            db: self.db.clone(),
            shutdown: self.shutdown.clone(),
            nats: Some(Arc::new(move || outbox::nats_state(&client))),
            subscriptions: self.subscriptions.clone(),
        }
    }

    /// Serves `http` (and `grpc`) until shutdown, then stops everything else in the order of
    /// the module's docs.
    pub async fn serve(
        self,
        http: (TcpListener, axum::Router),
        grpc: Option<(TcpListener, grpckit::GrpcService)>,
    ) -> anyhow::Result<()> {
        let (http_listener, app) = http;
        tracing::info!(
            http = %http_listener.local_addr()?,
            grpc = ?grpc.as_ref().and_then(|(l, _)| l.local_addr().ok()),
            "pizza-{} serving",
            self.name
        );
        let http = httpkit::serve(http_listener, app, self.shutdown.clone());
        let (http, grpc) = match grpc {
            Some((listener, svc)) => {
                let (h, g) =
                    tokio::join!(http, grpckit::serve(listener, svc, self.shutdown.clone()));
                (h, g.map_err(anyhow::Error::from))
            }
            None => (http.await, Ok(())),
        };
        // The servers are done, so is every request, and what they wrote is committed.
        // Whatever did not see the stop yet sees it now.
        self.shutdown.stop();
        if let Some((stop, task)) = self.relay {
            let _ = stop.send(());
            let _ = task.await;
        }
        outbox::writes_finished(WRITES_GRACE).await;
        for task in self.tasks {
            let _ = task.await;
        }
        http?;
        grpc?;
        tracing::info!("pizza-{} stopped", self.name);
        Ok(())
    }
}

/// `pizza-<service> migrate`: runs `migrator` as the service's role (`DB_USER` if set).
pub async fn migrate(
    service: &'static str,
    role: &str,
    migrator: &sqlx::migrate::Migrator,
    db: settings::DbArgs,
    log: LogArgs,
) -> anyhow::Result<()> {
    let _telemetry = telemetry(service, &log)?;
    db.migrate(role, migrator).await
}

/// Starts JSON logs (and traces) for `service`; a bad `LOG_LEVEL` is a configuration error
/// like any other.
pub fn telemetry(
    service: &'static str,
    log: &LogArgs,
) -> Result<telemetry::TelemetryGuard, ConfigError> {
    telemetry::init(service, &log.log_level).map_err(|e| ConfigError::new(format!("{e:#}")))
}

/// `pizza-<service> import-legacy`: connects as the service's role (without the request
/// path's statement and idle-transaction limits, like a migration) and to pizza_back's
/// database (read only), runs `import` with them and whether this is a dry run, and prints
/// the lines it reports as they come, then its summary.
pub async fn import_legacy<S, F, Fut>(
    role: &str,
    db: &settings::DbArgs,
    source: &settings::LegacySourceArgs,
    import: F,
) -> anyhow::Result<()>
where
    S: std::fmt::Display,
    F: FnOnce(PgPool, PgPool, bool, fn(String)) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<S>>,
{
    use anyhow::Context;
    let target = db
        .pool_options()
        .connect_with(db.migration_options(role)?)
        .await
        .context("cannot connect to the database")?;
    let from = source
        .pool()
        .await
        .context("cannot connect to pizza_back's database (LEGACY_SOURCE_URL)")?;
    fn print(line: String) {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{line}");
    }
    let summary = import(target, from, source.dry_run, print).await?;
    print(summary.to_string());
    Ok(())
}
