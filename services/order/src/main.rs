//! `pizza-order [serve|migrate]` — see `pizza-order --help`.

use std::process::ExitCode;

use pizza_order::{
    DB_ROLE, MIGRATOR,
    config::{Cli, Command},
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = settings::parse_or_exit();
    let result = match cli.command {
        Command::Serve(cfg) => {
            cfg.validate();
            let _telemetry = match telemetry::init("pizza-order", &cfg.log.log_level) {
                Ok(g) => g,
                Err(e) => settings::fail(&format!("{e:#}")),
            };
            let http = settings::bind(cfg.http.http_addr, "HTTP_ADDR").await;
            let shutdown = httpkit::Shutdown::new();
            shutdown.on_signals(cfg.http.shutdown_drain);
            pizza_order::run(*cfg, http, shutdown).await
        }
        Command::Migrate { db, log } => {
            let _telemetry = telemetry::init("pizza-order", &log.log_level);
            db.migrate(DB_ROLE, &MIGRATOR).await.map_err(Into::into)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pizza-order: {e:#}");
            ExitCode::FAILURE
        }
    }
}
