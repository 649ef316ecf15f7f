//! Hours, pause and tables travel as `branch.*` events: every replica serves the branch list
//! and the tables' tokens from its cache, and drops its copy when any replica changes them.

use std::time::Duration;

use events::BranchEvent;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

async fn get(app: &TestApp, replica: usize, path: &str) -> reqwest::Response {
    app.client
        .get(app.orders[replica].url(path))
        .send()
        .await
        .unwrap()
}

async fn gangnam_on(app: &TestApp, replica: usize) -> Value {
    let list: Vec<Value> = get(app, replica, "/order/branch/")
        .await
        .json()
        .await
        .unwrap();
    list.into_iter()
        .find(|b| b["bran_id"] == "gangnam")
        .unwrap()
}

async fn cache_hits(app: &TestApp, replica: usize) -> f64 {
    let text = get(app, replica, "/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("cache_requests_total{cache=\"branches\",result=\"hit\"} "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn branch_events(app: &TestApp) -> Vec<BranchEvent> {
    app.nats
        .events::<BranchEvent>()
        .await
        .into_iter()
        .map(|e| e.event)
        .collect()
}

#[tokio::test]
async fn every_replica_follows_hours_pause_and_tables_changed_on_another() {
    let app = spawn(2).await;
    let staff = app
        .token_with("events_staff", "STAFF", Some("gangnam"))
        .await;
    let send = |method: reqwest::Method, path: &str, body: Value| {
        app.client
            .request(method, app.orders[0].url(path))
            .bearer_auth(&staff)
            .json(&body)
            .send()
    };
    let table: Value = send(
        reqwest::Method::POST,
        "/order/branch/gangnam/table/",
        json!({"label": "7"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let by_token = format!("/order/table/{}/", table["token"].as_str().unwrap());

    // Replica 1 serves both from its cache once it has read them (and the table's own
    // creation event, which drops its copies, has come by).
    let cached = testkit::eventually(Duration::from_secs(2), || async {
        assert_eq!(gangnam_on(&app, 1).await["paused"], false);
        assert_eq!(get(&app, 1, &by_token).await.status(), 200);
        let hits = cache_hits(&app, 1).await;
        gangnam_on(&app, 1).await;
        get(&app, 1, &by_token).await;
        (cache_hits(&app, 1).await == hits + 2.0).then_some(())
    })
    .await;
    assert!(cached.is_some(), "served from the cache");

    // Changed on replica 0: replica 1 follows within a second, each change announced.
    let res = send(
        reqwest::Method::PUT,
        "/order/branch/gangnam/pause/",
        json!({"paused": true}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let paused = testkit::eventually(Duration::from_secs(1), || async {
        (gangnam_on(&app, 1).await["paused"] == true).then_some(())
    })
    .await;
    assert!(paused.is_some(), "replica 1 shows the pause");

    let hours = json!({"hours": [{"day": "MON", "opens": "11:00", "closes": "22:00"}]});
    let res = send(reqwest::Method::PUT, "/order/branch/gangnam/hours/", hours).await;
    assert_eq!(res.unwrap().status(), 200);
    let followed = testkit::eventually(Duration::from_secs(1), || async {
        (gangnam_on(&app, 1).await["hours"].as_array()?.len() == 1).then_some(())
    })
    .await;
    assert!(followed.is_some(), "replica 1 shows the hours");

    let res = send(
        reqwest::Method::DELETE,
        &format!(
            "/order/branch/gangnam/table/{}/",
            table["table_id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 204);
    let gone = testkit::eventually(Duration::from_secs(1), || async {
        (get(&app, 1, &by_token).await.status() == 404).then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "replica 1 no longer knows the retired table"
    );

    let events = branch_events(&app).await;
    let tables: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            BranchEvent::TableChanged(t) if t.bran_id == "gangnam" && t.label == "7" => {
                Some(t.retired)
            }
            _ => None,
        })
        .collect();
    assert_eq!(tables, [false, true], "created, then retired");
    let updates: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            BranchEvent::Updated(u) if u.bran_id == "gangnam" => Some(u.paused),
            _ => None,
        })
        .collect();
    assert_eq!(
        updates,
        [true, true],
        "the pause, then the hours (still paused)"
    );
}
