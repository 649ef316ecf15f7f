//! Paying by card through the provider's sandbox: checkout, the browser's approval, confirm.

use std::time::Duration;

use events::PaymentEvent;
use serde_json::{Value, json};

use crate::helpers::{envelope, spawn, spawn_with};

#[tokio::test]
async fn a_card_order_is_paid_once_however_often_it_is_confirmed() {
    let app = spawn().await;
    let kim = app.customer("card_payer").await;
    let order = app.card_order(&kim).await;
    let id = order["order_id"].as_str().unwrap();
    let total = order["total_price"].as_i64().unwrap();

    let checkout = app.checkout(&kim, id).await;
    assert_eq!(checkout["provider"], "tosspayments");
    assert_eq!(checkout["client_key"], harness::TOSS_CLIENT_KEY);
    assert_eq!(
        checkout["order_id"], id,
        "the provider's orderId is the order's id"
    );
    assert_eq!(checkout["amount"], total);
    assert_eq!(
        checkout["order_name"],
        "The Barbecue Chicken Pizza L 외 1건"
    );
    let customer_key = checkout["customer_key"].as_str().unwrap();
    assert!(
        (2..=50).contains(&customer_key.len()) && !customer_key.contains("card_payer"),
        "{customer_key}"
    );
    let success = checkout["success_url"].as_str().unwrap();
    assert!(success.ends_with("?payment=success"), "{success}");
    assert!(
        checkout["fail_url"]
            .as_str()
            .unwrap()
            .ends_with("?payment=fail")
    );

    let approved = app.approve(&checkout).await;
    assert_eq!(approved.amount, total);
    let res = app.confirm(&kim, approved.body()).await;
    assert_eq!(res.status(), 200);
    let paid: Value = res.json().await.unwrap();
    assert_eq!(paid["payment_status"], "PAID");
    assert_eq!(paid["state"], "PAID");
    assert_eq!(paid["amount"], total);
    assert_eq!(paid["payment_key"], approved.payment_key.as_str());

    // The browser sends it again (a reload, a double click): the same answer, no second charge.
    let again = app.confirm(&kim, approved.body()).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["payment_status"], "PAID");
    assert_eq!(again["paid_at"], paid["paid_at"]);
    assert_eq!(app.ledger_count("confirm", id).await, 1, "charged once");

    // The order moves on: PENDING, for the kitchen, PAID.
    app.order_becomes(&kim, id, "PENDING", "PAID").await;
    let completed = app
        .payment_events()
        .await
        .into_iter()
        .filter(|e| matches!(e, PaymentEvent::Completed(c) if c.order_id.to_string() == id))
        .count();
    assert_eq!(completed, 1, "one payment.completed");

    // Paid: no second checkout.
    let (status, _, err) = envelope(
        app.post(&kim, "/payment/checkout/", json!({"order_id": id}))
            .await,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(err["details"]["state"], "PAID");
}

