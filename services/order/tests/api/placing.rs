//! Placing an order: priced by the server, written whole with its event, bad orders refused.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use crate::helpers::{envelope, spawn, two_pizzas};
use events::{CatalogEvent, Envelope, OrderEvent, catalog::CatalogUpdated};
use serde_json::{Value, json};

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
        "size": "L", "quantity": 2, "unit_price": 29000, "line_total": 58000,
        // Named no options: the house crust, which adds nothing.
        "options": [{"option_id": "crust_original", "name": "오리지널", "price_delta": 0}]})
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
/// stands for that moment: the older prices still price the order but are never kept, so
/// they never stand in for the menu should it go down.
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
        bran_id: None,
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
    let raw = |body: String| {
        app.client
            .post(app.orders[0].url("/order/"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(
        envelope(
            raw("{\"bran_id\": \"gangnam\", \"items\": [".into())
                .await
                .unwrap()
        )
        .await
        .0,
        400
    );
    // A quantity is an integer as written: not an exponent, not a fraction, not a float
    // that rounds to one.
    for q in [
        "1e2",
        "1E0",
        "2.0",
        "100.00000000000001",
        "1.0000000000000001",
        "-0.0",
    ] {
        let body = format!(
            r#"{{"bran_id": "gangnam", "items": [{{"pizza_id": "bbq_ckn_s", "quantity": {q}}}]}}"#
        );
        let (s, _, err) = envelope(raw(body).await.unwrap()).await;
        assert_eq!(s, 400, "quantity {q}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains("integer"),
            "{err}"
        );
    }
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
