//! Runs the platform the way `make up` does — the service binaries with their environment,
//! their own `migrate`, the payment provider's sandbox, and nginx rendered by
//! `scripts/render-nginx.sh` — on free ports, a fresh database and a private NATS server, for
//! end-to-end tests.
//!
//! The binaries must be built first (`make test` does: `cargo build --workspace --bins`).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use testkit::{NatsServer, PgServer, TestDb, free_port};

/// The workspace root (where `scripts/` and `deploy/` are).
pub fn root() -> PathBuf {
    // At run time first: cargo and nextest set it for the checkout being tested, while the
    // compile-time value can name another clone that shared the target directory (cargo reuses
    // a workspace member's build across checkouts when its sources are unchanged).
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    Path::new(&manifest_dir)
        .parent()
        .expect("e2e lives in the workspace")
        .to_path_buf()
}

/// A service binary next to this test executable (`target/<profile>/pizza-*`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` (make test does)",
        path.display()
    );
    path
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    /// Sends SIGKILL and waits.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The password of every member the helpers make.
pub const PASSWORD: &str = "pizza lover 1";

pub const JWT_SECRET: &str = "e2e-secret-0123456789-abcdefghijklmn";

/// The provider's documented test keys, which the sandbox accepts.
pub const TOSS_SECRET_KEY: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";
pub const TOSS_CLIENT_KEY: &str = "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq";
/// The key deposit notifications are signed with.
pub const DEPOSIT_SECRET: &str = "e2e-deposit-secret-0123456789-abcdefgh";

/// The Toss Payments sandbox (`toss-sandbox`), as `make up` runs it: the payment provider of
/// the tests, on a port of its own.
pub struct Sandbox {
    pub proc: Proc,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Sandbox {
    /// Starts the sandbox on a free port (it binds port 0 and says where).
    pub fn start() -> Sandbox {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(binary("toss-sandbox"))
            .env("TOSS_SANDBOX_ADDR", "127.0.0.1:0")
            .env("TOSS_SECRET_KEY", TOSS_SECRET_KEY)
            .env("TOSS_CLIENT_KEY", TOSS_CLIENT_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn toss-sandbox");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the sandbox says where it listens");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .expect("an address")
            .to_owned();
        Sandbox {
            proc: Proc {
                child,
                name: "toss-sandbox".into(),
            },
            url,
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(sig)
            .arg(self.proc.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} the sandbox");
    }

    /// Freezes the provider (SIGSTOP): connections are accepted by the kernel and never
    /// answered, the worst way for a provider to be down.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    async fn post(&self, path: &str, body: serde_json::Value) {
        let res = testkit::http()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("the sandbox answers");
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }

    /// Where the provider posts its webhooks (as set at its dashboard).
    pub async fn set_webhook(&self, url: &str) {
        self.post("/sandbox/webhook", serde_json::json!({ "url": url }))
            .await;
    }

    /// Makes the provider slow (`delay_ms`) or fail its next `fail_next` calls with a 500.
    pub async fn faults(&self, delay_ms: u64, fail_next: u32) {
        self.post(
            "/sandbox/faults",
            serde_json::json!({"delay_ms": delay_ms, "fail_next": fail_next}),
        )
        .await;
    }

    async fn get(&self, path: &str) -> Vec<serde_json::Value> {
        testkit::get(&format!("{}{path}", self.url))
            .await
            .expect("the sandbox answers")
            .json()
            .await
            .expect("a JSON list")
    }

    /// Every confirm and cancel the provider carried out.
    pub async fn ledger(&self) -> Vec<serde_json::Value> {
        self.get("/sandbox/ledger").await
    }

    /// Every API call the provider answered, failures included.
    pub async fn calls(&self) -> Vec<serde_json::Value> {
        self.get("/sandbox/calls").await
    }
}

/// A service replica: its process, ports and how it was started (to start it again).
pub struct Service {
    pub proc: Proc,
    pub http: u16,
    pub grpc: u16,
    /// Where its stdout (the JSON log lines) goes, across restarts.
    pub log: tempfile::TempPath,
    binary: String,
    env: Vec<(String, String)>,
}

impl Service {
    /// Starts `binary serve` with `env` and waits until it is ready.
    async fn launch(binary: &str, env: Vec<(String, String)>, http: u16, grpc: u16) -> Service {
        let log = tempfile::NamedTempFile::new()
            .expect("a log file")
            .into_temp_path();
        let mut svc = Service {
            proc: spawn(binary, &env, &log),
            http,
            grpc,
            log,
            binary: binary.to_owned(),
            env,
        };
        svc.wait_ready().await;
        svc
    }

