//! Reading the menu: the seeded catalog, ETags and gzip, lookup, pictures, GetPrices, the cache.

use crate::helpers::{envelope, spawn};
use proto::menu::v1::{GetPricesRequest, menu_service_client::MenuServiceClient};
use serde_json::{Value, json};

#[tokio::test]
async fn the_menu_serves_the_seeded_catalog_with_etags() {
    let app = spawn(1).await;
    let menu = app.menu(0).await;
    // 93 pizzas, then the sides and drinks (items.rs).
    assert_eq!(menu.len(), 93 + 11);
    let bbq = menu.iter().find(|p| p["pizza_id"] == "bbq_ckn_s").unwrap();
    // The fields old clients read, as they were (the rest are additions).
    let old_fields: serde_json::Map<String, Value> = bbq
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| {
            ![
                "kind",
                "description_ko",
                "description_en",
                "allergens",
                "has_options",
            ]
            .contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        Value::Object(old_fields),
        json!({
            "pizza_id": "bbq_ckn_s", "pizza_type_id": "bbq_ckn",
            "pizza_nm": "The Barbecue Chicken Pizza", "pizza_categ": "Chicken",
            "pizza_img_url": "/menu/images/bbq_ckn.svg", "size": "S", "price": 17800,
            "available": true
        })
    );
    let types: Vec<Value> = app
        .client
        .get(app.menus[0].url("/menu/types"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(types.len(), 32 + 8);

    let mut total = 0;
    for categ in ["Classic", "Chicken", "Supreme", "veggie"] {
        let part: Vec<Value> = app
            .client
            .get(app.menus[0].url(&format!("/menu/?categ={categ}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!part.is_empty());
        assert!(part.iter().all(|p| {
            p["pizza_categ"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(categ)
        }));
        total += part.len();
    }
    assert_eq!(total, 93);
    let (status, code, _) = envelope(
        app.client
            .get(app.menus[0].url("/menu/?categ=Dessert"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "VALIDATION_ERROR"));

    let first = app
        .client
        .get(app.menus[0].url("/menu/"))
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].clone();
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let again = app
        .client
        .get(app.menus[0].url("/menu/"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
}

#[tokio::test]
async fn a_browser_asking_for_gzip_gets_the_same_menu_compressed_with_its_own_etag() {
    use std::io::Read;
    let app = spawn(1).await;
    let get = |accept: &'static str| {
        app.client
            .get(app.menus[0].url("/menu/"))
            .header("accept-encoding", accept)
            .send()
    };
    let plain = get("identity").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_etag = plain.headers()["etag"].clone();
    let plain: Value = serde_json::from_slice(&plain.bytes().await.unwrap()).unwrap();

    let zipped = get("gzip, deflate, br, zstd").await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    let zipped_etag = zipped.headers()["etag"].clone();
    assert_ne!(
        zipped_etag, plain_etag,
        "two representations, two entity tags"
    );
    let raw = zipped.bytes().await.unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut json)
        .unwrap();
    assert!(
        raw.len() * 4 < json.len(),
        "{} -> {}",
        json.len(),
        raw.len()
    );
    assert_eq!(serde_json::from_slice::<Value>(&json).unwrap(), plain);

    // q=0 refuses gzip; revalidation matches the representation the client would get.
    let refused = get("gzip;q=0").await.unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
    let revalidate = |accept: &'static str, tag: reqwest::header::HeaderValue| {
        app.client
            .get(app.menus[0].url("/menu/"))
            .header("accept-encoding", accept)
            .header("if-none-match", tag)
            .send()
    };
    assert_eq!(
        revalidate("gzip", zipped_etag.clone())
            .await
            .unwrap()
            .status(),
        304
    );
    assert_eq!(
        revalidate("identity", zipped_etag).await.unwrap().status(),
        200
    );
    assert_eq!(
        revalidate("identity", plain_etag).await.unwrap().status(),
        304
    );
}

#[tokio::test]
async fn get_pizza_id_finds_by_name_and_size_and_refuses_unknown_sizes() {
    let app = spawn(1).await;
    let ask = |nm: &'static str, size: &'static str| {
        app.client
            .post(app.menus[0].url("/menu/get_pizza_id/"))
            .json(&json!({"pizza_nm": nm, "size": size}))
            .send()
    };
    let res: Value = ask("The Barbecue Chicken Pizza", "M")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res, json!({"pizza_id": "bbq_ckn_m"}));
    let (s, code, _) = envelope(ask("The Barbecue Chicken Pizza", "XXL").await.unwrap()).await;
    assert_eq!((s, code.as_str()), (404, "NOT_FOUND"));
    let (s, code, _) = envelope(ask("The Barbecue Chicken Pizza", "Huge").await.unwrap()).await;
    assert_eq!((s, code.as_str()), (400, "VALIDATION_ERROR"));
    let (s, _, _) = envelope(ask("No Such Pizza", "M").await.unwrap()).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn every_type_has_its_own_image() {
    let app = spawn(1).await;
    let a = app
        .client
        .get(app.menus[0].url("/menu/images/bbq_ckn.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 200);
    assert_eq!(a.headers()["content-type"], "image/svg+xml");
    let a = a.text().await.unwrap();
    let b = app
        .client
        .get(app.menus[0].url("/menu/images/cali_ckn.svg"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(a.starts_with("<svg") && a != b);
    let (s, _, _) = envelope(
        app.client
            .get(app.menus[0].url("/menu/images/nope.svg"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn get_prices_returns_the_exact_price_just_set_and_marks_unknown_ids() {
    let app = spawn(1).await;
    let admin = app.token("admin_grpc", "ADMIN").await;
    let mut grpc = MenuServiceClient::connect(format!("http://{}", app.menus[0].grpc.unwrap()))
        .await
        .unwrap();
    let ask = |ids: Vec<&str>| GetPricesRequest {
        bran_id: String::new(),
        pizza_ids: ids.into_iter().map(String::from).collect(),
        lines: vec![],
    };
    let before = grpc
        .get_prices(ask(vec!["bbq_ckn_l"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.prices[0].price, 29000);

    app.patch(
        0,
        &admin,
        "bbq_ckn_l",
        json!({"price": 31234, "available": false}),
    )
    .await;
    let after = grpc
        .get_prices(ask(vec!["bbq_ckn_l", "no_such_pizza", "cali_ckn_s"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.prices.len(), 2);
    let p = &after.prices[0];
    assert_eq!(
        (p.pizza_id.as_str(), p.price, p.available),
        ("bbq_ckn_l", 31234, false)
    );
    assert_eq!(
        (p.pizza_nm.as_str(), p.size.as_str()),
        ("The Barbecue Chicken Pizza", "L")
    );
    assert!(p.catalog_version > before.prices[0].catalog_version);
    assert_eq!(after.unknown_ids, vec!["no_such_pizza".to_owned()]);
}

#[tokio::test]
async fn warm_reads_do_not_touch_the_database() {
    let app = spawn(1).await;
    app.menu(0).await;
    let loads = app.metric(0, "menu_catalog_loads_total").await;
    assert!(loads >= 1.0);
    let mut grpc = MenuServiceClient::connect(format!("http://{}", app.menus[0].grpc.unwrap()))
        .await
        .unwrap();
    for _ in 0..20 {
        app.menu(0).await;
        app.client
            .get(app.menus[0].url("/menu/types/"))
            .send()
            .await
            .unwrap();
        app.client
            .post(app.menus[0].url("/menu/get_pizza_id/"))
            .json(&json!({"pizza_nm": "The Hawaiian Pizza", "size": "L"}))
            .send()
            .await
            .unwrap();
    }
    // GetPrices reads the database on purpose (prices as committed), not the snapshot: it
    // loads no catalog either.
    for _ in 0..5 {
        grpc.get_prices(GetPricesRequest {
            pizza_ids: vec!["hawaiian_l".into()],
            bran_id: "gangnam".into(),
            lines: vec![],
        })
        .await
        .unwrap();
    }
    assert_eq!(
        app.metric(0, "menu_catalog_loads_total").await,
        loads,
        "no reload while warm"
    );
    let hits = app
        .metric(0, "cache_requests_total{cache=\"menu\",result=\"hit\"}")
        .await;
    assert!(hits >= 60.0, "{hits}");
}
