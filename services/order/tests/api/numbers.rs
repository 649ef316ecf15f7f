//! Order numbers (short, per branch and business day, no gaps, never twice), the customer's
//! request and the message staff accept with.

use std::time::Duration;

use events::OrderEvent;
use serde_json::{Value, json};

use crate::helpers::{TestApp, envelope, spawn};

fn one_pizza(bran_id: &str) -> Value {
    json!({"bran_id": bran_id, "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1}]})
}

async fn numbers(app: &TestApp, bran_id: &str) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT order_number FROM orders WHERE bran_id = $1 AND order_number IS NOT NULL \
         ORDER BY order_number",
    )
    .bind(bran_id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn orders_are_numbered_per_branch_without_gaps_or_twice_across_two_replicas() {
    let app = spawn(2).await;
    let mut tokens = vec![];
    for i in 0..3 {
        tokens.push(app.customer(&format!("numbered_{i}")).await);
    }
    // 30 orders at once at gangnam over both replicas, 10 requests with one key among them,
    // refused orders, and 5 at hongdae.
    let mut sends = vec![];
    for i in 0..30 {
        sends.push((i % 2, i % 3, one_pizza("gangnam"), None));
    }
    for _ in 0..10 {
        sends.push((1, 0, one_pizza("gangnam"), Some("same-key")));
    }
    for i in 0..5 {
        let bad =
            json!({"bran_id": "gangnam", "items": [{"pizza_id": "no_such_pizza", "quantity": 1}]});
        sends.push((i % 2, 1, bad, None));
        sends.push((i % 2, 2, one_pizza("hongdae"), None));
    }
    let answers = futures::future::join_all(sends.iter().map(|(replica, who, body, key)| {
        let app = &app;
        let token = &tokens[*who];
        async move {
            let res = app.order(*replica, token, body, *key).await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    }))
    .await;
    let placed: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, o)| o)
        .collect();
    assert_eq!(placed.len(), 30 + 10 + 5, "the refused ones refused");
    let keyed: Vec<i64> = answers[30..40]
        .iter()
        .map(|(_, o)| o["order_number"].as_i64().unwrap())
        .collect();
    assert!(
        keyed.iter().all(|n| *n == keyed[0]),
        "one key, one order, one number: {keyed:?}"
    );

    assert_eq!(numbers(&app, "gangnam").await, (1..=31).collect::<Vec<_>>());
    assert_eq!(numbers(&app, "hongdae").await, (1..=5).collect::<Vec<_>>());
    // Every answer's number is the stored one.
    for o in placed {
        let n: i32 = sqlx::query_scalar("SELECT order_number FROM orders WHERE order_id = $1")
            .bind(
                o["order_id"]
                    .as_str()
                    .unwrap()
                    .parse::<uuid::Uuid>()
                    .unwrap(),
            )
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(o["order_number"], n);
    }
}

#[tokio::test]
async fn numbers_start_again_at_the_branchs_day_start() {
    let app = spawn(1).await;
    let token = app.customer("night_owl").await;
    let place = || async {
        let o: Value = app
            .order(0, &token, &one_pizza("jamsil"), None)
            .await
            .json()
            .await
            .unwrap();
        o["order_number"].as_i64().unwrap()
    };
    assert_eq!(place().await, 1);
    assert_eq!(place().await, 2);
    // The branch's day starts in a minute: it is still yesterday's business day there.
    sqlx::query(
        "UPDATE branch SET day_start = (now() AT TIME ZONE 'Asia/Seoul' + interval '1 minute')::time \
         WHERE bran_id = 'jamsil'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let before = place().await;
    // It started a minute ago: a new business day, counted from 1.
    sqlx::query(
        "UPDATE branch SET day_start = (now() AT TIME ZONE 'Asia/Seoul' - interval '1 minute')::time \
         WHERE bran_id = 'jamsil'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let after = place().await;
    // Near midnight in Seoul the minute either side lands on other days; the rule is checked
    // below either way.
    let seoul = (chrono::Utc::now() + chrono::Duration::hours(9)).time();
    let near_midnight = seoul < chrono::NaiveTime::from_hms_opt(0, 2, 0).unwrap()
        || seoul > chrono::NaiveTime::from_hms_opt(23, 58, 0).unwrap();
    if !near_midnight {
        assert_eq!(before, 1, "the previous business day is counted on its own");
        assert_eq!(after, 3, "today's count goes on where it was");
    }
    let per_day: Vec<(chrono::NaiveDate, Vec<i32>)> = sqlx::query_as(
        "SELECT business_day, array_agg(order_number ORDER BY order_number) FROM orders \
         WHERE bran_id = 'jamsil' GROUP BY business_day",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    for (day, ns) in &per_day {
        assert_eq!(
            *ns,
            (1..=ns.len() as i32).collect::<Vec<_>>(),
            "{day}: {ns:?}"
        );
    }
}

#[tokio::test]
async fn a_request_goes_to_the_kitchen_and_a_message_comes_back_with_the_time() {
    let app = spawn(1).await;
    let token = app.customer("no_onions").await;
    let staff = app
        .token_with("message_staff", "STAFF", Some("gangnam"))
        .await;
    let mut body = one_pizza("gangnam");
    body["special_requests"] = json!("  양파 빼주세요\n피클 많이  ");
    let res = app.order(0, &token, &body, Some("requests-1")).await;
    assert_eq!(res.status(), 201);
    let placed: Value = res.json().await.unwrap();
    assert_eq!(placed["special_requests"], "양파 빼주세요\n피클 많이");
    let id = placed["order_id"].as_str().unwrap().to_owned();
    // Replayed with its key: the same answer, number included.
    let again: Value = app
        .order(0, &token, &body, Some("requests-1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["order_number"], placed["order_number"]);
    assert_eq!(again["order_id"], placed["order_id"]);

    let queue: Vec<Value> = app
        .client
        .get(app.orders[0].url("/order/?status=PENDING"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seen = queue
        .iter()
        .find(|o| o["order_id"] == id.as_str())
        .expect("on the board");
    assert_eq!(seen["special_requests"], "양파 빼주세요\n피클 많이");
    assert_eq!(seen["order_number"], placed["order_number"]);

    let accepted: Value = app
        .client
        .post(app.orders[0].url(&format!("/order/{id}/accept/")))
        .bearer_auth(&staff)
        .json(&json!({"estimated_time_minutes": 15, "message": "피클 넉넉히 드릴게요"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accepted["accept_message"], "피클 넉넉히 드릴게요");
    let changed = testkit::eventually(Duration::from_secs(5), || async {
        app.order_events().await.into_iter().find_map(|e| match e {
            OrderEvent::StatusChanged(c) if c.order_id.to_string() == id => Some(c),
            _ => None,
        })
    })
    .await
    .expect("order.status_changed");
    assert_eq!(changed.message.as_deref(), Some("피클 넉넉히 드릴게요"));

    // Too long, or a message that is not one line: 400, nothing written.
    let before = app.scalar("SELECT count(*) FROM orders").await;
    let mut long = one_pizza("gangnam");
    long["special_requests"] = json!("가".repeat(201));
    let (status, _, _) = envelope(app.order(0, &token, &long, None).await).await;
    assert_eq!(status, 400);
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, before);
    let other: Value = app
        .order(0, &token, &one_pizza("gangnam"), None)
        .await
        .json()
        .await
        .unwrap();
    let (status, _, _) = envelope(
        app.client
            .post(app.orders[0].url(&format!(
                "/order/{}/accept/",
                other["order_id"].as_str().unwrap()
            )))
            .bearer_auth(&staff)
            .json(&json!({"estimated_time_minutes": 15, "message": "한 줄\n두 줄"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
}
