//! pizza-order against real PostgreSQL, a private NATS server, and real pizza-login and
//! pizza-menu over real gRPC.

mod helpers;
mod live;
mod notify;
mod workflow;

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use events::{CatalogEvent, Envelope, OrderEvent, catalog::CatalogUpdated};
use helpers::{envelope, spawn, start_order};
use serde_json::{Value, json};

fn two_pizzas() -> Value {
    json!({"bran_id": "gangnam", "items": [
        {"pizza_id": "bbq_ckn_l", "quantity": 2},
        {"pizza_id": "hawaiian_m", "quantity": 1}
    ]})
}

#[tokio::test]
async fn an_order_is_priced_by_the_server_and_written_whole() {
    let app = spawn(1).await;
    let token = app.customer("kim_order").await;
    let res = app.order(0, &token, &two_pizzas(), None).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["status"], "PENDING");
    assert_eq!(o["bran_id"], "gangnam");
    assert_eq!(
        o["items"][0],
        json!({"pizza_id": "bbq_ckn_l", "pizza_nm": "The Barbecue Chicken Pizza",
        "size": "L", "quantity": 2, "unit_price": 29000, "line_total": 58000})
    );
    assert_eq!(o["items"][1]["line_total"], 18600);
    assert_eq!(o["total_price"], 58000 + 18600);
    let date = o["date"].as_str().unwrap();
    let time = o["time"].as_str().unwrap();
    assert_eq!((date.len(), time.len()), (10, 8));
    assert!(
        o["created_at"].as_str().unwrap().ends_with("+09:00"),
        "Asia/Seoul"
    );
    assert!(
        o["created_at"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{date}T{time}"))
    );

    let again: Value = app
        .client
        .get(app.orders[0].url(&location))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, o);
    assert_eq!(app.scalar("SELECT count(*) FROM order_detail").await, 2);
    assert_eq!(
        app.scalar("SELECT count(*) FROM order_status_history")
            .await,
        1
    );
}

