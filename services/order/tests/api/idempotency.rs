//! Idempotency-Key: one order per key, retries and duplicates, clients that hang up.

use std::{collections::HashSet, time::Duration};

use crate::helpers::{envelope, spawn, two_pizzas};
use serde_json::{Value, json};

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_make_exactly_one_order() {
    let app = spawn(2).await;
    let token = app.customer("park_double").await;
    let body = two_pizzas();
    let attempts = (0..20).map(|i| app.order(i % 2, &token, &body, Some("double-click-1")));
    let responses = futures::future::join_all(attempts).await;
    let mut ids = HashSet::new();
    for res in responses {
        // The ones that came while the first was being served wait for it and answer the same.
        assert_eq!(res.status(), 201);
        let o: Value = res.json().await.unwrap();
        ids.insert(o["order_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 1);
    assert_eq!(ids.len(), 1, "every 201 names the same order: {ids:?}");

    // Afterwards the same key and body answer the first response again.
    let res = app.order(0, &token, &body, Some("double-click-1")).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    let replay: Value = res.json().await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT order_id::text FROM orders")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(replay["order_id"], stored);
}

/// Sends an order whose write will wait on a lock, and hangs up while it waits. Returns the
/// transaction holding the lock: the write goes on when it ends.
async fn hang_up_while_the_order_is_written(
    app: &crate::helpers::TestApp,
    token: &str,
    body: &Value,
    key: &str,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut blocker = app.db.pool.begin().await.unwrap();
    // The test holds this transaction open on purpose, however slow the machine: lift the
    // role's idle-in-transaction limit for it.
    sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 0")
        .execute(&mut *blocker)
        .await
        .unwrap();
    sqlx::query("LOCK TABLE orders IN EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let gave_up = app
        .client
        .post(app.orders[0].url("/order/"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client hung up before an answer");
    assert!(
        app.waits_on_a_lock("INSERT INTO orders").await,
        "the order's write was under way when the client left"
    );
    blocker
}

#[tokio::test]
async fn an_order_whose_client_hangs_up_mid_write_is_placed_once_and_replayed() {
    let app = spawn(1).await;
    let token = app.customer("hangs_up").await;
    let body = two_pizzas();
    let blocker = hang_up_while_the_order_is_written(&app, &token, &body, "hang-up-1").await;
    blocker.rollback().await.unwrap();

    // The write finished anyway: the order is there once, and the retry gets it back.
    let placed = testkit::eventually(Duration::from_secs(5), || async {
        (app.scalar("SELECT count(*) FROM orders").await == 1).then_some(())
    })
    .await;
    assert!(
        placed.is_some(),
        "the order was written after its client left"
    );
    let res = app.order(0, &token, &body, Some("hang-up-1")).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 1);
    assert_eq!(app.scalar("SELECT count(*) FROM order_detail").await, 2);
    assert_eq!(app.scalar("SELECT count(*) FROM outbox").await, 1);
}

#[tokio::test]
async fn shutdown_waits_for_a_write_whose_client_hung_up() {
    let app = spawn(1).await;
    let token = app.customer("hangs_up_late").await;
    let blocker =
        hang_up_while_the_order_is_written(&app, &token, &two_pizzas(), "hang-up-2").await;
    // SIGTERM now: nobody waits for an answer, but the write has begun.
    app.orders[0].shutdown.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !app.orders[0].task.is_finished(),
        "the replica must not exit while the write is running"
    );
    blocker.rollback().await.unwrap();
    app.orders[0].stop().await;
    assert!(app.orders[0].task.is_finished());
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 1);
}

#[tokio::test]
async fn a_request_cut_off_half_way_leaves_its_key_free_for_the_retry() {
    let app = spawn(1).await;
    let token = app.customer("cut_off").await;
    let body = two_pizzas();
    // The first attempt holds the key in its transaction when its process is killed: the row
    // is never committed. The retry waits for that transaction, then places the order.
    let mut first = app.db.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO idempotency_key (member_id, idem_key, request_hash, state) \
         VALUES ('cut_off', 'cut-1', '\\x00', 'DONE')",
    )
    .execute(&mut *first)
    .await
    .unwrap();
    let (res, ()) = tokio::join!(app.order(0, &token, &body, Some("cut-1")), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        first.rollback().await.unwrap();
    });
    assert_eq!(res.status(), 201);
    assert!(!res.headers().contains_key("idempotent-replayed"));
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 1);

    // A claim the previous version left IN_FLIGHT (it claimed keys before placing): while it
    // is fresh, its pod may still be placing that order during a rolling update, so this is
    // a 409 and nothing is written; a minute later it is taken over.
    sqlx::query(
        "INSERT INTO idempotency_key (member_id, idem_key, request_hash, state) \
         VALUES ('cut_off', 'left-1', '\\x00', 'IN_FLIGHT')",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let res = app.order(0, &token, &body, Some("left-1")).await;
    assert_eq!(envelope(res).await.0, 409);
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 1);
    sqlx::query("UPDATE idempotency_key SET created_at = now() - interval '61 seconds' WHERE idem_key = 'left-1'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let res = app.order(0, &token, &body, Some("left-1")).await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 2);
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused_and_keys_belong_to_their_member() {
    let app = spawn(1).await;
    let a = app.customer("key_owner").await;
    let b = app.customer("key_stranger").await;
    assert_eq!(
        app.order(0, &a, &two_pizzas(), Some("k-1")).await.status(),
        201
    );
    let other = json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_l", "quantity": 3}]});
    let (s, code, _) = envelope(app.order(0, &a, &other, Some("k-1")).await).await;
    assert_eq!((s, code.as_str()), (422, "UNPROCESSABLE"));
    // Another member's identical key is another key.
    let res = app.order(0, &b, &two_pizzas(), Some("k-1")).await;
    assert_eq!(res.status(), 201);
    assert!(!res.headers().contains_key("idempotent-replayed"));
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 2);
    // A failed attempt does not burn the key.
    let bad = json!({"bran_id": "nowhere", "items": [{"pizza_id": "bbq_ckn_l", "quantity": 1}]});
    assert_eq!(app.order(0, &a, &bad, Some("k-2")).await.status(), 422);
    let good = json!({"bran_id": "jamsil", "items": [{"pizza_id": "bbq_ckn_l", "quantity": 1}]});
    assert_eq!(
        app.order(0, &a, &good, Some("k-2")).await.status(),
        201,
        "nothing was written under k-2, so the corrected request may use it"
    );
}

#[tokio::test]
async fn a_key_must_be_visible_ascii_without_spaces_as_documented() {
    let app = spawn(1).await;
    let token = app.customer("key_rules").await;
    let long = "k".repeat(256);
    for bad in [
        "two words",
        "tab\tinside",
        "trailing space \u{21}",
        long.as_str(),
    ] {
        let (s, code, err) = envelope(app.order(0, &token, &two_pizzas(), Some(bad)).await).await;
        assert_eq!(
            (s, code.as_str()),
            (400, "VALIDATION_ERROR"),
            "{bad:?}: {err}"
        );
        assert!(
            err["message"].as_str().unwrap().contains("Idempotency-Key"),
            "{err}"
        );
    }
    // Bytes past ASCII (obs-text) are no key either.
    let res = app
        .client
        .post(app.orders[0].url("/order/"))
        .bearer_auth(&token)
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes("주문-1".as_bytes()).unwrap(),
        )
        .json(&two_pizzas())
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(res).await.0, 400);
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM idempotency_key").await, 0);

    // The whole documented range is a key: 255 characters of ! to ~.
    let full: String = (0x21u8..=0x7e).map(char::from).cycle().take(255).collect();
    assert_eq!(
        app.order(0, &token, &two_pizzas(), Some(&full))
            .await
            .status(),
        201
    );
    let again = app.order(0, &token, &two_pizzas(), Some(&full)).await;
    assert_eq!(again.status(), 201);
    assert!(again.headers().contains_key("idempotent-replayed"));
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 1);
}

#[tokio::test]
async fn keys_are_forgotten_after_a_day_in_bounded_batches_and_recent_ones_kept() {
    let db = testkit::TestDb::new(pizza_order::DB_ROLE, &pizza_order::MIGRATOR)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO idempotency_key (member_id, idem_key, request_hash, state, created_at)
         SELECT 'm' || (g % 100), 'old-' || g, '\\x00', 'DONE', now() - interval '25 hours'
           FROM generate_series(1, 4500) g;
         INSERT INTO idempotency_key (member_id, idem_key, request_hash, state)
         SELECT 'm' || g, 'new-' || g, '\\x00', 'DONE' FROM generate_series(1, 10) g;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // One statement deletes one batch at most.
    let one = sqlx::query(pizza_order::idempotency::PRUNE_SQL)
        .bind(outbox::retention::BATCH)
        .execute(&db.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(one, outbox::retention::BATCH as u64);
    let rest = pizza_order::idempotency::prune(&db.pool).await.unwrap();
    assert_eq!(one + rest, 4500);
    let left: Vec<String> = sqlx::query_scalar("SELECT idem_key FROM idempotency_key")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(left.len(), 10);
    assert!(left.iter().all(|k| k.starts_with("new-")), "{left:?}");
}
