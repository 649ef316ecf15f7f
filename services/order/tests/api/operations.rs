//! Dependencies down, database roles, a late replica, the OpenAPI document.

use std::time::{Duration, Instant};

use crate::helpers::{envelope, spawn, start_order, two_pizzas};
use serde_json::Value;

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
    let late = start_order(&app.db, &app.nats, &app.login, &app.menu, |_| {}).await;
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
