//! pizza-login against real PostgreSQL, a real NATS JetStream server and real gRPC.

mod binary;
mod helpers;
mod tokens;

use std::time::Duration;

use helpers::{PASSWORD, envelope, spawn_app, spawn_app_with};
use serde_json::{Value, json};

#[tokio::test]
async fn register_login_me_refresh_logout_and_the_old_token_is_rejected_everywhere() {
    let app = spawn_app().await;
    let res = app.register("kim_minji").await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"member_id": "kim_minji", "member_nm": "테스트"})
    );

    let login: Value = app.login("kim_minji", PASSWORD).await.json().await.unwrap();
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    assert_eq!(login["member"]["role"], "CUSTOMER");
    let token = login["token"].as_str().unwrap();

    let me: Value = app
        .get_auth("/login/me/", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["member_id"], "kim_minji");
    assert_eq!(me["member_nm"], "테스트");
    assert_eq!(app.verify(token).await, Ok("kim_minji".to_owned()));

    let refreshed = app
        .post(
            "/login/refresh/",
            &json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let new_token = refreshed["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_ne!(refreshed["refresh_token"], login["refresh_token"]);
    assert_eq!(app.get_auth("/login/me", new_token).await.status(), 200);

    let out = app
        .client
        .post(app.url("/login/logout/"))
        .bearer_auth(new_token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);

    // Both access tokens of the session are dead, over HTTP and over gRPC.
    for t in [token, new_token] {
        let (status, code, _) = envelope(app.get_auth("/login/me/", t).await).await;
        assert_eq!((status, code.as_str()), (401, "UNAUTHORIZED"));
        assert_eq!(app.verify(t).await, Err(tonic::Code::Unauthenticated));
    }
    // And so is the refresh token of the session.
    let res = app
        .post(
            "/login/refresh/",
            &json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn logout_publishes_session_revoked_through_the_outbox() {
    let app = spawn_app().await;
    let login = app.member_with_session("lee_jun").await;
    let token = login["token"].as_str().unwrap();
    let sid = app.verify(token).await.map(|_| ()).ok();
    assert!(sid.is_some());
    app.client
        .get(app.url("/login/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();

    let events = app.wait_for_auth_events(1, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].member_id, "lee_jun");
    assert!(events[0].session_id.is_some(), "the one session, by id");
    // Marked sent once the ack is in (just after the event reached the stream).
    let marked = testkit::eventually(Duration::from_secs(5), || async {
        let unsent = app
            .count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await;
        (unsent == 0).then_some(())
    })
    .await;
    assert!(marked.is_some());
}

#[tokio::test]
async fn logout_while_nats_is_down_succeeds_and_the_event_goes_out_after_it_returns() {
    let mut app = spawn_app().await;
    let login = app.member_with_session("park_sora").await;
    let token = login["token"].as_str().unwrap().to_owned();
    app.nats.stop().await;

    let started = std::time::Instant::now();
    let out = app
        .client
        .post(app.url("/login/logout/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204, "NATS down never fails a request");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(app.verify(&token).await, Err(tonic::Code::Unauthenticated));
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await,
        1,
        "the event waits in the outbox"
    );

    app.nats.start_again().await.unwrap();
    let events = app.wait_for_auth_events(1, Duration::from_secs(20)).await;
    assert_eq!(events.len(), 1, "published once, not duplicated by retries");
    assert_eq!(events[0].member_id, "park_sora");
}

#[tokio::test]
async fn duplicate_member_id_is_409_and_keeps_the_first_member() {
    let app = spawn_app().await;
    assert_eq!(app.register("choi_hana").await.status(), 201);
    let res = app
        .post(
            "/login/register/",
            &json!({"member_id": "choi_hana", "member_pwd": "another password", "member_nm": "x"}),
        )
        .await;
    let (status, code, _) = envelope(res).await;
    assert_eq!((status, code.as_str()), (409, "CONFLICT"));
    assert_eq!(app.login("choi_hana", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_member_look_exactly_the_same() {
    let app = spawn_app().await;
    app.register("jung_yuna").await;
    let wrong = app.login("jung_yuna", "not the password").await;
    let unknown = app.login("nobody_here", "not the password").await;
    let wrong_headers: Vec<_> = wrong.headers().keys().map(|k| k.to_string()).collect();
    let unknown_headers: Vec<_> = unknown.headers().keys().map(|k| k.to_string()).collect();
    let (s1, c1, m1) = envelope(wrong).await;
    let (s2, c2, m2) = envelope(unknown).await;
    assert_eq!((s1, c1.as_str()), (401, "UNAUTHORIZED"));
    assert_eq!((s1, c1, m1), (s2, c2, m2));
    assert_eq!(wrong_headers, unknown_headers);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    let login = app.member_with_session("han_seo").await;
    let first = login["refresh_token"].clone();
    let second: Value = app
        .post("/login/refresh/", &json!({"refresh_token": first}))
        .await
        .json()
        .await
        .unwrap();
    let newest_access = second["token"].as_str().unwrap();
    assert_eq!(
        app.get_auth("/login/me/", newest_access).await.status(),
        200
    );

    // The spent token comes back (stolen?): refused, and the family dies with it.
    let (status, code, _) = envelope(
        app.post("/login/refresh/", &json!({"refresh_token": first}))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "UNAUTHORIZED"));
    let res = app
        .post(
            "/login/refresh/",
            &json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(
        res.status(),
        401,
        "the newer refresh token of the family stops working"
    );
    assert_eq!(
        app.get_auth("/login/me/", newest_access).await.status(),
        401
    );
    assert_eq!(
        app.verify(newest_access).await,
        Err(tonic::Code::Unauthenticated)
    );
    let events = app.wait_for_auth_events(1, Duration::from_secs(5)).await;
    assert_eq!(events[0].member_id, "han_seo");
}

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
async fn stored_hashes_are_argon2id_at_owasp_parameters() {
    let app = spawn_app().await;
    app.register("song_eun").await;
    let hash: String =
        sqlx::query_scalar("SELECT member_pwd FROM member WHERE member_id = 'song_eun'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn the_login_role_cannot_read_or_write_outside_its_schema() {
    let app = spawn_app().await;
    for sql in [
        "SELECT 1 FROM menu.pizza",
        "CREATE TABLE menu.intruder (x int)",
        "CREATE TABLE ordering.intruder (x int)",
        "CREATE TABLE public.intruder (x int)",
        "SELECT 1 FROM ordering.orders",
    ] {
        let err = sqlx::query(sql).execute(&app.db.pool).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("permission denied"), "{sql}: {msg}");
    }
    // Its own schema is its own.
    sqlx::query("CREATE TABLE login.scratch (x int)")
        .execute(&app.db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_service_role_has_the_bootstrap_timeouts_and_migrations_lift_them() {
    use clap::Parser;
    use sqlx::{Connection, PgConnection};

    async fn show(c: &mut PgConnection, what: &str) -> String {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {what}")))
            .fetch_one(c)
            .await
            .unwrap()
    }
    let app = spawn_app().await;
    let mut idle = vec![];
    for role in ["login_svc", "menu_svc", "order_svc"] {
        let mut c = PgConnection::connect_with(&app.db.options_as(role))
            .await
            .unwrap();
        assert_eq!(show(&mut c, "statement_timeout").await, "15s", "{role}");
        assert_eq!(
            show(&mut c, "idle_in_transaction_session_timeout").await,
            "5s",
            "{role}"
        );
        // A transaction left idle: the server ends the session.
        sqlx::raw_sql("BEGIN; SELECT 1")
            .execute(&mut c)
            .await
            .unwrap();
        idle.push((role, c));

        // The migration command's session, as the same role, runs without them.
        let cli = pizza_login::config::Cli::try_parse_from([
            "pizza-login",
            "migrate",
            "--database-url",
            &app.db.url_as(role),
        ])
        .unwrap();
        let pizza_login::config::Command::Migrate { db, .. } = cli.command else {
            unreachable!()
        };
        let mut m = PgConnection::connect_with(&db.migration_options(role).unwrap())
            .await
            .unwrap();
        assert_eq!(show(&mut m, "statement_timeout").await, "0", "{role}");
        assert_eq!(
            show(&mut m, "idle_in_transaction_session_timeout").await,
            "0",
            "{role}"
        );
    }
    tokio::time::sleep(Duration::from_millis(5500)).await;
    for (role, mut c) in idle {
        let err = sqlx::query("SELECT 1").execute(&mut c).await.unwrap_err();
        assert!(
            err.to_string().contains("idle-in-transaction timeout")
                || matches!(err, sqlx::Error::Io(_)),
            "{role}: {err}"
        );
    }
}

#[tokio::test]
async fn login_and_register_are_rate_limited_per_client_address() {
    let app = spawn_app_with(&[
        "--auth-rate-limit-burst",
        "3",
        "--auth-rate-limit-period",
        "1m",
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(app.login("whoever", "whatever pw").await.status(), 401);
    }
    let res = app.login("whoever", "whatever pw").await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let (status, code, _) = envelope(res).await;
    assert_eq!((status, code.as_str()), (429, "RATE_LIMIT_EXCEEDED"));
    // The limit is per address and per route group: /me is not throttled.
    assert_eq!(app.get_auth("/login/me/", "x").await.status(), 401);
}

#[tokio::test]
async fn an_address_behind_a_trusted_proxy_is_limited_on_its_own() {
    let app = spawn_app_with(&[
        "--auth-rate-limit-burst",
        "2",
        "--auth-rate-limit-period",
        "1m",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    let login_from = |ip: &'static str| {
        app.client
            .post(app.url("/login/"))
            .header("x-forwarded-for", ip)
            .json(&json!({"member_id": "someone", "member_pwd": "whatever pw"}))
            .send()
    };
    assert_eq!(login_from("203.0.113.1").await.unwrap().status(), 401);
    assert_eq!(login_from("203.0.113.1").await.unwrap().status(), 401);
    assert_eq!(login_from("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(login_from("203.0.113.2").await.unwrap().status(), 401);
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_then_even_the_right_password_waits() {
    let app = spawn_app_with(&[
        "--login-failures-per-hour",
        "3",
        "--auth-rate-limit-burst",
        "50",
    ])
    .await;
    app.register("target_acct").await;
    for _ in 0..3 {
        assert_eq!(app.login("target_acct", "guess guess").await.status(), 401);
    }
    let res = app.login("target_acct", PASSWORD).await;
    assert!(res.headers().contains_key("retry-after"));
    let (status, code, _) = envelope(res).await;
    assert_eq!((status, code.as_str()), (429, "RATE_LIMIT_EXCEEDED"));
    // Other accounts are unaffected.
    app.register("other_acct").await;
    assert_eq!(app.login("other_acct", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn changing_the_password_revokes_the_other_sessions_only() {
    let app = spawn_app().await;
    let a = app.member_with_session("yoon_ji").await;
    let b: Value = app.login("yoon_ji", PASSWORD).await.json().await.unwrap();
    let res = app
        .client
        .post(app.url("/login/password/"))
        .bearer_auth(a["token"].as_str().unwrap())
        .json(&json!({"member_pwd": PASSWORD, "new_member_pwd": "a brand new secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_auth("/login/me/", a["token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_auth("/login/me/", b["token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    assert_eq!(app.login("yoon_ji", PASSWORD).await.status(), 401);
    assert_eq!(
        app.login("yoon_ji", "a brand new secret").await.status(),
        200
    );
}

#[tokio::test]
async fn readiness_turns_503_when_draining_while_liveness_stays_up() {
    let app = spawn_app().await;
    let ready = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "up");
    // NATS is reported (it connects in the background) but never fails readiness.
    let connected = testkit::eventually(Duration::from_secs(5), || async {
        let b: Value = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (b["nats"] == "connected").then_some(())
    })
    .await;
    assert!(connected.is_some());

    app.shutdown.drain();
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        app.client
            .get(app.url("/livez"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Still serving while draining.
    assert_eq!(app.register("late_comer").await.status(), 201);
    app.shutdown.stop();
    app.server.await.unwrap().unwrap();
}

#[tokio::test]
async fn metrics_expose_request_latency_and_the_outbox_backlog() {
    let app = spawn_app().await;
    app.register("metric_fan").await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("route=\"/login/register/\""));
    assert!(
        text.contains("db_pool_connections{service=\"login\",state=\"idle\"}"),
        "{text}"
    );
    let backlog = testkit::eventually(Duration::from_secs(5), || async {
        let t = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        t.contains("outbox_backlog{service=\"login\"}")
            .then_some(())
    })
    .await;
    assert!(backlog.is_some());
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/login/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/login/",
        "/login/register/",
        "/login/logout/",
        "/login/refresh/",
        "/login/me/",
        "/login/password/",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn grpc_serves_health_and_reflection() {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let app = spawn_app().await;
    let endpoint = format!("http://{}", app.grpc);
    let channel = tonic::transport::Channel::from_shared(endpoint)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    let status = health
        .check(HealthCheckRequest {
            service: "pizza.auth.v1.AuthService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, 1, "SERVING");

    let mut reflection = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(futures::stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let msg = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"pizza.auth.v1.AuthService".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"grpc.health.v1.Health".to_owned()));

    app.shutdown.drain();
    let status = testkit::eventually(Duration::from_secs(2), || {
        let mut h = health.clone();
        async move {
            let s = h
                .check(HealthCheckRequest {
                    service: "pizza.auth.v1.AuthService".into(),
                })
                .await
                .ok()?
                .into_inner()
                .status;
            (s == 2).then_some(s)
        }
    })
    .await;
    assert_eq!(status, Some(2), "NOT_SERVING while draining");
}

#[tokio::test]
async fn long_passwords_are_compared_whole_never_truncated() {
    let app = spawn_app().await;
    let long = "p".repeat(127) + "a";
    let res = app
        .post(
            "/login/register/",
            &json!({"member_id": "long_pw", "member_pwd": long, "member_nm": "x"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let almost = "p".repeat(127) + "b";
    assert_eq!(app.login("long_pw", &almost).await.status(), 401);
    assert_eq!(app.login("long_pw", &long).await.status(), 200);
}

#[tokio::test]
async fn cors_answers_listed_origins_only() {
    let app = spawn_app_with(&["--cors-allowed-origins", "http://shop.example"]).await;
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
async fn dead_sessions_and_closed_failure_windows_are_pruned() {
    let app = spawn_app().await;
    let live = app.member_with_session("pruned_one").await;
    let gone = app
        .login("pruned_one", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    app.login("pruned_one", "wrong password").await;
    // Age one session past its expiry and the failure window past its hour.
    let sid: uuid::Uuid =
        sqlx::query_scalar("SELECT session_id FROM session ORDER BY created_at DESC LIMIT 1")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    sqlx::query(
        "UPDATE session SET expires_at = now() - interval '1 minute' WHERE session_id = $1",
    )
    .bind(sid)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE login_failure SET window_start = now() - interval '2 hours'")
        .execute(&app.db.pool)
        .await
        .unwrap();

    let n = pizza_login::db::prune(&app.db.pool, Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(n, 2, "one session and one failure window");
    assert_eq!(app.count("SELECT count(*) FROM session").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM login_failure").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_token").await,
        1,
        "the dead session's refresh tokens went with it"
    );
    let tokens = [
        live["token"].as_str().unwrap(),
        gone["token"].as_str().unwrap(),
    ];
    let statuses: Vec<u16> = futures::future::join_all(
        tokens
            .iter()
            .map(|t| async { app.get_auth("/login/me/", t).await.status().as_u16() }),
    )
    .await;
    assert!(
        statuses.contains(&200) && statuses.contains(&401),
        "{statuses:?}"
    );
}
