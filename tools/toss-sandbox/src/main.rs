//! `toss-sandbox`: Toss Payments' Core API on loopback, for `make up` and the tests (see the
//! library's documentation for what it answers). Never deployed.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;

/// A local stand-in for Toss Payments (confirm, query, cancel, checkout page).
#[derive(Debug, Parser)]
#[command(name = "toss-sandbox", version)]
struct Args {
    #[arg(long, env = "TOSS_SANDBOX_ADDR", default_value = "127.0.0.1:8090")]
    addr: SocketAddr,
    /// The secret key the API accepts (Basic auth); the provider's documentation test key.
    #[arg(
        long,
        env = "TOSS_SECRET_KEY",
        default_value = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R",
        hide_env_values = true
    )]
    secret_key: String,
    /// The client key the checkout page accepts.
    #[arg(
        long,
        env = "TOSS_CLIENT_KEY",
        default_value = "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq"
    )]
    client_key: String,
    /// Seconds an authenticated payment waits for its confirm (the provider: 600).
    #[arg(long, env = "TOSS_SANDBOX_CONFIRM_WINDOW_SECS", default_value_t = 600)]
    confirm_window_secs: u64,
    /// Where payment status changes are posted (the shop's webhook, as registered at the
    /// provider's dashboard).
    #[arg(long, env = "TOSS_SANDBOX_WEBHOOK_URL")]
    webhook_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    {
        use std::io::Write;
        let mut out = std::io::stdout();
        writeln!(
            out,
            "toss-sandbox: listening on http://{}",
            listener.local_addr()?
        )?;
        out.flush()?;
    }
    toss_sandbox::serve(
        listener,
        toss_sandbox::Config {
            secret_key: args.secret_key,
            client_key: args.client_key,
            confirm_window: Duration::from_secs(args.confirm_window_secs),
            webhook_url: args.webhook_url,
        },
    )
    .await?;
    Ok(())
}
