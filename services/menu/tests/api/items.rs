//! Items beyond pizzas (sides and drinks), what each is made of, and option groups: the
//! item sheet, GetPrices pricing a line's choice, and an ADMIN changing an option.

use std::time::Duration;

use proto::menu::v1::{GetPricesRequest, LineChoice, menu_service_client::MenuServiceClient};
use serde_json::{Value, json};

use crate::helpers::{envelope, spawn};

#[tokio::test]
async fn sides_and_drinks_are_on_the_menu_after_the_pizzas_with_their_own_sizes() {
    let app = spawn(1).await;
    let menu = app.menu(0).await;
    assert_eq!(menu.len(), 93 + 11);
    let kinds: Vec<&str> = menu.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    let first_side = kinds.iter().position(|k| *k == "side").unwrap();
    assert!(
        kinds[..first_side].iter().all(|k| *k == "pizza"),
        "pizzas first"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "pizza").count(), 93);
    let cola: Vec<(&str, &str, i64)> = menu
        .iter()
        .filter(|p| p["pizza_type_id"] == "cola")
        .map(|p| {
            (
                p["pizza_id"].as_str().unwrap(),
                p["size"].as_str().unwrap(),
                p["price"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cola,
        [("cola_500ml", "500ml", 2000), ("cola_1_25l", "1.25L", 3200)]
    );
    // Every item says what it is, in Korean at least, and its allergens.
    for p in &menu {
        assert!(!p["description_ko"].as_str().unwrap().is_empty(), "{p}");
        assert!(p["allergens"].is_array(), "{p}");
    }
    let bbq = menu.iter().find(|p| p["pizza_id"] == "bbq_ckn_s").unwrap();
    assert_eq!(
        bbq["allergens"],
        json!(["wheat", "milk", "chicken", "tomato"])
    );
    assert_eq!(bbq["has_options"], true);
    let cola = menu.iter().find(|p| p["pizza_id"] == "cola_500ml").unwrap();
    assert_eq!(
        (cola["has_options"].as_bool(), cola["pizza_categ"].as_str()),
        (Some(false), Some("Drink"))
    );

    for (categ, n) in [("Side", 4), ("drink", 7)] {
        let part: Vec<Value> = app
            .client
            .get(app.menus[0].url(&format!("/menu/?categ={categ}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(part.len(), n, "{categ}");
    }
    // pizza_back's front end cannot order them: its menu stays pizzas.
    let old: Vec<Value> = app
        .client
        .get(app.menus[0].url("/api/menu/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(old.len(), 93);
}

#[tokio::test]
async fn an_items_sheet_lists_its_sizes_and_option_groups() {
    let app = spawn(1).await;
    let get = |path: &str| app.client.get(app.menus[0].url(path)).send();
    let res = get("/menu/items/bbq_ckn/").await.unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let sheet: Value = res.json().await.unwrap();
    assert_eq!(sheet["kind"], "pizza");
    assert_eq!(
        sheet["description_ko"],
        "바비큐 치킨, 홍피망과 청피망, 토마토, 적양파에 바비큐 소스."
    );
    let sizes: Vec<&str> = sheet["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["size"].as_str().unwrap())
        .collect();
    assert_eq!(sizes, ["S", "M", "L"]);
    let groups = sheet["option_groups"].as_array().unwrap();
    let shape: Vec<(&str, bool, i64, i64, usize)> = groups
        .iter()
        .map(|g| {
            (
                g["group_id"].as_str().unwrap(),
                g["required"].as_bool().unwrap(),
                g["min_choices"].as_i64().unwrap(),
                g["max_choices"].as_i64().unwrap(),
                g["options"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [("crust", true, 1, 1, 3), ("toppings", false, 0, 3, 5)]
    );
    assert_eq!(
        groups[0]["options"][2],
        json!({"option_id": "crust_cheese_edge", "name_ko": "치즈 크러스트", "name_en": "Cheese edge",
               "price_delta": 3000, "available": true, "is_default": false})
    );
    let again = app
        .client
        .get(app.menus[0].url("/menu/items/bbq_ckn/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let wings: Value = get("/menu/items/chicken_wings/")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wings["option_groups"][0]["group_id"], "wing_sauce");
    let cola: Value = get("/menu/items/cola/")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cola["option_groups"], json!([]));
    assert_eq!(cola["sizes"].as_array().unwrap().len(), 2);
    let (status, code, _) = envelope(get("/menu/items/no_such_item/").await.unwrap()).await;
    assert_eq!((status, code.as_str()), (404, "NOT_FOUND"));

    // Every group of the shop once, for the owner's console.
    let all: Vec<Value> = get("/menu/options/").await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = all
        .iter()
        .map(|g| g["group_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["crust", "toppings", "wing_sauce"]);
}

#[tokio::test]
async fn get_prices_checks_and_prices_each_lines_choice() {
    let app = spawn(1).await;
    let mut grpc = MenuServiceClient::connect(format!("http://{}", app.menus[0].grpc.unwrap()))
        .await
        .unwrap();
    let line = |pizza: &str, given: bool, ids: &[&str]| LineChoice {
        pizza_id: pizza.into(),
        options_given: given,
        option_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
    };
    let reply = grpc
        .get_prices(GetPricesRequest {
            bran_id: "gangnam".into(),
            lines: vec![
                line("bbq_ckn_l", true, &["topping_cheese", "crust_cheese_edge"]),
                line("bbq_ckn_l", false, &[]),
                line("cola_500ml", false, &[]),
                line(
                    "bbq_ckn_l",
                    true,
                    &[
                        "crust_thin",
                        "topping_cheese",
                        "topping_olive",
                        "topping_mushroom",
                        "topping_jalapeno",
                    ],
                ),
                line("bbq_ckn_l", true, &[]),
                line("bbq_ckn_l", true, &["crust_thin", "sauce_bbq"]),
                line("no_such_pizza", true, &["crust_thin"]),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.prices.len(), 2, "each pizza once");
    assert_eq!(reply.unknown_ids, ["no_such_pizza"]);
    // Per line: the options with their deltas, the refused group, the problem.
    type Answer = (Vec<(String, i64)>, String, String);
    let got: Vec<Answer> = reply
        .lines
        .iter()
        .map(|l| {
            (
                l.options
                    .iter()
                    .map(|o| (o.option_id.clone(), o.price_delta))
                    .collect(),
                l.group_id.clone(),
                l.problem.clone(),
            )
        })
        .collect();
    let ok = |o: &[(&str, i64)]| {
        (
            o.iter()
                .map(|(i, d)| ((*i).to_owned(), *d))
                .collect::<Vec<_>>(),
            String::new(),
            String::new(),
        )
    };
    assert_eq!(
        got[0],
        ok(&[("crust_cheese_edge", 3000), ("topping_cheese", 1500)])
    );
    assert_eq!(got[1], ok(&[("crust_original", 0)]), "the default crust");
    assert_eq!(got[2], ok(&[]));
    assert_eq!(
        (got[3].1.as_str(), got[3].2.as_str()),
        ("toppings", "토핑 추가: choose at most 3")
    );
    assert_eq!(
        (got[4].1.as_str(), got[4].2.as_str()),
        ("crust", "도우 선택: choose 1")
    );
    assert_eq!(got[5].1, "wing_sauce");
    assert_eq!(got[6], ok(&[]), "an unknown pizza is in unknown_ids");
}

#[tokio::test]
async fn an_admin_changes_an_option_and_every_replica_serves_it() {
    let app = spawn(2).await;
    let admin = app.token("admin_option", "ADMIN").await;
    let customer = app.token("customer_option", "CUSTOMER").await;
    let patch = |token: &str, id: &str, body: Value| {
        app.client
            .patch(app.menus[0].url(&format!("/menu/options/{id}/")))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    let (status, _, _) = envelope(
        patch(&customer, "topping_cheese", json!({"price_delta": 1}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    for bad in [
        json!({}),
        json!({"price_delta": -1}),
        json!({"price_delta": 100001}),
        json!({"price_delta": 1.5}),
    ] {
        let (status, _, _) =
            envelope(patch(&admin, "topping_cheese", bad.clone()).await.unwrap()).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _, _) = envelope(
        patch(&admin, "no_such_option", json!({"price_delta": 1}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);

    let res = patch(&admin, "topping_cheese", json!({"price_delta": 2000}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let now: Value = res.json().await.unwrap();
    assert_eq!(
        (now["option_id"].as_str(), now["price_delta"].as_i64()),
        (Some("topping_cheese"), Some(2000))
    );
    // The other replica drops its copy on catalog.updated.
    let served = testkit::eventually(Duration::from_secs(2), || async {
        let sheet: Value = app
            .client
            .get(app.menus[1].url("/menu/items/hawaiian/"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (sheet["option_groups"][1]["options"][0]["price_delta"] == 2000).then_some(())
    })
    .await;
    assert!(served.is_some(), "replica 1 serves the new delta");
    let recorded: (String, String, Value) = sqlx::query_as(
        "SELECT kind, option_id, new_value FROM catalog_change ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        (recorded.0.as_str(), recorded.1.as_str()),
        ("option_updated", "topping_cheese")
    );
    assert_eq!(recorded.2["price_delta"], 2000);
}

#[tokio::test]
async fn an_admin_rewrites_what_an_item_says_and_every_replica_serves_it() {
    let app = spawn(2).await;
    let admin = app.token("admin_about", "ADMIN").await;
    let staff = app.token("staff_about", "STAFF").await;
    let patch = |token: &str, body: Value| {
        app.client
            .patch(app.menus[0].url("/menu/types/garlic_bread/"))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    let (status, _, _) =
        envelope(patch(&staff, json!({"description_ko": "x"})).await.unwrap()).await;
    assert_eq!(status, 403);
    for bad in [
        json!({}),
        json!({"allergens": ["gluten"]}),
        json!({"description_ko": "가".repeat(501)}),
    ] {
        let (status, _, _) = envelope(patch(&admin, bad.clone()).await.unwrap()).await;
        assert_eq!(status, 400, "{bad}");
    }
    let res = patch(
        &admin,
        json!({"description_ko": "마늘 버터 바게트 여덟 조각.", "description_en": "", "allergens": ["wheat", "milk", "Egg", "wheat"]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let sheet: Value = res.json().await.unwrap();
    assert_eq!(sheet["description_ko"], "마늘 버터 바게트 여덟 조각.");
    assert_eq!(
        sheet["description_en"],
        Value::Null,
        "an empty English text removes it"
    );
    assert_eq!(sheet["allergens"], json!(["wheat", "milk", "egg"]));
    let served = testkit::eventually(Duration::from_secs(2), || async {
        let menu: Vec<Value> = app
            .client
            .get(app.menus[1].url("/menu/?categ=Side"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        menu.iter()
            .any(|p| {
                p["pizza_id"] == "garlic_bread_reg"
                    && p["allergens"] == json!(["wheat", "milk", "egg"])
            })
            .then_some(())
    })
    .await;
    assert!(served.is_some(), "replica 1 serves the new text");
    let kind: String =
        sqlx::query_scalar("SELECT kind FROM catalog_change ORDER BY id DESC LIMIT 1")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(kind, "type_updated");
}
