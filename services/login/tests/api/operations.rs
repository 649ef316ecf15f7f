//! What operators rely on: database roles and limits, probes, metrics, OpenAPI, gRPC health and reflection.

use std::time::Duration;

use crate::helpers::spawn_app;
use serde_json::Value;

#[tokio::test]
async fn the_login_role_cannot_read_or_write_outside_its_schema() {
    let app = spawn_app().await;
    for sql in [
        "SELECT 1 FROM menu.pizza",
        "CREATE TABLE menu.intruder (x int)",
        "CREATE TABLE ordering.intruder (x int)",
        "CREATE TABLE public.intruder (x int)",
        "SELECT 1 FROM ordering.orders",
        "CREATE TABLE payment.intruder (x int)",
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
    for role in ["login_svc", "menu_svc", "order_svc", "payment_svc"] {
        let mut c = PgConnection::connect_with(&app.db.options_as(role))
            .await
            .unwrap();
        assert_eq!(show(&mut c, "statement_timeout").await, "2s", "{role}");
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
    // Meanwhile a statement stuck for longer than 2 s is cancelled, whatever the role.
    let stuck = futures::future::join_all(
        ["login_svc", "menu_svc", "order_svc", "payment_svc"].map(|role| {
            let opts = app.db.options_as(role);
            async move {
                let mut c = PgConnection::connect_with(&opts).await.unwrap();
                let started = std::time::Instant::now();
                let err = sqlx::query("SELECT pg_sleep(4)")
                    .execute(&mut c)
                    .await
                    .unwrap_err();
                (role, started.elapsed(), err)
            }
        }),
    );
    let ((), stuck) = tokio::join!(tokio::time::sleep(Duration::from_millis(5500)), stuck);
    for (role, took, err) in stuck {
        let code = err.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("57014"), "{role}: {err}");
        assert!(
            took < Duration::from_millis(3500),
            "{role}: cancelled after {took:?}"
        );
    }
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
        text.contains("db_pool_connections{state=\"idle\"}"),
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
        t.contains("outbox_backlog ").then_some(())
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
        "/login/oauth/providers/",
        "/login/oauth/{provider}/start",
        "/login/oauth/{provider}/callback",
        "/login/oauth/exchange/",
        "/login/oauth/{provider}/link/",
        "/login/oauth/{provider}/",
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

    let mut reflection = ServerReflectionClient::new(channel.clone());
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
    let mut names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    // What this server serves, and not the menu's service of the shared descriptor set.
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "pizza.auth.v1.AuthService"
        ]
    );
    // The older version, which many clients still speak, answers the same.
    {
        use tonic_reflection::pb::v1alpha::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let mut alpha = ServerReflectionClient::new(channel.clone());
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let msg = alpha
            .server_reflection_info(futures::stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner()
            .message()
            .await
            .unwrap()
            .unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
            panic!("unexpected v1alpha reflection answer");
        };
        let mut names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "grpc.health.v1.Health",
                "grpc.reflection.v1alpha.ServerReflection",
                "pizza.auth.v1.AuthService"
            ]
        );
    }

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
