//! Command line and environment of `pizza-payment` (README.md, "Configuration").

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use settings::{DbArgs, HttpArgs, LogArgs, NatsArgs, Secret, parse_duration};

/// Payments of the pizza platform: card through Toss Payments, bank transfer by deposit
/// notification, refunds.
#[derive(Debug, Parser)]
#[command(name = "pizza-payment", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default). The payment service serves no gRPC.
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
    /// login (VerifyToken) and the deadline of every gRPC call.
    #[command(flatten)]
    pub auth: authclient::AuthClientArgs,
    #[command(flatten)]
    pub toss: TossArgs,
    /// Where the provider sends the browser back after its checkout (`?payment=success` or
    /// `?payment=fail` is added). Unset: the page that asked for the checkout, when it is
    /// one of ours (the ingress's host, or CORS_ALLOWED_ORIGINS).
    #[arg(long, env = "PAYMENT_RETURN_URL", value_name = "PAYMENT_RETURN_URL")]
    pub payment_return_url: Option<String>,
    /// The key the deposit notification service signs its calls with (HMAC-SHA256, at least
    /// 32 bytes). Unset: payment by transfer is off and the deposit webhook refuses all.
    #[arg(
        long,
        env = "DEPOSIT_WEBHOOK_SECRET",
        value_name = "DEPOSIT_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub deposit_webhook_secret: Option<Secret>,
    /// A confirm still unanswered after this is settled by asking the provider (the
    /// reconciler also runs this often).
    #[arg(long, env = "PAYMENT_RECONCILE_AFTER", value_name = "PAYMENT_RECONCILE_AFTER", default_value = "10s", value_parser = parse_duration)]
    pub payment_reconcile_after: Duration,
}

/// How the service reaches Toss Payments.
#[derive(Debug, Clone, Args)]
pub struct TossArgs {
    /// The provider's API (its paths under /v1).
    #[arg(
        long,
        env = "TOSS_API_URL",
        value_name = "TOSS_API_URL",
        default_value = "https://api.tosspayments.com"
    )]
    pub toss_api_url: String,
    /// The secret key (`test_sk_…` or `live_sk_…`): it moves money, so only this service
    /// holds it, and it is never printed.
    #[arg(
        long,
        env = "TOSS_SECRET_KEY",
        value_name = "TOSS_SECRET_KEY",
        hide_env_values = true
    )]
    pub toss_secret_key: Secret,
    /// The client key the browser's checkout uses (`test_ck_…`, `live_ck_…`): public.
    #[arg(long, env = "TOSS_CLIENT_KEY", value_name = "TOSS_CLIENT_KEY")]
    pub toss_client_key: String,
    /// A checkout page to send the browser to (the local sandbox's `/checkout`). Unset: the
    /// web client uses the provider's browser SDK.
    #[arg(long, env = "TOSS_CHECKOUT_URL", value_name = "TOSS_CHECKOUT_URL")]
    pub toss_checkout_url: Option<String>,
    /// Deadline of one call to the provider; past it, the outcome is reconciled.
    #[arg(long, env = "TOSS_TIMEOUT", value_name = "TOSS_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub toss_timeout: Duration,
}

impl ServeConfig {
    /// Checks clap cannot express, each naming its variable.
    pub fn validate(&self) -> Result<(), settings::ConfigError> {
        self.auth.validate()?;
        settings::require_http_url("TOSS_API_URL", &self.toss.toss_api_url)?;
        let secret = self.toss.toss_secret_key.expose();
        settings::require(
            secret.starts_with("test_sk_") || secret.starts_with("live_sk_"),
            "TOSS_SECRET_KEY must be a secret key (test_sk_… or live_sk_…)",
        )?;
        let client = &self.toss.toss_client_key;
        settings::require(
            client.starts_with("test_ck_") || client.starts_with("live_ck_"),
            "TOSS_CLIENT_KEY must be a client key (test_ck_… or live_ck_…)",
        )?;
        settings::require(
            secret.starts_with("test_") == client.starts_with("test_"),
            "TOSS_SECRET_KEY and TOSS_CLIENT_KEY must both be test keys or both live keys",
        )?;
        if let Some(url) = &self.toss.toss_checkout_url {
            settings::require_http_url("TOSS_CHECKOUT_URL", url)?;
        }
        settings::require(
            !self.toss.toss_timeout.is_zero(),
            "TOSS_TIMEOUT must be above zero",
        )?;
        if let Some(url) = &self.payment_return_url {
            settings::require_http_url("PAYMENT_RETURN_URL", url)?;
        }
        if let Some(secret) = &self.deposit_webhook_secret {
            settings::require(
                secret.expose().len() >= 32,
                "DEPOSIT_WEBHOOK_SECRET must be at least 32 bytes",
            )?;
        }
        settings::require(
            !self.payment_reconcile_after.is_zero(),
            "PAYMENT_RECONCILE_AFTER must be above zero",
        )
    }
}
