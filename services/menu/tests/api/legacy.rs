//! pizza_back's menu API (`/api/menu/…`) as its old front end reads it.

use serde_json::{Value, json};

use crate::helpers::spawn;

#[tokio::test]
async fn the_old_front_end_lists_pizzas_and_types_and_finds_ids_by_name_and_size() {
    let app = spawn(1).await;
    let get = |path: &'static str| app.client.get(app.menus[0].url(path)).send();

    // js/pizzalist.js: item.pizza_type__pizza_nm, item.size, item.price
    let res = get("/api/menu/").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["deprecation"], "@1796083200");
    assert_eq!(res.headers()["link"], "</menu/>; rel=\"successor-version\"");
    let old: Vec<Value> = res.json().await.unwrap();
    let new = app.menu(0).await;
    // Every pizza on sale (sides and drinks are not the old front end's).
    assert_eq!(
        old.len(),
        new.iter()
            .filter(|p| p["available"] == true && p["kind"] == "pizza")
            .count()
    );
    let bbq = old
        .iter()
        .find(|p| p["pizza_id"] == "bbq_ckn_m")
        .expect("bbq_ckn_m");
    assert_eq!(
        bbq.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["pizza_id", "pizza_type__pizza_nm", "price", "size"]
    );
    assert_eq!(bbq["pizza_type__pizza_nm"], "The Barbecue Chicken Pizza");
    assert_eq!(bbq["size"], "M");
    assert_eq!(bbq["price"], app.price_on(0, "bbq_ckn_m").await);

    // js/order.js: img.src = './' + pizza.pizza_img_url, from a page at the site root.
    let types: Vec<Value> = get("/api/menu/types/").await.unwrap().json().await.unwrap();
    assert!(!types.is_empty());
    for t in &types {
        let url = t["pizza_img_url"].as_str().unwrap();
        assert!(!url.starts_with('/'), "{url}");
        let picture = app
            .client
            .get(app.menus[0].url(&format!("/{url}")))
            .send()
            .await
            .unwrap();
        assert_eq!(picture.status(), 200, "{url}");
        assert_eq!(picture.headers()["content-type"], "image/svg+xml");
    }

    // The old order service's lookup.
    let ask = |body: Value| {
        app.client
            .post(app.menus[0].url("/api/menu/get_pizza_id/"))
            .json(&body)
            .send()
    };
    let res = ask(json!({"pizza_nm": "The Barbecue Chicken Pizza", "size": "L"}))
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"pizza_id": "bbq_ckn_l"})
    );
    for missing in [
        json!({"pizza_nm": "The Barbecue Chicken Pizza", "size": "Huge"}),
        json!({"pizza_nm": "No Such Pizza", "size": "M"}),
    ] {
        let res = ask(missing).await.unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"detail": "not found"})
        );
    }
    let res = ask(json!({"size": "M"})).await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "missing fields"})
    );
}

#[tokio::test]
async fn a_sold_out_pizza_is_not_offered_to_the_old_front_end() {
    let app = spawn(1).await;
    let admin = app.token("legacy_admin", "ADMIN").await;
    assert_eq!(
        app.patch(0, &admin, "bbq_ckn_s", json!({"available": false}))
            .await
            .status(),
        200
    );
    let offered = || async {
        let old: Vec<Value> = app
            .client
            .get(app.menus[0].url("/api/menu/"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        old
    };
    let old = testkit::eventually(std::time::Duration::from_secs(5), || async {
        let old = offered().await;
        old.iter()
            .all(|p| p["pizza_id"] != "bbq_ckn_s")
            .then_some(old)
    })
    .await
    .expect("the sold-out pizza leaves the old menu");
    assert!(old.iter().any(|p| p["pizza_id"] == "bbq_ckn_m"));
}
