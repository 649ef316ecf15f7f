//! Hostile input through the ingress: every refusal is the envelope, nothing is written, and
//! what is accepted comes back exactly as it was sent.

use e2e::Stack;
use serde_json::{Value, json};

async fn refused(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("a JSON envelope");
    assert!(body["error"]["request_id"].is_string(), "{body}");
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

async fn my_order_count(stack: &Stack, token: &str) -> usize {
    let list: Value = testkit::http()
        .get(stack.url("/order/myorder/?limit=100"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.as_array()
        .map_or_else(|| list["orders"].as_array().unwrap().len(), Vec::len)
}

#[tokio::test]
async fn nested_huge_and_nul_bodies_are_refused_and_change_nothing() {
    let stack = Stack::start(&[]).await;
    let http = testkit::http();
    let token = stack.customer("abuse_lee").await;
    let post = |body: String| {
        http.post(stack.url("/order/"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let line = r#"{"pizza_id":"bbq_ckn_l","quantity":1}"#;
    let items = |n: usize| vec![line; n].join(",");
    let cases: Vec<(&str, String, u16)> = vec![
        // 10 000 levels of nesting: past serde_json's recursion limit, not the stack.
        (
            "deeply nested",
            format!(
                r#"{{"bran_id":"gangnam","items":{}{}}}"#,
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
            400,
        ),
        (
            "51 lines",
            format!(r#"{{"bran_id":"gangnam","items":[{}]}}"#, items(51)),
            400,
        ),
        (
            "3 000 lines (over the service's 64 KiB)",
            format!(r#"{{"bran_id":"gangnam","items":[{}]}}"#, items(3_000)),
            413,
        ),
        (
            "40 000 lines (over the ingress's 1 MiB)",
            format!(r#"{{"bran_id":"gangnam","items":[{}]}}"#, items(40_000)),
            413,
        ),
        (
            "NUL in a string",
            r#"{"bran_id":"gang\u0000nam","items":[{"pizza_id":"bbq_ckn_l","quantity":1}]}"#
                .to_owned(),
            400,
        ),
        (
            "a number where text goes",
            r#"{"bran_id":1e999,"items":[]}"#.to_owned(),
            400,
        ),
    ];
    for (what, body, want) in cases {
        let (status, code) = refused(post(body).await.unwrap()).await;
        assert_eq!(status, want, "{what}: {code}");
    }
    assert_eq!(
        my_order_count(&stack, &token).await,
        0,
        "nothing was written"
    );

    // Same for registration, and the service is still answering afterwards.
    let nul = http
        .post(stack.url("/login/register/"))
        .header("content-type", "application/json")
        .body(r#"{"member_id":"nul_kim","member_pwd":"pizza lover 1","member_nm":"a\u0000b"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused(nul).await, (400, "VALIDATION_ERROR".to_owned()));
    let login = http
        .post(stack.url("/login/"))
        .json(&json!({"member_id": "nul_kim", "member_pwd": "pizza lover 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401, "the refused member does not exist");
    assert_eq!(
        http.get(stack.url("/menu/")).send().await.unwrap().status(),
        200
    );

    // NUL in a URL: nginx refuses it in a path, but not in a query, and another ingress may
    // pass either; the services refuse both themselves.
    let admin = stack.member("abuse_admin", "ADMIN", None).await;
    let direct = |svc: &e2e::Service, path: &str| format!("http://127.0.0.1:{}{path}", svc.http);
    let requests = [
        http.get(stack.url("/order/?bran_id=gang%00nam")),
        http.get(direct(&stack.order[0], "/order/?bran_id=%00")),
        http.get(direct(&stack.order[0], "/order/ab%00cd/")),
        http.patch(direct(&stack.menu[0], "/menu/pizzas/bbq%00/"))
            .json(&json!({"price": 1})),
    ];
    for req in requests {
        let (status, code) = refused(req.bearer_auth(&admin).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "VALIDATION_ERROR"));
    }
}

#[tokio::test]
async fn unicode_and_sql_looking_text_is_stored_and_returned_verbatim() {
    let stack = Stack::start(&[]).await;
    let http = testkit::http();
    let name = "Robert'); DROP TABLE member;-- 김민지 🍕 \"quoted\" \\ back \u{202e}rtl";
    let token = stack.customer_named("bobby_tables", name).await;
    let me: Value = http
        .get(stack.url("/login/me/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["member_nm"], name);

    // A SQL-looking id is just an unknown id; a SQL-looking reason is stored as written.
    let order = |pizza: &str| {
        http.post(stack.url("/order/"))
            .bearer_auth(&token)
            .json(&json!({"bran_id": "gangnam", "items": [{"pizza_id": pizza, "quantity": 1}]}))
            .send()
    };
    let (status, code) = refused(order("x' OR '1'='1").await.unwrap()).await;
    assert_eq!((status, code.as_str()), (422, "UNPROCESSABLE"));
    let placed: Value = order("bbq_ckn_l").await.unwrap().json().await.unwrap();
    let id = placed["order_id"].as_str().unwrap();
    let staff = stack.member("abuse_staff", "STAFF", Some("gangnam")).await;
    let reason = "out of dough'; DELETE FROM orders; -- 반죽 없음 🍕";
    let rejected: Value = http
        .post(stack.url(&format!("/order/{id}/reject/")))
        .bearer_auth(&staff)
        .json(&json!({"reason": reason}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    let seen: Value = http
        .get(stack.url(&format!("/order/{id}/")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["reject_reason"], reason);
    assert_eq!(my_order_count(&stack, &token).await, 1);
}
