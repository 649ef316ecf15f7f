//! Options on order lines: chosen by the customer, checked and priced by the menu (never by
//! the client), stored on the line with what each added.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{envelope, spawn};

fn names(line: &Value) -> Vec<(String, i64)> {
    line["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["option_id"].as_str().unwrap().to_owned(),
                o["price_delta"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_order_with_options_is_priced_by_the_server_and_keeps_them() {
    let app = spawn(1).await;
    let token = app.customer("kim_options").await;
    let staff = app
        .token_with("staff_options", "STAFF", Some("gangnam"))
        .await;
    let body = json!({"bran_id": "gangnam", "items": [
        // In any order; a price sent by the client is ignored.
        {"pizza_id": "bbq_ckn_l", "quantity": 2, "price": 1, "unit_price": 1,
         "options": ["topping_olive", "crust_cheese_edge", "topping_cheese"]},
        {"pizza_id": "hawaiian_m", "quantity": 1},
        {"pizza_id": "cola_1_25l", "quantity": 1}
    ]});
    let res = app.order(0, &token, &body, Some("options-1")).await;
    assert_eq!(res.status(), 201);
    let placed: Value = res.json().await.unwrap();
    let items = placed["items"].as_array().unwrap();
    // 29,000 + 3,000 (cheese edge) + 1,500 + 1,500 (two toppings).
    assert_eq!(items[0]["unit_price"], 35000);
    assert_eq!(items[0]["line_total"], 70000);
    assert_eq!(
        names(&items[0]),
        [
            ("crust_cheese_edge".to_owned(), 3000),
            ("topping_cheese".to_owned(), 1500),
            ("topping_olive".to_owned(), 1500)
        ],
        "in the item's group order"
    );
    assert_eq!(items[0]["options"][0]["name"], "치즈 크러스트");
    // A line that names no options gets the house crust, which adds nothing.
    assert_eq!(names(&items[1]), [("crust_original".to_owned(), 0)]);
    assert_eq!(items[1]["unit_price"], 18600);
    // A drink has no options.
    assert_eq!(names(&items[2]), []);
    assert_eq!(items[2]["unit_price"], 3200);
    assert_eq!(placed["total_price"], 70000 + 18600 + 3200);

    // Stored as priced: the order, and the staff board, show the same.
    let id = placed["order_id"].as_str().unwrap();
    let again: Value = app
        .client
        .get(app.orders[0].url(&format!("/order/{id}/")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["items"], placed["items"]);
    let board: Value = app
        .client
        .get(app.orders[0].url("/order/"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let on_board = board
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == id)
        .expect("on the board");
    assert_eq!(on_board["items"], placed["items"]);
    assert_eq!(
        app.scalar(&format!(
            "SELECT sum(jsonb_array_length(options))::int8 FROM order_detail WHERE order_id = '{id}'"
        ))
        .await,
        4
    );

    // The key covers the options: the same choice in another order replays, another choice
    // is another request.
    let mut same = body.clone();
    same["items"][0]["options"] = json!(["topping_cheese", "topping_olive", "crust_cheese_edge"]);
    let replay = app.order(0, &token, &same, Some("options-1")).await;
    assert_eq!(replay.status(), 201);
    assert!(replay.headers().contains_key("idempotent-replayed"));
    let mut other = body.clone();
    other["items"][0]["options"] = json!(["crust_cheese_edge", "topping_cheese"]);
    let (status, _, _) = envelope(app.order(0, &token, &other, Some("options-1")).await).await;
    assert_eq!(status, 422);
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 1);
}

#[tokio::test]
async fn an_invalid_choice_is_refused_naming_its_group_and_nothing_is_written() {
    let app = spawn(1).await;
    let token = app.customer("park_options").await;
    let line = |options: Value| {
        json!({"bran_id": "gangnam", "items": [
            {"pizza_id": "hawaiian_m", "quantity": 1},
            {"pizza_id": "bbq_ckn_l", "quantity": 1, "options": options}
        ]})
    };
    let cases = [
        (
            json!([
                "crust_thin",
                "topping_cheese",
                "topping_olive",
                "topping_mushroom",
                "topping_jalapeno"
            ]),
            "toppings",
            "토핑 추가",
        ),
        (json!([]), "crust", "도우 선택"),
        (json!(["topping_cheese"]), "crust", "도우 선택"),
        (
            json!(["crust_thin", "crust_cheese_edge"]),
            "crust",
            "도우 선택",
        ),
        // The wings' sauce is no option of a pizza.
        (
            json!(["crust_thin", "sauce_bbq"]),
            "wing_sauce",
            "'바비큐' is not an option",
        ),
        (json!(["crust_thin", "crust_thin"]), "crust", "도우 선택"),
        (
            json!(["crust_thin", "no_such_option"]),
            "",
            "no_such_option",
        ),
    ];
    for (options, group, named) in cases {
        let (status, code, err) =
            envelope(app.order(0, &token, &line(options.clone()), None).await).await;
        assert_eq!((status, code.as_str()), (422, "UNPROCESSABLE"), "{options}");
        assert_eq!(err["details"]["group_id"], group, "{options}: {err}");
        assert_eq!(err["details"]["pizza_id"], "bbq_ckn_l");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(named), "{options}: {message}");
    }
    // Malformed: 400 before the menu is asked.
    let (status, _, _) = envelope(
        app.order(0, &token, &line(json!(["crust_thin", " "])), None)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) =
        envelope(app.order(0, &token, &line(json!("crust_thin")), None).await).await;
    assert_eq!(status, 400);
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM order_detail").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM outbox").await, 0);

    // The same pizza twice with other options is two lines.
    let two = json!({"bran_id": "gangnam", "items": [
        {"pizza_id": "bbq_ckn_l", "quantity": 1, "options": ["crust_thin"]},
        {"pizza_id": "bbq_ckn_l", "quantity": 1, "options": ["crust_original"]}
    ]});
    assert_eq!(app.order(0, &token, &two, None).await.status(), 201);
    let twice = json!({"bran_id": "gangnam", "items": [
        {"pizza_id": "bbq_ckn_l", "quantity": 1, "options": ["crust_thin"]},
        {"pizza_id": "bbq_ckn_l", "quantity": 2, "options": ["crust_thin"]}
    ]});
    let (status, _, _) = envelope(app.order(0, &token, &twice, None).await).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_options_price_change_reaches_both_order_replicas() {
    let app = spawn(2).await;
    let admin = app.token_with("admin_options", "ADMIN", None).await;
    let token = app.customer("lee_options").await;
    let one = json!({"bran_id": "hongdae", "items": [
        {"pizza_id": "bbq_ckn_l", "quantity": 1, "options": ["crust_original", "topping_cheese"]}
    ]});
    for r in 0..2 {
        let o: Value = app.order(r, &token, &one, None).await.json().await.unwrap();
        assert_eq!(o["items"][0]["unit_price"], 29000 + 1500);
    }
    let res = app
        .client
        .patch(app.menu.url("/menu/options/topping_cheese/"))
        .bearer_auth(&admin)
        .json(&json!({"price_delta": 2000}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let now: Value = res.json().await.unwrap();
    assert_eq!(
        (now["price_delta"].as_i64(), now["group_id"].as_str()),
        (Some(2000), Some("toppings"))
    );
    for r in 0..2 {
        let priced = testkit::eventually(Duration::from_secs(1), || async {
            let o: Value = app.order(r, &token, &one, None).await.json().await.ok()?;
            (o["items"][0]["unit_price"] == 29000 + 2000).then_some(())
        })
        .await;
        assert!(priced.is_some(), "replica {r} priced the new delta");
    }
    // Sold out: refused, naming the group.
    let res = app
        .client
        .patch(app.menu.url("/menu/options/topping_cheese/"))
        .bearer_auth(&admin)
        .json(&json!({"available": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, _, err) = envelope(app.order(1, &token, &one, None).await).await;
    assert_eq!(status, 422);
    assert_eq!(err["details"]["group_id"], "toppings");
}
