//! Refunds: a paid card order that is rejected or cancelled is cancelled at the provider
//! exactly once, however often the provider fails first; a paid transfer goes on the staff's
//! list until they send it back.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, envelope, spawn};

async fn paid_card_order(app: &TestApp, token: &str) -> (String, Value) {
    let order = app.card_order(token).await;
    let id = order["order_id"].as_str().unwrap().to_owned();
    let approved = app.approve(&app.checkout(token, &id).await).await;
    let res = app.confirm(token, approved.body()).await;
    assert_eq!(res.status(), 200);
    app.order_becomes(token, &id, "PENDING", "PAID").await;
    (id, res.json().await.unwrap())
}

#[tokio::test]
async fn a_paid_order_rejected_by_the_shop_is_refunded_once_though_the_provider_fails_twice() {
    let app = spawn().await;
    let kim = app.customer("refund_me").await;
    let staff = app.member("refund_staff", "STAFF", Some("gangnam")).await;
    let (id, paid) = paid_card_order(&app, &kim).await;
    let key = paid["payment_key"].as_str().unwrap().to_owned();

    app.faults(0, 2).await;
    let res = app
        .client
        .post(app.order.url(&format!("/order/{id}/reject/")))
        .bearer_auth(&staff)
        .json(&json!({"reason": "the oven is broken"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.order_becomes(&kim, &id, "REJECTED", "REFUNDED").await;
    assert_eq!(app.ledger_count("cancel", &key).await, 1, "refunded once");
    let payment = app.payment_of(&kim, &id).await;
    assert_eq!(payment["state"], "REFUNDED");
    assert!(payment["refunded_at"].is_string());
    // Nothing more happens later (a redelivery would find it refunded).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.ledger_count("cancel", &key).await, 1);
}

#[tokio::test]
async fn a_paid_order_the_customer_cancels_is_refunded() {
    let app = spawn().await;
    let kim = app.customer("changed_mind").await;
    let (id, paid) = paid_card_order(&app, &kim).await;
    let res = app
        .client
        .post(app.order.url(&format!("/order/{id}/cancel/")))
        .bearer_auth(&kim)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.order_becomes(&kim, &id, "CANCELLED", "REFUNDED").await;
    let key = paid["payment_key"].as_str().unwrap();
    assert_eq!(app.ledger_count("cancel", key).await, 1);
}

#[tokio::test]
async fn a_cancelled_paid_transfer_waits_on_the_staff_list_until_they_send_it_back() {
    let app = spawn().await;
    let kim = app.customer("transfer_back").await;
    let staff = app.member("refund_clerk", "STAFF", Some("gangnam")).await;
    let elsewhere = app.member("other_clerk", "STAFF", Some("hongdae")).await;
    let order = app.transfer_order(&kim, "김환불", "bbq_ckn_l").await;
    let id = order["order_id"].as_str().unwrap();
    let amount = order["total_price"].as_i64().unwrap();
    app.payment_known(&kim, id).await;
    let res = app
        .deposit(
            &json!({"tx_id": "tx-refund-1", "payer_name": "김환불", "amount": amount,
                    "deposited_at": "2026-12-02T12:00:00+09:00"}),
            Some(harness::DEPOSIT_SECRET),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.order_becomes(&kim, id, "PENDING", "PAID").await;
    let res = app
        .client
        .post(app.order.url(&format!("/order/{id}/cancel/")))
        .bearer_auth(&kim)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let due = testkit::eventually(Duration::from_secs(10), || async {
        let due = app.get(&staff, &app.payment.url("/payment/refunds/")).await;
        (due.as_array().unwrap().len() == 1).then_some(due)
    })
    .await
    .expect("the refund shows on the staff list");
    assert_eq!(due[0]["order_id"], id);
    assert_eq!(due[0]["state"], "REFUND_DUE");
    assert_eq!(due[0]["amount"], amount);
    assert_eq!(due[0]["payer_name"], "김환불", "whom to send it back to");
    let other = app
        .get(&elsewhere, &app.payment.url("/payment/refunds/"))
        .await;
    assert_eq!(other, json!([]), "another branch's staff do not see it");
    assert_eq!(app.order_of(&kim, id).await["payment_status"], "PAID");

    let (status, _, _) = envelope(
        app.post(&kim, &format!("/payment/refunds/{id}/done/"), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 403, "customers cannot mark refunds");
    let res = app
        .post(&staff, &format!("/payment/refunds/{id}/done/"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    app.order_becomes(&kim, id, "CANCELLED", "REFUNDED").await;
    let due = app.get(&staff, &app.payment.url("/payment/refunds/")).await;
    assert_eq!(due, json!([]));
    let (status, _, _) = envelope(
        app.post(&staff, &format!("/payment/refunds/{id}/done/"), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 409, "done once");
}

#[tokio::test]
async fn a_refund_the_provider_refuses_goes_on_the_staff_list_until_made_by_hand() {
    let app = spawn().await;
    let kim = app.customer("not_cancelable").await;
    let staff = app.member("refused_staff", "STAFF", Some("gangnam")).await;
    let (id, paid) = paid_card_order(&app, &kim).await;
    let key = paid["payment_key"].as_str().unwrap().to_owned();
    app.refuse_next("NOT_CANCELABLE_PAYMENT", "/cancel").await;
    let res = app
        .client
        .post(app.order.url(&format!("/order/{id}/reject/")))
        .bearer_auth(&staff)
        .json(&json!({"reason": "closing early"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let due = testkit::eventually(Duration::from_secs(10), || async {
        let due = app.get(&staff, &app.payment.url("/payment/refunds/")).await;
        (due.as_array().unwrap().len() == 1).then_some(due)
    })
    .await
    .expect("the refused refund shows on the staff list");
    assert_eq!(due[0]["state"], "REFUND_FAILED");
    assert_eq!(due[0]["method"], "CARD");
    assert_eq!(due[0]["failure"]["code"], "NOT_CANCELABLE_PAYMENT");
    assert_eq!(app.order_of(&kim, &id).await["payment_status"], "PAID");
    // Not retried for ever: it waits for staff.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.ledger_count("cancel", &key).await, 0);
    let res = app
        .post(&staff, &format!("/payment/refunds/{id}/done/"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    app.order_becomes(&kim, &id, "REJECTED", "REFUNDED").await;
}
