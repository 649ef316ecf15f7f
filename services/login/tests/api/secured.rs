//! pizza-login against a PostgreSQL and a NATS secured the way managed ones are: TLS checked
//! against the operator's CA (`DB_SSLMODE=verify-full`), an NKey user and a client certificate
//! for NATS, or a credentials file of an account in NATS's operator mode. The settings are the files the chart mounts from Secrets (README, "Running it on
//! Kubernetes").

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use events::AuthEvent;
use serde_json::{Value, json};
use testkit::{
    NatsServer, PgServer, TestDb, free_port,
    nats_accounts::OperatorMode,
    tls::{CertFiles, TestCa},
};

use crate::helpers::{PASSWORD, SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_pizza-login");

/// A TLS-only PostgreSQL and NATS, certificates from one CA; NATS admits one NKey user that
/// must also show a client certificate.
struct Secured {
    ca: TestCa,
    pg: PgServer,
    db: TestDb,
    nats: NatsServer,
    client_cert: CertFiles,
    seed_file: PathBuf,
    _dir: tempfile::TempDir,
}

async fn secured() -> Secured {
    let ca = TestCa::new("pizza test CA").unwrap();
    let names = ["localhost", "127.0.0.1"];
    let pg = PgServer::start_tls(&ca.server("postgres", &names).unwrap())
        .await
        .unwrap();
    let db = TestDb::empty_on(pg.admin_options(), pizza_login::DB_ROLE)
        .await
        .unwrap();

    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seed_file = dir.path().join("login.nk");
    std::fs::write(&seed_file, format!("{seed}\n")).unwrap();
    let server = ca.server("nats", &names).unwrap();
    let client_cert = ca.client("login", "pizza-login").unwrap();
    let config = format!(
        "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: true\n}}\n\
         authorization {{\n  users: [ {{ nkey: {} }} ]\n}}\n",
        server.cert,
        server.key,
        ca.ca_file,
        user.public_key()
    );
    let (ca_file, cert) = (ca.ca_file.clone(), client_cert.clone());
    let nats = NatsServer::start_with(&config)
        .await
        .unwrap()
        .client_options(move || {
            async_nats::ConnectOptions::with_nkey(seed.clone())
                .add_root_certificates(ca_file.clone())
                .add_client_certificate(cert.cert.clone(), cert.key.clone())
                .require_tls(true)
        });
    Secured {
        ca,
        pg,
        db,
        nats,
        client_cert,
        seed_file,
        _dir: dir,
    }
}

impl Secured {
    /// The environment the chart gives a pod for these servers.
    fn env(&self) -> Vec<(&'static str, String)> {
        let p = |p: &Path| p.display().to_string();
        vec![
            (
                "DATABASE_URL",
                format!(
                    "postgres://{}@localhost:{}/{}",
                    pizza_login::DB_ROLE,
                    self.pg.port,
                    self.db.name
                ),
            ),
            ("DB_SSLMODE", "verify-full".to_owned()),
            ("DB_SSLROOTCERT", p(&self.ca.ca_file)),
            ("NATS_URL", format!("tls://localhost:{}", self.nats.port)),
            ("NATS_NKEY_FILE", p(&self.seed_file)),
            ("NATS_TLS_CA_FILE", p(&self.ca.ca_file)),
            ("NATS_TLS_CERT_FILE", p(&self.client_cert.cert)),
            ("NATS_TLS_KEY_FILE", p(&self.client_cert.key)),
            ("JWT_SECRET", SECRET.to_owned()),
            ("LOG_LEVEL", "warn".to_owned()),
        ]
    }
}

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn serve(env: &[(&str, String)]) -> Running {
    let http = free_port();
    let child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("GRPC_ADDR", format!("127.0.0.1:{}", free_port()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pizza-login");
    Running {
        child,
        base: format!("http://127.0.0.1:{http}"),
    }
}

/// `/healthz` once it says `want` of NATS with status `code` (at most 15 s); its body.
async fn health(r: &Running, code: u16, nats: &str) -> Value {
    let url = format!("{}/healthz", r.base);
    let mut last = Value::Null;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        if let Ok(res) = testkit::get(&url).await {
            let status = res.status().as_u16();
            last = res.json().await.unwrap_or(Value::Null);
            if status == code && last["nats"] == nats {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/healthz never answered {code} with nats {nats}: {last}");
}

/// `/healthz` keeps answering `code` with `nats` for 3 s (a refused connection stays refused;
/// a starting service says "pending" for a moment before it connects).
async fn stays(r: &Running, code: u16, nats: &str) -> Value {
    health(r, code, nats).await;
    let url = format!("{}/healthz", r.base);
    let until = std::time::Instant::now() + Duration::from_secs(3);
    let mut last = Value::Null;
    while std::time::Instant::now() < until {
        let res = testkit::get(&url).await.unwrap();
        let status = res.status().as_u16();
        last = res.json().await.unwrap();
        assert!(
            status == code && last["nats"] == nats,
            "/healthz turned {status}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

#[tokio::test]
async fn verified_tls_to_postgres_and_nkey_plus_mutual_tls_to_nats_carry_the_service() {
    let s = secured().await;
    let env = s.env();
    let out = Command::new(BIN)
        .arg("migrate")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let running = serve(&env);
    let body = health(&running, 200, "connected").await;
    assert_eq!(body["database"], "up");

    // A session ends: its revocation goes out through the outbox, over NATS's TLS as the NKey
    // user, and is in the stream.
    end_a_session(&running.base, "tls_kim").await;
    assert_revoked(&s.nats, "tls_kim").await;

    // Every session the service holds is encrypted.
    let mut admin = s.db.admin().await.unwrap();
    let (tls, plain): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
           FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
          WHERE a.usename = $1",
    )
    .bind(pizza_login::DB_ROLE)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(tls >= 1, "no TLS session of {}", pizza_login::DB_ROLE);
    assert_eq!(plain, 0, "a session without TLS");
}

/// Registers `member`, logs in and out: login publishes the session's revocation.
async fn end_a_session(base: &str, member: &str) {
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{base}{p}");
    let res = http
        .post(url("/login/register/"))
        .json(&json!({"member_id": member, "member_pwd": PASSWORD, "member_nm": "김"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let login: Value = http
        .post(url("/login/"))
        .json(&json!({"member_id": member, "member_pwd": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = http
        .post(url("/login/logout/"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

/// The stream holds `member`'s revocation (at most 10 s).
async fn assert_revoked(nats: &NatsServer, member: &str) {
    let revoked = testkit::eventually(Duration::from_secs(10), || async {
        let events = nats.events::<AuthEvent>().await;
        (!events.is_empty()).then_some(events)
    })
    .await
    .expect("the revocation reached the stream");
    let AuthEvent::SessionRevoked(r) = &revoked[0].event;
    assert_eq!(r.member_id, member);
}

#[tokio::test]
async fn a_credentials_file_logs_in_to_nats_in_operator_mode_with_jetstream() {
    let accounts = OperatorMode::new("pizza-login");
    let creds = accounts.creds.clone();
    let nats = NatsServer::start_with(&accounts.config)
        .await
        .unwrap()
        .client_options(move || async_nats::ConnectOptions::with_credentials(&creds).unwrap());
    let db = TestDb::new(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("login.creds");
    std::fs::write(&file, &accounts.creds).unwrap();
    let env = |creds: &Path| {
        vec![
            ("DATABASE_URL", db.url()),
            ("NATS_URL", nats.url()),
            ("NATS_CREDS_FILE", creds.display().to_string()),
            ("JWT_SECRET", SECRET.to_owned()),
            ("LOG_LEVEL", "warn".to_owned()),
        ]
    };
    let running = serve(&env(&file));
    health(&running, 200, "connected").await;
    end_a_session(&running.base, "creds_lee").await;
    assert_revoked(&nats, "creds_lee").await;
    drop(running);

    // A user of another operator is not let in.
    let stranger = dir.path().join("stranger.creds");
    std::fs::write(&stranger, OperatorMode::new("pizza-login").creds).unwrap();
    let running = serve(&env(&stranger));
    stays(&running, 200, "pending").await;
}

#[tokio::test]
async fn a_server_not_signed_by_the_given_ca_or_an_unknown_nkey_is_refused() {
    let s = secured().await;
    let stranger = TestCa::new("someone else's CA").unwrap();
    let other_user = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        other_user.path(),
        nkeys::KeyPair::new_user().seed().unwrap(),
    )
    .unwrap();
    let mut env = s.env();
    for (k, v) in env.iter_mut() {
        match *k {
            "DB_SSLROOTCERT" => *v = stranger.ca_file.display().to_string(),
            "NATS_NKEY_FILE" => *v = other_user.path().display().to_string(),
            _ => {}
        }
    }
    let running = serve(&env);
    // It runs, and says what is missing: not ready, no database, NATS not connected.
    let body = stays(&running, 503, "pending").await;
    assert_eq!(body["database"], "down");
}

#[test]
fn bad_tls_or_credential_settings_stop_the_process_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let public_key = file("public.nk", &nkeys::KeyPair::new_user().public_key());
    let not_pem = file("ca.txt", "not a certificate\n");
    let not_creds = file("login.creds", "-----BEGIN NATS USER JWT-----\nnope\n");
    let missing = dir.path().join("absent.crt").display().to_string();
    let cases: [(&[(&str, &str)], &str); 9] = [
        (&[("NATS_URL", "nats://a:4222,nats://b:42x")], "NATS_URL"),
        (&[("NATS_STREAM_REPLICAS", "7")], "NATS_STREAM_REPLICAS"),
        (&[("DB_SSLMODE", "verify")], "DB_SSLMODE"),
        (&[("DB_SSLROOTCERT", &not_pem)], "DB_SSLROOTCERT"),
        (&[("NATS_NKEY_FILE", &public_key)], "NATS_NKEY_FILE"),
        (&[("NATS_CREDS_FILE", &not_creds)], "NATS_CREDS_FILE"),
        (&[("NATS_TLS_CA_FILE", &missing)], "NATS_TLS_CA_FILE"),
        (&[("NATS_TLS_CERT_FILE", &not_pem)], "NATS_TLS_KEY_FILE"),
        (&[("NATS_TLS_REQUIRED", "perhaps")], "NATS_TLS_REQUIRED"),
    ];
    for (env, var) in cases {
        let out: Output = Command::new(BIN)
            .arg("serve")
            .env_clear()
            .env("JWT_SECRET", SECRET)
            .env("HTTP_ADDR", "127.0.0.1:0")
            .env("GRPC_ADDR", "127.0.0.1:0")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{env:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("configuration error"), "{err}");
        assert!(err.contains(var), "{env:?}: {err}");
    }
}
