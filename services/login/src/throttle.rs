//! Failed-password throttling that an attacker cannot turn against the owner (SECURITY.md,
//! "Guessing passwords").
//!
//! Three counters, each keyed by the account name as typed, lowercased, whether or not the
//! account exists:
//! - **per (account, client address)**: [`FREE_FAILURES`] failures cost nothing, then each
//!   one doubles the wait before the next try from that address (1 s, 2 s, 4 s, … up to
//!   [`MAX_DELAY`]). Guessing from one address slows to a crawl; every other address is
//!   untouched, the owner's included.
//! - **per account, from every address**: at most `LOGIN_FAILURES_PER_HOUR` failures in any
//!   hour (100 at most: OWASP's ceiling for online guessing). Only guessing spread over many
//!   addresses reaches it.
//! - **per device**: a login that succeeds hands out a device token. Presenting it proves
//!   "this device logged in to this account before" and takes the login past both counters
//!   above, so the owner gets in while a distributed attack holds the account at its ceiling.
//!   [`DEVICE_FAILURES`] wrong passwords with one token void it.
//!
//! An attempt is charged to the account before its password is checked ([`admit`]) and
//! refunded if the password was right ([`Admitted::succeeded`]): concurrent guesses cannot
//! slip past the ceiling while their hashes are computed, and a process that dies mid-check
//! counts the attempt as failed. One advisory lock per account name serialises the
//! check-and-charge. The address and the device pay once the password proved wrong
//! ([`Admitted::failed`]).

use std::{net::IpAddr, time::Duration};

use httpkit::Result;
use sqlx::{PgConnection, PgPool};

/// Failures per (account, address) that cost no waiting.
pub const FREE_FAILURES: i32 = 5;
/// The longest wait between two tries from one address.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Wrong passwords that void a device token.
pub const DEVICE_FAILURES: i32 = 5;
/// How long a device token is honoured after it was last used to log in.
pub const DEVICE_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Device tokens kept per member (the oldest go first).
const DEVICES_PER_MEMBER: i64 = 10;
/// The advisory-lock class of login throttling (the first key of the two-key form).
const LOCK_CLASS: i32 = 0x6c6f_6731;

/// The wait after the `failures`-th failure from one address.
pub fn delay_after(failures: i32) -> Duration {
    let over = failures - FREE_FAILURES;
    if over <= 0 {
        return Duration::ZERO;
    }
    let secs = 1u64 << (over - 1).min(20) as u32;
    Duration::from_secs(secs).min(MAX_DELAY)
}

/// The counter key of an account name: names differ by case only in appearance.
pub fn member_key(member_id: &str) -> String {
    member_id.to_lowercase()
}

/// The counter key of a client address: IPv4 as is, IPv6 by its /64.
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Which counters an attempt answers to.
pub struct Attempt<'a> {
    pub member_key: &'a str,
    pub client: &'a str,
    /// The SHA-256 of the device token the client presented, if any.
    pub device: Option<&'a [u8]>,
    /// Whether the per-account ceiling applies (not to a signed-in member re-entering its
    /// password: the session is its proof).
    pub ceiling: Option<u32>,
}

/// What [`admit`] decided.
pub enum Admission {
    /// Check the password, then settle with [`Admitted::succeeded`] if it was right.
    Go(Admitted),
    /// Refused before checking anything: try again in this many seconds.
    Wait {
        secs: u64,
        /// The per-account ceiling refused it (not this address's delay).
        account_wide: bool,
    },
}

/// An attempt charged to the account as a failure until it [`succeeded`](Admitted::succeeded);
/// settle it with [`failed`](Admitted::failed) when the password was wrong.
pub struct Admitted {
    attempt_id: i64,
    /// The device token was valid for this account: the charge is on the device.
    pub trusted_device: bool,
}

/// Decides whether an attempt may check a password, and charges it as a failure if so.
pub async fn admit(db: &PgPool, a: &Attempt<'_>) -> Result<Admission> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(LOCK_CLASS)
        .bind(a.member_key)
        .execute(&mut *tx)
        .await?;
    let trusted_device = match a.device {
        Some(hash) => valid_device(&mut tx, hash, a.member_key).await?,
        None => false,
    };
    if !trusted_device {
        if let Some(secs) = address_wait(&mut tx, a).await? {
            return Ok(Admission::Wait {
                secs,
                account_wide: false,
            });
        }
        if let Some(limit) = a.ceiling
            && let Some(secs) = account_wait(&mut tx, a.member_key, limit).await?
        {
            return Ok(Admission::Wait {
                secs,
                account_wide: true,
            });
        }
    }
    let attempt_id: i64 =
        sqlx::query_scalar("INSERT INTO login_attempt (member_key) VALUES ($1) RETURNING id")
            .bind(a.member_key)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(Admission::Go(Admitted {
        attempt_id,
        trusted_device,
    }))
}

