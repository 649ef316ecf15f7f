//! `pizza-menu [serve|migrate|import-legacy]` — see `pizza-menu --help`.

use std::process::ExitCode;

use pizza_menu::{
    DB_ROLE, Listeners, MIGRATOR,
    config::{Cli, Command, ServeConfig},
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
            lifecycle::migrate("pizza-menu", DB_ROLE, &MIGRATOR, db, log).await
        }
        Command::ImportLegacy { db, source, money } => {
            lifecycle::import_legacy(
                DB_ROLE,
                &db,
                &source,
                |target, from, dry_run, report| async move {
                    pizza_menu::import::catalog(
                        &target,
                        &from,
                        &money.won_per_unit,
                        dry_run,
                        report,
                    )
                    .await
                },
            )
            .await
        }
    };
    settings::exit_code("pizza-menu", result)
}

async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    cfg.validate()?;
    let _telemetry = lifecycle::telemetry("pizza-menu", &cfg.log)?;
    let http = settings::bind(cfg.http.http_addr, "HTTP_ADDR").await?;
    let grpc = settings::bind(cfg.grpc_addr, "GRPC_ADDR").await?;
    let shutdown = httpkit::Shutdown::new();
    shutdown.on_signals(cfg.http.shutdown_drain);
    pizza_menu::run(cfg, Listeners { http, grpc }, shutdown).await
}
