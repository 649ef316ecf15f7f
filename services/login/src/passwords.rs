//! Password hashing: argon2id at OWASP parameters (m=19456 KiB, t=2, p=1), off the async
//! runtime, with bounded concurrency.
//!
//! Each hash holds ~19 MiB and a core for tens of milliseconds. They run on a few dedicated
//! threads (one per core by default) fed by a queue: the runtime's workers keep answering
//! other requests, and a burst of logins waits its turn instead of allocating more. Dedicated
//! threads, not tokio's blocking pool: the allocator keeps freed 19 MiB blocks per thread
//! arena, and the blocking pool's many threads made that 500 MiB of RSS under a login
//! benchmark (measured with `make bench`).
//!
//! An unknown member is checked against a dummy hash made at start, so it costs the same
//! time as a wrong password and the two cannot be told apart. Hashes imported from
//! pizza_back are Django's ([`crate::django`]), checked on the same threads, and replaced by
//! argon2id at the member's first successful login.

use std::{
    cell::RefCell,
    sync::{Arc, Mutex, mpsc},
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version, password_hash::phc,
};

use httpkit::{Error, Result};

/// Shortest and longest accepted passwords, in characters. Longer ones are refused, never
/// truncated.
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
    dummy: Arc<str>,
}

/// argon2's defaults are Argon2id v19, m=19456, t=2, p=1 — the OWASP recommendation.
fn hasher() -> Argon2<'static> {
    Argon2::default()
}

impl Passwords {
    /// Starts `concurrency` hashing threads; they end when the last clone is dropped.
    pub fn new(concurrency: usize) -> Self {
        let dummy = hash_blocking("not-a-real-password-only-for-timing")
            .expect("argon2 with default parameters works");
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawn an argon2 thread");
        }
        Self {
            jobs,
            dummy: dummy.into(),
        }
    }

    /// Runs `f` on a hashing thread and waits for it without blocking the runtime.
    async fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> Result<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| Error::Internal(anyhow::anyhow!("the hashing threads are gone")))?;
        rx.await.map_err(|e| Error::Internal(e.into()))
    }

    /// Checks length rules (in characters, not bytes).
    pub fn validate(password: &str, field: &str) -> Result<()> {
        let n = password.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&n) {
            return Err(Error::Validation(format!(
                "{field} must be {MIN_LEN} to {MAX_LEN} characters"
            )));
        }
        Ok(())
    }

    /// Whether a stored hash is one of pizza_back's, to be replaced by argon2id at the
    /// member's next successful login.
    pub fn is_legacy(stored: &str) -> bool {
        // Ours are PHC strings (`$argon2id$…`); Django's start with their hasher's name.
        !stored.starts_with('$')
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || hash_blocking(&password)).await?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no member, so
    /// both cases take the same time. Returns whether the password matched a real hash.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool> {
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy.to_string());
        let ok = self
            .run(move || verify_blocking(password.as_bytes(), &hash))
            .await?;
        Ok(ok && real)
    }
}

thread_local! {
    /// Each hashing thread's argon2 memory (19 MiB at our parameters), kept between hashes.
    /// Allocating and zeroing it for every hash made login ~14% slower per hash than bare
    /// argon2 (memset and page faults in the profile, `make bench`) and left freed blocks in
    /// the allocator's arenas.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// What `PasswordVerifier::verify_password` does — the stored PHC string's algorithm,
/// version, parameters and salt, the output compared in constant time (`phc::Output`'s
/// `PartialEq`) — with this thread's memory instead of a fresh allocation.
/// A hash imported from pizza_back (Django's formats, [`crate::django`]) is checked by its own
/// rules instead.
pub fn verify_blocking(password: &[u8], stored: &str) -> bool {
    if Passwords::is_legacy(stored) {
        return crate::django::verify(password, stored).unwrap_or(false);
    }
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let blocks = params.block_count();
    let mut buffer = [0u8; phc::Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = if blocks <= Params::default().block_count() {
        MEMORY.with_borrow_mut(|memory| {
            if memory.len() < blocks {
                memory.resize(blocks, Block::default());
            }
            argon2.hash_password_into_with_memory(
                password,
                salt.as_ref(),
                out,
                &mut memory[..blocks],
            )
        })
    } else {
        // A bigger hash than ours (Django's argon2 asks 100 MiB): memory for this one only,
        // not kept by the thread for good.
        let mut memory = vec![Block::default(); blocks];
        argon2.hash_password_into_with_memory(password, salt.as_ref(), out, &mut memory)
    };
    computed.is_ok() && phc::Output::new(out).is_ok_and(|o| &o == expected)
}

fn hash_blocking(password: &str) -> Result<String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("argon2: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let p = Passwords::new(2);
        let h = p.hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            p.verify("correct horse battery".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(
            !p.verify("wrong horse battery".into(), Some(h))
                .await
                .unwrap()
        );
        assert!(!p.verify("anything at all".into(), None).await.unwrap());
    }

    /// The memory-reusing verifier says what argon2's own `verify_password` says, for our
    /// hashes, other parameters, other variants, and broken strings.
    #[test]
    fn reusing_memory_verifies_exactly_like_the_crate() {
        use argon2::PasswordVerifier;
        let ours = hash_blocking("correct horse battery").unwrap();
        let small = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(1024, 3, 1, Some(16)).unwrap(),
        )
        .hash_password(b"correct horse battery")
        .unwrap()
        .to_string();
        let tampered = format!("{}A", &ours[..ours.len() - 1]);
        for stored in [
            ours.as_str(),
            small.as_str(),
            tampered.as_str(),
            "$argon2id$v=19$",
            "not a hash",
        ] {
            for pw in ["correct horse battery", "wrong horse battery", ""] {
                let crate_says = Argon2::default()
                    .verify_password(pw.as_bytes(), stored)
                    .is_ok();
                // Twice: the second run reuses the (now dirty) memory of the first.
                for _ in 0..2 {
                    assert_eq!(
                        verify_blocking(pw.as_bytes(), stored),
                        crate_says,
                        "{stored} / {pw}"
                    );
                }
            }
        }
        assert!(verify_blocking(b"correct horse battery", &ours));
        assert!(verify_blocking(b"correct horse battery", &small));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(Passwords::validate("비밀번호비밀번호", "member_pwd").is_ok()); // 8 chars, 24 bytes
        assert!(Passwords::validate("short", "member_pwd").is_err());
        assert!(Passwords::validate(&"x".repeat(129), "member_pwd").is_err());
        assert!(Passwords::validate(&"x".repeat(128), "member_pwd").is_ok());
    }
}
