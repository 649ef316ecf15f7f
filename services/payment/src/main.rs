//! `pizza-payment [serve|migrate]` — see `pizza-payment --help`.

use std::process::ExitCode;

use pizza_payment::{
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
            lifecycle::migrate("pizza-payment", DB_ROLE, &MIGRATOR, db, log).await
        }
    };
    settings::exit_code("pizza-payment", result)
}

async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    cfg.validate()?;
    let _telemetry = lifecycle::telemetry("pizza-payment", &cfg.log)?;
    let http = settings::bind(cfg.http.http_addr, "HTTP_ADDR").await?;
    let shutdown = httpkit::Shutdown::new();
    shutdown.on_signals(cfg.http.shutdown_drain);
    pizza_payment::run(cfg, http, shutdown).await
}
