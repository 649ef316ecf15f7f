//! The settings every service shares, as clap argument groups: the database, HTTP, NATS and
//! logs. A service flattens the ones it needs into its own `ServeConfig`.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::Args;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};

use crate::{
    Cidrs, ConfigError, List, Secret, parse_bytes, parse_cidrs, parse_duration, parse_list, require,
};

/// How to reach PostgreSQL: `DATABASE_URL`, or the seed's `DB_*` variables.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Full connection URL; when set, the `DB_*` parts are ignored.
    #[arg(
        long,
        env = "DATABASE_URL",
        value_name = "DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<Secret>,
    #[arg(
        long,
        env = "DB_HOST",
        value_name = "DB_HOST",
        default_value = "127.0.0.1"
    )]
    pub db_host: String,
    #[arg(long, env = "DB_PORT", value_name = "DB_PORT", default_value_t = 5432)]
    pub db_port: u16,
    #[arg(long, env = "DB_NAME", value_name = "DB_NAME", default_value = "pizza")]
    pub db_name: String,
    /// Defaults to the service's own role (`login_svc`, `menu_svc`, `order_svc`, `payment_svc`).
    #[arg(long, env = "DB_USER", value_name = "DB_USER")]
    pub db_user: Option<String>,
    #[arg(
        long,
        env = "DB_PASSWORD",
        value_name = "DB_PASSWORD",
        hide_env_values = true
    )]
    pub db_password: Option<Secret>,
    #[arg(
        long,
        env = "DB_MAX_CONNECTIONS",
        value_name = "DB_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub db_max_connections: u32,
    /// TLS to the server, as libpq's sslmode: `disable`, `allow`, `prefer` (the default),
    /// `require`, `verify-ca` or `verify-full`. Overrides the URL's own `sslmode`.
    #[arg(long, env = "DB_SSLMODE", value_name = "DB_SSLMODE", value_parser = parse_sslmode)]
    pub db_sslmode: Option<PgSslMode>,
    /// CA certificates (PEM) `verify-ca`/`verify-full` check the server's certificate against.
    #[arg(long, env = "DB_SSLROOTCERT", value_name = "DB_SSLROOTCERT")]
    pub db_sslrootcert: Option<PathBuf>,
    /// How long a request waits for a pooled connection before it is answered 503.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT", value_name = "DB_ACQUIRE_TIMEOUT", default_value = "3s", value_parser = parse_duration)]
    pub db_acquire_timeout: Duration,
}

impl DbArgs {
    /// Connection options; `default_user` is the service's own role.
    pub fn connect_options(&self, default_user: &str) -> Result<PgConnectOptions, ConfigError> {
        let mut o = match &self.database_url {
            Some(url) => url
                .expose()
                .parse::<PgConnectOptions>()
                .map_err(|_| ConfigError::new("DATABASE_URL is not a valid postgres:// URL"))?,
            None => {
                let o = PgConnectOptions::new()
                    .host(&self.db_host)
                    .port(self.db_port)
                    .database(&self.db_name)
                    .username(self.db_user.as_deref().unwrap_or(default_user));
                match &self.db_password {
                    Some(p) => o.password(p.expose()),
                    None => o,
                }
            }
        };
        if let Some(mode) = self.db_sslmode {
            o = o.ssl_mode(mode);
        }
        if let Some(path) = &self.db_sslrootcert {
            pem_of("DB_SSLROOTCERT", path, "CERTIFICATE")?;
            o = o.ssl_root_cert(path);
        }
        Ok(o)
    }

    /// A pool that connects lazily, so a process starts (and reports not ready) while the
    /// database is still coming up. Acquiring is bounded, so a dead database gives 503s, not
    /// hanging requests.
    pub fn pool(&self, default_user: &str) -> Result<PgPool, ConfigError> {
        Ok(self
            .pool_options()
            .connect_lazy_with(self.connect_options(default_user)?))
    }

    /// Connection options for migrations and the operator's batch commands (`import-legacy`):
    /// [`DbArgs::connect_options`] with the role's `statement_timeout` and
    /// `idle_in_transaction_session_timeout` (set by the bootstrap for the services'
    /// requests) lifted for the session: building an index on a large table or copying
    /// pizza_back's history may take longer, and no request waits on either.
    pub fn migration_options(&self, default_user: &str) -> Result<PgConnectOptions, ConfigError> {
        Ok(self.connect_options(default_user)?.options([
            ("statement_timeout", "0"),
            ("idle_in_transaction_session_timeout", "0"),
        ]))
    }

