//! The status machine, the staff queue and the auto-cancel.

use std::time::Duration;

use events::{OrderEvent, order::StatusChanged};
use serde_json::{Value, json};

use crate::helpers::{TestApp, envelope, spawn, start_order};

fn one_pizza(bran: &str) -> Value {
    json!({"bran_id": bran, "items": [{"pizza_id": "hawaiian_s", "quantity": 1}]})
}

async fn place(app: &TestApp, token: &str, bran: &str) -> String {
    let o: Value = app
        .order(0, token, &one_pizza(bran), None)
        .await
        .json()
        .await
        .unwrap();
    o["order_id"].as_str().unwrap().to_owned()
}

/// The `order.status_changed` events so far, in order.
async fn status_changes(app: &TestApp) -> Vec<StatusChanged> {
    app.order_events()
        .await
        .into_iter()
        .filter_map(|e| match e {
            OrderEvent::StatusChanged(c) => Some(c),
            _ => None,
        })
        .collect()
}

async fn act(
    app: &TestApp,
    replica: usize,
    token: &str,
    id: &str,
    action: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.orders[replica].url(&format!("/order/{id}/{action}/")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn two_staff_accepting_the_same_order_at_once_one_wins_and_the_other_gets_409() {
    let app = spawn(2).await;
    let customer = app.customer("race_customer").await;
    let s1 = app.token_with("staff_one", "STAFF", None).await;
    let s2 = app.token_with("staff_two", "STAFF", None).await;
    let id = place(&app, &customer, "gangnam").await;
    let body = Some(json!({"estimated_time_minutes": 20}));
    let (a, b) = tokio::join!(
        act(&app, 0, &s1, &id, "accept", body.clone()),
        act(&app, 1, &s2, &id, "accept", body.clone())
    );
    let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![200, 409]);
    let loser = if a.status() == 409 { a } else { b };
    let (_, code, err) = envelope(loser).await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(err["details"]["current_status"], "ACCEPTED");
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM order_status_history WHERE order_id = '{id}'"
        ))
        .await,
        2,
        "PENDING and one ACCEPTED"
    );
}

/// A transaction holding the order's row until it ends. The test holds it open on purpose,
/// however slow the machine: the role's idle-in-transaction limit is lifted for it.
async fn lock_order(app: &TestApp, id: &str) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut blocker = app.db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 0")
        .execute(&mut *blocker)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT 1 FROM orders WHERE order_id = '{id}' FOR UPDATE"
    )))
    .execute(&mut *blocker)
    .await
    .unwrap();
    blocker
}

#[tokio::test]
async fn a_status_change_whose_client_hangs_up_mid_write_still_happens_once() {
    let app = spawn(1).await;
    let customer = app.customer("left_customer").await;
    let staff = app
        .token_with("staff_leaves", "STAFF", Some("gangnam"))
        .await;
    let id = place(&app, &customer, "gangnam").await;
    // The change will wait for this lock on the order, so the staff member's client can give
    // up while it is under way.
    let blocker = lock_order(&app, &id).await;
    let gave_up = app
        .client
        .post(app.orders[0].url(&format!("/order/{id}/accept/")))
        .bearer_auth(&staff)
        .json(&json!({"estimated_time_minutes": 20}))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client hung up before an answer");
    assert!(
        app.waits_on_a_lock("WITH before AS ( SELECT order_id, status, payment_status FROM orders WHERE order_id = $1 AND status = ANY").await,
        "the change was under way when the client left"
    );
    blocker.rollback().await.unwrap();

    // It happened anyway, once: the retry learns it is already accepted.
    let accepted = testkit::eventually(Duration::from_secs(5), || async {
        (app.scalar(&format!(
            "SELECT count(*) FROM orders WHERE order_id = '{id}' AND status = 'ACCEPTED'"
        ))
        .await
            == 1)
            .then_some(())
    })
    .await;
    assert!(
        accepted.is_some(),
        "the order was accepted after the client left"
    );
    let (status, _, err) = envelope(
        act(
            &app,
            0,
            &staff,
            &id,
            "accept",
            Some(json!({"estimated_time_minutes": 20})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(err["details"]["current_status"], "ACCEPTED");
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM order_status_history WHERE order_id = '{id}'"
        ))
        .await,
        2,
        "PENDING, then ACCEPTED once"
    );
}

