//! Sold out at one branch: staff of that branch mark it (ADMIN: any branch), the menu for
//! that branch shows it on every replica, GetPrices for that branch answers it at once, and
//! the other branches keep selling.

use std::time::Duration;

use proto::menu::v1::{GetPricesRequest, menu_service_client::MenuServiceClient};
use serde_json::{Value, json};

use crate::helpers::{TestApp, envelope, spawn};

async fn staff(app: &TestApp, member_id: &str, bran_id: Option<&str>) -> String {
    harness::member(&app.login_db, member_id, authclient::Role::Staff, bran_id).await;
    harness::token(&app.client, &app.login, member_id).await
}

async fn set(
    app: &TestApp,
    replica: usize,
    token: &str,
    pizza_id: &str,
    bran_id: &str,
    available: bool,
) -> reqwest::Response {
    app.client
        .put(app.menus[replica].url(&format!("/menu/pizzas/{pizza_id}/branches/{bran_id}/")))
        .bearer_auth(token)
        .json(&json!({ "available": available }))
        .send()
        .await
        .unwrap()
}

/// `available` of the pizza on `replica`'s menu for the branch (`None`: the plain menu).
async fn available_on(
    app: &TestApp,
    replica: usize,
    bran_id: Option<&str>,
    pizza_id: &str,
) -> bool {
    let path = match bran_id {
        Some(b) => format!("/menu/?bran_id={b}"),
        None => "/menu/".into(),
    };
    let menu: Vec<Value> = app
        .client
        .get(app.menus[replica].url(&path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    menu.iter()
        .find(|p| p["pizza_id"] == pizza_id)
        .and_then(|p| p["available"].as_bool())
        .expect("the pizza is on the menu")
}

async fn priced_available(app: &TestApp, replica: usize, bran_id: &str, pizza_id: &str) -> bool {
    let mut grpc =
        MenuServiceClient::connect(format!("http://{}", app.menus[replica].grpc.unwrap()))
            .await
            .unwrap();
    let reply = grpc
        .get_prices(GetPricesRequest {
            pizza_ids: vec![pizza_id.into()],
            bran_id: bran_id.into(),
            lines: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    reply.prices[0].available
}

#[tokio::test]
async fn staff_mark_a_pizza_sold_out_at_their_branch_only_and_every_replica_follows() {
    let app = spawn(2).await;
    let gangnam = staff(&app, "so_gangnam", Some("gangnam")).await;
    let hongdae = staff(&app, "so_hongdae", Some("hongdae")).await;
    let customer = app.token("so_customer", "CUSTOMER").await;
    let admin = app.token("so_admin", "ADMIN").await;
    for r in 0..2 {
        assert!(available_on(&app, r, Some("gangnam"), "bbq_ckn_s").await);
    }
    let events = app.catalog_events().await.len();

    let res = set(&app, 0, &gangnam, "bbq_ckn_s", "gangnam", false).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"pizza_id": "bbq_ckn_s", "bran_id": "gangnam", "available": false, "sold_out_here": true})
    );
    // Prices for that branch say so at once, on either replica: they are read as committed.
    for r in 0..2 {
        assert!(
            !priced_available(&app, r, "gangnam", "bbq_ckn_s").await,
            "replica {r}"
        );
        assert!(priced_available(&app, r, "hongdae", "bbq_ckn_s").await);
    }
    // The branch's menu follows on the other replica too; the others' and the plain one don't
    // change.
    let followed = testkit::eventually(Duration::from_secs(1), || async {
        (!available_on(&app, 1, Some("gangnam"), "bbq_ckn_s").await).then_some(())
    })
    .await;
    assert!(
        followed.is_some(),
        "the other replica shows it sold out at gangnam"
    );
    assert!(available_on(&app, 1, Some("hongdae"), "bbq_ckn_s").await);
    assert!(available_on(&app, 1, None, "bbq_ckn_s").await);
    assert!(
        available_on(&app, 1, Some("gangnam"), "bbq_ckn_m").await,
        "only that size"
    );

    // Announced, with its branch, and recorded.
    let announced = app.catalog_events().await;
    assert_eq!(announced.len(), events + 1);
    let last = announced.last().unwrap();
    assert_eq!(last.bran_id.as_deref(), Some("gangnam"));
    assert_eq!(last.pizza_ids, ["bbq_ckn_s"]);
    assert_eq!(
        app.scalar(
            "SELECT count(*) FROM catalog_change WHERE kind = 'branch_availability' \
             AND changed_by = 'so_gangnam' AND new_value = '{\"bran_id\": \"gangnam\", \"available\": false}'"
        )
        .await,
        1
    );
    // Saying it again changes nothing and announces nothing.
    assert_eq!(
        set(&app, 1, &gangnam, "bbq_ckn_s", "gangnam", false)
            .await
            .status(),
        200
    );
    assert_eq!(app.catalog_events().await.len(), events + 1);

    // Who may: staff of that branch, unbound staff, ADMIN; nobody else.
    for (who, pizza, branch, status) in [
        (&customer, "bbq_ckn_s", "gangnam", 403),
        (&hongdae, "bbq_ckn_s", "gangnam", 403),
        (&gangnam, "no_such_pizza", "gangnam", 404),
        (&admin, "bbq_ckn_s", "Gang%20Nam", 404),
    ] {
        let (got, _, error) = envelope(set(&app, 0, who, pizza, branch, true).await).await;
        assert_eq!(got, status, "{pizza} at {branch}: {error}");
    }
    assert!(
        !priced_available(&app, 0, "gangnam", "bbq_ckn_s").await,
        "refusals changed nothing"
    );
    let unbound = staff(&app, "so_unbound", None).await;
    assert_eq!(
        set(&app, 0, &unbound, "hawaiian_l", "jamsil", false)
            .await
            .status(),
        200
    );
    assert_eq!(
        set(&app, 0, &admin, "hawaiian_l", "jamsil", true)
            .await
            .status(),
        200
    );

    // Back on sale.
    assert_eq!(
        set(&app, 0, &gangnam, "bbq_ckn_s", "gangnam", true)
            .await
            .status(),
        200
    );
    assert!(priced_available(&app, 1, "gangnam", "bbq_ckn_s").await);

    // The ADMIN's sold-out is every branch's.
    let res = app
        .patch(0, &admin, "bbq_ckn_s", json!({"available": false}))
        .await;
    assert_eq!(res.status(), 200);
    for b in ["gangnam", "hongdae"] {
        assert!(!priced_available(&app, 1, b, "bbq_ckn_s").await);
    }
}