    /// Runs `migrator` as `default_user` (the service's own role, with
    /// [`DbArgs::migration_options`]), waiting up to a minute for the database to accept
    /// connections (a migration Job may start before it does).
    pub async fn migrate(
        &self,
        default_user: &str,
        migrator: &sqlx::migrate::Migrator,
    ) -> anyhow::Result<()> {
        let opts = self.migration_options(default_user)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let pool = loop {
            match PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await
            {
                Ok(p) => break p,
                Err(e) if std::time::Instant::now() < deadline => {
                    tracing::warn!(error = %e, "database not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        migrator.run(&pool).await?;
        pool.close().await;
        Ok(())
    }

    pub fn pool_options(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.db_max_connections)
            .acquire_timeout(self.db_acquire_timeout)
    }
}

/// libpq's sslmode names, as [`PgSslMode`].
fn parse_sslmode(s: &str) -> Result<PgSslMode, String> {
    s.parse().map_err(|_| {
        format!("{s:?} is not one of disable, allow, prefer, require, verify-ca, verify-full")
    })
}

/// Where `import-legacy` reads pizza_back's data, and whether it writes.
#[derive(Debug, Clone, Args)]
pub struct LegacySourceArgs {
    /// pizza_back's database, read only (`postgres://reader@host/pizza_back`).
    #[arg(
        long,
        env = "LEGACY_SOURCE_URL",
        value_name = "LEGACY_SOURCE_URL",
        hide_env_values = true
    )]
    pub source: Secret,
    /// Print what would be imported; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl LegacySourceArgs {
    /// A small pool on the source whose sessions cannot write, whatever the role may do.
    pub async fn pool(&self) -> anyhow::Result<PgPool> {
        let opts: PgConnectOptions = self
            .source
            .expose()
            .parse()
            .map_err(|_| ConfigError::new("LEGACY_SOURCE_URL is not a postgres:// URL"))?;
        Ok(PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.options([("default_transaction_read_only", "on")]))
            .await?)
    }
}

/// How pizza_back's prices (floats, in a currency unit) become whole won: `import-legacy` of
/// the menu and the order takes it explicitly and never guesses.
#[derive(Debug, Clone, Args)]
pub struct LegacyMoneyArgs {
    /// Won per unit of pizza_back's `price` (e.g. 1300 for dollars); a positive decimal.
    /// Each price becomes round(price × this), half away from zero, to whole won.
    #[arg(
        long,
        env = "LEGACY_WON_PER_UNIT",
        value_name = "LEGACY_WON_PER_UNIT",
        value_parser = parse_won_per_unit
    )]
    pub won_per_unit: String,
}

/// A positive decimal (`1300`, `1387.5`), kept as text for PostgreSQL's `numeric`.
pub fn parse_won_per_unit(s: &str) -> Result<String, String> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let valid = !whole.is_empty()
        && whole.len() <= 9
        && frac.len() <= 6
        && digits(whole)
        && digits(frac)
        && s.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if valid {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a positive decimal like 1300 or 1387.5"
        ))
    }
}

/// The HTTP side every service shares.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    #[arg(
        long,
        env = "HTTP_ADDR",
        value_name = "HTTP_ADDR",
        default_value = "0.0.0.0:8000"
    )]
    pub http_addr: SocketAddr,
    /// Largest request body accepted; larger ones get 413.
    #[arg(long, env = "HTTP_BODY_LIMIT", value_name = "HTTP_BODY_LIMIT", default_value = "64KiB", value_parser = parse_bytes)]
    pub http_body_limit: usize,
    /// A request still running after this is answered 503.
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT", value_name = "HTTP_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub http_request_timeout: Duration,
    /// Proxies (CIDRs) whose `X-Forwarded-For` names the client.
    #[arg(long, env = "TRUSTED_PROXIES", value_name = "TRUSTED_PROXIES", default_value = "", value_parser = parse_cidrs)]
    pub trusted_proxies: Cidrs,
    /// Origins allowed by CORS; empty turns CORS off.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_name = "CORS_ALLOWED_ORIGINS", default_value = "", value_parser = parse_list)]
    pub cors_allowed_origins: List,
    /// After SIGTERM: how long to keep serving while readiness reports 503.
    #[arg(long, env = "SHUTDOWN_DRAIN", value_name = "SHUTDOWN_DRAIN", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_drain: Duration,
}

