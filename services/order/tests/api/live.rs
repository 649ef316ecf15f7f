//! Live status over WebSocket, across replicas.

use std::time::{Duration, Instant};

use events::order;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

use crate::helpers::{TestApp, spawn, start_order};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(app: &TestApp, replica: usize, query: &str) -> Ws {
    let url = format!("ws://{}/order/ws{query}", app.orders[replica].http);
    connect_async(url).await.expect("websocket upgrade").0
}

async fn authed(app: &TestApp, replica: usize, token: &str) -> Ws {
    let mut ws = open(app, replica, "").await;
    ws.send(Message::text(
        json!({"type": "auth", "token": token}).to_string(),
    ))
    .await
    .unwrap();
    let ready = next_json(&mut ws, Duration::from_secs(5))
        .await
        .expect("ready");
    assert_eq!(ready["type"], "ready", "{ready}");
    ws
}

/// The next JSON message within `within`, skipping pings.
async fn next_json(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// The close code the server sends within `within`.
async fn close_code(ws: &mut Ws, within: Duration) -> Option<u16> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await.ok()? {
            Some(Ok(Message::Close(Some(frame)))) => return Some(frame.code.into()),
            Some(Ok(Message::Close(None))) | None => return Some(1005),
            Some(Err(_)) => return Some(1006),
            Some(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_change_on_one_replica_reaches_the_owners_socket_on_another_and_nobody_elses() {
    let app = spawn(2).await;
    let alice = app.customer("ws_alice").await;
    let bob = app.customer("ws_bob").await;
    let staff = app.token_with("ws_staff", "STAFF", None).await;
    let mut alice_ws = authed(&app, 0, &alice).await;
    let mut bob_ws = authed(&app, 0, &bob).await;
    let mut staff_ws = authed(&app, 1, &staff).await;

    let body = json!({"bran_id": "hongdae", "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1}]});
    let o: Value = app
        .order(1, &alice, &body, None)
        .await
        .json()
        .await
        .unwrap();
    let id = o["order_id"].as_str().unwrap();

    let created = next_json(&mut staff_ws, Duration::from_secs(2))
        .await
        .expect("staff sees the new order");
    assert_eq!(
        (created["type"].as_str(), created["order_id"].as_str()),
        (Some(order::CREATED), Some(id))
    );
    let own = next_json(&mut alice_ws, Duration::from_secs(2))
        .await
        .expect("alice sees her order");
    assert_eq!(own["type"], order::CREATED);

    let accepted_at = Instant::now();
    let res = app
        .client
        .post(app.orders[1].url(&format!("/order/{id}/accept/")))
        .bearer_auth(&staff)
        .json(&json!({"estimated_time_minutes": 15}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let change = next_json(&mut alice_ws, Duration::from_secs(1))
        .await
        .expect("the acceptance reached alice's socket on the other replica within 1 s");
    eprintln!(
        "acceptance reached the socket after {:?}",
        accepted_at.elapsed()
    );
    assert_eq!(change["type"], order::STATUS_CHANGED);
    assert_eq!(change["order_id"], id);
    assert_eq!(
        (
            change["status"].as_str(),
            change["previous_status"].as_str()
        ),
        (Some("ACCEPTED"), Some("PENDING"))
    );
    assert!(change["estimated_ready_at"].is_string() && change["occurred_at"].is_string());
    assert!(
        change.get("member_id").is_none(),
        "routing fields are not pushed"
    );

    assert!(
        next_json(&mut bob_ws, Duration::from_millis(500))
            .await
            .is_none(),
        "bob sees nothing of alice's"
    );
}

#[tokio::test]
async fn bound_staff_see_only_their_branch() {
    let app = spawn(1).await;
    let customer = app.customer("ws_branch_customer").await;
    let bound = app.token_with("ws_bound", "STAFF", Some("jamsil")).await;
    let mut ws = authed(&app, 0, &bound).await;
    let to = |b: &str| json!({"bran_id": b, "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1}]});
    app.order(0, &customer, &to("gangnam"), None).await;
    app.order(0, &customer, &to("jamsil"), None).await;
    let first = next_json(&mut ws, Duration::from_secs(2)).await.unwrap();
    let o: Vec<Value> = app
        .client
        .get(app.orders[0].url("/order/?bran_id=jamsil"))
        .bearer_auth(&bound)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["order_id"], o[0]["order_id"]);
    assert!(
        next_json(&mut ws, Duration::from_millis(500))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_socket_needs_a_valid_token_first_and_closes_when_its_session_is_revoked() {
    let app = spawn(1).await;
    let mut anonymous = open(&app, 0, "").await;
    anonymous
        .send(Message::text("{\"type\": \"hello\"}"))
        .await
        .unwrap();
    let err = next_json(&mut anonymous, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(err["code"], "UNAUTHORIZED");
    assert_eq!(
        close_code(&mut anonymous, Duration::from_secs(2)).await,
        Some(4401)
    );

    let mut forged = open(&app, 0, "").await;
    forged
        .send(Message::text(
            json!({"type": "auth", "token": "not.a.token"}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut forged, Duration::from_secs(2))
            .await
            .unwrap()["code"],
        "UNAUTHORIZED"
    );

    let token = app.customer("ws_leaver").await;
    let mut ws = authed(&app, 0, &token).await;
    let out = app
        .client
        .post(app.login.url("/login/logout/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(3)).await,
        Some(4401),
        "closed on revocation"
    );
}

#[tokio::test]
async fn a_page_of_another_origin_cannot_open_the_feed() {
    let mut app = spawn(1).await;
    let listed = start_order(&app.db, &app.nats, &app.login, &app.menu, |c| {
        c.http.cors_allowed_origins = settings::parse_list("https://shop.example").unwrap();
    })
    .await;
    app.orders.push(listed);
    let host = app.orders[1].http.to_string();
    let upgrade = |origin: Option<String>, forwarded_host: Option<&str>| {
        let mut req = format!("ws://{host}/order/ws")
            .into_client_request()
            .unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        if let Some(h) = forwarded_host {
            req.headers_mut()
                .insert("x-forwarded-host", h.parse().unwrap());
        }
        async move {
            match connect_async(req).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
                Err(e) => panic!("{e}"),
            }
        }
    };
    // Not a browser (no Origin), the page's own origin, directly or through the ingress,
    // and a listed origin: upgraded.
    assert_eq!(upgrade(None, None).await, 101);
    assert_eq!(upgrade(Some(format!("http://{host}")), None).await, 101);
    assert_eq!(
        upgrade(Some("https://pizza.example".into()), Some("pizza.example")).await,
        101
    );
    assert_eq!(
        upgrade(Some("https://shop.example".into()), None).await,
        101
    );
    // Any other page: 403 before the upgrade.
    for evil in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        assert_eq!(upgrade(Some(evil.into()), None).await, 403, "{evil}");
    }
    // Without the setting only the page's own origin is allowed.
    let plain = app.orders[0].http.to_string();
    let mut req = format!("ws://{plain}/order/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("origin", "https://shop.example".parse().unwrap());
    assert!(matches!(
        connect_async(req).await,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 403
    ));
}
