//! Orders paid up front: CARD and TRANSFER orders wait in AWAITING_PAYMENT, out of the
//! kitchen's sight, until the payment service says they are paid. Here the test plays the
//! payment service: it publishes `payment.*` to the test's own NATS, as payment's relay does.

use std::time::Duration;

use chrono::Utc;
use events::{
    OrderEvent, PaymentEvent,
    order::{PaymentMethod, PaymentStatus},
    payment::{PaymentCompleted, PaymentRefunded},
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, envelope, spawn, start_order};

fn card_order() -> Value {
    json!({"bran_id": "gangnam", "payment_method": "CARD", "items": [
        {"pizza_id": "bbq_ckn_l", "quantity": 1}, {"pizza_id": "hawaiian_m", "quantity": 2}
    ]})
}

/// A card order placed (201); its id and total.
async fn place_card(app: &TestApp, token: &str) -> (String, i64) {
    let placed: Value = app
        .order(0, token, &card_order(), None)
        .await
        .json()
        .await
        .unwrap();
    (
        placed["order_id"].as_str().unwrap().to_owned(),
        placed["total_price"].as_i64().unwrap(),
    )
}

async fn get_order(app: &TestApp, token: &str, id: &str) -> Value {
    app.client
        .get(app.orders[0].url(&format!("/order/{id}/")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn queue(app: &TestApp, staff: &str, query: &str) -> Vec<String> {
    let rows: Vec<Value> = app
        .client
        .get(app.orders[0].url(&format!("/order/{query}")))
        .bearer_auth(staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    rows.iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn paid(app: &TestApp, id: &str, amount: i64) {
    app.nats
        .publish(PaymentEvent::Completed(PaymentCompleted {
            order_id: id.parse().unwrap(),
            method: PaymentMethod::Card,
            amount,
            paid_at: Utc::now(),
        }))
        .await
        .unwrap();
}

async fn refunded(app: &TestApp, id: &str, amount: i64) {
    app.nats
        .publish(PaymentEvent::Refunded(PaymentRefunded {
            order_id: id.parse().unwrap(),
            method: PaymentMethod::Card,
            amount,
            refunded_at: Utc::now(),
        }))
        .await
        .unwrap();
}

/// Waits (10 s at most) until the order's status and payment status are these.
async fn becomes(app: &TestApp, token: &str, id: &str, status: &str, payment: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let o = get_order(app, token, id).await;
        if o["status"] == status && o["payment_status"] == payment {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order {id} never became {status}/{payment}: {o}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_card_order_waits_unseen_by_the_kitchen_until_its_payment_arrives() {
    let app = spawn(1).await;
    let customer = app.customer("card_kim").await;
    let staff = app.token_with("card_staff", "STAFF", Some("gangnam")).await;
    let res = app.order(0, &customer, &card_order(), None).await;
    assert_eq!(res.status(), 201);
    let placed: Value = res.json().await.unwrap();
    let id = placed["order_id"].as_str().unwrap().to_owned();
    assert_eq!(placed["status"], "AWAITING_PAYMENT");
    assert_eq!(placed["payment_method"], "CARD");
    assert_eq!(placed["payment_status"], "UNPAID");
    assert!(placed["payment_due_at"].is_string(), "{placed}");
    assert!(placed.get("transfer").is_none(), "{placed}");
    let total = placed["total_price"].as_i64().unwrap();

    // What the payment service learns: the method, the amount, a name for the checkout.
    let created = testkit::eventually(Duration::from_secs(5), || async {
        app.order_events().await.into_iter().find_map(|e| match e {
            OrderEvent::Created(c) if c.order_id.to_string() == id => Some(c),
            _ => None,
        })
    })
    .await
    .expect("order.created");
    assert_eq!(created.status, "AWAITING_PAYMENT");
    assert_eq!(created.payment_method, PaymentMethod::Card);
    assert_eq!(created.total_price, total);
    assert_eq!(
        created.order_name.as_deref(),
        Some("The Barbecue Chicken Pizza L 외 1건")
    );

    // The kitchen does not see it, and cannot accept it.
    assert!(!queue(&app, &staff, "").await.contains(&id));
    assert!(
        queue(&app, &staff, "?status=AWAITING_PAYMENT")
            .await
            .contains(&id),
        "asked for by name, unpaid orders are listed"
    );
    let (status, _, err) = envelope(
        app.client
            .post(app.orders[0].url(&format!("/order/{id}/accept/")))
            .bearer_auth(&staff)
            .json(&json!({"estimated_time_minutes": 10}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(err["details"]["current_status"], "AWAITING_PAYMENT");

    // Paid: PENDING as any other order, announced, in the queue.
    paid(&app, &id, total).await;
    let now = becomes(&app, &customer, &id, "PENDING", "PAID").await;
    assert!(now.get("payment_due_at").is_none(), "{now}");
    assert!(queue(&app, &staff, "").await.contains(&id));
    // The change's event is on its way through the outbox.
    let changes = testkit::eventually(Duration::from_secs(5), || async {
        let changes: Vec<_> = app
            .order_events()
            .await
            .into_iter()
            .filter_map(|e| match e {
                OrderEvent::StatusChanged(c) if c.order_id.to_string() == id => Some(c),
                _ => None,
            })
            .collect();
        (!changes.is_empty()).then_some(changes)
    })
    .await
    .expect("order.status_changed");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].previous_status, "AWAITING_PAYMENT");
    assert_eq!(changes[0].status, "PENDING");
    assert_eq!(changes[0].payment_status, Some(PaymentStatus::Paid));

    // The same news again (a redelivery, a second event) changes nothing.
    paid(&app, &id, total).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM order_status_history WHERE order_id = '{id}'"
        ))
        .await,
        2,
        "AWAITING_PAYMENT, then PENDING once"
    );
}

#[tokio::test]
async fn a_paid_order_rejected_by_the_shop_ends_refunded() {
    let app = spawn(1).await;
    let customer = app.customer("refund_kim").await;
    let staff = app
        .token_with("refund_staff", "STAFF", Some("gangnam"))
        .await;
    let (id, total) = place_card(&app, &customer).await;
    paid(&app, &id, total).await;
    becomes(&app, &customer, &id, "PENDING", "PAID").await;
    let res = app
        .client
        .post(app.orders[0].url(&format!("/order/{id}/reject/")))
        .bearer_auth(&staff)
        .json(&json!({"reason": "out of dough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(
        rejected["payment_status"], "PAID",
        "until the money is back"
    );

    refunded(&app, &id, total).await;
    becomes(&app, &customer, &id, "REJECTED", "REFUNDED").await;
    let changed = testkit::eventually(Duration::from_secs(5), || async {
        app.order_events().await.into_iter().find_map(|e| match e {
            OrderEvent::PaymentChanged(c) if c.order_id.to_string() == id => Some(c),
            _ => None,
        })
    })
    .await
    .expect("order.payment_changed");
    assert_eq!(changed.previous_payment_status, PaymentStatus::Paid);
    assert_eq!(changed.payment_status, PaymentStatus::Refunded);
    assert_eq!(changed.status, "REJECTED");
}

#[tokio::test]
async fn money_that_arrives_after_the_order_was_cancelled_is_kept_on_it_until_refunded() {
    let app = spawn(1).await;
    let customer = app.customer("late_payer").await;
    let (id, total) = place_card(&app, &customer).await;
    // The customer may cancel an unpaid order.
    let res = app
        .client
        .post(app.orders[0].url(&format!("/order/{id}/cancel/")))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The payment was completed at the provider meanwhile: the order stays cancelled, with
    // the money on it, until the payment service has refunded it.
    paid(&app, &id, total).await;
    becomes(&app, &customer, &id, "CANCELLED", "PAID").await;
    refunded(&app, &id, total).await;
    becomes(&app, &customer, &id, "CANCELLED", "REFUNDED").await;
}

#[tokio::test]
async fn unpaid_orders_are_cancelled_once_their_payment_time_is_up() {
    let mut app = spawn(0).await;
    let r = start_order(&app.db, &app.nats, &app.login, &app.menu, |c| {
        c.payment_timeout_card = Duration::from_secs(1);
    })
    .await;
    app.wait_live(&r).await;
    app.orders.push(r);
    let customer = app.customer("slow_payer").await;
    let card: Value = app
        .order(0, &customer, &card_order(), None)
        .await
        .json()
        .await
        .unwrap();
    let pickup: Value = app
        .order(
            0,
            &customer,
            &json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1}]}),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let id = card["order_id"].as_str().unwrap();
    becomes(&app, &customer, id, "CANCELLED", "UNPAID").await;
    let reason: String = sqlx::query_scalar(
        "SELECT reason FROM order_status_history WHERE order_id = $1 AND status = 'CANCELLED'",
    )
    .bind(id.parse::<Uuid>().unwrap())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(reason, "not paid in time");
    // An order paid at pickup has its own, longer, timeout.
    let pickup = get_order(&app, &customer, pickup["order_id"].as_str().unwrap()).await;
    assert_eq!(pickup["status"], "PENDING");
    assert_eq!(pickup["payment_status"], "AT_PICKUP");
}

#[tokio::test]
async fn a_transfer_order_says_where_to_send_the_money_and_bad_payment_choices_are_refused() {
    let mut app = spawn(0).await;
    let r = start_order(&app.db, &app.nats, &app.login, &app.menu, |c| {
        c.transfer_bank = Some("케이뱅크".into());
        c.transfer_account_no = Some("100148347666".into());
    })
    .await;
    app.wait_live(&r).await;
    app.orders.push(r);
    let customer = app.customer("transfer_kim").await;
    let body = json!({"bran_id": "gangnam", "payment_method": "TRANSFER", "payer_name": "  김민지 ",
        "items": [{"pizza_id": "bbq_ckn_l", "quantity": 1}]});
    let res = app.order(0, &customer, &body, Some("transfer-1")).await;
    assert_eq!(res.status(), 201);
    let placed: Value = res.json().await.unwrap();
    assert_eq!(placed["status"], "AWAITING_PAYMENT");
    assert_eq!(placed["payment_method"], "TRANSFER");
    let total = placed["total_price"].as_i64().unwrap();
    assert_eq!(
        placed["transfer"],
        json!({"bank": "케이뱅크", "account_no": "100148347666", "amount": total,
               "payer_name": "김민지",
               "deep_link": format!("supertoss://send?amount={total}&bank=%EC%BC%80%EC%9D%B4%EB%B1%85%ED%81%AC&accountNo=100148347666&origin=qr")})
    );
    // The same key with another way to pay is another request.
    let mut other = body.clone();
    other["payment_method"] = json!("CARD");
    other.as_object_mut().unwrap().remove("payer_name");
    let (status, _, _) = envelope(app.order(0, &customer, &other, Some("transfer-1")).await).await;
    assert_eq!(status, 422);

    let before = app.scalar("SELECT count(*) FROM orders").await;
    for (bad, want) in [
        (json!({"payment_method": "TRANSFER"}), 400),
        (
            json!({"payment_method": "TRANSFER", "payer_name": "   "}),
            400,
        ),
        (
            json!({"payment_method": "TRANSFER", "payer_name": "가".repeat(21)}),
            400,
        ),
        (
            json!({"payment_method": "CARD", "payer_name": "김민지"}),
            400,
        ),
        (json!({"payer_name": "김민지"}), 400),
        (json!({"payment_method": "CASH"}), 400),
        (json!({"payment_method": "card"}), 400),
    ] {
        let mut req =
            json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_l", "quantity": 1}]});
        for (k, v) in bad.as_object().unwrap() {
            req[k] = v.clone();
        }
        let (status, _, err) = envelope(app.order(0, &customer, &req, None).await).await;
        assert_eq!(status, want, "{req}: {err}");
    }
    assert_eq!(
        app.scalar("SELECT count(*) FROM orders").await,
        before,
        "nothing written"
    );

    // A shop without an account takes no transfers.
    let mut plain = spawn(1).await;
    let customer = plain.customer("no_transfer").await;
    let (status, _, err) = envelope(plain.order(0, &customer, &body, None).await).await;
    assert_eq!(status, 422, "{err}");
    plain.orders.clear();
}

#[tokio::test]
async fn a_prepaid_order_gives_the_kitchen_its_whole_pending_time_from_when_it_was_paid() {
    let mut app = spawn(0).await;
    let r = start_order(&app.db, &app.nats, &app.login, &app.menu, |c| {
        c.order_pending_timeout = Duration::from_secs(2);
    })
    .await;
    app.wait_live(&r).await;
    app.orders.push(r);
    let customer = app.customer("paid_late").await;
    let (id, total) = place_card(&app, &customer).await;
    // Paid later than the PENDING timeout after it was placed.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    paid(&app, &id, total).await;
    becomes(&app, &customer, &id, "PENDING", "PAID").await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        get_order(&app, &customer, &id).await["status"],
        "PENDING",
        "its time runs from the payment"
    );
    becomes(&app, &customer, &id, "CANCELLED", "PAID").await;
}

#[tokio::test]
async fn a_refund_at_the_provider_cancels_an_order_the_kitchen_has_not_accepted() {
    let app = spawn(1).await;
    let customer = app.customer("dashboard_refund").await;
    let (id, total) = place_card(&app, &customer).await;
    paid(&app, &id, total).await;
    becomes(&app, &customer, &id, "PENDING", "PAID").await;
    refunded(&app, &id, total).await;
    becomes(&app, &customer, &id, "CANCELLED", "REFUNDED").await;
    let reason: String = sqlx::query_scalar(
        "SELECT reason FROM order_status_history WHERE order_id = $1 AND status = 'CANCELLED'",
    )
    .bind(id.parse::<Uuid>().unwrap())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(reason, "refunded at the provider");
}
