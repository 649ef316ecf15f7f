//! Notifications to a webhook: a stand-in receiver (the only fake: it is outside the system).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use serde_json::{Value, json};

use crate::helpers::{spawn, start_order};

#[derive(Clone, Default)]
struct Receiver {
    fail_first: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    /// Accepted notifications by idempotency key (the event id), with their content.
    accepted: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

async fn hook(
    State(r): State<Receiver>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    r.calls.fetch_add(1, Ordering::SeqCst);
    if r.fail_first.load(Ordering::SeqCst) > 0 {
        r.fail_first.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let content = body["content"].as_str().unwrap_or("").to_owned();
    r.accepted
        .lock()
        .unwrap()
        .entry(key)
        .or_default()
        .push(content);
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn every_order_is_notified_exactly_once_despite_a_failing_receiver_and_two_replicas() {
    let receiver = Receiver::default();
    receiver.fail_first.store(3, Ordering::SeqCst);
    let listener = testkit::listener().await;
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app_receiver = receiver.clone();
    tokio::spawn(async move {
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(app_receiver);
        axum::serve(listener, app).await
    });

    let mut app = spawn(0).await;
    for _ in 0..2 {
        let r = start_order(&app.db, &app.nats, &app.login, &app.menu, |c| {
            c.order_webhook_url = Some(url.clone())
        })
        .await;
        app.wait_live(&r).await;
        app.orders.push(r);
    }
    let token = app.customer("notified").await;
    let mut ids = vec![];
    for i in 0..4 {
        let body =
            json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1}]});
        let o: Value = app
            .order(i % 2, &token, &body, None)
            .await
            .json()
            .await
            .unwrap();
        ids.push(o["order_id"].as_str().unwrap().to_owned());
    }
    let all = testkit::eventually(Duration::from_secs(30), || async {
        let n = receiver.accepted.lock().unwrap().len();
        (n == 4).then_some(())
    })
    .await;
    assert!(all.is_some(), "every order notified despite 3 failures");
    // Give redeliveries and the other replica every chance to send a duplicate.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let accepted = receiver.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 4);
    assert!(
        accepted.values().all(|v| v.len() == 1),
        "no event notified twice: {accepted:?}"
    );
    for id in &ids {
        assert!(
            accepted
                .values()
                .flatten()
                .filter(|c| c.contains(id.as_str()))
                .count()
                == 1,
            "order {id} notified once"
        );
    }
    assert!(
        accepted
            .values()
            .flatten()
            .all(|c| c.contains("gangnam") && c.contains("원"))
    );
    assert!(
        receiver.calls.load(Ordering::SeqCst) >= 7,
        "the failures were retried"
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM notification_sent").await,
        4
    );
}
