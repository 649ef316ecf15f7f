//! The `pizza-login` binary run the way the Deployment and the Helm hooks run it: same
//! environment variables, same probes, same signals.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use testkit::{NatsServer, TestDb, free_port};

use crate::helpers::{PASSWORD, SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_pizza-login");

struct Running {
    child: std::process::Child,
    http: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn env_for(db: &TestDb, nats: &NatsServer) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", db.url()),
        ("NATS_URL", nats.url()),
        ("JWT_SECRET", SECRET.to_owned()),
        ("LOG_LEVEL", "warn".to_owned()),
    ]
}

async fn start(db: &TestDb, nats: &NatsServer, extra: &[(&str, &str)]) -> Running {
    let http = free_port();
    let grpc = free_port();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .envs(env_for(db, nats))
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("GRPC_ADDR", format!("127.0.0.1:{grpc}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn pizza-login");
    let running = Running { child, http };
    let ready = testkit::eventually(Duration::from_secs(15), || async {
        let r = testkit::get(&format!("http://127.0.0.1:{http}/healthz"))
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    assert!(ready.is_some(), "pizza-login did not become ready");
    running
}

fn http_get(port: u16, path: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn sigterm_turns_readiness_503_finishes_the_request_in_flight_and_exits_0() {
    let db = TestDb::new(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let mut app = start(&db, &nats, &[("SHUTDOWN_DRAIN", "2s")]).await;

    // A request in flight: headers and half the body sent, the rest held back.
    let body = json!({"member_id": "in_flight", "member_pwd": PASSWORD, "member_nm": "비행중"})
        .to_string();
    let (head, tail) = body.as_bytes().split_at(body.len() / 2);
    let mut slow = TcpStream::connect(("127.0.0.1", app.http)).unwrap();
    write!(
        slow,
        "POST /login/register/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    slow.write_all(head).unwrap();
    slow.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let pid = app.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let turned = testkit::eventually(Duration::from_millis(500), || async {
        (http_get(app.http, "/healthz") == 503).then_some(())
    })
    .await;
    assert!(turned.is_some(), "/healthz did not turn 503 at once");
    assert_eq!(
        http_get(app.http, "/livez"),
        200,
        "still serving while draining"
    );

    // Past the drain the listener closes, but the request in flight completes.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    slow.write_all(tail).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = app.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not exit after the drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM member WHERE member_id = 'in_flight'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn bad_config_stops_the_process_with_one_line_naming_the_variable() {
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[], "JWT_SECRET"),
        (&[("JWT_SECRET", "too-short")], "JWT_SECRET"),
        (
            &[("JWT_SECRET", SECRET), ("HTTP_ADDR", "not-an-address")],
            "HTTP_ADDR",
        ),
        (
            &[("JWT_SECRET", SECRET), ("ACCESS_TOKEN_TTL", "2h")],
            "ACCESS_TOKEN_TTL",
        ),
        // A social login provider needs its secret, and the web client's address.
        (
            &[
                ("JWT_SECRET", SECRET),
                ("OAUTH_KAKAO_CLIENT_ID", "kakao-app-key"),
            ],
            "OAUTH_KAKAO_CLIENT_SECRET",
        ),
        (
            &[
                ("JWT_SECRET", SECRET),
                ("OAUTH_KAKAO_CLIENT_ID", "kakao-app-key"),
                ("OAUTH_KAKAO_CLIENT_SECRET", "kakao-secret"),
            ],
            "PUBLIC_WEB_URL",
        ),
    ];
    let bad_log_level: &[(&str, &str)] = &[("LOG_LEVEL", "info,[broken")];
    let runs = cases
        .iter()
        .map(|(env, var)| ("serve", *env, *var))
        // Every command reads its settings the same way, not only `serve`.
        .chain([("migrate", bad_log_level, "LOG_LEVEL")]);
    for (command, env, var) in runs {
        let out = Command::new(BIN)
            .arg(command)
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command} {env:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("configuration error"), "{err}");
        assert!(err.contains(var), "{err}");
        assert!(!err.contains(SECRET), "a secret was printed: {err}");
    }
}

#[tokio::test]
async fn operator_commands_create_staff_change_roles_and_delete_members_revoking_sessions() {
    let db = TestDb::new(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let member = |args: &[&str], stdin: &str| {
        let mut child = Command::new(BIN)
            .arg("member")
            .args(args)
            .envs(env_for(&db, &nats))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = member(
        &[
            "create",
            "--member-id",
            "staff_kim",
            "--member-nm",
            "김직원",
            "--role",
            "STAFF",
            "--bran-id",
            "gangnam",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let app = start(&db, &nats, &[]).await;
    let client = testkit::http();
    let base = format!("http://127.0.0.1:{}", app.http);
    let login: Value = client
        .post(format!("{base}/login/"))
        .json(&json!({"member_id": "staff_kim", "member_pwd": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["member"]["role"], "STAFF");
    assert_eq!(login["member"]["bran_id"], "gangnam");
    let token = login["token"].as_str().unwrap().to_owned();
    let me = |t: String| {
        let c = client.clone();
        let url = format!("{base}/login/me/");
        async move {
            c.get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(token.clone()).await, 200);

    // Creating it twice is refused.
    let again = member(
        &[
            "create",
            "--member-id",
            "staff_kim",
            "--member-nm",
            "x",
            "--role",
            "ADMIN",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(!again.status.success());

    let out = member(
        &["set-role", "--member-id", "staff_kim", "--role", "ADMIN"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(me(token).await, 401, "a role change revokes the sessions");

    let relog: Value = client
        .post(format!("{base}/login/"))
        .json(&json!({"member_id": "staff_kim", "member_pwd": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(relog["member"]["role"], "ADMIN");
    let token = relog["token"].as_str().unwrap().to_owned();

    let out = member(&["delete", "--member-id", "staff_kim"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(me(token).await, 401, "a deleted member's token is dead");
    let gone = member(&["delete", "--member-id", "staff_kim"], "");
    assert!(!gone.status.success());
}

#[tokio::test]
async fn migrate_is_idempotent_and_runs_as_the_service_role() {
    let db = TestDb::new(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .unwrap();
    for _ in 0..2 {
        let out = Command::new(BIN)
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let owner: String = sqlx::query_scalar(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'login' AND tablename = '_sqlx_migrations'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(owner, "login_svc");
}

#[tokio::test]
async fn migrate_refuses_member_ids_that_differ_only_by_case_and_names_them() {
    // A database from before ids were case-insensitive, holding look-alike accounts.
    let db = TestDb::empty(pizza_login::DB_ROLE).await.unwrap();
    pizza_login::MIGRATOR
        .run_to(20261122000001, &db.pool)
        .await
        .unwrap();
    for id in ["Kim", "kim", "KIM", "lee", "Park"] {
        sqlx::query("INSERT INTO member (member_id, member_nm, member_pwd) VALUES ($1, 'x', 'x')")
            .bind(id)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let migrate = || {
        Command::new(BIN)
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .output()
            .unwrap()
    };
    let out = migrate();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("member ids that differ only by case: KIM, Kim, kim"),
        "{stderr}"
    );
    let members: i64 = sqlx::query_scalar("SELECT count(*) FROM member")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(members, 5, "nothing was changed");

    // The operator keeps one of each; `member delete` takes the exact id it is given.
    for id in ["kim", "KIM"] {
        let out = Command::new(BIN)
            .args(["member", "delete", "--member-id", id])
            .env("DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = migrate();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut left: Vec<String> = sqlx::query_scalar("SELECT member_id FROM member")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    left.sort();
    assert_eq!(left, ["Kim", "Park", "lee"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_otlp_endpoint_request_spans_are_exported_and_logs_carry_the_same_trace_id() {
    let collector = testkit::otlp::Collector::start().await;

    let db = TestDb::new(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let (http, grpc) = (free_port(), free_port());
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(BIN)
        .arg("serve")
        .envs(env_for(&db, &nats))
        .env("LOG_LEVEL", "info")
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("GRPC_ADDR", format!("127.0.0.1:{grpc}"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(log.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _running = Running { child, http };
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let register = || async {
        testkit::http()
            .post(format!("http://127.0.0.1:{http}/login/register/"))
            .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
            .json(&json!({"member_id": "traced", "member_pwd": PASSWORD, "member_nm": "t"}))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    };
    let status = testkit::eventually(Duration::from_secs(15), || async {
        register().await.filter(|s| *s == 201)
    })
    .await;
    assert_eq!(status, Some(201));

    let exported = testkit::eventually(Duration::from_secs(10), || async {
        collector
            .trace(trace_id)
            .into_iter()
            .find(|s| s.parent_span_id == caller_span)
    })
    .await;
    let request =
        exported.expect("the request's span reached the collector, as the caller's child");
    assert_eq!(request.service, "pizza-login");
    assert_eq!(request.name, "POST /login/register/");

    let logs = std::fs::read_to_string(log.path()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("member registered"))
        .expect("a log line for the registration");
    let v: Value = serde_json::from_str(line).expect("JSON log line");
    assert_eq!(v["trace_id"], trace_id, "{line}");
    assert!(
        v["span_id"].as_str().is_some_and(|s| s.len() == 16),
        "{line}"
    );
    assert!(
        v["span"]["request_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
}