impl Admitted {
    /// The password was wrong: the account keeps the attempt as a failure, and the device or
    /// the address pays for it. (Unlike the account's ceiling, these are counted once the
    /// answer is known: charged up front, several right passwords sent at once from one
    /// address would make each other wait. A burst of guesses from one address is bounded
    /// by the per-address request limiter instead.)
    pub async fn failed(self, db: &PgPool, a: &Attempt<'_>) -> Result<()> {
        let mut tx = db.begin().await?;
        if self.trusted_device {
            sqlx::query("UPDATE login_device SET failures = failures + 1 WHERE token_hash = $1")
                .bind(a.device)
                .execute(&mut *tx)
                .await?;
        } else {
            charge_address(&mut tx, a).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The password was right: the attempt is no failure, the address's failures are
    /// forgiven (it knows the password), and the device token, if any, is renewed.
    pub async fn succeeded(self, db: &PgPool, a: &Attempt<'_>) -> Result<()> {
        let mut tx = db.begin().await?;
        sqlx::query("DELETE FROM login_attempt WHERE id = $1")
            .bind(self.attempt_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM login_throttle WHERE member_key = $1 AND client = $2")
            .bind(a.member_key)
            .bind(a.client)
            .execute(&mut *tx)
            .await?;
        if self.trusted_device {
            sqlx::query(
                "UPDATE login_device SET failures = 0, \
                 expires_at = now() + make_interval(secs => $2) WHERE token_hash = $1",
            )
            .bind(a.device)
            .bind(DEVICE_TTL.as_secs_f64())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn valid_device(conn: &mut PgConnection, hash: &[u8], member_key: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM login_device \
         WHERE token_hash = $1 AND lower(member_id) = $2 \
           AND expires_at > now() AND failures < $3)",
    )
    .bind(hash)
    .bind(member_key)
    .bind(DEVICE_FAILURES)
    .fetch_one(conn)
    .await?)
}

/// Seconds until this address may try this account again, if it must wait.
async fn address_wait(conn: &mut PgConnection, a: &Attempt<'_>) -> Result<Option<u64>> {
    let wait: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM blocked_until - now())::float8 FROM login_throttle \
         WHERE member_key = $1 AND client = $2 AND blocked_until > now()",
    )
    .bind(a.member_key)
    .bind(a.client)
    .fetch_optional(conn)
    .await?;
    Ok(wait.map(whole_seconds))
}

/// Seconds until the account is under its hourly ceiling again, if it is at it: when the
/// `limit`-th newest attempt of the last hour leaves the window.
async fn account_wait(
    conn: &mut PgConnection,
    member_key: &str,
    limit: u32,
) -> Result<Option<u64>> {
    let wait: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM at + interval '1 hour' - now())::float8 FROM login_attempt \
         WHERE member_key = $1 AND at > now() - interval '1 hour' \
         ORDER BY at DESC OFFSET $2 LIMIT 1",
    )
    .bind(member_key)
    .bind(i64::from(limit) - 1)
    .fetch_optional(conn)
    .await?;
    Ok(wait.map(whole_seconds))
}

/// Counts a failure against the address (a count older than an hour starts again) and sets
/// the wait before its next try.
async fn charge_address(conn: &mut PgConnection, a: &Attempt<'_>) -> Result<()> {
    let failures: i32 = sqlx::query_scalar(
        "INSERT INTO login_throttle (member_key, client, failures, last_failure, blocked_until) \
         VALUES ($1, $2, 1, now(), now()) \
         ON CONFLICT (member_key, client) DO UPDATE SET \
           failures = CASE WHEN login_throttle.last_failure < now() - interval '1 hour' \
                           THEN 1 ELSE login_throttle.failures + 1 END, \
           last_failure = now() \
         RETURNING failures",
    )
    .bind(a.member_key)
    .bind(a.client)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE login_throttle SET blocked_until = now() + make_interval(secs => $3) \
         WHERE member_key = $1 AND client = $2",
    )
    .bind(a.member_key)
    .bind(a.client)
    .bind(delay_after(failures).as_secs_f64())
    .execute(conn)
    .await?;
    Ok(())
}

fn whole_seconds(secs: f64) -> u64 {
    secs.ceil().max(1.0) as u64
}

/// Remembers a device that just logged in to `member_id`, in the caller's transaction; keeps
/// the member's newest [`DEVICES_PER_MEMBER`].
pub async fn remember_device(
    conn: &mut PgConnection,
    member_id: &str,
    token_hash: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO login_device (token_hash, member_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(token_hash)
    .bind(member_id)
    .bind(DEVICE_TTL.as_secs_f64())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM login_device WHERE member_id = $1 AND token_hash IN ( \
           SELECT token_hash FROM login_device WHERE member_id = $1 \
           ORDER BY issued_at DESC OFFSET $2)",
    )
    .bind(member_id)
    .bind(DEVICES_PER_MEMBER)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_and_double_up_to_the_cap() {
        let waits: Vec<u64> = (1..=20).map(|n| delay_after(n).as_secs()).collect();
        assert_eq!(&waits[..5], &[0, 0, 0, 0, 0]);
        assert_eq!(&waits[5..10], &[1, 2, 4, 8, 16]);
        assert_eq!(waits[14], 512);
        assert!(waits[15..].iter().all(|w| *w == MAX_DELAY.as_secs()));
        assert_eq!(delay_after(i32::MAX), MAX_DELAY);
    }

    #[test]
    fn ipv6_clients_count_by_their_64_prefix() {
        let a = client_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = client_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_ne!(a, client_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            client_key("::ffff:203.0.113.7".parse().unwrap()),
            "203.0.113.7"
        );
        assert_eq!(client_key("203.0.113.7".parse().unwrap()), "203.0.113.7");
    }
}
