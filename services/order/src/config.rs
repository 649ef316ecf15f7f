//! Command line and environment of `pizza-order` (docs/contract.md §1, §7).

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use settings::{
    DbArgs, HttpArgs, LegacyMoneyArgs, LegacySourceArgs, LogArgs, NatsArgs, parse_duration,
};

/// Orders of the pizza platform.
#[derive(Debug, Parser)]
#[command(name = "pizza-order", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default). The order service serves no gRPC.
    Serve(Box<ServeConfig>),
    /// Run this service's migrations as its own role, then exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Bring pizza_back's branches and orders over as history (re-runnable: only what is new
    /// is added).
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
    /// login (VerifyToken) and the deadline of every gRPC call.
    #[command(flatten)]
    pub auth: authclient::AuthClientArgs,
    /// menu's gRPC address, for GetPrices.
    #[arg(
        long,
        env = "MENU_GRPC_URL",
        value_name = "MENU_GRPC_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub menu_grpc_url: String,
    /// Backstop on cached prices, should a `catalog.updated` be lost.
    #[arg(long, env = "PRICE_CACHE_TTL", value_name = "PRICE_CACHE_TTL", default_value = "60s", value_parser = parse_duration)]
    pub price_cache_ttl: Duration,
    /// Where to POST a Discord-compatible `{"content": …}` for every new order (off if unset).
    #[arg(long, env = "ORDER_WEBHOOK_URL", value_name = "ORDER_WEBHOOK_URL")]
    pub order_webhook_url: Option<String>,
    /// PENDING orders older than this are cancelled.
    #[arg(long, env = "ORDER_PENDING_TIMEOUT", value_name = "ORDER_PENDING_TIMEOUT", default_value = "15m", value_parser = parse_duration)]
    pub order_pending_timeout: Duration,
    /// Card orders not paid this long after they were placed are cancelled.
    #[arg(long, env = "PAYMENT_TIMEOUT_CARD", value_name = "PAYMENT_TIMEOUT_CARD", default_value = "15m", value_parser = parse_duration)]
    pub payment_timeout_card: Duration,
    /// Transfer orders not paid this long after they were placed are cancelled.
    #[arg(long, env = "PAYMENT_TIMEOUT_TRANSFER", value_name = "PAYMENT_TIMEOUT_TRANSFER", default_value = "30m", value_parser = parse_duration)]
    pub payment_timeout_transfer: Duration,
    /// The bank of the account transfers go to ("케이뱅크"); with TRANSFER_ACCOUNT_NO, turns
    /// on payment by transfer.
    #[arg(long, env = "TRANSFER_BANK", value_name = "TRANSFER_BANK")]
    pub transfer_bank: Option<String>,
    /// The account number transfers go to (digits and dashes).
    #[arg(long, env = "TRANSFER_ACCOUNT_NO", value_name = "TRANSFER_ACCOUNT_NO")]
    pub transfer_account_no: Option<String>,
    /// The web client's address that table QR codes open (`?table=<token>` is added), e.g.
    /// `https://pizza.example/`. Unset: the address staff reached the API at.
    #[arg(long, env = "PUBLIC_WEB_URL", value_name = "PUBLIC_WEB_URL")]
    pub public_web_url: Option<String>,
}

impl ServeConfig {
    /// The account transfers go to, when payment by transfer is on.
    pub fn transfer_account(&self) -> Option<crate::TransferAccount> {
        match (&self.transfer_bank, &self.transfer_account_no) {
            (Some(bank), Some(account_no)) => Some(crate::TransferAccount {
                bank: bank.trim().to_owned(),
                account_no: account_no.clone(),
            }),
            _ => None,
        }
    }

    /// `PUBLIC_WEB_URL`, parsed (checked by [`Self::validate`]).
    pub fn public_web_url(&self) -> Result<Option<url::Url>, settings::ConfigError> {
        self.public_web_url
            .as_deref()
            .map(|u| {
                url::Url::parse(u).map_err(|_| {
                    settings::ConfigError::new("PUBLIC_WEB_URL must be an http(s) URL")
                })
            })
            .transpose()
    }

    pub fn timeouts(&self) -> crate::workflow::Timeouts {
        crate::workflow::Timeouts {
            pending: self.order_pending_timeout,
            card: self.payment_timeout_card,
            transfer: self.payment_timeout_transfer,
        }
    }

    /// Checks clap cannot express, each naming its variable.
    pub fn validate(&self) -> Result<(), settings::ConfigError> {
        self.auth.validate()?;
        settings::require_http_url("MENU_GRPC_URL", &self.menu_grpc_url)?;
        if let Some(url) = &self.public_web_url {
            settings::require_http_url("PUBLIC_WEB_URL", url)?;
        }
        if let Some(url) = &self.order_webhook_url {
            settings::require_http_url("ORDER_WEBHOOK_URL", url)?;
        }
        settings::require(
            !self.order_pending_timeout.is_zero(),
            "ORDER_PENDING_TIMEOUT must be above zero",
        )?;
        settings::require(
            !self.payment_timeout_card.is_zero(),
            "PAYMENT_TIMEOUT_CARD must be above zero",
        )?;
        settings::require(
            !self.payment_timeout_transfer.is_zero(),
            "PAYMENT_TIMEOUT_TRANSFER must be above zero",
        )?;
        match (&self.transfer_bank, &self.transfer_account_no) {
            (None, None) => {}
            (Some(bank), Some(no)) => {
                settings::require(
                    !bank.trim().is_empty() && bank.chars().count() <= 20,
                    "TRANSFER_BANK must be 1 to 20 characters",
                )?;
                settings::require(
                    (1..=30).contains(&no.len())
                        && no.bytes().all(|b| b.is_ascii_digit() || b == b'-'),
                    "TRANSFER_ACCOUNT_NO must be digits and dashes",
                )?;
            }
            (Some(_), None) => {
                return Err(settings::ConfigError::new(
                    "TRANSFER_ACCOUNT_NO is required with TRANSFER_BANK",
                ));
            }
            (None, Some(_)) => {
                return Err(settings::ConfigError::new(
                    "TRANSFER_BANK is required with TRANSFER_ACCOUNT_NO",
                ));
            }
        }
        settings::require(
            !self.price_cache_ttl.is_zero(),
            "PRICE_CACHE_TTL must be above zero",
        )
    }
}
