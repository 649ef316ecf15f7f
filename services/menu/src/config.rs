//! Command line and environment of `pizza-menu` (DESIGN §1, §7).

use std::{net::SocketAddr, time::Duration};

use clap::{Args, Parser, Subcommand};
use settings::{DbArgs, HttpArgs, LogArgs, NatsArgs, parse_duration};

/// The catalog of the pizza platform.
#[derive(Debug, Parser)]
#[command(name = "pizza-menu", version)]
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
}

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
    #[arg(
        long,
        env = "GRPC_ADDR",
        value_name = "GRPC_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub grpc_addr: SocketAddr,
    /// login's gRPC address, for VerifyToken.
    #[arg(
        long,
        env = "LOGIN_GRPC_URL",
        value_name = "LOGIN_GRPC_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub login_grpc_url: String,
    /// Deadline of a call to login; past it the request is answered 503.
    #[arg(long, env = "GRPC_CALL_TIMEOUT", value_name = "GRPC_CALL_TIMEOUT", default_value = "800ms", value_parser = parse_duration)]
    pub grpc_call_timeout: Duration,
    /// Backstop on the served-menu cache, should a `catalog.updated` be lost.
    #[arg(long, env = "MENU_CACHE_TTL", value_name = "MENU_CACHE_TTL", default_value = "60s", value_parser = parse_duration)]
    pub menu_cache_ttl: Duration,
    /// Backstop on cached token verifications, should an `auth.session_revoked` be lost.
    #[arg(long, env = "AUTH_CACHE_TTL", value_name = "AUTH_CACHE_TTL", default_value = "5m", value_parser = parse_duration)]
    pub auth_cache_ttl: Duration,
}

impl ServeConfig {
    pub fn validate(&self) {
        if !(self.login_grpc_url.starts_with("http://")
            || self.login_grpc_url.starts_with("https://"))
        {
            settings::fail("LOGIN_GRPC_URL must be an http:// or https:// URL");
        }
        if self.grpc_call_timeout.is_zero() {
            settings::fail("GRPC_CALL_TIMEOUT must be above zero");
        }
        if self.menu_cache_ttl.is_zero() || self.auth_cache_ttl.is_zero() {
            settings::fail("MENU_CACHE_TTL and AUTH_CACHE_TTL must be above zero");
        }
    }
}
