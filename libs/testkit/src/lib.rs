//! Test support on real infrastructure.
//!
//! - [`TestDb`]: a fresh database per test, bootstrapped exactly like production
//!   (`deploy/db/roles.sql` + `deploy/db/schemas.sql`) and migrated by the service's own role.
//! - [`NatsServer`]: a private `nats-server` with JetStream on a free port, so tests that
//!   count events never see another test's, and can stop and restart it freely.
//! - [`PgServer`]: a private PostgreSQL cluster (`initdb` in a temporary folder, a free
//!   port), for tests that stop and restart the database itself.
//! - [`listener`]: a socket on port 0 for a service under test.
//!
//! PostgreSQL is reached as a superuser through `TEST_DATABASE_ADMIN_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust auth as on the dev machines and CI).

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use events::{Envelope, Event};
use sqlx::{
    AssertSqlSafe, Connection, Executor, PgConnection, PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

const ROLES_SQL: &str = include_str!("../../../deploy/db/roles.sql");
const SCHEMAS_SQL: &str = include_str!("../../../deploy/db/schemas.sql");

/// Test databases older than this are leftovers of killed runs and are dropped.
const STALE_AFTER_SECS: u64 = 2 * 3600;

fn admin_options() -> PgConnectOptions {
    let url = std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    url.parse()
        .expect("TEST_DATABASE_ADMIN_URL is a postgres:// URL")
}

/// A database of its own for one test.
pub struct TestDb {
    pub name: String,
    /// Connected as the service's role, after its migrations ran.
    pub pool: PgPool,
    role: String,
    admin: PgConnectOptions,
}

impl TestDb {
    /// Creates, bootstraps and migrates (as `role`) a new database.
    pub async fn new(role: &str, migrator: &Migrator) -> anyhow::Result<Self> {
        let db = Self::empty(role).await?;
        migrator.run(&db.pool).await?;
        Ok(db)
    }

    /// Creates and bootstraps a new database, leaving the migrations to the caller (the
    /// service binary's `migrate`, say).
    pub async fn empty(role: &str) -> anyhow::Result<Self> {
        Self::empty_on(admin_options(), role).await
    }

    /// [`TestDb::empty`] on the server `admin` (a superuser's options) reaches — a
    /// [`PgServer`] of the test's own, say.
    pub async fn empty_on(admin_options: PgConnectOptions, role: &str) -> anyhow::Result<Self> {
        let mut admin = PgConnection::connect_with(&admin_options).await?;
        admin.execute(ROLES_SQL).await?;
        drop_stale_databases(&mut admin).await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let name = format!(
            "test_{now}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await?;
        admin.close().await?;

        let mut db_admin =
            PgConnection::connect_with(&admin_options.clone().database(&name)).await?;
        db_admin.execute(SCHEMAS_SQL).await?;
        db_admin.close().await?;

        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(as_role(&admin_options, &name, role))
            .await?;
        Ok(Self {
            name,
            pool,
            role: role.to_owned(),
            admin: admin_options,
        })
    }

    /// Options to connect to this database as `role` (another service's, say).
    pub fn options_as(&self, role: &str) -> PgConnectOptions {
        as_role(&self.admin, &self.name, role)
    }

    /// A `postgres://` URL for a child process connecting as the service's role.
    pub fn url(&self) -> String {
        self.url_as(&self.role)
    }

    /// A `postgres://` URL connecting as `role`.
    pub fn url_as(&self, role: &str) -> String {
        let o = &self.admin;
        format!(
            "postgres://{role}@{}:{}/{}",
            o.get_host(),
            o.get_port(),
            self.name
        )
    }

    /// Runs another service's migrations in this database, as that service's role (tests
    /// that run several services on one database); returns a pool as that role.
    pub async fn migrate_as(&self, role: &str, migrator: &Migrator) -> anyhow::Result<PgPool> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(self.options_as(role))
            .await?;
        migrator.run(&pool).await?;
        Ok(pool)
    }

    /// A superuser connection to this database, for assertions that look past the role.
    pub async fn admin(&self) -> anyhow::Result<PgConnection> {
        Ok(PgConnection::connect_with(&self.admin.clone().database(&self.name)).await?)
    }
}

fn as_role(admin: &PgConnectOptions, database: &str, role: &str) -> PgConnectOptions {
    admin.clone().database(database).username(role).password("")
}

async fn drop_stale_databases(admin: &mut PgConnection) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let created = name
            .split('_')
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > STALE_AFTER_SECS {
            let _ = admin
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .await;
        }
    }
}

