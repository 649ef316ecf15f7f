//! `Idempotency-Key` on `POST /order/` (docs/contract.md §6): per member, kept 24 h. The same
//! key and request answer the first response again; another request with the key is 422.
//!
//! The key is written only in the transaction that places its order ([`claim`]), with the
//! answer, so a request that dies half-way (its process killed, the database restarted)
//! leaves nothing behind and its retry simply runs again; a concurrent duplicate blocks on the
//! key's row until the first commits, then replays its answer.

use axum::http::HeaderMap;
use httpkit::{Error, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::place::{AskedLine, Payment, Where};

/// A client's key: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// The request's key, if it sent one; a key that is not visible ASCII or too long is 400.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Key>> {
        let Some(v) = headers.get("idempotency-key") else {
            return Ok(None);
        };
        // `^[\x21-\x7E]{1,255}$`, as the OpenAPI document says: no space or tab inside
        // (the HTTP parser already strips them around the value).
        let b = v.as_bytes();
        if !(1..=255).contains(&b.len()) || !b.iter().all(|c| (0x21..=0x7e).contains(c)) {
            return Err(Error::Validation(
                "Idempotency-Key must be 1 to 255 visible ASCII characters, without spaces".into(),
            ));
        }
        let key = String::from_utf8(b.to_vec()).expect("ASCII is UTF-8");
        Ok(Some(Key(key)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The request as understood, in a canonical form (branch, then each pizza and quantity with
/// its options if named, then how it is paid if not at pickup, then the customer's request if
/// any): its hash decides whether a reused key carries the same request. An order paid at
/// pickup without a request or options hashes as it did before any existed, so keys recorded
/// by the previous release still replay.
pub fn request_hash(
    at: &Where,
    lines: &[AskedLine],
    payment: &Payment,
    special_requests: Option<&str>,
) -> Vec<u8> {
    let mut h = Sha256::new();
    // A branch hashes as it did before tables, so keys recorded by the previous release
    // still replay.
    match at {
        Where::Branch(bran_id) => h.update(bran_id.as_bytes()),
        Where::Table(token) => h.update(format!("table:{token}").as_bytes()),
    }
    for l in lines {
        h.update(format!("\n{}:{}", l.pizza_id, l.quantity).as_bytes());
        if let Some(options) = &l.options {
            h.update(format!("[{}]", options.join(",")).as_bytes());
        }
    }
    if payment.method.is_prepaid() {
        h.update(format!("\npay:{}", payment.method.as_str()).as_bytes());
        if let Some(name) = &payment.payer_name {
            h.update(format!("\npayer:{name}").as_bytes());
        }
    }
    if let Some(text) = special_requests {
        h.update(format!("\nrequests:{text}").as_bytes());
    }
    h.finalize().to_vec()
}

/// What a key used before leads to.
pub enum Recorded {
    /// Done before with the same request: answer the same again.
    Replay { status: u16, body: Value },
    /// The key was used with a different request.
    Mismatch,
}

/// What this member's key says about this request, if it was used in the last 24 h.
pub async fn recorded(
    db: &PgPool,
    member_id: &str,
    key: &Key,
    request_hash: &[u8],
) -> Result<Option<Recorded>> {
    let row: Option<(Vec<u8>, Option<i32>, Option<Value>)> = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_key \
         WHERE member_id = $1 AND idem_key = $2 AND state = 'DONE' \
           AND created_at >= now() - interval '24 hours'",
    )
    .bind(member_id)
    .bind(key.as_str())
    .fetch_optional(db)
    .await?;
    match row {
        None => Ok(None),
        Some((hash, _, _)) if hash != request_hash => Ok(Some(Recorded::Mismatch)),
        Some((_, Some(status), Some(body))) => Ok(Some(Recorded::Replay {
            status: status as u16,
            body,
        })),
        Some(_) => Err(Error::Internal(anyhow::anyhow!(
            "idempotency key {} is DONE without its answer",
            key.as_str()
        ))),
    }
}

/// Records `key` with the answer `response` (201) in the caller's transaction; `false`, with
/// nothing written, when another request holds it (its transaction committed first; a
/// concurrent one waits here until that one commits or rolls back).
///
/// A key older than 24 h is forgotten. IN_FLIGHT rows come from an earlier version that
/// claimed keys in their own transaction before placing the order; during a rolling update
/// such a pod may still be pricing, so its claim is taken over only once it is a minute old.
pub async fn claim(
    conn: &mut PgConnection,
    member_id: &str,
    key: &str,
    request_hash: &[u8],
    response: &Value,
) -> Result<bool> {
    let ours: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_key \
           (member_id, idem_key, request_hash, state, response_status, response_body) \
         VALUES ($1, $2, $3, 'DONE', 201, $4) \
         ON CONFLICT (member_id, idem_key) DO UPDATE \
           SET request_hash = EXCLUDED.request_hash, state = 'DONE', \
               response_status = 201, response_body = EXCLUDED.response_body, \
               created_at = now() \
         WHERE idempotency_key.created_at < now() - interval '24 hours' \
            OR (idempotency_key.state = 'IN_FLIGHT' \
                AND idempotency_key.created_at < now() - interval '1 minute') \
         RETURNING true",
    )
    .bind(member_id)
    .bind(key)
    .bind(request_hash)
    .bind(response)
    .fetch_optional(conn)
    .await?;
    Ok(ours.is_some())
}

/// Deletes up to `$1` keys older than 24 h, found by `idempotency_key_created`.
pub const PRUNE_SQL: &str = "DELETE FROM idempotency_key WHERE (member_id, idem_key) IN ( \
       SELECT member_id, idem_key FROM idempotency_key \
        WHERE created_at < now() - interval '24 hours' \
        ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)";

/// Forgets keys after 24 h, a bounded batch at a time (`outbox::retention`).
pub async fn prune(db: &PgPool) -> Result<u64> {
    let batch = outbox::retention::BATCH;
    Ok(outbox::retention::in_batches(db, PRUNE_SQL, batch, outbox::retention::PAUSE).await?)
}
