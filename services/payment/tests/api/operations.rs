//! What operators rely on: the role's isolation, the OpenAPI document, the probes.

use serde_json::Value;

use crate::helpers::spawn;

#[tokio::test]
async fn the_payment_role_cannot_read_or_write_outside_its_schema() {
    let app = spawn().await;
    for sql in [
        "SELECT 1 FROM ordering.orders",
        "UPDATE ordering.orders SET payment_status = 'PAID'",
        "SELECT 1 FROM login.member",
        "CREATE TABLE ordering.intruder (x int)",
        "CREATE TABLE public.intruder (x int)",
    ] {
        let err = sqlx::query(sql).execute(&app.db.pool).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_the_probes_answer() {
    let app = spawn().await;
    let doc: Value = app
        .client
        .get(app.payment.url("/payment/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/payment/checkout/",
        "/payment/confirm/",
        "/payment/orders/{order_id}/",
        "/payment/webhooks/tosspayments/",
        "/payment/webhooks/deposit/",
        "/payment/deposits/",
        "/payment/deposits/{tx_id}/settle/",
        "/payment/refunds/",
        "/payment/refunds/{order_id}/done/",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let health: Value = app
        .client
        .get(app.payment.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let metrics = app
        .client
        .get(app.payment.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("outbox_backlog"), "{metrics}");
}
