//! Command line and environment of `pizza-login` (docs/contract.md §1, §7).

use std::{net::SocketAddr, time::Duration};

use authclient::Role;
use clap::{Args, Parser, Subcommand};
use settings::{
    ConfigError, DbArgs, HttpArgs, LegacySourceArgs, LogArgs, NatsArgs, Secret, parse_duration,
    require,
};

/// Members, sessions and tokens of the pizza platform.
#[derive(Debug, Parser)]
#[command(name = "pizza-login", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP and gRPC (the default).
    Serve(Box<ServeConfig>),
    /// Run this service's migrations as its own role, then exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Bring pizza_back's members over (re-runnable: only who is new is imported).
    ImportLegacy {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        source: LegacySourceArgs,
    },
    /// Operator commands on members (passwords are read from standard input).
    Member {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        action: MemberAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Create a member with a role; the password is the first line of standard input.
    Create {
        #[arg(long)]
        member_id: String,
        #[arg(long)]
        member_nm: String,
        #[arg(long, value_enum, default_value = "CUSTOMER")]
        role: Role,
        /// Bind a STAFF member to one branch.
        #[arg(long)]
        bran_id: Option<String>,
    },
    /// Delete a member and revoke all of its sessions.
    Delete {
        #[arg(long)]
        member_id: String,
    },
    /// Change a member's role (and branch binding); its sessions are revoked, so the new
    /// role takes effect at the next login.
    SetRole {
        #[arg(long)]
        member_id: String,
        #[arg(long, value_enum)]
        role: Role,
        #[arg(long)]
        bran_id: Option<String>,
    },
}

/// Everything `serve` reads.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[arg(
        long,
        env = "GRPC_ADDR",
        value_name = "GRPC_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub grpc_addr: SocketAddr,
}

#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// HS256 signing key, at least 32 bytes.
    #[arg(
        long,
        env = "JWT_SECRET",
        value_name = "JWT_SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Secret,
    /// The previous signing key during a rotation: still verifies, never signs.
    #[arg(
        long,
        env = "JWT_SECRET_PREVIOUS",
        value_name = "JWT_SECRET_PREVIOUS",
        hide_env_values = true
    )]
    pub jwt_secret_previous: Option<Secret>,
    /// Lifetime of access tokens (at most 15m).
    #[arg(long, env = "ACCESS_TOKEN_TTL", value_name = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,
    /// Lifetime of access tokens issued on pizza_back's `/api/login/`: its front end never
    /// refreshes (pizza_back's own `JWT_ACCESS_TTL_SECONDS`).
    #[arg(long, env = "LEGACY_TOKEN_TTL", value_name = "LEGACY_TOKEN_TTL", default_value = "1h", value_parser = parse_duration)]
    pub legacy_token_ttl: Duration,
    /// Lifetime of a session (and its refresh tokens) since the last refresh.
    #[arg(long, env = "REFRESH_TOKEN_TTL", value_name = "REFRESH_TOKEN_TTL", default_value = "14d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Per client address on login and register: requests allowed at once...
    #[arg(
        long,
        env = "AUTH_RATE_LIMIT_BURST",
        value_name = "AUTH_RATE_LIMIT_BURST",
        default_value_t = 10
    )]
    pub auth_rate_limit_burst: u32,
    /// ...and one more allowed per this period.
    #[arg(long, env = "AUTH_RATE_LIMIT_PERIOD", value_name = "AUTH_RATE_LIMIT_PERIOD", default_value = "6s", value_parser = parse_duration)]
    pub auth_rate_limit_period: Duration,
    /// Failed logins per account name in any hour, from all addresses together (OWASP: at
    /// most 100); past it only logins from a device that logged in before get through.
    /// Each address has its own growing delays well before this.
    #[arg(
        long,
        env = "LOGIN_FAILURES_PER_HOUR",
        value_name = "LOGIN_FAILURES_PER_HOUR",
        default_value_t = 100
    )]
    pub login_failures_per_hour: u32,
    /// Password hashes computed at once (each takes ~19 MiB and one core for ~30 ms);
    /// defaults to the number of cores.
    #[arg(
        long,
        env = "PASSWORD_HASH_CONCURRENCY",
        value_name = "PASSWORD_HASH_CONCURRENCY"
    )]
    pub password_hash_concurrency: Option<usize>,
}

impl ServeConfig {
    /// Checks clap cannot express, each naming its variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let a = &self.auth;
        require(
            a.jwt_secret.expose().len() >= 32,
            "JWT_SECRET must be at least 32 bytes",
        )?;
        require(
            a.jwt_secret_previous
                .as_ref()
                .is_none_or(|p| p.expose().len() >= 32),
            "JWT_SECRET_PREVIOUS must be at least 32 bytes",
        )?;
        require(
            (Duration::from_secs(10)..=Duration::from_secs(15 * 60)).contains(&a.access_token_ttl),
            "ACCESS_TOKEN_TTL must be between 10s and 15m",
        )?;
        require(
            a.refresh_token_ttl >= a.access_token_ttl,
            "REFRESH_TOKEN_TTL must not be shorter than ACCESS_TOKEN_TTL",
        )?;
        require(
            (Duration::from_secs(10)..=Duration::from_secs(24 * 3600))
                .contains(&a.legacy_token_ttl)
                && a.legacy_token_ttl <= a.refresh_token_ttl,
            "LEGACY_TOKEN_TTL must be between 10s and 24h, and not longer than REFRESH_TOKEN_TTL",
        )?;
        require(
            a.auth_rate_limit_burst > 0 && !a.auth_rate_limit_period.is_zero(),
            "AUTH_RATE_LIMIT_BURST and AUTH_RATE_LIMIT_PERIOD must be above zero",
        )?;
        require(
            (1..=100).contains(&a.login_failures_per_hour),
            "LOGIN_FAILURES_PER_HOUR must be between 1 and 100",
        )?;
        require(
            a.password_hash_concurrency != Some(0),
            "PASSWORD_HASH_CONCURRENCY must be above zero",
        )
    }
}
