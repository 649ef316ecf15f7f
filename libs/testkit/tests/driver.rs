//! The PostgreSQL driver as the services use it: a pooled connection must never carry a
//! transaction from one borrower to the next (vendor/README.md).
//!
//! sqlx 0.9.0 as published fails both tests: a `begin()` dropped while `BEGIN` is in flight
//! leaves the session inside a transaction, and the pool lends that session out again, so the
//! next borrower's autocommit write is never committed. A proxy that holds back PostgreSQL's
//! answers widens the window that a client hanging up mid-request hits by chance.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sqlx::{Connection, PgPool, postgres::PgPoolOptions};
use testkit::TestDb;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A TCP proxy to PostgreSQL that delays everything the server sends by [`Proxy::hold`].
struct Proxy {
    port: u16,
    hold_ms: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold_ms = Arc::new(AtomicU64::new(0));
        let hold = hold_ms.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect((upstream.0.as_str(), upstream.1))
                    .await
                    .expect("PostgreSQL behind the proxy");
                let (mut client_rx, mut client_tx) = client.into_split();
                let (mut server_rx, mut server_tx) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
                });
                let hold = hold.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match server_rx.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let ms = hold.load(Ordering::SeqCst);
                        if ms > 0 {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        if client_tx.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Proxy { port, hold_ms }
    }

    fn hold(&self, d: Duration) {
        self.hold_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }
}

/// A test database with a table, and a pool of exactly one connection through a proxy.
async fn one_connection_pool() -> (TestDb, Proxy, PgPool) {
    let db = TestDb::empty("login_svc").await.expect("test database");
    sqlx::query("CREATE TABLE written (n int NOT NULL)")
        .execute(&db.pool)
        .await
        .unwrap();
    let direct = db.options_as("login_svc");
    let proxy = Proxy::start((direct.get_host().to_owned(), direct.get_port())).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(direct.host("127.0.0.1").port(proxy.port))
        .await
        .expect("pool through the proxy");
    (db, proxy, pool)
}

async fn backend_pid(pool: &PgPool) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// What another session sees of `written`: only what was committed.
async fn committed_rows(db: &TestDb) -> i64 {
    let mut other = db.admin().await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM login.written")
        .fetch_one(&mut other)
        .await
        .unwrap()
}

/// The pool's session as the server sees it (`idle`, `idle in transaction`, …).
async fn server_state(db: &TestDb, pid: i32) -> Option<String> {
    let mut other = db.admin().await.unwrap();
    sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
        .bind(pid)
        .fetch_optional(&mut other)
        .await
        .unwrap()
}

/// The next borrower writes outside a transaction of its own and is told it succeeded: the
/// write must be committed (it alone), on the pool's same session, which is left idle.
async fn the_next_write_commits_on_the_same_session(
    db: &TestDb,
    pool: &PgPool,
    pid: i32,
    why: &str,
) {
    sqlx::query("INSERT INTO written VALUES (1)")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(committed_rows(db).await, 1, "{why}");
    assert_eq!(backend_pid(pool).await, pid, "the connection was kept");
    assert_eq!(server_state(db, pid).await.as_deref(), Some("idle"));
}

#[tokio::test]
async fn a_begin_cut_off_in_flight_is_rolled_back_and_the_next_write_commits() {
    let (db, proxy, pool) = one_connection_pool().await;
    let pid = backend_pid(&pool).await;

    // A request's transaction starts; its answer is slow; the client hangs up (the handler's
    // future is dropped) while BEGIN is on the wire.
    let mut conn = pool.acquire().await.unwrap();
    proxy.hold(Duration::from_millis(300));
    let cut_off =
        tokio::time::timeout(Duration::from_millis(50), Connection::begin(&mut *conn)).await;
    assert!(cut_off.is_err(), "the begin was cut off before its answer");
    drop(cut_off);
    proxy.hold(Duration::ZERO);
    drop(conn);

    the_next_write_commits_on_the_same_session(
        &db,
        &pool,
        pid,
        "the write ran inside the abandoned transaction and was never committed",
    )
    .await;
}

#[tokio::test]
async fn the_pool_never_lends_out_a_session_inside_a_transaction_block() {
    let (db, _proxy, pool) = one_connection_pool().await;
    let pid = backend_pid(&pool).await;

    // A block opened behind the driver's back (no `Transaction` knows of it), returned to
    // the pool as it is.
    sqlx::raw_sql("BEGIN; INSERT INTO written VALUES (0)")
        .execute(&pool)
        .await
        .unwrap();

    // The pool ended the block before lending the session out again.
    the_next_write_commits_on_the_same_session(
        &db,
        &pool,
        pid,
        "the next borrower's write must commit, and the abandoned block's must not",
    )
    .await;
}
