//! [`PgServer`]: a PostgreSQL cluster of the test's own, to stop and start.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use sqlx::postgres::PgConnectOptions;

use crate::free_port;

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
    /// Server options that turn TLS on ([`PgServer::start_tls`]).
    tls: String,
}

impl PgServer {
    pub async fn start() -> anyhow::Result<Self> {
        let s = Self::init()?;
        s.start_again().await?;
        Ok(s)
    }

    /// A server that also accepts TLS, presenting `cert` (plain connections still work, as
    /// with `ssl = on` anywhere).
    pub async fn start_tls(cert: &crate::tls::CertFiles) -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let mut s = Self::init()?;
        // The key must be the server user's own and private, or PostgreSQL refuses it.
        let (crt, key) = (
            s.dir.path().join("server.crt"),
            s.dir.path().join("server.key"),
        );
        std::fs::copy(&cert.cert, &crt)?;
        std::fs::copy(&cert.key, &key)?;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        if s.as_postgres {
            let out = Command::new("chown")
                .arg("postgres:")
                .arg(&crt)
                .arg(&key)
                .output()?;
            anyhow::ensure!(out.status.success(), "chown the server's certificate");
        }
        s.tls = format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            crt.display(),
            key.display()
        );
        s.start_again().await?;
        Ok(s)
    }

    fn init() -> anyhow::Result<Self> {
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
            tls: String::new(),
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
             -c log_lock_waits=on -c deadlock_timeout=50ms{}",
            self.port,
            self.dir.path().display(),
            self.tls
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
