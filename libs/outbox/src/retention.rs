//! Retention: rows a service keeps for a while and then forgets (published outbox rows, the
//! order service's idempotency keys, …), deleted a bounded batch at a time by an index, so no
//! statement holds its locks or a connection for long however much has piled up, with a pause
//! between batches so the requests' own writes go first. Every replica may run it at once:
//! a batch skips the rows another one is deleting.

use std::time::Duration;

use sqlx::PgPool;

/// Rows per statement.
pub const BATCH: i64 = 2_000;
/// Between two statements.
pub const PAUSE: Duration = Duration::from_millis(50);
/// How long published outbox rows are kept (for inspection) before they go.
pub const KEEP_PUBLISHED: Duration = Duration::from_secs(3600);

/// Runs `delete` (a statement whose `$1` is the batch size and which takes at most that many
/// rows: `DELETE … WHERE key IN (SELECT key … LIMIT $1 FOR UPDATE SKIP LOCKED)`) until it
/// takes fewer, `pause` apart, each in its own short transaction; the rows deleted.
pub async fn in_batches(
    pool: &PgPool,
    delete: &str,
    batch: i64,
    pause: Duration,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let n = sqlx::query(sqlx::AssertSqlSafe(delete.to_owned()))
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected();
        total += n;
        if n < batch.max(1) as u64 {
            return Ok(total);
        }
        tokio::time::sleep(pause).await;
    }
}

/// Deletes the rows of `table` where `cond` holds ([`in_batches`], by their row address: any
/// table, whatever its key). `cond` is ours, never a client's, and should be an index's.
pub async fn delete_where(pool: &PgPool, table: &str, cond: &str) -> sqlx::Result<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
           SELECT ctid FROM {table} WHERE {cond} LIMIT $1 FOR UPDATE SKIP LOCKED))"
    );
    in_batches(pool, &sql, BATCH, PAUSE).await
}

/// The statement that deletes up to `$1` outbox rows published more than `keep` ago, found
/// by `outbox_published`.
pub fn prune_published_sql(keep: Duration) -> String {
    format!(
        "DELETE FROM outbox WHERE seq IN ( \
           SELECT seq FROM outbox \
            WHERE published_at < now() - make_interval(secs => {}) \
            ORDER BY published_at LIMIT $1 FOR UPDATE SKIP LOCKED)",
        keep.as_secs()
    )
}

/// Deletes the outbox rows published more than `keep` ago ([`in_batches`]); off the relay's
/// path, so publishing never waits on it.
pub async fn prune_published(pool: &PgPool, keep: Duration) -> sqlx::Result<u64> {
    in_batches(pool, &prune_published_sql(keep), BATCH, PAUSE).await
}