#[tokio::test]
async fn a_changed_amount_confirms_nothing_and_someone_elses_order_is_not_found() {
    let app = spawn().await;
    let kim = app.customer("tamper_kim").await;
    let lee = app.customer("tamper_lee").await;
    let order = app.card_order(&kim).await;
    let id = order["order_id"].as_str().unwrap();
    let checkout = app.checkout(&kim, id).await;
    let approved = app.approve(&checkout).await;

    let mut cheaper = approved.body();
    cheaper["amount"] = json!(approved.amount - 10_000);
    let (status, _, err) = envelope(app.confirm(&kim, cheaper).await).await;
    assert_eq!(status, 422);
    assert_eq!(err["details"]["amount"], approved.amount);
    for bad in [
        json!({"paymentKey": approved.payment_key, "orderId": id, "amount": 1.5}),
        json!({"paymentKey": "", "orderId": id, "amount": approved.amount}),
        json!({"paymentKey": approved.payment_key, "orderId": "ab", "amount": approved.amount}),
        json!({"paymentKey": approved.payment_key, "orderId": id}),
    ] {
        let (status, _, _) = envelope(app.confirm(&kim, bad.clone()).await).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _, _) = envelope(app.confirm(&lee, approved.body()).await).await;
    assert_eq!(status, 404, "another customer's order");
    let (status, _, _) = envelope(
        app.post(&lee, "/payment/checkout/", json!({"order_id": id}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        app.ledger_count("confirm", id).await,
        0,
        "nothing confirmed"
    );
    assert_eq!(
        app.order_of(&kim, id).await["payment_status"],
        "UNPAID",
        "the order is still to pay"
    );

    // The right amount still pays.
    let res = app.confirm(&kim, approved.body()).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_declined_card_leaves_the_order_unpaid_with_the_providers_code() {
    let app = spawn().await;
    let admin = app.member("price_admin", "ADMIN", None).await;
    // The sandbox declines amounts ending in 13 won (README, "Paying").
    let res = app
        .client
        .patch(app.menu.url("/menu/pizzas/hawaiian_m/"))
        .bearer_auth(&admin)
        .json(&json!({"price": 18_613}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let kim = app.customer("declined_kim").await;
    let order = app
        .place(
            &kim,
            json!({"bran_id": "gangnam", "payment_method": "CARD",
                   "items": [{"pizza_id": "hawaiian_m", "quantity": 1}]}),
        )
        .await;
    let id = order["order_id"].as_str().unwrap();
    assert_eq!(order["total_price"], 18_613);
    let approved = app.approve(&app.checkout(&kim, id).await).await;
    let (status, code, err) = envelope(app.confirm(&kim, approved.body()).await).await;
    assert_eq!(status, 402);
    assert_eq!(code, "PAYMENT_FAILED");
    assert_eq!(err["details"]["provider_code"], "REJECT_CARD_PAYMENT");
    assert_eq!(app.ledger_count("confirm", id).await, 0);
    let payment = app.payment_of(&kim, id).await;
    assert_eq!(payment["state"], "UNPAID");
    assert_eq!(payment["failure"]["code"], "REJECT_CARD_PAYMENT");
    let order = app.order_of(&kim, id).await;
    assert_eq!(order["status"], "AWAITING_PAYMENT");
    assert_eq!(order["payment_status"], "UNPAID");
    let failed = testkit::eventually(Duration::from_secs(5), || async {
        app.payment_events()
            .await
            .into_iter()
            .find_map(|e| match e {
                PaymentEvent::Failed(f) if f.order_id.to_string() == id => Some(f),
                _ => None,
            })
    })
    .await
    .expect("payment.failed");
    assert_eq!(failed.code, "REJECT_CARD_PAYMENT");
    // Another try is a new checkout.
    let again = app.checkout(&kim, id).await;
    assert_eq!(again["amount"], 18_613);
}

#[tokio::test]
async fn a_confirm_whose_answer_is_lost_is_reconciled_and_charged_once() {
    let app = spawn().await;
    let kim = app.customer("slow_provider").await;
    let order = app.card_order(&kim).await;
    let id = order["order_id"].as_str().unwrap();
    let approved = app.approve(&app.checkout(&kim, id).await).await;
    // The provider answers after our deadline (1 s in the tests): it does confirm, but the
    // answer is lost.
    app.faults(2_500, 0).await;
    let (status, _, err) = envelope(app.confirm(&kim, approved.body()).await).await;
    assert_eq!(status, 503);
    assert_eq!(err["details"]["state"], "CONFIRMING");
    app.faults(0, 0).await;
    // Reconciled (the provider's webhook, or the reconciler reading the order's payment).
    app.order_becomes(&kim, id, "PENDING", "PAID").await;
    assert_eq!(app.ledger_count("confirm", id).await, 1, "charged once");
    // The browser's retry now gets the payment.
    let res = app.confirm(&kim, approved.body()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.ledger_count("confirm", id).await, 1, "still once");
}

#[tokio::test]
async fn a_refused_read_while_reconciling_never_unpays_a_charged_card() {
    let app = spawn().await;
    // No webhook this time: the reconciler alone learns what happened.
    app.sandbox_post("/sandbox/webhook", json!({"url": "http://127.0.0.1:9/"}))
        .await;
    let kim = app.customer("refused_read").await;
    let order = app.card_order(&kim).await;
    let id = order["order_id"].as_str().unwrap();
    let approved = app.approve(&app.checkout(&kim, id).await).await;
    // The confirm's answer is held long past the reconciler's first look (1 s), so that it is
    // the reconciler, not the late answer, that settles the payment, however busy the
    // machine; and the reconciler's read of the order's payment is refused (a 403 that says
    // nothing of the card). Both armed at once, before the confirm: the reconciler may look
    // as soon as the browser's confirm gives up, before this test's next call.
    let refuse = json!({"code": "FORBIDDEN_REQUEST", "path": format!("/orders/{id}")});
    app.sandbox_post(
        "/sandbox/faults",
        json!({"delay_ms": 6_000, "delay_path": "/confirm", "refuse_next": refuse}),
    )
    .await;
    let (status, _, _) = envelope(app.confirm(&kim, approved.body()).await).await;
    assert_eq!(status, 503);
    // The provider did confirm; its answers come at once again (the refusal stays armed
    // until a read takes it).
    let calls = app.sandbox_get("/sandbox/calls").await;
    let refused_already = calls.iter().any(|c| c["status"] == 403);
    let rearm = if refused_already { Value::Null } else { refuse };
    app.sandbox_post(
        "/sandbox/faults",
        json!({"delay_ms": 0, "refuse_next": rearm}),
    )
    .await;
    app.order_becomes(&kim, id, "PENDING", "PAID").await;
    let calls = app.sandbox_get("/sandbox/calls").await;
    assert!(
        calls.iter().any(|c| c["status"] == 403
            && c["path"]
                .as_str()
                .is_some_and(|p| p.ends_with(&format!("/orders/{id}")))),
        "the read was refused: {calls:?}"
    );
    assert_eq!(app.ledger_count("confirm", id).await, 1, "charged once");
    let failed = app
        .payment_events()
        .await
        .into_iter()
        .filter(|e| matches!(e, PaymentEvent::Failed(f) if f.order_id.to_string() == id))
        .count();
    assert_eq!(failed, 0, "never reported as refused");
}

#[tokio::test]
async fn a_forged_provider_webhook_pays_nothing() {
    let app = spawn().await;
    let kim = app.customer("forged_webhook").await;
    let order = app.card_order(&kim).await;
    let id = order["order_id"].as_str().unwrap();
    app.payment_known(&kim, id).await;
    for data in [
        json!({"paymentKey": "tsbxforged0000", "orderId": id, "status": "DONE", "totalAmount": order["total_price"]}),
        json!({"orderId": id, "status": "DONE"}),
    ] {
        let res = app
            .client
            .post(app.payment.url("/payment/webhooks/tosspayments/"))
            .json(&json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-12-02T10:00:00+09:00", "data": data}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "taken, and checked with the provider");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.payment_of(&kim, id).await["state"], "UNPAID");
    assert_eq!(app.order_of(&kim, id).await["payment_status"], "UNPAID");
}

#[tokio::test]
async fn an_order_not_paid_in_time_is_cancelled_and_can_no_longer_be_paid() {
    let app = spawn_with(Duration::from_secs(3)).await;
    let kim = app.customer("too_late").await;
    let order = app.card_order(&kim).await;
    let id = order["order_id"].as_str().unwrap();
    let approved = app.approve(&app.checkout(&kim, id).await).await;
    app.order_becomes(&kim, id, "CANCELLED", "UNPAID").await;
    let voided = testkit::eventually(Duration::from_secs(5), || async {
        (app.payment_of(&kim, id).await["state"] == "VOID").then_some(())
    })
    .await;
    assert!(voided.is_some(), "the payment service learnt of it");
    let (status, _, err) = envelope(app.confirm(&kim, approved.body()).await).await;
    assert_eq!(status, 409);
    assert_eq!(err["details"]["state"], "VOID");
    assert_eq!(app.ledger_count("confirm", id).await, 0, "nothing charged");
}
