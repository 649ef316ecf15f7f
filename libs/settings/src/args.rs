//! The settings every service shares, as clap argument groups: the database, HTTP, NATS and
//! logs. A service flattens the ones it needs into its own `ServeConfig`.

use std::{net::SocketAddr, time::Duration};

use clap::Args;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::{
    Cidrs, ConfigError, List, Secret, parse_bytes, parse_cidrs, parse_duration, parse_list,
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
    /// How long a request waits for a pooled connection before it is answered 503.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT", value_name = "DB_ACQUIRE_TIMEOUT", default_value = "3s", value_parser = parse_duration)]
    pub db_acquire_timeout: Duration,
}

impl DbArgs {
    /// Connection options; `default_user` is the service's own role.
    pub fn connect_options(&self, default_user: &str) -> Result<PgConnectOptions, ConfigError> {
        if let Some(url) = &self.database_url {
            return url
                .expose()
                .parse::<PgConnectOptions>()
                .map_err(|_| ConfigError::new("DATABASE_URL is not a valid postgres:// URL"));
        }
        let mut o = PgConnectOptions::new()
            .host(&self.db_host)
            .port(self.db_port)
            .database(&self.db_name)
            .username(self.db_user.as_deref().unwrap_or(default_user));
        if let Some(p) = &self.db_password {
            o = o.password(p.expose());
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

    /// Connection options for migrations: [`DbArgs::connect_options`] with the role's
    /// `statement_timeout` and `idle_in_transaction_session_timeout` (set by the bootstrap for
    /// the services' requests) lifted for the session: building an index on a large table
    /// may take longer, and nothing else waits on a migration.
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

#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    #[arg(
        long,
        env = "NATS_URL",
        value_name = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
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
