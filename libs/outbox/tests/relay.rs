//! The relay against real PostgreSQL and a private JetStream server.

use std::{collections::HashSet, time::Duration};

use events::{Envelope, Event, Stream};
use outbox::Relay;
use serde::{Deserialize, Serialize};
use testkit::{NatsCluster, NatsServer, TestDb};

/// The relay's own test events, in a stream of their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
enum TestEvent {
    #[serde(rename = "test.happened")]
    Happened { n: i64 },
    #[serde(rename = "test.rolled_back")]
    RolledBack { n: i64 },
}

impl Event for TestEvent {
    const STREAM: Stream = Stream {
        name: "TEST",
        subjects: "test.>",
    };

    fn subject(&self) -> &'static str {
        match self {
            TestEvent::Happened { .. } => "test.happened",
            TestEvent::RolledBack { .. } => "test.rolled_back",
        }
    }
}

const OUTBOX_DDL: &str = "
CREATE TABLE outbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    payload      JSONB NOT NULL,
    traceparent  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;";

async fn setup() -> (TestDb, NatsServer) {
    let db = TestDb::empty("login_svc").await.unwrap();
    sqlx::raw_sql(OUTBOX_DDL).execute(&db.pool).await.unwrap();
    let nats = NatsServer::start().await.unwrap();
    (db, nats)
}

async fn relay(db: &TestDb, nats: &NatsServer) -> Relay {
    let client = outbox::connect_nats(&nats.url(), Default::default(), "relay-test")
        .await
        .unwrap();
    Relay::new(
        "test",
        db.pool.clone(),
        outbox::jetstream(client.client),
        vec![TestEvent::STREAM],
    )
}

/// Writes `n` events, each in its own committed transaction.
async fn write_events(db: &TestDb, from: usize, n: usize) {
    for i in from..from + n {
        let mut tx = db.pool.begin().await.unwrap();
        outbox::enqueue(&mut tx, TestEvent::Happened { n: i as i64 })
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

async fn stream_messages(nats: &NatsServer) -> Vec<(Option<String>, Envelope<TestEvent>)> {
    nats.stream_messages().await
}

async fn wait_for(nats: &NatsServer, n: usize) -> Vec<(Option<String>, Envelope<TestEvent>)> {
    testkit::eventually(Duration::from_secs(20), || async {
        let m = stream_messages(nats).await;
        (m.len() >= n).then_some(m)
    })
    .await
    .unwrap_or_else(|| panic!("fewer than {n} messages reached the stream"))
}

/// Whether every row is marked sent within 10 s.
async fn all_marked(db: &TestDb) -> bool {
    testkit::eventually(Duration::from_secs(10), || async {
        let unsent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&db.pool)
                .await
                .ok()?;
        (unsent == 0).then_some(())
    })
    .await
    .is_some()
}

#[tokio::test]
async fn two_relays_publish_every_event_exactly_once_in_commit_order() {
    let (db, nats) = setup().await;
    let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
    let a = tokio::spawn(relay(&db, &nats).await.run(async move {
        let _ = stopped_a.await;
    }));
    let b = tokio::spawn(relay(&db, &nats).await.run(std::future::pending()));

    write_events(&db, 0, 150).await;
    let msgs = wait_for(&nats, 150).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let msgs_after = stream_messages(&nats).await;
    assert_eq!(msgs_after.len(), 150, "no event published twice");
    let ns: Vec<TestEvent> = msgs.iter().map(|(_, e)| e.event.clone()).collect();
    let want: Vec<TestEvent> = (0..150).map(|n| TestEvent::Happened { n }).collect();
    assert_eq!(ns, want, "commit order kept");
    // The event id is the message id, so JetStream can drop a repeat.
    for (msg_id, e) in &msgs {
        assert_eq!(msg_id.clone(), Some(e.id.to_string()));
    }
    assert!(all_marked(&db).await, "every row marked sent after its ack");

    // Whichever relay was active, stopping one leaves the other to carry on.
    let _ = stop_a.send(());
    a.await.unwrap();
    write_events(&db, 150, 20).await;
    let msgs = wait_for(&nats, 170).await;
    let ids: HashSet<_> = msgs.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), 170);
    b.abort();
}

#[tokio::test]
async fn on_a_three_server_cluster_the_stream_is_kept_on_three_and_outlives_its_leader() {
    let db = TestDb::empty("login_svc").await.unwrap();
    sqlx::raw_sql(OUTBOX_DDL).execute(&db.pool).await.unwrap();
    let mut cluster = NatsCluster::start(3).await.unwrap();
    let client = outbox::connect_nats(&cluster.url(), Default::default(), "relay-test")
        .await
        .unwrap();
    let mut r = Relay::new(
        "test",
        db.pool.clone(),
        outbox::jetstream(client.client.clone()),
        vec![TestEvent::STREAM],
    );
    r.stream_replicas = 3;
    let task = tokio::spawn(r.run(std::future::pending()));
    write_events(&db, 0, 20).await;
    wait_for(&cluster.servers[0], 20).await;

    let js = async_nats::jetstream::new(client.client.clone());
    let info = js
        .get_stream(TestEvent::STREAM.name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.config.num_replicas, 3);
    let placed = info.cluster.expect("clustered");
    assert_eq!(placed.replicas.len(), 2, "a leader and two replicas");

    // The server leading the stream goes: the others elect a leader, keep every event, and
    // the relay carries on.
    let leader: usize = placed.leader.unwrap()[1..].parse().unwrap();
    cluster.servers[leader].stop().await;
    write_events(&db, 20, 10).await;
    let survivor = &cluster.servers[(leader + 1) % 3];
    let msgs = wait_for(survivor, 30).await;
    let ns: Vec<TestEvent> = msgs.iter().map(|(_, e)| e.event.clone()).collect();
    let want: Vec<TestEvent> = (0..30).map(|n| TestEvent::Happened { n }).collect();
    assert_eq!(ns, want, "nothing lost, nothing twice, in commit order");
    assert!(all_marked(&db).await);
    task.abort();
}