#[tokio::test]
async fn after_a_price_change_the_next_order_on_either_replica_pays_the_new_price() {
    let app = spawn(2).await;
    let admin = app.token_with("admin_price", "ADMIN", None).await;
    let token = app.customer("lee_price").await;
    let one = json!({"bran_id": "hongdae", "items": [{"pizza_id": "bbq_ckn_l", "quantity": 1}]});
    // Both replicas have the old price cached.
    let mut before = vec![];
    for r in 0..2 {
        let o: Value = app.order(r, &token, &one, None).await.json().await.unwrap();
        assert_eq!(o["items"][0]["unit_price"], 29000);
        before.push(o["order_id"].as_str().unwrap().to_owned());
    }

    app.set_price(&admin, "bbq_ckn_l", json!({"price": 31000}))
        .await;
    let changed = Instant::now();
    for r in 0..2 {
        let priced = testkit::eventually(Duration::from_secs(1), || async {
            let o: Value = app.order(r, &token, &one, None).await.json().await.ok()?;
            (o["items"][0]["unit_price"] == 31000).then_some(())
        })
        .await;
        assert!(
            priced.is_some(),
            "replica {r} priced at the new price within 1 s"
        );
    }
    eprintln!(
        "both replicas on the new price after {:?}",
        changed.elapsed()
    );

    // Orders placed before keep what they paid.
    for id in before {
        let o: Value = app
            .client
            .get(app.orders[0].url(&format!("/order/{id}/")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(o["items"][0]["unit_price"], 29000);
        assert_eq!(o["total_price"], 29000);
    }
}

/// `catalog.updated` reaches the replicas in no particular order: an order replica can hear
/// of a change before the menu replica it asks has. Announcing a version no menu serves yet
/// stands for that moment: the older prices still price the order but are never cached, so
/// the next order asks again instead of keeping the old price for a whole PRICE_CACHE_TTL.
#[tokio::test]
async fn prices_older_than_the_announced_catalog_version_are_not_cached() {
    let app = spawn(1).await;
    let token = app.customer("kim_lagging").await;
    let one = json!({"bran_id": "hongdae", "items": [{"pizza_id": "bbq_ckn_l", "quantity": 1}]});
    let stale = || async {
        let text = app
            .client
            .get(app.orders[0].url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("order_stale_price_replies_total "))
            .map_or(0, |v| v.trim().parse::<i64>().unwrap())
    };
    assert_eq!(app.order(0, &token, &one, None).await.status(), 201);
    assert_eq!(
        stale().await,
        0,
        "replies of the current version are cached"
    );

    let js = async_nats::jetstream::new(app.nats.client().await.unwrap());
    let event = Envelope::new(CatalogEvent::Updated(CatalogUpdated {
        catalog_version: 1_000_000,
        pizza_ids: vec![],
    }));
    let payload = serde_json::to_vec(&event).unwrap();
    js.publish(event.subject(), payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
    let seen = testkit::eventually(Duration::from_secs(2), || async {
        let res = app.order(0, &token, &one, None).await;
        assert_eq!(res.status(), 201, "an older price still prices the order");
        (stale().await >= 1).then_some(())
    })
    .await;
    assert!(
        seen.is_some(),
        "the reply older than the announcement was noticed"
    );
    let before = stale().await;
    let o: Value = app.order(0, &token, &one, None).await.json().await.unwrap();
    assert_eq!(o["items"][0]["unit_price"], 29000);
    assert_eq!(
        stale().await,
        before + 1,
        "and it was not cached: asked again"
    );
}

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
    app: &helpers::TestApp,
    token: &str,
    body: &Value,
    key: &str,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut blocker = app.db.pool.begin().await.unwrap();
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
async fn every_committed_order_has_exactly_one_order_created_event_across_a_nats_outage() {
    let mut app = spawn(1).await;
    let token = app.customer("choi_events").await;
    let body = json!({"bran_id": "pangyo", "items": [{"pizza_id": "hawaiian_s", "quantity": 1}]});
    for _ in 0..5 {
        assert_eq!(app.order(0, &token, &body, None).await.status(), 201);
    }
    app.nats.stop().await;
    for _ in 0..5 {
        assert_eq!(
            app.order(0, &token, &body, None).await.status(),
            201,
            "NATS down never fails an order"
        );
    }
    app.nats.start_again().await.unwrap();
    for _ in 0..5 {
        assert_eq!(app.order(0, &token, &body, None).await.status(), 201);
    }
    let events = testkit::eventually(Duration::from_secs(20), || async {
        let e = app.order_events().await;
        (e.len() >= 15).then_some(e)
    })
    .await
    .expect("15 events in JetStream");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events_now = app.order_events().await;
    assert_eq!(events_now.len(), 15, "no duplicates");
    let mut ids = HashSet::new();
    for e in &events {
        let OrderEvent::Created(c) = e else {
            panic!("only orders were placed: {e:?}");
        };
        assert_eq!(c.status, "PENDING");
        ids.insert(c.order_id);
    }
    let orders: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT order_id FROM orders")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(ids, orders.into_iter().collect::<HashSet<_>>());
}

#[tokio::test]
async fn with_the_menu_down_an_order_fails_fast_with_503_and_writes_nothing() {
    let app = spawn(1).await;
    let token = app.customer("menu_down").await;
    // Prove the token first, so only the menu is missing.
    assert_eq!(
        app.client
            .get(app.orders[0].url("/order/myorder/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.menu.stop().await;
    let started = Instant::now();
    let res = app
        .order(0, &token, &two_pizzas(), Some("while-menu-down"))
        .await;
    let took = started.elapsed();
    let (s, code, _) = envelope(res).await;
    assert_eq!((s, code.as_str()), (503, "SERVICE_UNAVAILABLE"));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM outbox").await, 0);
    assert_eq!(
        app.scalar("SELECT count(*) FROM idempotency_key").await,
        0,
        "the key is free again"
    );
}

#[tokio::test]
async fn with_login_down_verified_tokens_keep_ordering_and_new_ones_get_503() {
    let app = spawn(1).await;
    let known = app.customer("known_one").await;
    let fresh = app.customer("fresh_one").await;
    assert_eq!(
        app.order(0, &known, &two_pizzas(), None).await.status(),
        201
    );
    app.login.stop().await;
    assert_eq!(
        app.order(0, &known, &two_pizzas(), None).await.status(),
        201
    );
    let started = Instant::now();
    let (s, _, _) = envelope(app.order(0, &fresh, &two_pizzas(), None).await).await;
    assert_eq!(s, 503);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn nobody_sees_anyone_elses_order_but_staff_of_its_branch_and_admins() {
    let app = spawn(1).await;
    let a = app.customer("cust_a").await;
    let b = app.customer("cust_b").await;
    let staff_here = app
        .token_with("staff_gangnam", "STAFF", Some("gangnam"))
        .await;
    let staff_there = app
        .token_with("staff_jamsil", "STAFF", Some("jamsil"))
        .await;
    let admin = app.token_with("admin_all", "ADMIN", None).await;
    let o: Value = app
        .order(0, &a, &two_pizzas(), None)
        .await
        .json()
        .await
        .unwrap();
    let url = app.orders[0].url(&format!("/order/{}/", o["order_id"].as_str().unwrap()));
    let status = |t: String| {
        let (c, u) = (app.client.clone(), url.clone());
        async move {
            c.get(u)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(a.clone()).await, 200);
    assert_eq!(
        status(b.clone()).await,
        404,
        "not 403: existence is not revealed"
    );
    assert_eq!(status(staff_there).await, 404);
    assert_eq!(status(staff_here).await, 200);
    assert_eq!(status(admin).await, 200);
    let mine: Vec<Value> = app
        .client
        .get(app.orders[0].url("/order/myorder/"))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine.is_empty());
    let (s, _, _) = envelope(
        app.client
            .get(app.orders[0].url("/order/not-a-uuid/"))
            .bearer_auth(&a)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn bad_orders_are_refused_with_the_envelope_and_write_nothing() {
    let app = spawn(1).await;
    let admin = app.token_with("admin_soldout", "ADMIN", None).await;
    app.set_price(&admin, "the_greek_xxl", json!({"available": false}))
        .await;
    let token = app.customer("bad_orders").await;
    let line = |id: &str, q: i64| json!({"pizza_id": id, "quantity": q});
    let many: Vec<Value> = (0..51).map(|i| line(&format!("p{i}"), 1)).collect();
    let cases = vec![
        (
            json!({"bran_id": "gangnam", "items": [line("no_such_pizza", 1)]}),
            422,
            Some("no_such_pizza"),
        ),
        (
            json!({"bran_id": "gangnam", "items": [line("the_greek_xxl", 1)]}),
            422,
            Some("the_greek_xxl"),
        ),
        (
            json!({"bran_id": "atlantis", "items": [line("bbq_ckn_s", 1)]}),
            422,
            None,
        ),
        (
            json!({"bran_id": "gangnam", "items": [line("bbq_ckn_s", 0)]}),
            400,
            None,
        ),
        (
            json!({"bran_id": "gangnam", "items": [line("bbq_ckn_s", 101)]}),
            400,
            None,
        ),
        (
            json!({"bran_id": "gangnam", "items": [line("bbq_ckn_s", -1)]}),
            400,
            None,
        ),
        (json!({"bran_id": "gangnam", "items": many}), 400, None),
        (json!({"bran_id": "gangnam", "items": []}), 400, None),
        (
            json!({"bran_id": "gangnam", "items": [line("bbq_ckn_s", 1), line("bbq_ckn_s", 2)]}),
            400,
            None,
        ),
        (
            json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_s", "quantity": "2"}]}),
            400,
            None,
        ),
        (json!({"bran_id": "gangnam"}), 400, None),
        (
            json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1.5}]}),
            400,
            None,
        ),
    ];
    for (body, want, names) in cases {
        let (s, code, err) = envelope(app.order(0, &token, &body, None).await).await;
        assert_eq!(s, want, "{body} → {err}");
        if want == 422 {
            assert_eq!(code, "UNPROCESSABLE");
        }
        if let Some(id) = names {
            assert!(err["message"].as_str().unwrap().contains(id), "{err}");
            assert_eq!(err["details"]["pizza_id"], id);
        }
    }
    let raw = app
        .client
        .post(app.orders[0].url("/order/"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"bran_id\": \"gangnam\", \"items\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(raw).await.0, 400);
    let no_token = app
        .client
        .post(app.orders[0].url("/order/"))
        .json(&two_pizzas())
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(no_token).await.0, 401);
    for table in ["orders", "order_detail", "idempotency_key", "outbox"] {
        assert_eq!(
            app.scalar(&format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
}

#[tokio::test]
async fn my_orders_come_newest_first_a_page_at_a_time() {
    let app = spawn(1).await;
    let token = app.customer("many_orders").await;
    let mut placed = vec![];
    for q in 1..=7 {
        let body =
            json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_s", "quantity": q}]});
        let o: Value = app
            .order(0, &token, &body, None)
            .await
            .json()
            .await
            .unwrap();
        placed.push(o["order_id"].as_str().unwrap().to_owned());
    }
    placed.reverse();
    let mut seen = vec![];
    let mut url = app.orders[0].url("/order/myorder/?limit=3");
    let mut pages = 0;
    loop {
        let res = app
            .client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let next = res
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let page: Vec<Value> = res.json().await.unwrap();
        assert!(page.len() <= 3);
        for o in &page {
            assert_eq!(
                o["items"].as_array().unwrap().len(),
                1,
                "each row has its items"
            );
            seen.push(o["order_id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match next {
            Some(link) => {
                assert!(link.ends_with("rel=\"next\""));
                let path = link.trim_start_matches('<').split('>').next().unwrap();
                url = app.orders[0].url(path);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, placed, "newest first, each once");
    let (s, _, _) = envelope(
        app.client
            .get(app.orders[0].url("/order/myorder/?limit=500"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn branches_are_listed_without_a_token() {
    let app = spawn(1).await;
    let b: Vec<Value> = app
        .client
        .get(app.orders[0].url("/order/branch/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b.len(), 5);
    assert!(b.contains(&json!({"bran_id": "gangnam", "bran_nm": "강남점"})));
}

#[tokio::test]
async fn the_order_role_cannot_touch_menu_or_login_tables() {
    let app = spawn(1).await;
    for sql in [
        "SELECT 1 FROM menu.pizza",
        "SELECT 1 FROM login.member",
        "UPDATE menu.pizza SET price = 1",
        "DELETE FROM login.session",
    ] {
        let err = sqlx::query(sql).execute(&app.db.pool).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
    let err = sqlx::query("SELECT 1 FROM ordering.orders")
        .execute(&app.menu_db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"));
}

#[tokio::test]
async fn a_new_replica_prices_from_the_menu_and_serves_the_openapi_document() {
    let app = spawn(0).await;
    let late = start_order(&app.db, &app.nats, &app.login, &app.menu, &[]).await;
    app.wait_live(&late).await;
    let doc: Value = app
        .client
        .get(late.url("/order/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/order/",
        "/order/myorder/",
        "/order/branch/",
        "/order/{order_id}/",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
    // Filters and paging are query parameters (a client generated from the document would
    // otherwise put them in the path), with their bounds.
    for (path, method) in [("/order/", "get"), ("/order/myorder/", "get")] {
        for p in doc["paths"][path][method]["parameters"].as_array().unwrap() {
            assert_eq!(p["in"], "query", "{path} {}", p["name"]);
            if p["name"] == "limit" {
                assert_eq!(
                    (
                        p["schema"]["minimum"].as_i64(),
                        p["schema"]["maximum"].as_i64()
                    ),
                    (Some(1), Some(100))
                );
            }
        }
    }
}
