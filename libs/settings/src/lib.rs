//! Configuration every service reads the same way.
//!
//! Each setting is an environment variable (listed in README.md, "Configuration") read once,
//! in `main`, through clap. A bad or missing value stops the process at start with **one
//! line naming the variable**: [`parse`] folds clap's multi-line report into that line, and
//! the checks clap cannot express (a secret that is too short, say) return a [`ConfigError`]
//! that `main` hands to [`exit_code`]. Nothing here exits the process itself.

use std::{fmt, net::SocketAddr, process::ExitCode, str::FromStr, time::Duration};

use clap::{Args, Parser, error::ErrorKind};
use ipnet::IpNet;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// A setting the process cannot start with, as the one line that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `Ok` when `ok`, else the configuration error `message`.
pub fn require(ok: bool, message: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(message))
    }
}

/// Parses the command line and environment. `Err` carries the exit code once what there was
/// to say is printed: help or version (0), or the one line naming what is wrong (2).
///
/// With no arguments at all the `serve` subcommand is assumed, so a container's entrypoint
/// can be the bare binary.
pub fn parse<T: Parser>() -> Result<T, ExitCode> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 1 {
        args.push("serve".into());
    }
    match T::try_parse_from(args) {
        Ok(parsed) => Ok(parsed),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            let line = one_line(&e.render().to_string());
            let name = T::command().get_name().to_owned();
            Err(exit_code(&name, Err(ConfigError::new(line).into())))
        }
    }
}

/// Folds a multi-line clap report into one line, dropping the usage and help hints.
fn one_line(report: &str) -> String {
    report
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a process ends, for `main` to return: success; a [`ConfigError`] anywhere in the
/// chain as `<bin>: configuration error: <line>` and code 2; anything else as
/// `<bin>: <error and its causes>` and code 1. Both on one line on standard error.
pub fn exit_code(bin: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(config) => {
                eprintln!("{bin}: configuration error: {config}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("{bin}: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Binds a listener, or names the variable that gave the address.
pub async fn bind(addr: SocketAddr, var: &str) -> Result<tokio::net::TcpListener, ConfigError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ConfigError::new(format!("{var}={addr} cannot be bound: {e}")))
}

/// `Ok` if `url` (the value of `var`) is an http:// or https:// URL.
pub fn require_http_url(var: &str, url: &str) -> Result<(), ConfigError> {
    require(
        url.starts_with("http://") || url.starts_with("https://"),
        &format!("{var} must be an http:// or https:// URL"),
    )
}

/// A value that must never reach a log line: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call it only where the value is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Parses durations written like `15m`, `5s`, `250ms`, `1h`, `14d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 15m, 5s or 250ms"))?;
    let too_long = || format!("`{s}` is too long a duration");
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(too_long)?),
        "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(too_long)?),
        "d" => Duration::from_secs(n.checked_mul(86_400).ok_or_else(too_long)?),
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m, h or d)"
            ));
        }
    };
    Ok(d)
}

/// Parses a byte size: `65536`, `64KiB`, `1MiB`.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 65536 or 64KiB"))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1024,
        "MiB" | "M" => 1024 * 1024,
        other => return Err(format!("unknown size unit `{other}` (use B, KiB or MiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large a size"))
}

/// A comma-separated list of CIDRs (a bare address counts as a /32 or /128).
pub fn parse_cidrs(s: &str) -> Result<Cidrs, String> {
    let mut nets = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let net = match part.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => part
                .parse::<std::net::IpAddr>()
                .map(IpNet::from)
                .map_err(|_| format!("`{part}` is not a CIDR like 10.0.0.0/8"))?,
        };
        nets.push(net);
    }
    Ok(Cidrs(nets))
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct Cidrs(pub Vec<IpNet>);

impl Cidrs {
    pub fn contains(&self, ip: &std::net::IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }
}

/// A comma-separated list of words (origins, say).
pub fn parse_list(s: &str) -> Result<List, String> {
    Ok(List(
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

#[derive(Debug, Clone, Default)]
pub struct List(pub Vec<String>);

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
    /// Defaults to the service's own role (`login_svc`, `menu_svc`, `order_svc`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_design_says() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn sizes_and_cidrs_parse() {
        assert_eq!(parse_bytes("64KiB").unwrap(), 65536);
        assert_eq!(parse_bytes("1MiB").unwrap(), 1 << 20);
        let c = parse_cidrs("10.0.0.0/8, 127.0.0.1").unwrap();
        assert!(c.contains(&"10.1.2.3".parse().unwrap()));
        assert!(c.contains(&"127.0.0.1".parse().unwrap()));
        assert!(!c.contains(&"192.168.0.1".parse().unwrap()));
        assert!(parse_cidrs("nonsense").is_err());
    }

    #[test]
    fn clap_reports_fold_into_one_line_naming_the_variable() {
        #[derive(Parser, Debug)]
        struct T {
            #[command(flatten)]
            http: HttpArgs,
        }
        let err = T::try_parse_from(["t", "--http-addr", "nope"]).unwrap_err();
        let line = one_line(&err.render().to_string());
        assert!(!line.contains('\n'));
        assert!(line.contains("HTTP_ADDR"), "{line}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever an operator writes, the parsers answer Ok or a message; never a panic
            /// (a panic at start is not the one-line error the process promises).
            #[test]
            fn config_parsers_never_panic(s in "\\PC{0,40}") {
                let _ = parse_duration(&s);
                let _ = parse_bytes(&s);
                let _ = parse_cidrs(&s);
                let _ = parse_list(&s);
            }

            #[test]
            fn huge_numbers_are_errors_not_overflows(n in any::<u64>(), unit in "(ms|s|m|h|d|)") {
                let text = format!("{n}{unit}");
                let mult: u64 = match unit.as_str() { "m" => 60, "h" => 3600, "d" => 86_400, _ => 1 };
                match parse_duration(&text) {
                    Ok(d) if unit == "ms" => prop_assert_eq!(d, Duration::from_millis(n)),
                    Ok(d) => prop_assert_eq!(Some(d.as_secs()), n.checked_mul(mult)),
                    Err(_) => prop_assert!(n.checked_mul(mult).is_none()),
                }
                let _ = parse_bytes(&format!("{n}MiB"));
            }
        }
    }
}
