//! Reading orders: who sees what, my orders page by page, the branches.

use crate::helpers::{envelope, spawn, two_pizzas};
use serde_json::{Value, json};

#[tokio::test]
async fn nobody_sees_anyone_elses_order_but_staff_of_its_branch_and_admins() {
    let app = spawn(1).await;
    let a = app.customer("cust_a").await;
    let b = app.customer("cust_b").await;
    let staff_here = app
        .token_with("staff_gangnam", "STAFF", Some("gangnam"))
        .await;
    let staff_there = app
        .token_with("staff_jamsil", "STAFF", Some("jamsil"))
        .await;
    let admin = app.token_with("admin_all", "ADMIN", None).await;
    let o: Value = app
        .order(0, &a, &two_pizzas(), None)
        .await
        .json()
        .await
        .unwrap();
    let url = app.orders[0].url(&format!("/order/{}/", o["order_id"].as_str().unwrap()));
    let status = |t: String| {
        let (c, u) = (app.client.clone(), url.clone());
        async move {
            c.get(u)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(a.clone()).await, 200);
    assert_eq!(
        status(b.clone()).await,
        404,
        "not 403: existence is not revealed"
    );
    assert_eq!(status(staff_there).await, 404);
    assert_eq!(status(staff_here).await, 200);
    assert_eq!(status(admin).await, 200);
    let mine: Vec<Value> = app
        .client
        .get(app.orders[0].url("/order/myorder/"))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine.is_empty());
    let (s, _, _) = envelope(
        app.client
            .get(app.orders[0].url("/order/not-a-uuid/"))
            .bearer_auth(&a)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn my_orders_come_newest_first_a_page_at_a_time() {
    let app = spawn(1).await;
    let token = app.customer("many_orders").await;
    let mut placed = vec![];
    for q in 1..=7 {
        let body =
            json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_s", "quantity": q}]});
        let o: Value = app
            .order(0, &token, &body, None)
            .await
            .json()
            .await
            .unwrap();
        placed.push(o["order_id"].as_str().unwrap().to_owned());
    }
    placed.reverse();
    let mut seen = vec![];
    let mut url = app.orders[0].url("/order/myorder/?limit=3");
    let mut pages = 0;
    loop {
        let res = app
            .client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let next = res
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let page: Vec<Value> = res.json().await.unwrap();
        assert!(page.len() <= 3);
        for o in &page {
            assert_eq!(
                o["items"].as_array().unwrap().len(),
                1,
                "each row has its items"
            );
            seen.push(o["order_id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match next {
            Some(link) => {
                assert!(link.ends_with("rel=\"next\""));
                let path = link.trim_start_matches('<').split('>').next().unwrap();
                url = app.orders[0].url(path);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, placed, "newest first, each once");
    let (s, _, _) = envelope(
        app.client
            .get(app.orders[0].url("/order/myorder/?limit=500"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn branches_are_listed_without_a_token() {
    let app = spawn(1).await;
    let b: Vec<Value> = app
        .client
        .get(app.orders[0].url("/order/branch/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b.len(), 5);
    // Without hours set, a branch is open around the clock, as before hours existed.
    assert!(b.contains(
        &json!({"bran_id": "gangnam", "bran_nm": "강남점", "open_now": true,
                               "paused": false, "hours": []})
    ));
}