/// A private `nats-server -js` on a free port, killed when dropped.
pub struct NatsServer {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

fn nats_binary() -> PathBuf {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        return p.into();
    }
    for p in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "nats-server".into()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

impl NatsServer {
    pub async fn start() -> anyhow::Result<Self> {
        let mut s = Self {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir()?,
        };
        s.start_again().await?;
        Ok(s)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and store (after [`NatsServer::stop`]).
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        let child = Command::new(nats_binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start nats-server: {e}"))?;
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if std::time::Instant::now() > deadline {
                anyhow::bail!("nats-server did not listen on {}", self.port);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn client(&self) -> anyhow::Result<async_nats::Client> {
        Ok(async_nats::connect(self.url()).await?)
    }

    /// Every event of `E`'s stream stored so far, in order, with its `Nats-Msg-Id` (empty
    /// when the stream does not exist yet). The server is the test's own, so nothing of
    /// another test is in it. A message that is not an `E` fails the test.
    pub async fn stream_messages<E: Event>(&self) -> Vec<(Option<String>, Envelope<E>)> {
        let Ok(client) = self.client().await else {
            return vec![];
        };
        let js = async_nats::jetstream::new(client);
        let Ok(stream) = js.get_stream(E::STREAM.name).await else {
            return vec![];
        };
        let last = stream
            .get_info()
            .await
            .map(|i| i.state.last_sequence)
            .unwrap_or(0);
        let mut out = vec![];
        for seq in 1..=last {
            if let Ok(m) = stream.get_raw_message(seq).await {
                let id = m.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned());
                let event = Envelope::decode(&m.payload).unwrap_or_else(|e| {
                    panic!(
                        "message {seq} of {} is not an event of it: {e}",
                        E::STREAM.name
                    )
                });
                out.push((id, event));
            }
        }
        out
    }

    /// The events of [`NatsServer::stream_messages`].
    pub async fn events<E: Event>(&self) -> Vec<Envelope<E>> {
        self.stream_messages()
            .await
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An HTTP client for tests. reqwest's TLS takes its crypto from the process (the
/// workspace builds it without a bundled provider), so install ring's first, as the order
/// service does.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// `GET url` with [`http`]'s client.
pub async fn get(url: &str) -> reqwest::Result<reqwest::Response> {
    http().get(url).send().await
}

/// A listener on 127.0.0.1, port 0, for a service under test.
pub async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// Waits until `f` returns `Some`, polling every 20 ms, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A PostgreSQL cluster of the test's own: `initdb` into a temporary folder, listening on
/// 127.0.0.1 on a free port (trust auth, superuser `postgres`), stopped immediately when
/// dropped. It can be stopped and started again like a real server — the point of having one.
///
/// The server programs come from `PG_BIN` or the newest `/usr/lib/postgresql/*/bin`. PostgreSQL
/// refuses to run as root, so as root (CI, containers) they run as the `postgres` user, which
/// owns the folder.
pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
    as_postgres: bool,
}

impl PgServer {
    pub async fn start() -> anyhow::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let bin = pg_bin()?;
        let dir = tempfile::tempdir()?;
        let as_postgres = std::fs::metadata("/proc/self")?.uid() == 0;
        if as_postgres {
            let out = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "chown postgres {}: {}",
                dir.path().display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let s = Self {
            port: free_port(),
            bin,
            dir,
            as_postgres,
        };
        let data = s.data();
        s.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        )?;
        s.start_again().await?;
        Ok(s)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one of the server programs (as `postgres` when we are root); its output on error.
    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd.args(args).stdin(Stdio::null()).output()?;
        anyhow::ensure!(
            out.status.success(),
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Starts the server (again) on the same port and data, waiting until it accepts
    /// connections.
    pub async fn start_again(&self) -> anyhow::Result<()> {
        // Lock waits over 50 ms are logged (with the waiting statement), so a test can tell
        // whether a session ever waited on another's lock ([`PgServer::log`]).
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200 \
             -c log_lock_waits=on -c deadlock_timeout=50ms",
            self.port,
            self.dir.path().display()
        );
        let log = self.log_path().display().to_string();
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "30", "start",
            ],
        )
    }

    /// The operator's restart: a fast shutdown (clients are disconnected, the cluster is
    /// checkpointed), then [`PgServer::start_again`] when the caller chooses.
    pub fn stop_fast(&self) -> anyhow::Result<()> {
        let data = self.data();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// What the server logged so far (warnings, lock waits, …), across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Options for the superuser `postgres`, for [`TestDb::empty_on`].
    pub fn admin_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username("postgres")
            .database("postgres")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

fn pg_bin() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("PG_BIN") {
        return Ok(p.into());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| anyhow::anyhow!("no PostgreSQL server programs in /usr/lib/postgresql: {e}"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| anyhow::anyhow!("no initdb under /usr/lib/postgresql/*/bin; set PG_BIN"))
}
