//! Through the nginx ingress, as a browser or curl would use the platform.

use e2e::Stack;
use serde_json::{Value, json};

async fn envelope(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("a JSON envelope");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn register_login_me_refresh_logout_through_the_ingress() {
    let stack = Stack::start(&[]).await;
    let http = testkit::http();

    let res = http
        .post(stack.url("/login/register/"))
        .json(
            &json!({"member_id": "e2e_kim", "member_pwd": "pizza lover 1", "member_nm": "김피자"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers().get_all("x-request-id").iter().count(), 1);

    let login: Value = http
        .post(stack.url("/login"))
        .json(&json!({"member_id": "e2e_kim", "member_pwd": "pizza lover 1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let me: Value = http
        .get(stack.url("/login/me/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["member_nm"], "김피자");

    let refreshed: Value = http
        .post(stack.url("/login/refresh/"))
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token2 = refreshed["token"].as_str().unwrap().to_owned();

    let out = http
        .post(stack.url("/login/logout/"))
        .bearer_auth(&token2)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);

    for t in [&token, &token2] {
        let res = http
            .get(stack.url("/login/me/"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(envelope(res).await, (401, "UNAUTHORIZED".to_owned()));
        // And over real gRPC, straight to the service.
        let mut grpc = proto::auth::v1::auth_service_client::AuthServiceClient::connect(format!(
            "http://127.0.0.1:{}",
            stack.login[0].grpc
        ))
        .await
        .unwrap();
        let err = grpc
            .verify_token(proto::auth::v1::VerifyTokenRequest { token: t.clone() })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
    }
}

#[tokio::test]
async fn the_ingress_answers_its_own_errors_with_the_envelope() {
    let mut stack = Stack::start(&[]).await;
    let http = testkit::http();

    // Over nginx's own limit: nginx answers, in the envelope.
    let res = http
        .post(stack.url("/login/register/"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(res).await, (413, "PAYLOAD_TOO_LARGE".to_owned()));
    // Over the service's limit but under nginx's: the service answers, in the envelope.
    let res = http
        .post(stack.url("/login/register/"))
        .header("content-type", "application/json")
        .body(vec![b' '; 100 << 10])
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(res).await, (413, "PAYLOAD_TOO_LARGE".to_owned()));
    // No such prefix.
    let res = http.get(stack.url("/nothing/here")).send().await.unwrap();
    assert_eq!(envelope(res).await, (404, "NOT_FOUND".to_owned()));
    // Every prefix has its service now; an unknown path under one is the service's 404.
    let res = http
        .get(stack.url("/order/no/such/path/"))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(res).await, (404, "NOT_FOUND".to_owned()));
    // TRACE never reaches a service: nginx refuses it, in the envelope, with Allow.
    let res = http
        .request(reqwest::Method::TRACE, stack.url("/menu/"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("allow"));
    assert_eq!(envelope(res).await, (405, "METHOD_NOT_ALLOWED".to_owned()));

    // The service dies: the ingress says 503 in the envelope, not an nginx page.
    for replica in &mut stack.login {
        replica.proc.kill();
    }
    let res = http.get(stack.url("/login/me/")).send().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(envelope(res).await, (503, "SERVICE_UNAVAILABLE".to_owned()));
}

#[tokio::test]
async fn request_ids_are_bounded_and_oversized_headers_are_431_never_503() {
    let stack = Stack::start(&[]).await;
    let http = testkit::http();
    let me = |id: String| {
        http.get(stack.url("/login/me/"))
            .header("x-request-id", id)
            .send()
    };
    // A short visible-ASCII id is the request's, end to end.
    let res = me("client-7f3a".into()).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-7f3a");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], "client-7f3a");
    // Anything else is replaced, once, by the ingress: the service and the client see
    // the same fresh id. The probe's 4,000 characters used to come back as a 503.
    for id in [
        "with space".to_owned(),
        "q\"uote".to_owned(),
        "x".repeat(65),
        "y".repeat(4_000),
    ] {
        let res = me(id.clone()).await.unwrap();
        assert_eq!(res.status(), 401, "served as any request");
        let ids: Vec<_> = res.headers().get_all("x-request-id").iter().collect();
        assert_eq!(ids.len(), 1);
        let fresh = ids[0].to_str().unwrap().to_owned();
        assert!(fresh != id && fresh.len() <= 64, "{fresh}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["request_id"], fresh.as_str());
    }
    // A header past nginx's buffers: 431 in the envelope.
    let res = me("z".repeat(20_000)).await.unwrap();
    assert_eq!(envelope(res).await, (431, "VALIDATION_ERROR".to_owned()));
}

#[tokio::test]
async fn only_our_own_pages_open_the_live_feed_through_the_ingress() {
    use tokio_tungstenite::tungstenite::{Error, client::IntoClientRequest};
    let stack = Stack::start(&[]).await;
    let open = |origin: String| {
        let mut req = format!("ws://127.0.0.1:{}/order/ws", stack.ingress)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        async move {
            match tokio_tungstenite::connect_async(req).await {
                Ok(_) => 101,
                Err(Error::Http(res)) => res.status().as_u16(),
                Err(e) => panic!("{e}"),
            }
        }
    };
    // The web client's origin is the ingress's own address, port included.
    assert_eq!(
        open(format!("http://127.0.0.1:{}", stack.ingress)).await,
        101
    );
    assert_eq!(open("https://evil.example".into()).await, 403);
    assert_eq!(
        open(format!("http://127.0.0.1:{}", stack.ingress + 1)).await,
        403
    );
}

#[tokio::test]
async fn per_client_limits_key_on_the_address_the_ingress_reports_not_on_what_clients_claim() {
    // One replica: each process keeps its own per-address limit (N replicas allow N times
    // the burst).
    let stack = Stack::start_with(
        1,
        &[
            ("AUTH_RATE_LIMIT_BURST", "2"),
            ("AUTH_RATE_LIMIT_PERIOD", "1m"),
        ],
    )
    .await;
    let http = testkit::http();
    let mut statuses = vec![];
    for i in 0..3 {
        // A client trying to look like many clients.
        let res = http
            .post(stack.url("/login/"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"member_id": "nobody", "member_pwd": "whatever pw"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 429]);
}

#[tokio::test]
async fn the_menu_is_served_through_the_ingress_with_revalidation_and_images() {
    let stack = Stack::start(&[]).await;
    let http = testkit::http();
    let res = http
        .get(stack.url("/menu/?categ=Chicken"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].clone();
    let chicken: Vec<Value> = res.json().await.unwrap();
    assert!(!chicken.is_empty() && chicken.iter().all(|p| p["pizza_categ"] == "Chicken"));
    let again = http
        .get(stack.url("/menu/?categ=Chicken"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let all: Vec<Value> = http
        .get(stack.url("/menu"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 93 + 11, "the pizzas, the sides and the drinks");
    let img = http
        .get(stack.url(chicken[0]["pizza_img_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(img.headers()["content-type"], "image/svg+xml");
    let id: Value = http
        .post(stack.url("/menu/get_pizza_id/"))
        .json(&json!({"pizza_nm": "The Hawaiian Pizza", "size": "L"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(id["pizza_id"], "hawaiian_l");
    // A customer cannot change prices, through the ingress either.
    let token = stack.customer("menu_fan").await;
    let res = http
        .patch(stack.url("/menu/pizzas/hawaiian_l/"))
        .bearer_auth(&token)
        .json(&json!({"price": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(res).await, (403, "FORBIDDEN".to_owned()));
}

#[tokio::test]
async fn the_customer_journey_register_login_menu_branch_order_my_orders() {
    let stack = Stack::start(&[]).await;
    let http = testkit::http();
    let res = http
        .post(stack.url("/login/register/"))
        .json(&json!({"member_id": "journey", "member_pwd": "pizza lover 1", "member_nm": "여정"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let login: Value = http
        .post(stack.url("/login/"))
        .json(&json!({"member_id": "journey", "member_pwd": "pizza lover 1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();

    let menu: Vec<Value> = http
        .get(stack.url("/menu/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pick: Vec<&Value> = menu
        .iter()
        .filter(|p| p["available"] == true)
        .take(2)
        .collect();
    let branches: Vec<Value> = http
        .get(stack.url("/order/branch/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bran_id = branches[0]["bran_id"].as_str().unwrap();

    let body = json!({"bran_id": bran_id, "items": [
        {"pizza_id": pick[0]["pizza_id"], "quantity": 2},
        {"pizza_id": pick[1]["pizza_id"], "quantity": 1},
    ]});
    let place = || {
        http.post(stack.url("/order/"))
            .bearer_auth(&token)
            .header("idempotency-key", "journey-1")
            .json(&body)
            .send()
    };
    let res = place().await.unwrap();
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    let expected = 2 * pick[0]["price"].as_i64().unwrap() + pick[1]["price"].as_i64().unwrap();
    assert_eq!(order["total_price"], expected, "priced from the menu");
    // A double click: the same order again, not a second one.
    let again: Value = place().await.unwrap().json().await.unwrap();
    assert_eq!(again["order_id"], order["order_id"]);

    let mine: Vec<Value> = http
        .get(stack.url("/order/myorder/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["order_id"], order["order_id"]);
    assert_eq!(mine[0]["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn live_status_flows_over_a_websocket_through_the_ingress() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let stack = Stack::start(&[]).await;
    let http = testkit::http();
    let token = stack.customer("ws_e2e").await;
    let token = token.as_str();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/order/ws", stack.ingress))
            .await
            .expect("upgrade through nginx");
    ws.send(Message::text(
        json!({"type": "auth", "token": token}).to_string(),
    ))
    .await
    .unwrap();
    let mut texts = Vec::new();
    let mut next_text = async || -> Value {
        loop {
            let m = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
                .await
                .expect("a message in time")
                .expect("open")
                .expect("ok");
            if let Message::Text(t) = m {
                return serde_json::from_str(&t).unwrap();
            }
        }
    };
    texts.push(next_text().await);
    assert_eq!(texts[0]["type"], "ready");
    let o: Value = http
        .post(stack.url("/order/"))
        .bearer_auth(token)
        .json(&json!({"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pushed = next_text().await;
    assert_eq!(pushed["type"], events::order::CREATED);
    assert_eq!(pushed["order_id"], o["order_id"]);
}
