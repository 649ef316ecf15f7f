//! Writes that must finish once begun (ARCHITECTURE.md, "Cancel-safe writes").

use std::{
    future::Future,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

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
