//! Dine-in tables: staff of a branch manage them, each has a QR code that opens the web
//! client at that table (read back from the SVG and the PNG as a phone would), and an order
//! placed with a table's token is DINE_IN at that table, never after the table was retired.

use events::OrderEvent;
use serde_json::{Value, json};

use crate::helpers::{TestApp, envelope, spawn, start_order};

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.orders[0].url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn create_table(app: &TestApp, token: &str, bran_id: &str, label: &str) -> Value {
    let res = call(
        app,
        reqwest::Method::POST,
        &format!("/order/branch/{bran_id}/table/"),
        token,
        Some(json!({ "label": label })),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// The envelope of a refusal with `status` (its `error`).
async fn refused(res: reqwest::Response, status: u16) -> Value {
    let (got, _, error) = envelope(res).await;
    assert_eq!(got, status, "{error}");
    error
}

fn labels(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["label"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn staff_of_a_branch_create_rename_and_retire_its_tables_and_nobody_else_can() {
    let app = spawn(1).await;
    let staff = app
        .token_with("tables_staff", "STAFF", Some("gangnam"))
        .await;
    let other = app
        .token_with("tables_hongdae", "STAFF", Some("hongdae"))
        .await;
    let admin = app.token_with("tables_admin", "ADMIN", None).await;
    let customer = app.customer("tables_guest").await;
    use reqwest::Method;
    let tables = "/order/branch/gangnam/table/";

    let seven = create_table(&app, &staff, "gangnam", " 7 ").await;
    assert_eq!(seven["label"], "7", "trimmed");
    let token = seven["token"].as_str().unwrap();
    assert_eq!(token.len(), 22);
    let eight = create_table(&app, &admin, "gangnam", "8").await;
    let twelve = create_table(&app, &staff, "gangnam", "12").await;
    assert_ne!(eight["token"], seven["token"]);

    // The rules, each refused with the envelope, nothing changed.
    let rules = [
        (
            &staff,
            Method::POST,
            tables,
            Some(json!({"label": "7"})),
            409,
        ),
        (
            &staff,
            Method::POST,
            tables,
            Some(json!({"label": "  "})),
            400,
        ),
        (
            &staff,
            Method::POST,
            tables,
            Some(json!({"label": "x".repeat(21)})),
            400,
        ),
        (&customer, Method::GET, tables, None, 403),
        (
            &customer,
            Method::POST,
            tables,
            Some(json!({"label": "9"})),
            403,
        ),
        (&other, Method::GET, tables, None, 403),
        (
            &other,
            Method::POST,
            tables,
            Some(json!({"label": "9"})),
            403,
        ),
        (
            &admin,
            Method::GET,
            "/order/branch/nowhere/table/",
            None,
            404,
        ),
    ];
    for (who, method, path, body, status) in rules {
        let res = call(&app, method.clone(), path, who, body.clone()).await;
        assert_eq!(res.status(), status, "{method} {path} {body:?}");
        refused(res, status).await;
    }
    let res = app
        .client
        .get(app.orders[0].url(tables))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "no token, no tables");

    // Rename keeps the token; a taken label is 409.
    let path8 = format!("{tables}{}/", eight["table_id"].as_str().unwrap());
    let res = call(
        &app,
        Method::PATCH,
        &path8,
        &staff,
        Some(json!({"label": "테라스 1"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let renamed: Value = res.json().await.unwrap();
    assert_eq!(renamed["label"], "테라스 1");
    assert_eq!(
        renamed["token"], eight["token"],
        "the printed code stays valid"
    );
    let res = call(
        &app,
        Method::PATCH,
        &path8,
        &staff,
        Some(json!({"label": "7"})),
    )
    .await;
    refused(res, 409).await;

    // Retired: gone from the list, its label free again, a second retire is 404.
    let path12 = format!("{tables}{}/", twelve["table_id"].as_str().unwrap());
    let res = call(&app, Method::DELETE, &path12, &other, None).await;
    refused(res, 403).await;
    let res = call(&app, Method::DELETE, &path12, &staff, None).await;
    assert_eq!(res.status(), 204);
    let res = call(&app, Method::DELETE, &path12, &staff, None).await;
    refused(res, 404).await;
    create_table(&app, &staff, "gangnam", "12").await;

    let list: Value = call(&app, Method::GET, tables, &staff, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        labels(&list),
        ["7", "12", "테라스 1"],
        "by label, in use only"
    );

    // Anyone holding a token learns which table it is; a retired one is 404.
    let res = app
        .client
        .get(app.orders[0].url(&format!("/order/table/{token}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["bran_id"], "gangnam");
    assert_eq!(info["table_label"], "7");
    assert!(info["bran_nm"].as_str().is_some_and(|n| !n.is_empty()));
    let res = app
        .client
        .get(app.orders[0].url(&format!(
            "/order/table/{}/",
            twelve["token"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    refused(res, 404).await;
}

#[tokio::test]
async fn a_tables_qr_code_read_back_from_svg_and_png_opens_the_web_client_at_that_table() {
    let app = spawn(1).await;
    let staff = app.token_with("qr_staff", "STAFF", Some("gangnam")).await;
    let table = create_table(&app, &staff, "gangnam", "7").await;
    let token = table["token"].as_str().unwrap();
    // Without PUBLIC_WEB_URL: the address staff reached the API at.
    let here = app.orders[0].url("/");
    assert_eq!(table["url"], format!("{here}?table={token}"));

    let svg = call(
        &app,
        reqwest::Method::GET,
        table["qr_svg"].as_str().unwrap(),
        &staff,
        None,
    )
    .await;
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert_eq!(svg.headers()["cache-control"], "private, no-store");
    let read = testkit::qr::from_svg(&svg.text().await.unwrap()).unwrap();
    assert_eq!(read, table["url"].as_str().unwrap());

    let png = call(
        &app,
        reqwest::Method::GET,
        table["qr_png"].as_str().unwrap(),
        &staff,
        None,
    )
    .await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let read = testkit::qr::from_png(&png.bytes().await.unwrap()).unwrap();
    assert_eq!(read, table["url"].as_str().unwrap());

    // The printable sheet: every table's code and label, and nothing it could load.
    create_table(&app, &staff, "gangnam", "8").await;
    let sheet = call(
        &app,
        reqwest::Method::GET,
        "/order/branch/gangnam/table/sheet/",
        &staff,
        None,
    )
    .await;
    assert_eq!(sheet.status(), 200);
    let csp = sheet.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    let page = sheet.text().await.unwrap();
    assert_eq!(page.matches("<svg").count(), 2);
    assert!(page.contains("<strong>7</strong>") && page.contains("<strong>8</strong>"));
    assert!(!page.contains("<script"));
    // Each code on the sheet reads back as its table's URL.
    let first = &page[page.find("<svg").unwrap()..];
    let first = &first[..first.find("</svg>").unwrap() + 6];
    assert_eq!(
        testkit::qr::from_svg(first).unwrap(),
        table["url"].as_str().unwrap()
    );

    let res = call(
        &app,
        reqwest::Method::GET,
        &format!(
            "/order/branch/gangnam/table/{}/qr.gif",
            table["table_id"].as_str().unwrap()
        ),
        &staff,
        None,
    )
    .await;
    refused(res, 404).await;

    // With PUBLIC_WEB_URL, codes open the web client there, whatever the Host.
    let configured = start_order(&app.db, &app.nats, &app.login, &app.menu, |c| {
        c.public_web_url = Some("https://pizza.example/".into())
    })
    .await;
    app.wait_live(&configured).await;
    let list: Value = app
        .client
        .get(configured.url("/order/branch/gangnam/table/"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list[0]["url"],
        format!("https://pizza.example/?table={token}")
    );
}

#[tokio::test]
async fn an_order_with_a_tables_token_is_dine_in_at_its_branch_and_a_retired_table_takes_none() {
    let app = spawn(1).await;
    let staff = app.token_with("dine_staff", "STAFF", Some("hongdae")).await;
    let guest = app.customer("dine_guest").await;
    let table = create_table(&app, &staff, "hongdae", "7").await;
    let token = table["token"].as_str().unwrap();
    let items = json!([{"pizza_id": "bbq_ckn_s", "quantity": 1}]);

    let body = json!({"table_token": token, "items": items, "special_requests": "물 주세요"});
    let res = app.order(0, &guest, &body, Some("table-key")).await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["bran_id"], "hongdae", "the table's branch");
    assert_eq!(order["service"], "DINE_IN");
    assert_eq!(order["table_label"], "7");
    assert_eq!(order["order_number"], 1);
    // The same key and body: the same order again.
    let again = app.order(0, &guest, &body, Some("table-key")).await;
    assert_eq!(again.status(), 201);
    assert_eq!(
        again.json::<Value>().await.unwrap()["order_id"],
        order["order_id"]
    );

    // A pickup order says so.
    let pickup: Value = app
        .order(
            0,
            &guest,
            &json!({"bran_id": "hongdae", "items": items}),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pickup["service"], "PICKUP");
    assert!(pickup.get("table_label").is_none());

    // Staff see the table on the queue; the event carries it; a rename later leaves it.
    let res = app
        .client
        .patch(app.orders[0].url(&format!(
            "/order/branch/hongdae/table/{}/",
            table["table_id"].as_str().unwrap()
        )))
        .bearer_auth(&staff)
        .json(&json!({"label": "창가 7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let queue: Value = app
        .client
        .get(app.orders[0].url("/order/?status=PENDING"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seen = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == order["order_id"])
        .expect("on the queue");
    assert_eq!(seen["table_label"], "7", "as it was when ordered");
    assert_eq!(seen["special_requests"], "물 주세요");
    let created = app
        .order_events()
        .await
        .into_iter()
        .find_map(|e| match e {
            OrderEvent::Created(c) if c.order_id.to_string() == order["order_id"] => Some(c),
            _ => None,
        })
        .expect("order.created");
    assert_eq!(created.table_label.as_deref(), Some("7"));

    // Refusals write nothing.
    let before = app.scalar("SELECT count(*) FROM orders").await;
    for (body, status) in [
        (json!({"items": items}), 400),
        (
            json!({"bran_id": "hongdae", "table_token": token, "items": items}),
            400,
        ),
        (
            json!({"table_token": "AAAAAAAAAAAAAAAAAAAAAA", "items": items}),
            422,
        ),
        (json!({"table_token": "not a token", "items": items}), 422),
    ] {
        let res = app.order(0, &guest, &body, None).await;
        refused(res, status).await;
    }
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, before);

    // A retire that commits while an order at the table is being written: the order waits
    // for it and is refused; after the retire, the token orders nothing.
    let mut retiring = app.db.pool.begin().await.unwrap();
    sqlx::query("UPDATE dining_table SET retired_at = now() WHERE token = $1")
        .bind(token)
        .execute(&mut *retiring)
        .await
        .unwrap();
    let placing = tokio::spawn({
        let client = app.client.clone();
        let url = app.orders[0].url("/order/");
        let guest = guest.clone();
        let body = json!({"table_token": token, "items": items});
        async move {
            client
                .post(url)
                .bearer_auth(guest)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    });
    assert!(
        app.waits_on_a_lock("SELECT 1 FROM dining_table").await,
        "the order waits for the retire"
    );
    retiring.commit().await.unwrap();
    let res = placing.await.unwrap();
    let err = refused(res, 422).await;
    assert!(err["message"].as_str().unwrap().contains("table"), "{err}");
    let res = app
        .order(
            0,
            &guest,
            &json!({"table_token": token, "items": items}),
            None,
        )
        .await;
    refused(res, 422).await;
    assert_eq!(app.scalar("SELECT count(*) FROM orders").await, before);
}
