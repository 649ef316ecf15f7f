//! Hostile and malformed requests: the envelope, nothing written; CORS.

use crate::helpers::{envelope, spawn_app, spawn_app_with};
use serde_json::json;

#[tokio::test]
async fn malformed_bodies_get_the_envelope_and_write_nothing() {
    let app = spawn_app().await;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            app.client
                .post(app.url("/login/register/"))
                .header("content-type", "application/json")
                .body("{\"member_id\": \"abc\", "),
            400,
            "VALIDATION_ERROR",
        ),
        (
            app.client.post(app.url("/login/register/")).json(
                &json!({"member_id": 12345, "member_pwd": "long enough pw", "member_nm": "x"}),
            ),
            400,
            "VALIDATION_ERROR",
        ),
        (
            app.client
                .post(app.url("/login/register/"))
                .json(&json!({"member_id": "missing_fields"})),
            400,
            "VALIDATION_ERROR",
        ),
        (
            app.client
                .post(app.url("/login/register/"))
                .body(json!({"member_id": "nocontenttype", "member_pwd": "long enough pw", "member_nm": "x"}).to_string()),
            400,
            "VALIDATION_ERROR",
        ),
        (
            app.client.post(app.url("/login/register/")).json(&json!({
                "member_id": "big_body", "member_pwd": "long enough pw",
                "member_nm": "x".repeat(1 << 20)
            })),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            app.client
                .post(app.url("/login/register/"))
                .json(&json!({"member_id": "no spaces!", "member_pwd": "long enough pw", "member_nm": "x"})),
            400,
            "VALIDATION_ERROR",
        ),
        (
            app.client
                .post(app.url("/login/register/"))
                .json(&json!({"member_id": "shortpw", "member_pwd": "short", "member_nm": "x"})),
            400,
            "VALIDATION_ERROR",
        ),
        (
            app.client.post(app.url("/login/register/")).json(
                &json!({"member_id": "longpw", "member_pwd": "p".repeat(129), "member_nm": "x"}),
            ),
            400,
            "VALIDATION_ERROR",
        ),
    ];
    for (req, want_status, want_code) in cases {
        let (status, code, message) = envelope(req.send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (want_status, want_code),
            "{message}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM member").await, 0);
}

// Multi-threaded: the test blocks on a plain socket while the server runs on another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_413_too() {
    let app = spawn_app().await;
    use std::io::{Read, Write};
    // No Content-Length: the limit must hold while the body streams in.
    let mut s = std::net::TcpStream::connect(app.http).unwrap();
    write!(
        s,
        "POST /login/register/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let chunk = " ".repeat(8192);
    for _ in 0..20 {
        if write!(s, "{:x}\r\n{chunk}\r\n", chunk.len()).is_err() {
            break; // the server may answer and close before the end
        }
    }
    let _ = write!(s, "0\r\n\r\n");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"PAYLOAD_TOO_LARGE\""), "{answer}");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_envelope() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/login/nope")).send().await.unwrap();
    let (status, code, _) = envelope(res).await;
    assert_eq!((status, code.as_str()), (404, "NOT_FOUND"));
    let res = app
        .client
        .delete(app.url("/login/me/"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("allow"));
    let (status, _, _) = envelope(res).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn cors_answers_listed_origins_only() {
    let app = spawn_app_with(|c| {
        c.http.cors_allowed_origins = settings::parse_list("http://shop.example").unwrap();
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/login/"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("http://shop.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://shop.example"
    );
    let other = preflight("http://evil.example").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    // Without the setting, CORS is off altogether.
    let plain = spawn_app().await;
    let res = plain
        .client
        .request(reqwest::Method::OPTIONS, plain.url("/login/"))
        .header("origin", "http://shop.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn a_client_request_id_is_kept_only_if_short_visible_ascii() {
    let app = spawn_app().await;
    let with_id = |id: String| {
        app.client
            .get(app.url("/login/me/"))
            .header("x-request-id", id)
            .send()
    };
    let kept = "trace-7f3a:client/42=ok".to_owned();
    let res = with_id(kept.clone()).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], kept.as_str());
    let (status, _, _) = envelope(res).await;
    assert_eq!(status, 401);

    let refused = [
        "has spaces in it".to_owned(),
        "tab\there".to_owned(),
        "quote\"d".to_owned(),
        "back\\slash".to_owned(),
        "x".repeat(65),
        "y".repeat(4_000),
        "z".repeat(100_000),
    ];
    for id in refused {
        let res = with_id(id.clone()).await.unwrap();
        let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(echoed, id);
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "fresh id: {echoed}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "UNAUTHORIZED",
            "the request was served"
        );
        assert_eq!(body["error"]["request_id"], echoed.as_str());
    }

    // A header past what the server reads at all is refused as such, never "try again".
    let res = with_id("h".repeat(500_000)).await.unwrap();
    assert_eq!(res.status(), 431);
}
