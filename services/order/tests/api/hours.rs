//! Opening hours and pausing: a branch takes orders within its hours and while not paused,
//! says so in the branch list, refuses an order otherwise with STORE_CLOSED and when it opens
//! again; orders left PENDING at closing time are cancelled, once, with two replicas.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Timelike, Utc};
use events::OrderEvent;
use serde_json::{Value, json};

use crate::helpers::{TestApp, envelope, spawn, start_order};

fn seoul_now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&FixedOffset::east_opt(9 * 3600).unwrap())
}

/// `HH:MM` of Seoul now moved by `minutes`.
fn hhmm(minutes: i64) -> String {
    (seoul_now() + chrono::Duration::minutes(minutes))
        .format("%H:%M")
        .to_string()
}

/// Every day of the week from `opens` to `closes`.
fn every_day(opens: &str, closes: &str) -> Value {
    let days = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    json!({"hours": days.map(|d| json!({"day": d, "opens": opens, "closes": closes}))})
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.orders[0].url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn branch(app: &TestApp, bran_id: &str) -> Value {
    let list: Value = app
        .client
        .get(app.orders[0].url("/order/branch/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|b| b["bran_id"] == bran_id)
        .cloned()
        .expect("the branch is listed")
}

fn one_pizza(bran_id: &str) -> Value {
    json!({"bran_id": bran_id, "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1}]})
}

/// A refusal: its status and the envelope's `error`.
async fn refused(res: reqwest::Response) -> (u16, Value) {
    let (status, _, error) = envelope(res).await;
    (status, error)
}

#[tokio::test]
async fn a_branch_takes_orders_within_its_hours_and_not_while_paused() {
    let app = spawn(1).await;
    let staff = app
        .token_with("hours_staff", "STAFF", Some("gangnam"))
        .await;
    let other = app
        .token_with("hours_other", "STAFF", Some("hongdae"))
        .await;
    let guest = app.customer("hours_guest").await;
    let hours = "/order/branch/gangnam/hours/";
    let pause = "/order/branch/gangnam/pause/";

    // No hours: open around the clock, as before.
    let b = branch(&app, "gangnam").await;
    assert_eq!(b["open_now"], true);
    assert_eq!(b["hours"], json!([]));
    assert!(b.get("closes_at").is_none());

    // Opening in two hours, every day: closed now, and says when it opens.
    let (opens, closes) = (hhmm(120), hhmm(180));
    let res = put(&app, hours, &staff, &every_day(&opens, &closes)).await;
    assert_eq!(res.status(), 200);
    let b = branch(&app, "gangnam").await;
    assert_eq!(b["open_now"], false);
    assert_eq!(b["hours"].as_array().unwrap().len(), 7);
    let opens_at = b["opens_at"].as_str().unwrap().to_owned();
    let at = DateTime::parse_from_rfc3339(&opens_at).unwrap();
    assert_eq!(at.format("%H:%M").to_string(), opens);
    assert!(at > seoul_now() && at < seoul_now() + chrono::Duration::hours(3));

    let before = app.scalar("SELECT count(*) FROM orders").await;
    let (status, err) = refused(app.order(0, &guest, &one_pizza("gangnam"), None).await).await;
    assert_eq!(status, 422);
    assert_eq!(err["code"], "STORE_CLOSED");
    assert_eq!(err["details"]["opens_at"], opens_at.as_str());
    assert_eq!(err["details"]["paused"], false);
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, before);
    // Another branch's hours are its own.
    let res = app.order(0, &guest, &one_pizza("hongdae"), None).await;
    assert_eq!(res.status(), 201);

    // Open now (the opening may run past midnight): orders go through, and it says until when.
    let closes = hhmm(60);
    let res = put(&app, hours, &staff, &every_day(&hhmm(-60), &closes)).await;
    assert_eq!(res.status(), 200);
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["open_now"], true);
    let closes_at = DateTime::parse_from_rfc3339(b["closes_at"].as_str().unwrap()).unwrap();
    assert_eq!(closes_at.format("%H:%M").to_string(), closes);
    assert_eq!(
        app.order(0, &guest, &one_pizza("gangnam"), None)
            .await
            .status(),
        201
    );

    // Paused for half an hour: refused, and back at the pause's end.
    let until = (seoul_now() + chrono::Duration::minutes(30))
        .with_nanosecond(0)
        .unwrap();
    let res = put(
        &app,
        pause,
        &staff,
        &json!({"paused": true, "until": until.to_rfc3339()}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let b: Value = res.json().await.unwrap();
    assert_eq!(
        (b["open_now"].clone(), b["paused"].clone()),
        (json!(false), json!(true))
    );
    let (status, err) = refused(app.order(0, &guest, &one_pizza("gangnam"), None).await).await;
    assert_eq!((status, err["code"].as_str()), (422, Some("STORE_CLOSED")));
    assert_eq!(err["details"]["paused"], true);
    let opens_at = DateTime::parse_from_rfc3339(err["details"]["opens_at"].as_str().unwrap());
    assert_eq!(opens_at.unwrap(), until);
    // Resumed.
    let res = put(&app, pause, &staff, &json!({"paused": false})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["open_now"], true);
    assert_eq!(
        app.order(0, &guest, &one_pizza("gangnam"), None)
            .await
            .status(),
        201
    );
    // Paused until resumed: no time to give.
    put(&app, pause, &staff, &json!({"paused": true})).await;
    let (_, err) = refused(app.order(0, &guest, &one_pizza("gangnam"), None).await).await;
    assert_eq!(err["code"], "STORE_CLOSED");
    assert_eq!(err["details"]["opens_at"], Value::Null);
    put(&app, pause, &staff, &json!({"paused": false})).await;

    // Refused settings change nothing.
    let past = (seoul_now() - chrono::Duration::minutes(1)).to_rfc3339();
    let far = (seoul_now() + chrono::Duration::days(8)).to_rfc3339();
    let twice = json!({"hours": [{"day": "MON", "opens": "11:00", "closes": "22:00"},
                                 {"day": "MON", "opens": "12:00", "closes": "23:00"}]});
    for (who, path, body, status) in [
        (&staff, hours, twice, 422),
        (&staff, hours, every_day("25:00", "22:00"), 400),
        (
            &staff,
            hours,
            json!({"hours": [{"day": "FUN", "opens": "11:00", "closes": "22:00"}]}),
            400,
        ),
        (
            &staff,
            hours,
            json!({"hours": [{"day": "mon", "opens": "11:00", "closes": "22:00"}]}),
            400,
        ),
        (
            &staff,
            pause,
            json!({"paused": true, "until": "tomorrow"}),
            400,
        ),
        (&staff, pause, json!({"paused": true, "until": past}), 422),
        (&staff, pause, json!({"paused": true, "until": far}), 422),
        (
            &staff,
            pause,
            json!({"paused": false, "until": until.to_rfc3339()}),
            422,
        ),
        (&guest, pause, json!({"paused": true}), 403),
        (&other, hours, every_day("11:00", "12:00"), 403),
        (
            &staff,
            "/order/branch/nowhere/hours/",
            every_day("11:00", "12:00"),
            403,
        ),
    ] {
        let (got, err) = refused(put(&app, path, who, &body).await).await;
        assert_eq!(got, status, "{path} {body}: {err}");
    }
    let admin = app.token_with("hours_admin", "ADMIN", None).await;
    let (got, _) = refused(
        put(
            &app,
            "/order/branch/nowhere/hours/",
            &admin,
            &json!({"hours": []}),
        )
        .await,
    )
    .await;
    assert_eq!(got, 404);
    let b = branch(&app, "gangnam").await;
    assert_eq!(b["open_now"], true);
    assert_eq!(b["paused"], false);

    // No hours again: around the clock.
    let b: Value = put(&app, hours, &staff, &json!({"hours": []}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (b["open_now"].clone(), b["hours"].clone()),
        (json!(true), json!([]))
    );
}

#[tokio::test]
async fn orders_left_pending_at_closing_time_are_cancelled_once_with_two_replicas() {
    let mut app = spawn(0).await;
    for _ in 0..2 {
        // A short card timeout makes the sweep run every half second; PENDING orders are
        // never old enough for their own timeout here.
        let replica = start_order(&app.db, &app.nats, &app.login, &app.menu, |c| {
            c.payment_timeout_card = Duration::from_secs(2);
            c.order_pending_timeout = Duration::from_secs(3600);
        })
        .await;
        app.wait_live(&replica).await;
        app.orders.push(replica);
    }
    let staff = app
        .token_with("closing_staff", "STAFF", Some("gangnam"))
        .await;
    let guest = app.customer("closing_guest").await;
    let mut pending = vec![];
    for i in 0..6 {
        let res = app.order(i % 2, &guest, &one_pizza("gangnam"), None).await;
        assert_eq!(res.status(), 201);
        pending.push(
            res.json::<Value>().await.unwrap()["order_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let accepted = pending.pop().unwrap();
    let res = app
        .client
        .post(app.orders[0].url(&format!("/order/{accepted}/accept/")))
        .bearer_auth(&staff)
        .json(&json!({"estimated_time_minutes": 20}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let late = app.order(0, &guest, &one_pizza("hongdae"), None).await;
    let elsewhere = late.json::<Value>().await.unwrap()["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // As if they had been placed two hours ago; then the shop's hours say it closed an hour
    // ago.
    sqlx::query("UPDATE orders SET created_at = created_at - interval '2 hours'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let closed = hhmm(-60);
    let res = put(
        &app,
        "/order/branch/gangnam/hours/",
        &staff,
        &every_day(&hhmm(-180), &closed),
    )
    .await;
    assert_eq!(res.status(), 200);

    let done = testkit::eventually(Duration::from_secs(10), || async {
        let n = app
            .scalar(
                "SELECT count(*) FROM orders WHERE bran_id = 'gangnam' AND status = 'CANCELLED'",
            )
            .await;
        (n == pending.len() as i64).then_some(())
    })
    .await;
    assert!(done.is_some(), "the PENDING orders were cancelled");
    // Both replicas swept a few more times: still once each.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for id in &pending {
        let order: Value = app
            .client
            .get(app.orders[1].url(&format!("/order/{id}/")))
            .bearer_auth(&guest)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(order["status"], "CANCELLED");
        assert_eq!(
            order["reject_reason"],
            format!("the shop closed at {closed}")
        );
        let history = app
            .scalar(&format!(
                "SELECT count(*) FROM order_status_history \
                 WHERE order_id = '{id}' AND status = 'CANCELLED' AND changed_by = 'system:closing'"
            ))
            .await;
        assert_eq!(history, 1, "one cancel of {id}");
    }
    let cancels = app
        .order_events()
        .await
        .into_iter()
        .filter(|e| matches!(e, OrderEvent::StatusChanged(c) if c.status == "CANCELLED"))
        .count();
    assert_eq!(cancels, pending.len(), "one event per cancel");
    for (id, status) in [(&accepted, "ACCEPTED"), (&elsewhere, "PENDING")] {
        let now: String = sqlx::query_scalar("SELECT status FROM orders WHERE order_id = $1::uuid")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(now, status, "only PENDING orders of the closed branch");
    }
}
