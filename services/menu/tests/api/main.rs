//! pizza-menu against real PostgreSQL, a private NATS server, a real pizza-login, and real
//! gRPC, with one or two replicas.

mod helpers;

use std::time::{Duration, Instant};

use helpers::{envelope, spawn, start_menu};
use proto::menu::v1::{GetPricesRequest, menu_service_client::MenuServiceClient};
use serde_json::{Value, json};

#[tokio::test]
async fn the_menu_serves_the_seeded_catalog_with_etags() {
    let app = spawn(1).await;
    let menu = app.menu(0).await;
    assert_eq!(menu.len(), 93);
    let bbq = menu.iter().find(|p| p["pizza_id"] == "bbq_ckn_s").unwrap();
    assert_eq!(
        bbq,
        &json!({
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
    assert_eq!(types.len(), 32);

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
    let (status, code) = envelope(
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
    let (s, code) = envelope(ask("The Barbecue Chicken Pizza", "XXL").await.unwrap()).await;
    assert_eq!((s, code.as_str()), (404, "NOT_FOUND"));
    let (s, code) = envelope(ask("The Barbecue Chicken Pizza", "Huge").await.unwrap()).await;
    assert_eq!((s, code.as_str()), (400, "VALIDATION_ERROR"));
    let (s, _) = envelope(ask("No Such Pizza", "M").await.unwrap()).await;
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
    let (s, _) = envelope(
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
async fn a_price_change_through_one_replica_is_served_by_the_other_within_a_second() {
    let app = spawn(2).await;
    let admin = app.token("admin_park", "ADMIN").await;
    // Both replicas have the menu cached.
    assert_eq!(app.price_on(0, "bbq_ckn_s").await, 17800);
    assert_eq!(app.price_on(1, "bbq_ckn_s").await, 17800);

    let res = app
        .patch(0, &admin, "bbq_ckn_s", json!({"price": 18900}))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["price"], 18900);
    let changed = Instant::now();
    let seen = testkit::eventually(Duration::from_secs(1), || async {
        (app.price_on(1, "bbq_ckn_s").await == 18900).then_some(changed.elapsed())
    })
    .await;
    let took = seen.expect("the other replica served the new price within 1 s");
    eprintln!("propagation to the other replica took {took:?}");

    // Sold out, likewise.
    app.patch(1, &admin, "bbq_ckn_s", json!({"available": false}))
        .await;
    let gone = testkit::eventually(Duration::from_secs(1), || async {
        let m = app.menu(0).await;
        let p = m.into_iter().find(|p| p["pizza_id"] == "bbq_ckn_s")?;
        (p["available"] == false).then_some(())
    })
    .await;
    assert!(gone.is_some());

    // Recorded: who, old → new, and one event per change.
    let who: String = sqlx::query_scalar(
        "SELECT changed_by FROM catalog_change WHERE pizza_id = 'bbq_ckn_s' ORDER BY id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(who, "admin_park");
    let (old, new): (Value, Value) = sqlx::query_as(
        "SELECT old_value, new_value FROM catalog_change WHERE pizza_id = 'bbq_ckn_s' ORDER BY id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        (old["price"].clone(), new["price"].clone()),
        (json!(17800), json!(18900))
    );
    // The second event may still be on its way: the first one, arriving after the second
    // commit, can already have refreshed replica 0.
    let events = testkit::eventually(Duration::from_secs(5), || async {
        let e = app.catalog_events().await;
        (e.len() >= 2).then_some(e)
    })
    .await
    .expect("one event per change");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].pizza_ids, ["bbq_ckn_s"]);
    assert!(events[1].catalog_version > events[0].catalog_version);
}

#[tokio::test]
async fn with_nats_down_the_admin_write_succeeds_and_the_event_goes_out_once_when_it_returns() {
    let mut app = spawn(2).await;
    let admin = app.token("admin_nats", "ADMIN").await;
    assert_eq!(
        app.price_on(1, "hawaiian_m").await,
        app.price_on(0, "hawaiian_m").await
    );
    app.nats.stop().await;

    let res = app
        .patch(0, &admin, "hawaiian_m", json!({"price": 21000}))
        .await;
    assert_eq!(res.status(), 200, "NATS down never fails a write");
    assert_eq!(
        app.price_on(0, "hawaiian_m").await,
        21000,
        "the writer serves it at once"
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await,
        1
    );

    app.nats.start_again().await.unwrap();
    let published = testkit::eventually(Duration::from_secs(20), || async {
        let e = app.catalog_events().await;
        (!e.is_empty()).then_some(e)
    })
    .await
    .expect("the event was published after NATS came back");
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].pizza_ids, ["hawaiian_m"]);
    let refreshed = testkit::eventually(Duration::from_secs(10), || async {
        (app.price_on(1, "hawaiian_m").await == 21000).then_some(())
    })
    .await;
    assert!(
        refreshed.is_some(),
        "the other replica serves the new price"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.catalog_events().await.len(),
        1,
        "published exactly once"
    );
}

#[tokio::test]
async fn get_prices_returns_the_exact_price_just_set_and_marks_unknown_ids() {
    let app = spawn(1).await;
    let admin = app.token("admin_grpc", "ADMIN").await;
    let mut grpc = MenuServiceClient::connect(format!("http://{}", app.menus[0].grpc))
        .await
        .unwrap();
    let ask = |ids: Vec<&str>| GetPricesRequest {
        pizza_ids: ids.into_iter().map(String::from).collect(),
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
async fn writes_need_an_admin_and_a_logged_out_admin_is_refused_within_a_second() {
    let app = spawn(1).await;
    let customer = app.token("cust_lee", "CUSTOMER").await;
    let staff = app.token("staff_lee", "STAFF").await;
    let admin = app.token("admin_lee", "ADMIN").await;

    let (s, code) = envelope(
        app.patch(0, &customer, "bbq_ckn_s", json!({"price": 1000}))
            .await,
    )
    .await;
    assert_eq!((s, code.as_str()), (403, "FORBIDDEN"));
    let (s, _) = envelope(
        app.patch(0, &staff, "bbq_ckn_s", json!({"price": 1000}))
            .await,
    )
    .await;
    assert_eq!(s, 403);
    let no_token = app
        .client
        .patch(app.menus[0].url("/menu/pizzas/bbq_ckn_s/"))
        .json(&json!({"price": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(no_token).await.0, 401);
    assert_eq!(app.price_on(0, "bbq_ckn_s").await, 17800, "nothing changed");

    // The admin's verification is cached by now...
    assert_eq!(
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": 17900}))
            .await
            .status(),
        200
    );
    // ...and logging out drops it on the menu replica through auth.session_revoked.
    let out = app
        .client
        .post(app.login.url("/login/logout/"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let refused = testkit::eventually(Duration::from_secs(1), || async {
        let r = app
            .patch(0, &admin, "bbq_ckn_s", json!({"price": 18000}))
            .await;
        (r.status() == 401).then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "the logged-out admin was refused within 1 s"
    );
}

#[tokio::test]
async fn with_login_down_verified_tokens_keep_working_and_new_ones_get_a_fast_503() {
    let app = spawn(1).await;
    let admin = app.token("admin_kang", "ADMIN").await;
    let admin2 = app.token("admin_seo", "ADMIN").await;
    assert_eq!(
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": 17900}))
            .await
            .status(),
        200
    );

    app.login.shutdown.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while !app.login.task.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    assert_eq!(
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": 18100}))
            .await
            .status(),
        200
    );
    let started = Instant::now();
    let res = app
        .patch(0, &admin2, "bbq_ckn_s", json!({"price": 18200}))
        .await;
    let took = started.elapsed();
    let (s, code) = envelope(res).await;
    assert_eq!((s, code.as_str()), (503, "SERVICE_UNAVAILABLE"));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(app.price_on(0, "bbq_ckn_s").await, 18100);
}

#[tokio::test]
async fn each_role_is_refused_the_other_schemas() {
    let app = spawn(1).await;
    let err = sqlx::query("SELECT 1 FROM login.member")
        .execute(&app.db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = sqlx::query("SELECT 1 FROM menu.pizza")
        .execute(&app.login_db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = sqlx::query("UPDATE menu.pizza SET price = 1")
        .execute(&app.login_db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn warm_reads_do_not_touch_the_database() {
    let app = spawn(1).await;
    app.menu(0).await;
    let loads = app.metric(0, "menu_catalog_loads_total").await;
    assert!(loads >= 1.0);
    let mut grpc = MenuServiceClient::connect(format!("http://{}", app.menus[0].grpc))
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
        grpc.get_prices(GetPricesRequest {
            pizza_ids: vec!["hawaiian_l".into()],
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
    assert!(hits >= 80.0, "{hits}");
}

#[tokio::test]
async fn bad_input_gets_the_envelope_and_changes_nothing() {
    let app = spawn(1).await;
    let admin = app.token("admin_bad", "ADMIN").await;
    let version = app.scalar("SELECT version FROM catalog_version").await;
    let post = |path: &'static str, body: Value| {
        app.client
            .post(app.menus[0].url(path))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let cases = vec![
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": -100}))
            .await,
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": 0})).await,
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": 999_999_999}))
            .await,
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": 17800.5}))
            .await,
        app.patch(0, &admin, "bbq_ckn_s", json!({"price": "17800"}))
            .await,
        app.patch(0, &admin, "bbq_ckn_s", json!({})).await,
        post(
            "/menu/pizzas/",
            json!({"pizza_type_id": "bbq_ckn", "size": "Huge", "price": 30000}),
        )
        .await
        .unwrap(),
        post(
            "/menu/pizzas/",
            json!({"pizza_type_id": "bbq_ckn", "size": "XXL"}),
        )
        .await
        .unwrap(),
        post(
            "/menu/types/",
            json!({"pizza_type_id": "new_one", "pizza_nm": "   ", "pizza_categ": "Classic"}),
        )
        .await
        .unwrap(),
        post(
            "/menu/types/",
            json!({"pizza_type_id": "new_one", "pizza_nm": "New", "pizza_categ": "Dessert"}),
        )
        .await
        .unwrap(),
        post(
            "/menu/types/",
            json!({"pizza_type_id": "Bad Id!", "pizza_nm": "New", "pizza_categ": "Classic"}),
        )
        .await
        .unwrap(),
        app.client
            .post(app.menus[0].url("/menu/types/"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{\"pizza_type_id\": ")
            .send()
            .await
            .unwrap(),
    ];
    for res in cases {
        let (s, code) = envelope(res).await;
        assert_eq!((s, code.as_str()), (400, "VALIDATION_ERROR"));
    }
    let (s, _) = envelope(
        app.patch(0, &admin, "no_such_pizza", json!({"price": 100}))
            .await,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        app.scalar("SELECT version FROM catalog_version").await,
        version
    );
    assert_eq!(app.scalar("SELECT count(*) FROM catalog_change").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM outbox").await, 0);
    assert_eq!(app.price_on(0, "bbq_ckn_s").await, 17800);
}

#[tokio::test]
async fn an_admin_adds_a_type_and_its_sizes() {
    let app = spawn(2).await;
    let admin = app.token("admin_new", "ADMIN").await;
    let post = |path: &'static str, body: Value| {
        app.client
            .post(app.menus[0].url(path))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let res = post(
        "/menu/types/",
        json!({"pizza_type_id": "kimchi_bulgogi", "pizza_nm": "The Kimchi Bulgogi Pizza", "pizza_categ": "supreme"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["pizza_img_url"], "/menu/images/kimchi_bulgogi.svg");
    assert_eq!(t["pizza_categ"], "Supreme");
    let res = post(
        "/menu/pizzas/",
        json!({"pizza_type_id": "kimchi_bulgogi", "size": "m", "price": 24900}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let p: Value = res.json().await.unwrap();
    assert_eq!(
        (
            p["pizza_id"].as_str(),
            p["size"].as_str(),
            p["price"].as_i64()
        ),
        (Some("kimchi_bulgogi_m"), Some("M"), Some(24900))
    );

    let (s, _) = envelope(
        post(
            "/menu/pizzas/",
            json!({"pizza_type_id": "kimchi_bulgogi", "size": "M", "price": 1}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = envelope(post("/menu/types/", json!({"pizza_type_id": "other_id", "pizza_nm": "the kimchi bulgogi pizza", "pizza_categ": "Classic"})).await.unwrap()).await;
    assert_eq!(s, 409, "names are unique ignoring case");
    let (s, code) = envelope(
        post(
            "/menu/pizzas/",
            json!({"pizza_type_id": "no_type", "size": "M", "price": 100}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((s, code.as_str()), (422, "UNPROCESSABLE"));

    let other = testkit::eventually(Duration::from_secs(1), || async {
        let m = app.menu(1).await;
        m.into_iter().find(|p| p["pizza_id"] == "kimchi_bulgogi_m")
    })
    .await;
    assert!(other.is_some(), "the other replica shows the new pizza");
    let img = app
        .client
        .get(app.menus[1].url("/menu/images/kimchi_bulgogi.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(img.status(), 200);
    assert_eq!(app.scalar("SELECT count(*) FROM catalog_change").await, 2);
}

#[tokio::test]
async fn the_openapi_document_and_grpc_health_are_served() {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let app = spawn(1).await;
    let doc: Value = app
        .client
        .get(app.menus[0].url("/menu/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/menu/",
        "/menu/types/",
        "/menu/get_pizza_id/",
        "/menu/pizzas/",
        "/menu/pizzas/{pizza_id}/",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.menus[0].grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "pizza.menu.v1.MenuService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, 1);
}

#[tokio::test]
async fn a_replica_started_later_serves_the_current_catalog() {
    let app = spawn(1).await;
    let admin = app.token("admin_late", "ADMIN").await;
    app.patch(0, &admin, "the_greek_xxl", json!({"price": 40000}))
        .await;
    let late = start_menu(&app.db, &app.nats, app.login.grpc, &[]).await;
    let m: Vec<Value> = testkit::eventually(Duration::from_secs(5), || async {
        app.client
            .get(late.url("/menu/"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    })
    .await
    .unwrap();
    let p = m.iter().find(|p| p["pizza_id"] == "the_greek_xxl").unwrap();
    assert_eq!(p["price"], 40000);
}

#[tokio::test]
async fn if_an_event_is_lost_the_ttl_still_bounds_staleness() {
    let app = spawn(0).await;
    let m = start_menu(
        &app.db,
        &app.nats,
        app.login.grpc,
        &["--menu-cache-ttl", "1s"],
    )
    .await;
    app.wait_until_live(&m).await;
    let price = |app: &helpers::TestApp| {
        let url = m.url("/menu/");
        let c = app.client.clone();
        async move {
            let menu: Vec<Value> = c.get(url).send().await.unwrap().json().await.unwrap();
            menu.into_iter()
                .find(|p| p["pizza_id"] == "bbq_ckn_m")
                .and_then(|p| p["price"].as_i64())
                .unwrap()
        }
    };
    assert_eq!(price(&app).await, 23400);
    // A change that announces nothing (as if its event were lost).
    sqlx::query("UPDATE pizza SET price = 23500 WHERE pizza_id = 'bbq_ckn_m'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(price(&app).await, 23400, "served from the cache");
    let caught_up = testkit::eventually(Duration::from_secs(3), || async {
        (price(&app).await == 23500).then_some(())
    })
    .await;
    assert!(caught_up.is_some(), "the TTL let the new price through");
}