#[tokio::test]
async fn retention_deletes_only_rows_published_long_ago_a_bounded_batch_at_a_time() {
    let (db, _nats) = setup().await;
    // 5 100 published two hours ago, 30 published a minute ago, 20 never published (NATS was
    // away) from two hours ago.
    sqlx::raw_sql(
        "INSERT INTO outbox (id, subject, payload, created_at, published_at)
         SELECT gen_random_uuid(), 'test.happened', '{}', now() - interval '2 hours',
                now() - interval '2 hours' FROM generate_series(1, 5100);
         INSERT INTO outbox (id, subject, payload, created_at, published_at)
         SELECT gen_random_uuid(), 'test.happened', '{}', now(), now() - interval '1 minute'
           FROM generate_series(1, 30);
         INSERT INTO outbox (id, subject, payload, created_at)
         SELECT gen_random_uuid(), 'test.happened', '{}', now() - interval '2 hours'
           FROM generate_series(1, 20);",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let sql = outbox::retention::prune_published_sql(outbox::retention::KEEP_PUBLISHED);
    // One statement takes one batch, never more, however much is due.
    let one = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(1000_i64)
        .execute(&db.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(one, 1000);
    let rest = outbox::retention::in_batches(&db.pool, &sql, 1000, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(rest, 4100);
    let (recent, unpublished): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE published_at IS NOT NULL),
                count(*) FILTER (WHERE published_at IS NULL) FROM outbox",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (recent, unpublished),
        (30, 20),
        "what is recent or unsent stays"
    );
    let again = outbox::retention::prune_published(&db.pool, outbox::retention::KEEP_PUBLISHED)
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn delete_where_takes_every_matching_row_of_any_table_in_batches() {
    let (db, _nats) = setup().await;
    sqlx::raw_sql(
        "CREATE TABLE expiring (k TEXT PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL);
         CREATE INDEX expiring_at ON expiring (expires_at);
         INSERT INTO expiring SELECT 'old-' || g, now() - interval '1 minute'
           FROM generate_series(1, 4321) g;
         INSERT INTO expiring SELECT 'live-' || g, now() + interval '1 hour'
           FROM generate_series(1, 17) g;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let n = outbox::retention::delete_where(&db.pool, "expiring", "expires_at < now()")
        .await
        .unwrap();
    assert_eq!(n, 4321, "more than two batches' worth, all of it");
    let left: Vec<String> = sqlx::query_scalar("SELECT k FROM expiring")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(left.len(), 17);
    assert!(left.iter().all(|k| k.starts_with("live-")));
}

#[tokio::test]
async fn a_republished_row_is_dropped_by_the_duplicate_window() {
    let (db, nats) = setup().await;
    let r = tokio::spawn(relay(&db, &nats).await.run(std::future::pending()));
    write_events(&db, 0, 3).await;
    wait_for(&nats, 3).await;
    // As if the ack had been lost after JetStream stored the messages: mark them unsent.
    sqlx::query("UPDATE outbox SET published_at = NULL")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_notify('outbox_' || current_schema(), '')")
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(all_marked(&db).await, "the relay sent the rows again");
    assert_eq!(
        stream_messages(&nats).await.len(),
        3,
        "the stream kept one of each"
    );
    r.abort();
}

#[tokio::test]
async fn an_event_exists_only_if_its_transaction_committed() {
    let (db, nats) = setup().await;
    let r = tokio::spawn(relay(&db, &nats).await.run(std::future::pending()));
    let mut tx = db.pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, TestEvent::RolledBack { n: -1 })
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    write_events(&db, 0, 1).await;
    let msgs = wait_for(&nats, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stream_messages(&nats).await.len(), 1);
    assert_eq!(msgs[0].1.event, TestEvent::Happened { n: 0 });
    r.abort();
}

#[tokio::test]
async fn a_relay_stopped_while_marking_finishes_the_mark() {
    let (db, nats) = setup().await;
    write_events(&db, 0, 3).await;
    // The rows are locked, so the relay's mark will wait once it has published them.
    let mut blocker = db.pool.begin().await.unwrap();
    // The test holds this transaction open on purpose, however slow the machine: lift the
    // role's idle-in-transaction limit for it.
    sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 0")
        .execute(&mut *blocker)
        .await
        .unwrap();
    sqlx::query("SELECT 1 FROM outbox FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = tokio::spawn(relay(&db, &nats).await.run(async move {
        let _ = stopped.await;
    }));
    wait_for(&nats, 3).await;
    let marking = testkit::eventually(Duration::from_secs(10), || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE outbox SET published_at%'",
        )
        .fetch_one(&db.pool)
        .await
        .ok()?;
        (n == 1).then_some(())
    })
    .await;
    assert!(
        marking.is_some(),
        "the relay is marking the rows it published"
    );

    // Shutdown comes while the mark waits; the mark still lands once the rows are free.
    let _ = stop.send(());
    r.await.unwrap();
    blocker.rollback().await.unwrap();
    assert!(all_marked(&db).await, "the published rows are marked sent");
}
