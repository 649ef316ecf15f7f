//! `pizza-order [serve|migrate|import-legacy]` — see `pizza-order --help`.

use std::process::ExitCode;

use pizza_order::{
    DB_ROLE, MIGRATOR,
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
            lifecycle::migrate("pizza-order", DB_ROLE, &MIGRATOR, db, log).await
        }
        Command::ImportLegacy { db, source, money } => {
            lifecycle::import_legacy(
                DB_ROLE,
                &db,
                &source,
                |target, from, dry_run, report| async move {
                    pizza_order::import::history(
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
    settings::exit_code("pizza-order", result)
}

async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    cfg.validate()?;
    let _telemetry = lifecycle::telemetry("pizza-order", &cfg.log)?;
    let http = settings::bind(cfg.http.http_addr, "HTTP_ADDR").await?;
    let shutdown = httpkit::Shutdown::new();
    shutdown.on_signals(cfg.http.shutdown_drain);
    pizza_order::run(cfg, http, shutdown).await
}
