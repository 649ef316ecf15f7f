//! The ceiling for `POST /login/`: argon2id verifications per second at the service's
//! parameters (m=19456 KiB, t=2, p=1) on every core, with nothing else in the way.
//! `cargo run --release -p pizza-login --example argon2_ceiling -- SECONDS` prints
//! `{"verifications": N, "seconds": S, "per_second": R, "threads": T}`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::{Argon2, PasswordHasher};
use pizza_login::passwords::verify_blocking;

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hash = Argon2::default()
        .hash_password(b"correct horse battery")
        .expect("hash")
        .to_string();
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (hash, count) = (hash.clone(), count.clone());
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    // The service's own verifier (argon2 memory reused per thread).
                    let ok = verify_blocking(b"correct horse battery", &hash);
                    assert!(ok);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = count.load(Ordering::Relaxed);
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{{\"verifications\": {n}, \"seconds\": {elapsed:.3}, \"per_second\": {:.1}, \"threads\": {threads}}}",
            n as f64 / elapsed
        );
    }
}
