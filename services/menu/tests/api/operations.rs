//! What operators rely on: login down, database roles, OpenAPI and gRPC health.

use std::time::{Duration, Instant};

use crate::helpers::{envelope, spawn};
use serde_json::{Value, json};

#[tokio::test]
async fn with_login_down_verified_tokens_keep_working_and_new_ones_get_a_fast_503() {
    let app = spawn(1).await;
    let admin = app.token("admin_kang", "ADMIN").await;
    let admin2 = app.token("admin_seo", "ADMIN").await;
    assert_eq!(
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": 17900}))
            .await
            .status(),
        200
    );

    app.login.shutdown.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while !app.login.task.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    assert_eq!(
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": 18100}))
            .await
            .status(),
        200
    );
    let started = Instant::now();
    let res = app
        .patch(0, &admin2, "bbq_ckn_s", json!({"price": 18200}))
        .await;
    let took = started.elapsed();
    let (s, code, _) = envelope(res).await;
    assert_eq!((s, code.as_str()), (503, "SERVICE_UNAVAILABLE"));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(app.price_on(0, "bbq_ckn_s").await, 18100);
}

#[tokio::test]
async fn each_role_is_refused_the_other_schemas() {
    let app = spawn(1).await;
    let err = sqlx::query("SELECT 1 FROM login.member")
        .execute(&app.db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = sqlx::query("SELECT 1 FROM menu.pizza")
        .execute(&app.login_db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = sqlx::query("UPDATE menu.pizza SET price = 1")
        .execute(&app.login_db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn the_openapi_document_and_grpc_health_are_served() {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let app = spawn(1).await;
    let doc: Value = app
        .client
        .get(app.menus[0].url("/menu/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/menu/",
        "/menu/types/",
        "/menu/get_pizza_id/",
        "/menu/pizzas/",
        "/menu/pizzas/{pizza_id}/",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", app.menus[0].grpc.unwrap()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "pizza.menu.v1.MenuService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, 1);
}
