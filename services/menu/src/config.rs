//! Command line and environment of `pizza-menu` (docs/contract.md §1, §7).

use std::{net::SocketAddr, time::Duration};

use clap::{Args, Parser, Subcommand};
use settings::{
    DbArgs, HttpArgs, LegacyMoneyArgs, LegacySourceArgs, LogArgs, NatsArgs, parse_duration,
};

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
    /// Bring pizza_back's catalog over (re-runnable: only what is new is added).
    ImportLegacy {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        source: LegacySourceArgs,
        #[command(flatten)]
        money: LegacyMoneyArgs,
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
    #[command(flatten)]
    pub auth: authclient::AuthClientArgs,
    #[arg(
        long,
        env = "GRPC_ADDR",
        value_name = "GRPC_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub grpc_addr: SocketAddr,
    /// Backstop on the served-menu cache, should a `catalog.updated` be lost.
    #[arg(long, env = "MENU_CACHE_TTL", value_name = "MENU_CACHE_TTL", default_value = "60s", value_parser = parse_duration)]
    pub menu_cache_ttl: Duration,
}

impl ServeConfig {
    /// Checks clap cannot express, each naming its variable.
    pub fn validate(&self) -> Result<(), settings::ConfigError> {
        self.auth.validate()?;
        settings::require(
            !self.menu_cache_ttl.is_zero(),
            "MENU_CACHE_TTL must be above zero",
        )
    }
}