    /// `kill -9`, as a crashed pod.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Starts the replica again with the same environment and ports (what the kubelet does
    /// after a crash) and waits until it is ready.
    pub async fn restart(&mut self) {
        self.proc.kill();
        self.proc = spawn(&self.binary, &self.env, &self.log);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        wait_ready(self.http, "/healthz", &self.binary).await;
    }

    /// Its log lines so far, parsed (lines that are not JSON are skipped).
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

fn spawn(binary_name: &str, env: &[(String, String)], log: &Path) -> Proc {
    let stdout = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the replica's log");
    let child = Command::new(binary(binary_name))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {binary_name}: {e}"));
    Proc {
        child,
        name: binary_name.into(),
    }
}

impl Drop for Stack {
    /// nginx's master stops its workers on SIGTERM; the SIGKILL [`Proc`] sends would leave
    /// them running after the test, each still holding the ingress port.
    fn drop(&mut self) {
        let pid = self.nginx.child.id().to_string();
        if Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success())
        {
            for _ in 0..200 {
                if matches!(self.nginx.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Database, NATS, services and ingress of one test.
pub struct Stack {
    pub db: TestDb,
    pub nats: NatsServer,
    /// The test's own PostgreSQL, when it asked for one ([`Stack::start_on_own_postgres`]).
    pub pg: Option<PgServer>,
    /// The replicas of each service (`REPLICAS`, default 1).
    pub login: Vec<Service>,
    pub menu: Vec<Service>,
    pub order: Vec<Service>,
    pub payment: Vec<Service>,
    /// The payment provider.
    pub toss: Sandbox,
    pub ingress: u16,
    pub nginx: Proc,
    _nginx_dir: tempfile::TempDir,
}

/// Whether a replica is ready: `/healthz` answers 200 and every event subscription it
/// reports is live (so no event of the test can be missed).
pub async fn is_ready(port: u16) -> bool {
    let url = format!("http://127.0.0.1:{port}/healthz");
    let Ok(r) = testkit::get(&url).await else {
        return false;
    };
    if r.status() != 200 {
        return false;
    }
    let Ok(body) = r.json::<serde_json::Value>().await else {
        return false;
    };
    body["subscriptions"]
        .as_object()
        .is_some_and(|subs| subs.values().all(|v| v == "live"))
}

/// Waits (up to 20 s) until `port` answers `path`: for `/healthz`, until [`is_ready`]; for any
/// other path, below 500.
async fn wait_ready(port: u16, path: &str, what: &str) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let ok = testkit::eventually(Duration::from_secs(20), || async {
        if path == "/healthz" {
            return is_ready(port).await.then_some(());
        }
        let r = testkit::get(&url).await.ok()?;
        (r.status().as_u16() < 500).then_some(())
    })
    .await;
    assert!(ok.is_some(), "{what} did not come up at {url}");
}

/// Whether this nginx answers on `port` and is still running (one that could not bind exits at
/// once, while the port may answer for another test's nginx).
async fn nginx_came_up(nginx: &mut Proc, port: u16) -> bool {
    let url = format!("http://127.0.0.1:{port}/login/me/");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if !matches!(nginx.child.try_wait(), Ok(None)) {
            return false;
        }
        if testkit::get(&url)
            .await
            .is_ok_and(|r| r.status().as_u16() < 500)
        {
            // A refused bind ends nginx within milliseconds: make sure it was not that.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return matches!(nginx.child.try_wait(), Ok(None));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nginx did not come up at {url}");
}

/// The environment every service gets.
fn common_env(db_url: String, nats: &NatsServer, http: u16) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", db_url),
        ("NATS_URL", nats.url()),
        ("HTTP_ADDR", format!("127.0.0.1:{http}")),
        ("TRUSTED_PROXIES", "127.0.0.1/32".into()),
        ("SHUTDOWN_DRAIN", "0s".into()),
        ("LOG_LEVEL", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn owned(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Starts one login replica on free ports; `extra` env is added to the usual.
pub async fn start_login(db: &TestDb, nats: &NatsServer, extra: &[(&str, &str)]) -> Service {
    let (http, grpc) = (free_port(), free_port());
    let mut env = common_env(db.url(), nats, http);
    env.extend(owned(&[
        ("JWT_SECRET", JWT_SECRET.into()),
        ("GRPC_ADDR", format!("127.0.0.1:{grpc}")),
    ]));
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Service::launch("pizza-login", env, http, grpc).await
}

fn extend(env: &mut Vec<(String, String)>, extra: &[(&str, &str)]) {
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
}

/// Starts one menu replica on free ports, verifying tokens with `login`; `extra` env is added.
pub async fn start_menu(
    db: &TestDb,
    nats: &NatsServer,
    login: &Service,
    extra: &[(&str, &str)],
) -> Service {
    let (http, grpc) = (free_port(), free_port());
    let mut env = common_env(db.url_as("menu_svc"), nats, http);
    env.extend(owned(&[
        ("LOGIN_GRPC_URL", format!("http://127.0.0.1:{}", login.grpc)),
        ("GRPC_ADDR", format!("127.0.0.1:{grpc}")),
    ]));
    extend(&mut env, extra);
    Service::launch("pizza-menu", env, http, grpc).await
}

/// Starts one order replica on a free port, using `login` and `menu` over gRPC; `extra` env
/// is added.
pub async fn start_order(
    db: &TestDb,
    nats: &NatsServer,
    login: &Service,
    menu: &Service,
    extra: &[(&str, &str)],
) -> Service {
    let http = free_port();
    let mut env = common_env(db.url_as("order_svc"), nats, http);
    env.extend(owned(&[
        ("LOGIN_GRPC_URL", format!("http://127.0.0.1:{}", login.grpc)),
        ("MENU_GRPC_URL", format!("http://127.0.0.1:{}", menu.grpc)),
    ]));
    env.extend(owned(&[
        ("TRANSFER_BANK", "케이뱅크".into()),
        ("TRANSFER_ACCOUNT_NO", "100148347666".into()),
    ]));
    extend(&mut env, extra);
    Service::launch("pizza-order", env, http, 0).await
}

/// Starts one payment replica on a free port, verifying tokens with `login` and paying at
/// `toss`; `extra` env is added. The provider's deadline and the reconciler's wait are short
/// (2 s), so the tests of lost answers are quick.
pub async fn start_payment(
    db: &TestDb,
    nats: &NatsServer,
    login: &Service,
    toss: &Sandbox,
    extra: &[(&str, &str)],
) -> Service {
    let http = free_port();
    let mut env = common_env(db.url_as("payment_svc"), nats, http);
    env.extend(owned(&[
        ("LOGIN_GRPC_URL", format!("http://127.0.0.1:{}", login.grpc)),
        ("TOSS_API_URL", toss.url.clone()),
        ("TOSS_CHECKOUT_URL", format!("{}/checkout", toss.url)),
        ("TOSS_SECRET_KEY", TOSS_SECRET_KEY.into()),
        ("TOSS_CLIENT_KEY", TOSS_CLIENT_KEY.into()),
        ("TOSS_TIMEOUT", "2s".into()),
        ("PAYMENT_RECONCILE_AFTER", "2s".into()),
        ("DEPOSIT_WEBHOOK_SECRET", DEPOSIT_SECRET.into()),
    ]));
    extend(&mut env, extra);
    Service::launch("pizza-payment", env, http, 0).await
}

/// Runs a service binary's own `migrate`, as its own role.
fn migrate(db: &TestDb, service: &str, role: &str) {
    let out = Command::new(binary(&format!("pizza-{service}")))
        .arg("migrate")
        .env("DATABASE_URL", db.url_as(role))
        .output()
        .expect("run migrate");
    assert!(
        out.status.success(),
        "{service} migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Replicas per service: `REPLICAS` (as for `make up`), default 1.
pub fn replicas() -> usize {
    std::env::var("REPLICAS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

fn upstream(name: &str, replicas: &[Service]) -> String {
    let addrs: Vec<String> = replicas
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.http))
        .collect();
    format!("{name}={}", addrs.join(","))
}

impl Stack {
    /// A fresh stack: bootstrap, each service's own `migrate`, [`replicas`] of each, nginx in
    /// front.
    pub async fn start(login_env: &[(&str, &str)]) -> Stack {
        Self::start_with(replicas(), login_env).await
    }

    /// Like [`Stack::start`] with `n` replicas of each service.
    pub async fn start_with(n: usize, login_env: &[(&str, &str)]) -> Stack {
        Self::start_with_env(n, login_env, &[]).await
    }

    /// Like [`Stack::start_with`], with `all_env` added to every service's environment
    /// (`CORS_ALLOWED_ORIGINS`, say).
    pub async fn start_with_env(
        n: usize,
        login_env: &[(&str, &str)],
        all_env: &[(&str, &str)],
    ) -> Stack {
        let db = TestDb::empty("login_svc").await.expect("test database");
        Self::start_on(db, None, n, login_env, all_env, None).await
    }

    /// Like [`Stack::start_with_env`] with the ingress on `ingress` (from [`free_port`]): for
    /// a configuration that must name the stack's public address before it starts
    /// (`PUBLIC_WEB_URL`, a provider's redirect URIs).
    pub async fn start_with_env_at(
        ingress: u16,
        n: usize,
        login_env: &[(&str, &str)],
        all_env: &[(&str, &str)],
    ) -> Stack {
        let db = TestDb::empty("login_svc").await.expect("test database");
        Self::start_on(db, None, n, login_env, all_env, Some(ingress)).await
    }

    /// Like [`Stack::start_with`] on a PostgreSQL cluster of the test's own, which the test
    /// may stop and start ([`Stack::pg`]).
    pub async fn start_on_own_postgres(n: usize, login_env: &[(&str, &str)]) -> Stack {
        let pg = PgServer::start().await.expect("a PostgreSQL of our own");
        let db = TestDb::empty_on(pg.admin_options(), "login_svc")
            .await
            .expect("test database");
        Self::start_on(db, Some(pg), n, login_env, &[], None).await
    }

    async fn start_on(
        db: TestDb,
        pg: Option<PgServer>,
        n: usize,
        login_env: &[(&str, &str)],
        all_env: &[(&str, &str)],
        ingress_port: Option<u16>,
    ) -> Stack {
        let login_env: Vec<(&str, &str)> = login_env.iter().chain(all_env).copied().collect();
        let nats = NatsServer::start().await.expect("nats-server");
        migrate(&db, "login", "login_svc");
        migrate(&db, "menu", "menu_svc");
        migrate(&db, "order", "order_svc");
        migrate(&db, "payment", "payment_svc");
        let toss = Sandbox::start();
        let mut login = vec![];
        let mut menu = vec![];
        let mut order = vec![];
        let mut payment = vec![];
        for i in 0..n {
            login.push(start_login(&db, &nats, &login_env).await);
            // Each replica calls one login/menu replica, as a Kubernetes Service would pick.
            menu.push(start_menu(&db, &nats, &login[i], all_env).await);
            order.push(start_order(&db, &nats, &login[i], &menu[i], all_env).await);
            payment.push(start_payment(&db, &nats, &login[i], &toss, all_env).await);
        }

        let dir = tempfile::tempdir().expect("nginx prefix");
        let nginx_bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("nginx");
        // A free port can be taken by another test between our choosing it and nginx binding
        // it (nginx then exits at once, and the port answers for someone else's stack): try
        // another port until our own nginx holds one.
        let mut attempts = 0;
        let (ingress, nginx) = loop {
            attempts += 1;
            let ingress = match ingress_port {
                Some(port) => {
                    assert!(
                        attempts == 1,
                        "the ingress port {port} chosen beforehand was taken"
                    );
                    port
                }
                None => free_port(),
            };
            let rendered = Command::new(root().join("scripts/render-nginx.sh"))
                .arg(dir.path())
                .arg(format!("127.0.0.1:{ingress}"))
                .arg(upstream("login", &login))
                .arg(upstream("menu", &menu))
                .arg(upstream("order", &order))
                .arg(upstream("payment", &payment))
                .output()
                .expect("render nginx config");
            assert!(
                rendered.status.success(),
                "{}",
                String::from_utf8_lossy(&rendered.stderr)
            );
            let child = Command::new(nginx_bin)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .args(["-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn nginx (make test installs it)");
            let mut nginx = Proc {
                child,
                name: "nginx".into(),
            };
            if nginx_came_up(&mut nginx, ingress).await {
                break (ingress, nginx);
            }
            assert!(attempts < 5, "nginx could not bind a free port 5 times");
        };
        // The provider calls the shop's public URL: the ingress.
        toss.set_webhook(&format!(
            "http://127.0.0.1:{ingress}/payment/webhooks/tosspayments/"
        ))
        .await;
        Stack {
            db,
            nats,
            pg,
            login,
            menu,
            order,
            payment,
            toss,
            ingress,
            nginx,
            _nginx_dir: dir,
        }
    }

    /// Registers a customer and logs it in, through the ingress; returns its access token.
    pub async fn customer(&self, member_id: &str) -> String {
        self.customer_named(member_id, "x").await
    }

    /// [`Stack::customer`] with a display name of the caller's choosing.
    pub async fn customer_named(&self, member_id: &str, member_nm: &str) -> String {
        let body = serde_json::json!({"member_id": member_id, "member_pwd": PASSWORD, "member_nm": member_nm});
        let res = testkit::http()
            .post(self.url("/login/register/"))
            .json(&body)
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 201, "register {member_id}");
        self.login(member_id).await
    }

    /// Logs a member in (password [`PASSWORD`]) through the ingress; returns its access token.
    pub async fn login(&self, member_id: &str) -> String {
        let login: serde_json::Value = testkit::http()
            .post(self.url("/login/"))
            .json(&serde_json::json!({"member_id": member_id, "member_pwd": PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login body");
        login["token"].as_str().expect("a token").to_owned()
    }

    /// Creates a STAFF or ADMIN with the operator command (as an operator would) and logs it
    /// in through the ingress; returns its access token.
    pub async fn member(&self, member_id: &str, role: &str, bran_id: Option<&str>) -> String {
        use std::io::Write;
        let mut cmd = Command::new(binary("pizza-login"));
        cmd.args([
            "member",
            "create",
            "--member-id",
            member_id,
            "--member-nm",
            member_id,
        ])
        .args(["--role", role])
        .env("DATABASE_URL", self.db.url())
        .env("JWT_SECRET", JWT_SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
        if let Some(b) = bran_id {
            cmd.args(["--bran-id", b]);
        }
        let mut child = cmd.spawn().expect("spawn member create");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .expect("write the password");
        assert!(
            child.wait().expect("member create").success(),
            "member create {member_id}"
        );
        self.login(member_id).await
    }

    /// What nginx wrote to its error log so far (upstream failures, say).
    pub fn nginx_errors(&self) -> String {
        std::fs::read_to_string(self._nginx_dir.path().join("error.log")).unwrap_or_default()
    }

    /// nginx's access log so far (one `combined` line per request; flushed every second).
    pub fn nginx_access(&self) -> String {
        std::fs::read_to_string(self._nginx_dir.path().join("access.log")).unwrap_or_default()
    }

    /// A URL through the ingress.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.ingress, path)
    }
}
