//! Bank transfers: deposit notifications, signed, matched to unpaid transfer orders by payer
//! name and amount; what does not match is kept and shown to staff.

use serde_json::{Value, json};

use crate::helpers::{TestApp, envelope, spawn};

fn notice(tx_id: &str, payer: &str, amount: i64) -> Value {
    json!({"tx_id": tx_id, "payer_name": payer, "amount": amount,
           "deposited_at": "2026-12-02T12:00:00+09:00"})
}

async fn deposit(app: &TestApp, body: &Value) -> Value {
    let res = app.deposit(body, Some(harness::DEPOSIT_SECRET)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_signed_deposit_pays_its_transfer_order_once_and_a_forged_one_nothing() {
    let app = spawn().await;
    let kim = app.customer("transfer_kim").await;
    let order = app.transfer_order(&kim, "김민지", "bbq_ckn_l").await;
    let id = order["order_id"].as_str().unwrap();
    let amount = order["total_price"].as_i64().unwrap();
    assert_eq!(order["transfer"]["amount"], amount);
    assert_eq!(order["transfer"]["payer_name"], "김민지");
    app.payment_known(&kim, id).await;

    // Forged: no signature, a wrong one, a signature of another body.
    let body = notice("tx-1", "김민지", amount);
    for secret in [None, Some("not-the-secret-0123456789-abcdefghij")] {
        let (status, code, _) = envelope(app.deposit(&body, secret).await).await;
        assert_eq!((status, code.as_str()), (401, "UNAUTHORIZED"));
    }
    let res = app
        .client
        .post(app.payment.url("/payment/webhooks/deposit/"))
        .header("content-type", "application/json")
        .header("x-signature", "00".repeat(32))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.scalar("SELECT count(*) FROM deposit").await, 0);
    assert_eq!(app.order_of(&kim, id).await["payment_status"], "UNPAID");

    // Signed: it pays. The bank writes the name with a space; it still matches.
    let signed = notice("tx-1", "김 민지", amount);
    let answer = deposit(&app, &signed).await;
    assert_eq!(
        answer,
        json!({"tx_id": "tx-1", "outcome": "MATCHED", "order_id": id})
    );
    app.order_becomes(&kim, id, "PENDING", "PAID").await;
    let payment = app.payment_of(&kim, id).await;
    assert_eq!(payment["state"], "PAID");

    // Delivered again: the same answer, one payment.
    assert_eq!(deposit(&app, &signed).await, answer);
    let completed = app
        .payment_events()
        .await
        .into_iter()
        .filter(|e| matches!(e, events::PaymentEvent::Completed(c) if c.order_id.to_string() == id))
        .count();
    assert_eq!(completed, 1);
    assert_eq!(app.scalar("SELECT count(*) FROM deposit").await, 1);
    // The same id with another amount is not the same deposit.
    let (status, _, _) = envelope(
        app.deposit(
            &notice("tx-1", "김민지", amount + 1),
            Some(harness::DEPOSIT_SECRET),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn deposits_pay_the_oldest_match_and_the_rest_are_kept_for_staff_who_settle_them() {
    let app = spawn().await;
    let kim = app.customer("twice_ordered").await;
    let staff = app.member("deposit_clerk", "STAFF", Some("gangnam")).await;
    let first = app.transfer_order(&kim, "박서준", "hawaiian_m").await;
    let second = app.transfer_order(&kim, "박서준", "hawaiian_m").await;
    let amount = first["total_price"].as_i64().unwrap();
    for o in [&first, &second] {
        app.payment_known(&kim, o["order_id"].as_str().unwrap())
            .await;
    }

    // Two unpaid orders of that payer and amount: the oldest is paid first.
    let answer = deposit(&app, &notice("tx-1", "박서준", amount)).await;
    assert_eq!(answer["outcome"], "MATCHED");
    assert_eq!(answer["order_id"], first["order_id"]);
    // The exact amount from another name (a friend's account?): not guessed, kept.
    let answer = deposit(&app, &notice("tx-amb", "최친구", amount)).await;
    assert_eq!(answer["outcome"], "AMBIGUOUS");
    assert!(answer.get("order_id").is_none());
    // Nobody's name, nobody's amount: kept too.
    let answer = deposit(&app, &notice("tx-none", "최없음", 12_345)).await;
    assert_eq!(answer["outcome"], "UNMATCHED");
    let second_id = second["order_id"].as_str().unwrap();
    assert_eq!(
        app.order_of(&kim, second_id).await["payment_status"],
        "UNPAID"
    );

    let (status, _, _) = envelope(
        app.client
            .get(app.payment.url("/payment/deposits/"))
            .bearer_auth(&kim)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "customers do not see deposits");
    let open = app
        .get(&staff, &app.payment.url("/payment/deposits/"))
        .await;
    let open = open.as_array().unwrap();
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(open[0]["tx_id"], "tx-amb");
    assert_eq!(open[0]["outcome"], "AMBIGUOUS");
    let candidates: Vec<&str> = open[0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(candidates, [second_id], "the unpaid order of that amount");
    assert_eq!(open[1]["outcome"], "UNMATCHED");
    assert_eq!(open[1]["candidates"], json!([]));

    // Staff settle the ambiguous one with the second order, the unmatched one as sent back.
    let res = app
        .post(
            &staff,
            "/payment/deposits/tx-amb/settle/",
            json!({"order_id": second_id}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.order_becomes(&kim, second_id, "PENDING", "PAID").await;
    let third = app.transfer_order(&kim, "박서준", "hawaiian_m").await;
    app.payment_known(&kim, third["order_id"].as_str().unwrap())
        .await;
    let (status, _, _) = envelope(
        app.post(
            &staff,
            "/payment/deposits/tx-none/settle/",
            json!({"order_id": third["order_id"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "12,345 won cannot pay that order");
    let (status, _, _) = envelope(
        app.post(&staff, "/payment/deposits/tx-none/settle/", json!({}))
            .await,
    )
    .await;
    assert_eq!(
        status, 403,
        "a branch's staff cannot mark it sent back: it may be another branch's"
    );
    let admin = app.member("deposit_admin", "ADMIN", None).await;
    let res = app
        .post(&admin, "/payment/deposits/tx-none/settle/", json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let open = app
        .get(&staff, &app.payment.url("/payment/deposits/"))
        .await;
    assert_eq!(open, json!([]));
    let (status, _, _) = envelope(
        app.post(&admin, "/payment/deposits/tx-amb/settle/", json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 409, "settled once");

    // The next deposit of that payer and amount pays the order left.
    let answer = deposit(&app, &notice("tx-next", "박서준", amount)).await;
    assert_eq!(answer["outcome"], "MATCHED");
    assert_eq!(answer["order_id"], third["order_id"]);
}

#[tokio::test]
async fn deposits_of_one_payer_and_amount_at_once_pay_one_order_each() {
    let app = spawn().await;
    let kim = app.customer("two_at_once").await;
    let mut orders = vec![];
    for _ in 0..3 {
        let o = app.transfer_order(&kim, "동시입금", "hawaiian_m").await;
        app.payment_known(&kim, o["order_id"].as_str().unwrap())
            .await;
        orders.push(o["order_id"].as_str().unwrap().to_owned());
    }
    let amount = app.order_of(&kim, &orders[0]).await["total_price"]
        .as_i64()
        .unwrap();
    let sends = (0..3).map(|i| {
        let body = notice(&format!("tx-at-once-{i}"), "동시입금", amount);
        let app = &app;
        async move { deposit(app, &body).await }
    });
    let answers = futures::future::join_all(sends).await;
    let mut paid: Vec<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a["outcome"], "MATCHED", "{a}");
            a["order_id"].as_str().unwrap().to_owned()
        })
        .collect();
    paid.sort();
    orders.sort();
    assert_eq!(paid, orders, "each deposit paid another order");
}
