//! `pizza-login [serve|migrate|member …]` — see `pizza-login --help`.

use std::process::ExitCode;

use pizza_login::{
    DB_ROLE, Listeners, MIGRATOR,
    config::{Cli, Command},
    ops,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = settings::parse_or_exit();
    let result = match cli.command {
        Command::Serve(cfg) => {
            cfg.validate();
            let _telemetry = match telemetry::init("pizza-login", &cfg.log.log_level) {
                Ok(g) => g,
                Err(e) => settings::fail(&format!("{e:#}")),
            };
            let http = settings::bind(cfg.http.http_addr, "HTTP_ADDR").await;
            let grpc = settings::bind(cfg.grpc_addr, "GRPC_ADDR").await;
            let shutdown = httpkit::Shutdown::new();
            shutdown.on_signals(cfg.http.shutdown_drain);
            pizza_login::run(*cfg, Listeners { http, grpc }, shutdown).await
        }
        Command::Migrate { db, log } => {
            let _telemetry = telemetry::init("pizza-login", &log.log_level);
            db.migrate(DB_ROLE, &MIGRATOR).await.map_err(Into::into)
        }
        Command::Member { db, action } => ops::member(&db, action).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pizza-login: {e:#}");
            ExitCode::FAILURE
        }
    }
}
