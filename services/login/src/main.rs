//! `pizza-login [serve|migrate|member …|import-legacy]` — see `pizza-login --help`.

use std::process::ExitCode;

use pizza_login::{
    DB_ROLE, Listeners, MIGRATOR,
    config::{Cli, Command, ServeConfig},
    ops,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = match settings::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Serve(cfg) => serve(*cfg).await,
        Command::Migrate { db, log } => {
            lifecycle::migrate("pizza-login", DB_ROLE, &MIGRATOR, db, log).await
        }
        Command::Member { db, action } => ops::member(&db, action).await,
        Command::ImportLegacy { db, source } => {
            lifecycle::import_legacy(
                DB_ROLE,
                &db,
                &source,
                |target, from, dry_run, report| async move {
                    pizza_login::import::members(&target, &from, dry_run, report).await
                },
            )
            .await
        }
    };
    settings::exit_code("pizza-login", result)
}

async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    cfg.validate()?;
    let _telemetry = lifecycle::telemetry("pizza-login", &cfg.log)?;
    let http = settings::bind(cfg.http.http_addr, "HTTP_ADDR").await?;
    let grpc = settings::bind(cfg.grpc_addr, "GRPC_ADDR").await?;
    let shutdown = httpkit::Shutdown::new();
    shutdown.on_signals(cfg.http.shutdown_drain);
    pizza_login::run(cfg, Listeners { http, grpc }, shutdown).await
}