#[tokio::test]
async fn a_change_stuck_behind_a_lock_is_refused_after_two_seconds_and_changes_nothing() {
    let app = spawn(1).await;
    let customer = app.customer("stuck_customer").await;
    let staff = app
        .token_with("staff_stuck", "STAFF", Some("gangnam"))
        .await;
    let id = place(&app, &customer, "gangnam").await;
    // Something holds the order's row far longer than any request should wait.
    let blocker = lock_order(&app, &id).await;
    let started = std::time::Instant::now();
    let (status, code, _) = envelope(
        act(
            &app,
            0,
            &staff,
            &id,
            "accept",
            Some(json!({"estimated_time_minutes": 20})),
        )
        .await,
    )
    .await;
    let took = started.elapsed();
    // The role's statement_timeout (2 s) cancels the wait: the connection goes back to the
    // pool and the staff member is told to retry, well before the 10 s request timeout.
    assert_eq!((status, code.as_str()), (503, "SERVICE_UNAVAILABLE"));
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "answered after {took:?}"
    );
    blocker.rollback().await.unwrap();
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM orders WHERE order_id = '{id}' AND status = 'PENDING'"
        ))
        .await,
        1,
        "the order is unchanged"
    );
    // Once the lock is gone, the retry goes through.
    let retry = act(
        &app,
        0,
        &staff,
        &id,
        "accept",
        Some(json!({"estimated_time_minutes": 20})),
    )
    .await;
    assert_eq!(retry.status(), 200);
}

