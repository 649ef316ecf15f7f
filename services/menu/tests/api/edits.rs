//! ADMIN edits: who may, what is refused, and how fast every replica serves the change.

use std::time::{Duration, Instant};

use crate::helpers::{envelope, spawn, start_menu};
use serde_json::{Value, json};

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
async fn writes_need_an_admin_and_a_logged_out_admin_is_refused_within_a_second() {
    let app = spawn(1).await;
    let customer = app.token("cust_lee", "CUSTOMER").await;
    let staff = app.token("staff_lee", "STAFF").await;
    let admin = app.token("admin_lee", "ADMIN").await;

    let (s, code, _) = envelope(
        app.patch(0, &customer, "bbq_ckn_s", json!({"price": 1000}))
            .await,
    )
    .await;
    assert_eq!((s, code.as_str()), (403, "FORBIDDEN"));
    let (s, _, _) = envelope(
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
        let (s, code, _) = envelope(res).await;
        assert_eq!((s, code.as_str()), (400, "VALIDATION_ERROR"));
    }
    let (s, _, _) = envelope(
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

    let (s, _, _) = envelope(
        post(
            "/menu/pizzas/",
            json!({"pizza_type_id": "kimchi_bulgogi", "size": "M", "price": 1}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _, _) = envelope(post("/menu/types/", json!({"pizza_type_id": "other_id", "pizza_nm": "the kimchi bulgogi pizza", "pizza_categ": "Classic"})).await.unwrap()).await;
    assert_eq!(s, 409, "names are unique ignoring case");
    let (s, code, _) = envelope(
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
async fn a_replica_started_later_serves_the_current_catalog() {
    let app = spawn(1).await;
    let admin = app.token("admin_late", "ADMIN").await;
    app.patch(0, &admin, "the_greek_xxl", json!({"price": 40000}))
        .await;
    let late = start_menu(&app.db, &app.nats, &app.login, |_| {}).await;
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
    let m = start_menu(&app.db, &app.nats, &app.login, |c| {
        c.menu_cache_ttl = Duration::from_secs(1)
    })
    .await;
    app.wait_until_live(&m).await;
    let price = |app: &crate::helpers::TestApp| {
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
