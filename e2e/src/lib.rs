//! Runs the platform the way `make up` does — the service binaries with their environment,
//! their own `migrate`, and nginx rendered by `scripts/render-nginx.sh` — on free ports, a
//! fresh database and a private NATS server, for end-to-end tests.
//!
//! The binaries must be built first (`make test` does: `cargo build --workspace --bins`).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use testkit::{NatsServer, TestDb, free_port};

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

/// A service replica: its process and ports.
pub struct Service {
    pub proc: Proc,
    pub http: u16,
    pub grpc: u16,
}

/// Database, NATS, services and ingress of one test.
pub struct Stack {
    pub db: TestDb,
    pub nats: NatsServer,
    /// The replicas of each service (`REPLICAS`, default 1).
    pub login: Vec<Service>,
    pub menu: Vec<Service>,
    pub order: Vec<Service>,
    pub ingress: u16,
    pub nginx: Proc,
    _nginx_dir: tempfile::TempDir,
}

/// Waits until `path` answers below 500 and, for `/healthz`, every event subscription the
/// service reports is live (so no event of the test can be missed).
async fn wait_ready(port: u16, path: &str, what: &str) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let ok = testkit::eventually(Duration::from_secs(20), || async {
        let r = testkit::get(&url).await.ok()?;
        if r.status().as_u16() >= 500 {
            return None;
        }
        if path == "/healthz" {
            let body: serde_json::Value = r.json().await.ok()?;
            let subs = body["subscriptions"].as_object()?;
            if !subs.values().all(|v| v == "live") {
                return None;
            }
        }
        Some(())
    })
    .await;
    assert!(ok.is_some(), "{what} did not come up at {url}");
}

/// Starts one login replica on free ports; `extra` env is added to the usual.
pub async fn start_login(db: &TestDb, nats: &NatsServer, extra: &[(&str, &str)]) -> Service {
    let (http, grpc) = (free_port(), free_port());
    let mut cmd = Command::new(binary("pizza-login"));
    cmd.arg("serve")
        .env("DATABASE_URL", db.url())
        .env("NATS_URL", nats.url())
        .env("JWT_SECRET", JWT_SECRET)
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("GRPC_ADDR", format!("127.0.0.1:{grpc}"))
        .env("TRUSTED_PROXIES", "127.0.0.1/32")
        .env("SHUTDOWN_DRAIN", "0s")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn pizza-login");
    let svc = Service {
        proc: Proc {
            child,
            name: "pizza-login".into(),
        },
        http,
        grpc,
    };
    wait_ready(http, "/healthz", "pizza-login").await;
    svc
}

/// Starts one menu replica on free ports, verifying tokens with `login`.
pub async fn start_menu(db: &TestDb, nats: &NatsServer, login: &Service) -> Service {
    let (http, grpc) = (free_port(), free_port());
    let child = Command::new(binary("pizza-menu"))
        .arg("serve")
        .env("DATABASE_URL", db.url_as("menu_svc"))
        .env("NATS_URL", nats.url())
        .env("LOGIN_GRPC_URL", format!("http://127.0.0.1:{}", login.grpc))
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("GRPC_ADDR", format!("127.0.0.1:{grpc}"))
        .env("TRUSTED_PROXIES", "127.0.0.1/32")
        .env("SHUTDOWN_DRAIN", "0s")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn pizza-menu");
    let svc = Service {
        proc: Proc {
            child,
            name: "pizza-menu".into(),
        },
        http,
        grpc,
    };
    wait_ready(http, "/healthz", "pizza-menu").await;
    svc
}

/// Starts one order replica on a free port, using `login` and `menu` over gRPC.
pub async fn start_order(
    db: &TestDb,
    nats: &NatsServer,
    login: &Service,
    menu: &Service,
) -> Service {
    let http = free_port();
    let child = Command::new(binary("pizza-order"))
        .arg("serve")
        .env("DATABASE_URL", db.url_as("order_svc"))
        .env("NATS_URL", nats.url())
        .env("LOGIN_GRPC_URL", format!("http://127.0.0.1:{}", login.grpc))
        .env("MENU_GRPC_URL", format!("http://127.0.0.1:{}", menu.grpc))
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("TRUSTED_PROXIES", "127.0.0.1/32")
        .env("SHUTDOWN_DRAIN", "0s")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn pizza-order");
    let svc = Service {
        proc: Proc {
            child,
            name: "pizza-order".into(),
        },
        http,
        grpc: 0,
    };
    wait_ready(http, "/healthz", "pizza-order").await;
    svc
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
        let db = TestDb::empty("login_svc").await.expect("test database");
        let nats = NatsServer::start().await.expect("nats-server");
        migrate(&db, "login", "login_svc");
        migrate(&db, "menu", "menu_svc");
        migrate(&db, "order", "order_svc");
        let mut login = vec![];
        let mut menu = vec![];
        let mut order = vec![];
        for i in 0..n {
            login.push(start_login(&db, &nats, login_env).await);
            // Each replica calls one login/menu replica, as a Kubernetes Service would pick.
            menu.push(start_menu(&db, &nats, &login[i]).await);
            order.push(start_order(&db, &nats, &login[i], &menu[i]).await);
        }

        let dir = tempfile::tempdir().expect("nginx prefix");
        let ingress = free_port();
        let rendered = Command::new(root().join("scripts/render-nginx.sh"))
            .arg(dir.path())
            .arg(format!("127.0.0.1:{ingress}"))
            .arg(upstream("login", &login))
            .arg(upstream("menu", &menu))
            .arg(upstream("order", &order))
            .output()
            .expect("render nginx config");
        assert!(
            rendered.status.success(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let nginx_bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("nginx");
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
        let nginx = Proc {
            child,
            name: "nginx".into(),
        };
        wait_ready(ingress, "/login/me/", "nginx").await;
        Stack {
            db,
            nats,
            login,
            menu,
            order,
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

    /// A URL through the ingress.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.ingress, path)
    }
}