#[tokio::test]
async fn only_legal_transitions_by_the_right_people_happen() {
    let app = spawn(1).await;
    let alice = app.customer("alice_flow").await;
    let bob = app.customer("bob_flow").await;
    let staff = app.token_with("staff_flow", "STAFF", Some("gangnam")).await;
    let elsewhere = app.token_with("staff_far", "STAFF", Some("haeundae")).await;
    let id = place(&app, &alice, "gangnam").await;

    let (s, code, _) = envelope(
        act(
            &app,
            0,
            &alice,
            &id,
            "accept",
            Some(json!({"estimated_time_minutes": 10})),
        )
        .await,
    )
    .await;
    assert_eq!((s, code.as_str()), (403, "FORBIDDEN"));
    let (s, _, err) = envelope(act(&app, 0, &staff, &id, "complete", None).await).await;
    assert_eq!(
        (s, err["details"]["current_status"].as_str()),
        (409, Some("PENDING"))
    );
    let (s, _, _) = envelope(
        act(
            &app,
            0,
            &elsewhere,
            &id,
            "accept",
            Some(json!({"estimated_time_minutes": 10})),
        )
        .await,
    )
    .await;
    assert_eq!(s, 404, "another branch's staff does not see it");
    let (s, _, _) = envelope(act(&app, 0, &bob, &id, "cancel", None).await).await;
    assert_eq!(s, 404, "another customer cannot cancel it");
    for bad in [
        json!({"estimated_time_minutes": 0}),
        json!({"estimated_time_minutes": 181}),
        json!({}),
    ] {
        let (s, _, _) = envelope(act(&app, 0, &staff, &id, "accept", Some(bad)).await).await;
        assert_eq!(s, 400);
    }

    let res = act(
        &app,
        0,
        &staff,
        &id,
        "accept",
        Some(json!({"estimated_time_minutes": 25})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["status"], "ACCEPTED");
    assert!(
        o["estimated_ready_at"]
            .as_str()
            .unwrap()
            .ends_with("+09:00")
    );
    let (s, _, err) = envelope(act(&app, 0, &alice, &id, "cancel", None).await).await;
    assert_eq!(
        (s, err["details"]["current_status"].as_str()),
        (409, Some("ACCEPTED")),
        "no cancel after acceptance"
    );
    assert_eq!(act(&app, 0, &staff, &id, "ready", None).await.status(), 200);
    let done: Value = act(&app, 0, &staff, &id, "complete", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "COMPLETED");

    // Reject needs a reason; cancel is the customer's own.
    let r = place(&app, &alice, "gangnam").await;
    let (s, _, _) =
        envelope(act(&app, 0, &staff, &r, "reject", Some(json!({"reason": "  "}))).await).await;
    assert_eq!(s, 400);
    let rejected: Value = act(
        &app,
        0,
        &staff,
        &r,
        "reject",
        Some(json!({"reason": "out of dough"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (
            rejected["status"].as_str(),
            rejected["reject_reason"].as_str()
        ),
        (Some("REJECTED"), Some("out of dough"))
    );
    let c = place(&app, &alice, "gangnam").await;
    let cancelled: Value = act(&app, 0, &alice, &c, "cancel", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "CANCELLED");

    let history: Vec<(String, String)> = sqlx::query_as(
        "SELECT status, changed_by FROM order_status_history WHERE order_id = $1::uuid ORDER BY version",
    )
    .bind(&id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let statuses: Vec<&str> = history.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(statuses, ["PENDING", "ACCEPTED", "READY", "COMPLETED"]);
    assert_eq!(history[1].1, "staff_flow");
    let changed = testkit::eventually(Duration::from_secs(10), || async {
        let c = status_changes(&app).await;
        (c.len() == 5).then_some(c)
    })
    .await
    .expect("one order.status_changed per change");
    let first = &changed[0];
    assert_eq!(first.previous_status, "PENDING");
    assert_eq!(first.status, "ACCEPTED");
    assert!(first.estimated_ready_at.is_some());
}

#[tokio::test]
async fn the_staff_queue_lists_oldest_first_and_respects_branch_bindings() {
    let app = spawn(1).await;
    let customer = app.customer("queue_customer").await;
    let bound = app.token_with("staff_bound", "STAFF", Some("jamsil")).await;
    let admin = app.token_with("admin_queue", "ADMIN", None).await;
    let mut jamsil = vec![];
    for _ in 0..3 {
        jamsil.push(place(&app, &customer, "jamsil").await);
        place(&app, &customer, "hongdae").await;
    }
    let get = |token: &str, query: &str| {
        app.client
            .get(app.orders[0].url(&format!("/order/{query}")))
            .bearer_auth(token)
            .send()
    };
    let (s, code, _) = envelope(get(&customer, "").await.unwrap()).await;
    assert_eq!((s, code.as_str()), (403, "FORBIDDEN"));

    let mine: Vec<Value> = get(&bound, "?status=PENDING")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = mine
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        jamsil.iter().map(String::as_str).collect::<Vec<_>>(),
        "its branch only, oldest first"
    );
    let (s, _, _) = envelope(get(&bound, "?bran_id=hongdae").await.unwrap()).await;
    assert_eq!(s, 403);

    let all: Vec<Value> = get(&admin, "?status=pending")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    let page = get(&admin, "?limit=4").await.unwrap();
    assert!(
        page.headers()["link"]
            .to_str()
            .unwrap()
            .contains("rel=\"next\"")
    );
    let (s, _, _) = envelope(get(&admin, "?status=EATEN").await.unwrap()).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn a_forgotten_pending_order_is_cancelled_exactly_once_with_two_replicas() {
    let app = spawn(0).await;
    let mut app = app;
    for _ in 0..2 {
        let r = start_order(&app.db, &app.nats, &app.login, &app.menu, |c| {
            c.order_pending_timeout = Duration::from_secs(1)
        })
        .await;
        app.wait_live(&r).await;
        app.orders.push(r);
    }
    let customer = app.customer("forgetful").await;
    let ids = [
        place(&app, &customer, "pangyo").await,
        place(&app, &customer, "pangyo").await,
    ];
    let all_cancelled = testkit::eventually(Duration::from_secs(10), || async {
        let n = app
            .scalar("SELECT count(*) FROM orders WHERE status = 'CANCELLED'")
            .await;
        (n == 2).then_some(())
    })
    .await;
    assert!(
        all_cancelled.is_some(),
        "both cancelled by the background task"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for id in ids {
        let n = app
            .scalar(&format!(
                "SELECT count(*) FROM order_status_history WHERE order_id = '{id}' AND status = 'CANCELLED'"
            ))
            .await;
        assert_eq!(n, 1, "cancelled exactly once");
    }
    let changes = testkit::eventually(Duration::from_secs(10), || async {
        let c = status_changes(&app).await;
        (c.len() >= 2).then_some(c)
    })
    .await
    .unwrap();
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| c.status == "CANCELLED"));
}
