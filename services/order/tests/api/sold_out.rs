//! Sold out at one branch, against orders: the order's price lookup is for its branch and
//! asked of the menu every time (the menu answering as committed), so once the menu has
//! acknowledged a sold-out, no order at that branch gets it — on either replica, with no
//! wait for the event — while orders racing the change are decided by when they looked up.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, envelope, spawn};

async fn mark(app: &TestApp, token: &str, pizza_id: &str, bran_id: &str, available: bool) {
    let res = app
        .client
        .put(
            app.menu
                .url(&format!("/menu/pizzas/{pizza_id}/branches/{bran_id}/")),
        )
        .bearer_auth(token)
        .json(&json!({ "available": available }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

fn of(bran_id: &str, pizza_id: &str) -> Value {
    json!({"bran_id": bran_id, "items": [{"pizza_id": pizza_id, "quantity": 1}]})
}

#[tokio::test]
async fn once_sold_out_at_a_branch_no_order_there_gets_it_and_other_branches_still_do() {
    let app = spawn(2).await;
    let staff = app.token_with("so_staff", "STAFF", Some("gangnam")).await;
    let guests = [
        app.customer("so_guest_a").await,
        app.customer("so_guest_b").await,
    ];
    // Both replicas have priced it (and kept the answer) before.
    for (r, guest) in guests.iter().enumerate() {
        assert_eq!(
            app.order(r, guest, &of("gangnam", "hawaiian_m"), None)
                .await
                .status(),
            201
        );
    }

    mark(&app, &staff, "hawaiian_m", "gangnam", false).await;
    // At once, on both replicas: no waiting for catalog.updated.
    for (r, guest) in guests.iter().enumerate() {
        let (status, _, error) = envelope(
            app.order(r, guest, &of("gangnam", "hawaiian_m"), None)
                .await,
        )
        .await;
        assert_eq!(status, 422, "replica {r}: {error}");
        assert_eq!(error["details"]["pizza_id"], "hawaiian_m");
        assert!(error["message"].as_str().unwrap().contains("sold out"));
        let res = app
            .order(r, guest, &of("hongdae", "hawaiian_m"), None)
            .await;
        assert_eq!(res.status(), 201, "another branch still sells it");
    }

    // A race: orders on both replicas while the change is made. Those sent before its answer
    // go either way; every one sent after it is refused; none fails otherwise.
    let sold = "bbq_ckn_l";
    let send = |i: usize| {
        let app = &app;
        let guest = &guests[i % 2];
        async move {
            app.order(i % 2, guest, &of("gangnam", sold), None)
                .await
                .status()
                .as_u16()
        }
    };
    let racing = futures::future::join_all((0..20).map(send));
    let change = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        mark(&app, &staff, sold, "gangnam", false).await;
    };
    let (before, ()) = tokio::join!(racing, change);
    let after = futures::future::join_all((20..40).map(send)).await;
    assert!(
        before.iter().all(|s| *s == 201 || *s == 422),
        "racing orders: {before:?}"
    );
    assert!(
        after.iter().all(|s| *s == 422),
        "after the change: {after:?}"
    );
    let placed = before.iter().filter(|s| **s == 201).count() as i64;
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM order_detail d JOIN orders o USING (order_id) \
             WHERE o.bran_id = 'gangnam' AND d.pizza_id = '{sold}'"
        ))
        .await,
        placed,
        "exactly the orders answered 201 were written"
    );
    // Numbers stay gapless: refused orders took none.
    let numbers: Vec<i32> = sqlx::query_scalar(
        "SELECT order_number FROM orders WHERE bran_id = 'gangnam' ORDER BY order_number",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(numbers, (1..=numbers.len() as i32).collect::<Vec<_>>());

    // Back on sale: the next order gets it, at once.
    mark(&app, &staff, sold, "gangnam", true).await;
    for (r, guest) in guests.iter().enumerate() {
        assert_eq!(
            app.order(r, guest, &of("gangnam", sold), None)
                .await
                .status(),
            201
        );
    }
}
