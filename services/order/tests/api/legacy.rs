//! pizza_back's order API (`/api/order/…`) as its old front end calls it: every rule of the
//! new API holds behind it.

use std::time::Duration;

use events::OrderEvent;
use serde_json::{Value, json};

use crate::helpers::spawn;

fn detail(body: &Value) -> &str {
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail in {body}"))
}

#[tokio::test]
async fn an_order_by_name_and_size_is_one_order_priced_by_the_server_and_seen_everywhere() {
    let app = spawn(1).await;
    let token = app.customer("old_orderer").await;
    let staff = app.token_with("old_staff", "STAFF", Some("gangnam")).await;
    let o = &app.orders[0];

    // js/order.js: the same pizza added twice becomes one line of their sum.
    let res = app
        .client
        .post(o.url("/api/order/"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .json(&json!({"branchId": "gangnam", "lines": [
            {"name": "The Barbecue Chicken Pizza", "size": "M", "quantity": 2},
            {"name": "The Hawaiian Pizza", "size": "S", "quantity": 1},
            {"name": "The Barbecue Chicken Pizza", "size": "M", "quantity": 1},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.headers()["link"],
        "</order/>; rel=\"successor-version\""
    );
    let placed: Value = res.json().await.unwrap();
    assert_eq!(placed.as_object().unwrap().len(), 1, "{placed}");
    let order_id = placed["order_id"].as_str().unwrap().to_owned();

    // The same order on the new API, priced from the menu.
    let order: Value = app
        .client
        .get(o.url(&format!("/order/{order_id}/")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lines = order["items"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let bbq = lines.iter().find(|l| l["pizza_id"] == "bbq_ckn_m").unwrap();
    assert_eq!(bbq["quantity"], 3);
    let total: i64 = lines
        .iter()
        .map(|l| l["line_total"].as_i64().unwrap())
        .sum();
    assert_eq!(order["total_price"], total);
    assert!(total > 0);
    // On the staff board, and announced once.
    let board: Vec<Value> = app
        .client
        .get(o.url("/order/?status=PENDING"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(board.iter().any(|b| b["order_id"] == order_id.as_str()));
    let events = testkit::eventually(Duration::from_secs(10), || async {
        let e = app.order_events().await;
        (!e.is_empty()).then_some(e)
    })
    .await
    .expect("order.created");
    assert_eq!(events.len(), 1);
    let OrderEvent::Created(c) = &events[0] else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(c.order_id.to_string(), order_id);

    // js/myorder.js: one row per line, Seoul date and time.
    let rows: Vec<Value> = app
        .client
        .get(o.url("/api/order/myorder/"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r["order_id"], order_id.as_str());
        assert_eq!(r["bran_id"], "gangnam");
        assert_eq!(r["date"], order["date"]);
        assert_eq!(r["time"], order["time"]);
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "bran_id", "date", "order_id", "pizza_id", "quantity", "time"
            ]
        );
    }

    // js/order.js: the branch picker.
    let branches: Vec<Value> = app
        .client
        .get(o.url("/api/order/branch/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        branches
            .iter()
            .any(|b| b["bran_id"] == "gangnam" && b["bran_nm"].is_string())
    );
}

#[tokio::test]
async fn bad_legacy_orders_are_pizza_backs_400s_and_write_nothing() {
    let app = spawn(1).await;
    let token = app.customer("old_bad_orders").await;
    let admin = app.token_with("old_admin", "ADMIN", None).await;
    app.set_price(&admin, "hawaiian_l", json!({"available": false}))
        .await;
    let o = &app.orders[0];
    let post = |body: Value, token: Option<&str>| {
        let mut req = app.client.post(o.url("/api/order/")).json(&body);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.send()
    };
    let line =
        |name: &str, size: &str, q: Value| json!({"name": name, "size": size, "quantity": q});
    let bbq = line("The Barbecue Chicken Pizza", "M", json!(1));
    let cases = [
        (json!({"lines": [bbq]}), "invalid payload"),
        (
            json!({"branchId": "gangnam", "lines": []}),
            "invalid payload",
        ),
        (json!({"branchId": "gangnam"}), "invalid payload"),
        (
            json!({"branchId": "gangnam", "lines": [{"name": "The Barbecue Chicken Pizza", "quantity": 1}]}),
            "missing item details",
        ),
        (
            json!({"branchId": "gangnam", "lines": [line("The Barbecue Chicken Pizza", "M", json!(0))]}),
            "missing item details",
        ),
        (
            json!({"branchId": "gangnam", "lines": [line("The Barbecue Chicken Pizza", "M", json!(null))]}),
            "missing item details",
        ),
        (
            json!({"branchId": "gangnam", "lines": [line("The Barbecue Chicken Pizza", "M", json!(101))]}),
            "quantity",
        ),
        (
            json!({"branchId": "gangnam", "lines": [line("Mystery Pizza", "M", json!(1))]}),
            "Mystery Pizza",
        ),
        (
            json!({"branchId": "gangnam", "lines": [line("The Barbecue Chicken Pizza", "Huge", json!(1))]}),
            "The Barbecue Chicken Pizza",
        ),
        (
            json!({"branchId": "gangnam", "lines": [line("The Hawaiian Pizza", "L", json!(1))]}),
            "sold out",
        ),
        (
            json!({"branchId": "atlantis", "lines": [bbq]}),
            "unknown branch",
        ),
    ];
    for (body, says) in cases {
        let res = post(body.clone(), Some(&token)).await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert!(detail(&answer).contains(says), "{body} → {answer}");
    }
    for t in [None, Some("null"), Some("not.a.token")] {
        let res = post(json!({"branchId": "gangnam", "lines": [line("The Barbecue Chicken Pizza", "M", json!(1))]}), t)
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"detail": "unauthorized"})
        );
    }
    let res = app
        .client
        .get(o.url("/api/order/myorder/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    for table in ["orders", "order_detail", "outbox"] {
        assert_eq!(
            app.scalar(&format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
}