/// How to reach NATS: the URL, and the credentials and TLS a secured server asks for (the
/// files come from Secrets mounted into the pod; README, "Running it on Kubernetes").
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// `nats://host:port` (several, comma-separated, for a cluster); `tls://` requires TLS.
    #[arg(
        long,
        env = "NATS_URL",
        value_name = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// How many servers keep each stream the service creates: 1 on a single server, 3 on a
    /// NATS cluster (so a stream survives losing a server). Streams that exist keep theirs.
    #[arg(long, env = "NATS_STREAM_REPLICAS", value_name = "NATS_STREAM_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub nats_stream_replicas: u8,
    /// A credentials file: the user's JWT and NKey seed, as `nsc generate creds` writes it.
    #[arg(
        long,
        env = "NATS_CREDS_FILE",
        value_name = "NATS_CREDS_FILE",
        conflicts_with = "nats_nkey_file"
    )]
    pub nats_creds_file: Option<PathBuf>,
    /// A file holding the NKey seed (`SU…`) of a user the server knows by its public key.
    #[arg(long, env = "NATS_NKEY_FILE", value_name = "NATS_NKEY_FILE")]
    pub nats_nkey_file: Option<PathBuf>,
    /// Refuse a server that does not speak TLS (a `tls://` URL, a CA file or a client
    /// certificate imply it).
    #[arg(long, env = "NATS_TLS_REQUIRED", value_name = "NATS_TLS_REQUIRED", default_value = "false", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub nats_tls_required: bool,
    /// CA certificates (PEM) the server's certificate must chain to, instead of the system's.
    #[arg(long, env = "NATS_TLS_CA_FILE", value_name = "NATS_TLS_CA_FILE")]
    pub nats_tls_ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for a server that verifies its clients (mutual TLS).
    #[arg(
        long,
        env = "NATS_TLS_CERT_FILE",
        value_name = "NATS_TLS_CERT_FILE",
        requires = "nats_tls_key_file"
    )]
    pub nats_tls_cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long,
        env = "NATS_TLS_KEY_FILE",
        value_name = "NATS_TLS_KEY_FILE",
        requires = "nats_tls_cert_file"
    )]
    pub nats_tls_key_file: Option<PathBuf>,
}

impl NatsArgs {
    /// Connection options with the credentials and TLS settings applied. Every file is read
    /// and checked here, at start: a missing or malformed one is a [`ConfigError`] naming its
    /// variable, never a connection that retries forever.
    pub async fn connect_options(&self) -> Result<async_nats::ConnectOptions, ConfigError> {
        for url in self.nats_url.split(',') {
            url.trim()
                .parse::<async_nats::ServerAddr>()
                .map_err(|e| ConfigError::new(format!("NATS_URL {url:?}: {e}")))?;
        }
        let mut o = async_nats::ConnectOptions::new();
        if let Some(path) = &self.nats_creds_file {
            let text = read_file("NATS_CREDS_FILE", path)?;
            o = o.credentials(&text).map_err(|e| {
                ConfigError::new(format!(
                    "NATS_CREDS_FILE {} is not a NATS credentials file: {e}",
                    path.display()
                ))
            })?;
        }
        if let Some(path) = &self.nats_nkey_file {
            let seed = read_file("NATS_NKEY_FILE", path)?.trim().to_owned();
            nkeys::KeyPair::from_seed(&seed).map_err(|_| {
                ConfigError::new(format!(
                    "NATS_NKEY_FILE {} does not hold an NKey seed (SU…)",
                    path.display()
                ))
            })?;
            o = o.nkey(seed);
        }
        let mut tls = self.nats_tls_required || self.nats_url.contains("tls://");
        if let Some(path) = &self.nats_tls_ca_file {
            pem_of("NATS_TLS_CA_FILE", path, "CERTIFICATE")?;
            o = o.add_root_certificates(path.clone());
            tls = true;
        }
        if let (Some(cert), Some(key)) = (&self.nats_tls_cert_file, &self.nats_tls_key_file) {
            pem_of("NATS_TLS_CERT_FILE", cert, "CERTIFICATE")?;
            pem_of("NATS_TLS_KEY_FILE", key, "PRIVATE KEY")?;
            o = o.add_client_certificate(cert.clone(), key.clone());
            tls = true;
        }
        Ok(o.require_tls(tls))
    }
}

/// The text of a file a setting names, or the one line saying why it cannot be read.
pub(crate) fn read_file(var: &str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("{var} {}: {e}", path.display())))
}

/// Checks that the file a setting names holds a PEM block of `label` (`CERTIFICATE`, or any
/// `… PRIVATE KEY`).
fn pem_of(var: &str, path: &Path, label: &str) -> Result<(), ConfigError> {
    let text = read_file(var, path)?;
    let found = text.lines().any(|l| {
        l.strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
            .is_some_and(|l| l.ends_with(label))
    });
    require(
        found,
        &format!("{var} {} holds no PEM {label}", path.display()),
    )
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// `info`, `debug`, or tracing directives like `info,sqlx=warn`.
    #[arg(
        long,
        env = "LOG_LEVEL",
        value_name = "LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
}
