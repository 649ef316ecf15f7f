//! One shutdown signal for the HTTP server, the gRPC server and the background tasks.
//!
//! SIGTERM (docs/contract.md §7) moves the process through two phases:
//! 1. **draining** — readiness answers 503 at once (and gRPC health NOT_SERVING) while both
//!    servers keep serving for `SHUTDOWN_DRAIN`, so the endpoints controller and the ingress
//!    move traffic away before anything is refused;
//! 2. **stopping** — the servers stop accepting and finish in-flight requests; background
//!    tasks (the outbox relay) finish their current step and return.
//!
//! Tests hold a [`Shutdown`] and call [`Shutdown::drain`] / [`Shutdown::stop`] directly.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Running,
    Draining,
    Stopping,
}

/// Cheap to clone; every clone sees the same phase.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<Phase>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::channel(Phase::Running).0),
        }
    }

    /// Readiness turns 503; serving goes on.
    pub fn drain(&self) {
        self.tx.send_if_modified(|p| {
            let changed = *p == Phase::Running;
            if changed {
                *p = Phase::Draining;
            }
            changed
        });
    }

    /// Servers stop accepting and finish what is in flight; background tasks return.
    pub fn stop(&self) {
        self.tx.send_replace(Phase::Stopping);
    }

    pub fn is_draining(&self) -> bool {
        *self.tx.borrow() >= Phase::Draining
    }

    pub fn is_stopping(&self) -> bool {
        *self.tx.borrow() >= Phase::Stopping
    }

    /// Resolves once draining has begun.
    pub async fn draining(&self) {
        self.wait_for(Phase::Draining).await
    }

    /// Resolves once the servers should stop.
    pub async fn stopped(&self) {
        self.wait_for(Phase::Stopping).await
    }

    async fn wait_for(&self, phase: Phase) {
        let mut rx = self.tx.subscribe();
        // The sender lives as long as `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(|p| *p >= phase).await;
    }

    /// Drains then stops on SIGTERM or Ctrl-C; a second signal stops at once.
    pub fn on_signals(&self, drain: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!(
                drain_ms = drain.as_millis() as u64,
                "shutdown signal: draining"
            );
            this.drain();
            tokio::select! {
                _ = tokio::time::sleep(drain) => {}
                _ = wait_for_signal() => tracing::warn!("second signal: stopping now"),
            }
            tracing::info!("drain over: stopping servers");
            this.stop();
        });
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
