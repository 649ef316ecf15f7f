//! Retention: rows a service keeps for a while and then forgets (published outbox rows, the
//! order service's idempotency keys, …), deleted a bounded batch at a time by an index, so no
//! statement holds its locks or a connection for long however much has piled up, with a pause
//! between batches so the requests' own writes go first ([`pause_after`]: a job is busy at
//! most a fifth of the time, less when the database is slow). Every replica may run it at
//! once: a batch skips the rows another one is deleting.

use std::time::Duration;

use sqlx::PgPool;

/// Rows per statement.
pub const BATCH: i64 = 2_000;
/// Between two statements, at least.
pub const PAUSE: Duration = Duration::from_millis(50);
/// A background job rests this many times as long as its last statement took.
pub const REST_PER_WORK: u32 = 4;
/// How long published outbox rows are kept (for inspection) before they go.
pub const KEEP_PUBLISHED: Duration = Duration::from_secs(3600);

/// Runs `delete` (a statement whose `$1` is the batch size and which takes at most that many
/// rows: `DELETE … WHERE key IN (SELECT key … LIMIT $1 FOR UPDATE SKIP LOCKED)`) until it
/// takes fewer, each in its own short transaction, resting [`pause_after`] each (at least
/// `pause`); the rows deleted.
pub async fn in_batches(
    pool: &PgPool,
    delete: &str,
    batch: i64,
    pause: Duration,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let started = std::time::Instant::now();
        let n = sqlx::query(sqlx::AssertSqlSafe(delete.to_owned()))
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected();
        total += n;
        if n < batch.max(1) as u64 {
            return Ok(total);
        }
        tokio::time::sleep(pause_after(started.elapsed(), pause)).await;
    }
}

/// How long a background job (retention, the auto-cancel) rests after a statement that
/// took `took`: [`REST_PER_WORK`] times that, at least `min`. So a job clearing a backlog
/// keeps one connection busy at most a fifth of the time, and when the requests load the
/// database its statements take longer and it backs off further by itself: under
/// `make bench-scale`'s backlog, a fixed 50 ms pause let the jobs take POST /order/'s p99
/// from 50 to 140 ms.
pub fn pause_after(took: Duration, min: Duration) -> Duration {
    (took * REST_PER_WORK).max(min)
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
