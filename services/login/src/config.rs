//! Command line and environment of `pizza-login` (docs/contract.md §1, §7).

use std::{net::SocketAddr, time::Duration};

use authclient::Role;
use clap::{Args, Parser, Subcommand};
use settings::{
    ConfigError, DbArgs, HttpArgs, LegacySourceArgs, LogArgs, NatsArgs, Secret, parse_duration,
    require,
};

/// Members, sessions and tokens of the pizza platform.
#[derive(Debug, Parser)]
#[command(name = "pizza-login", version)]
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
    /// Bring pizza_back's members over (re-runnable: only who is new is imported).
    ImportLegacy {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        source: LegacySourceArgs,
    },
    /// Operator commands on members (passwords are read from standard input).
    Member {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        action: MemberAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Create a member with a role; the password is the first line of standard input.
    Create {
        #[arg(long)]
        member_id: String,
        #[arg(long)]
        member_nm: String,
        #[arg(long, value_enum, default_value = "CUSTOMER")]
        role: Role,
        /// Bind a STAFF member to one branch.
        #[arg(long)]
        bran_id: Option<String>,
    },
    /// Delete a member and revoke all of its sessions.
    Delete {
        #[arg(long)]
        member_id: String,
    },
    /// Change a member's role (and branch binding); its sessions are revoked, so the new
    /// role takes effect at the next login.
    SetRole {
        #[arg(long)]
        member_id: String,
        #[arg(long, value_enum)]
        role: Role,
        #[arg(long)]
        bran_id: Option<String>,
    },
}

/// Everything `serve` reads.
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
    pub auth: AuthArgs,
    #[command(flatten)]
    pub social: SocialArgs,
    #[arg(
        long,
        env = "GRPC_ADDR",
        value_name = "GRPC_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub grpc_addr: SocketAddr,
}

#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// HS256 signing key, at least 32 bytes.
    #[arg(
        long,
        env = "JWT_SECRET",
        value_name = "JWT_SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Secret,
    /// The previous signing key during a rotation: still verifies, never signs.
    #[arg(
        long,
        env = "JWT_SECRET_PREVIOUS",
        value_name = "JWT_SECRET_PREVIOUS",
        hide_env_values = true
    )]
    pub jwt_secret_previous: Option<Secret>,
    /// Lifetime of access tokens (at most 15m).
    #[arg(long, env = "ACCESS_TOKEN_TTL", value_name = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,
    /// Lifetime of access tokens issued on pizza_back's `/api/login/`: its front end never
    /// refreshes (pizza_back's own `JWT_ACCESS_TTL_SECONDS`).
    #[arg(long, env = "LEGACY_TOKEN_TTL", value_name = "LEGACY_TOKEN_TTL", default_value = "1h", value_parser = parse_duration)]
    pub legacy_token_ttl: Duration,
    /// Lifetime of a session (and its refresh tokens) since the last refresh.
    #[arg(long, env = "REFRESH_TOKEN_TTL", value_name = "REFRESH_TOKEN_TTL", default_value = "14d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Per client address on login and register: requests allowed at once...
    #[arg(
        long,
        env = "AUTH_RATE_LIMIT_BURST",
        value_name = "AUTH_RATE_LIMIT_BURST",
        default_value_t = 10
    )]
    pub auth_rate_limit_burst: u32,
    /// ...and one more allowed per this period.
    #[arg(long, env = "AUTH_RATE_LIMIT_PERIOD", value_name = "AUTH_RATE_LIMIT_PERIOD", default_value = "6s", value_parser = parse_duration)]
    pub auth_rate_limit_period: Duration,
    /// Failed logins per account name in any hour, from all addresses together (OWASP: at
    /// most 100); past it only logins from a device that logged in before get through.
    /// Each address has its own growing delays well before this.
    #[arg(
        long,
        env = "LOGIN_FAILURES_PER_HOUR",
        value_name = "LOGIN_FAILURES_PER_HOUR",
        default_value_t = 100
    )]
    pub login_failures_per_hour: u32,
    /// Password hashes computed at once (each takes ~19 MiB and one core for ~30 ms);
    /// defaults to the number of cores.
    #[arg(
        long,
        env = "PASSWORD_HASH_CONCURRENCY",
        value_name = "PASSWORD_HASH_CONCURRENCY"
    )]
    pub password_hash_concurrency: Option<usize>,
}

/// Social login (README, "Social login"): a provider is on when its client id and secret are
/// set, and answers 404 otherwise.
#[derive(Debug, Clone, Args)]
pub struct SocialArgs {
    /// The web client's address (`https://pizza.example/`), behind the same ingress as
    /// `/login`: providers call back to `<it>/login/oauth/<provider>/callback` and the
    /// browser goes back to the client. Required when a provider is on.
    #[arg(long, env = "PUBLIC_WEB_URL", value_name = "PUBLIC_WEB_URL")]
    pub public_web_url: Option<String>,
    /// How long a call to a provider may take (discovery, keys, code exchange, profile).
    #[arg(long, env = "OAUTH_TIMEOUT", value_name = "OAUTH_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub oauth_timeout: Duration,

    #[arg(
        long,
        env = "OAUTH_GOOGLE_CLIENT_ID",
        value_name = "OAUTH_GOOGLE_CLIENT_ID"
    )]
    pub oauth_google_client_id: Option<String>,
    #[arg(
        long,
        env = "OAUTH_GOOGLE_CLIENT_SECRET",
        value_name = "OAUTH_GOOGLE_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub oauth_google_client_secret: Option<Secret>,
    /// Its OpenID Connect issuer (discovery at `<issuer>/.well-known/openid-configuration`).
    #[arg(
        long,
        env = "OAUTH_GOOGLE_ISSUER",
        value_name = "OAUTH_GOOGLE_ISSUER",
        default_value = "https://accounts.google.com"
    )]
    pub oauth_google_issuer: String,

    #[arg(
        long,
        env = "OAUTH_KAKAO_CLIENT_ID",
        value_name = "OAUTH_KAKAO_CLIENT_ID"
    )]
    pub oauth_kakao_client_id: Option<String>,
    #[arg(
        long,
        env = "OAUTH_KAKAO_CLIENT_SECRET",
        value_name = "OAUTH_KAKAO_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub oauth_kakao_client_secret: Option<Secret>,
    #[arg(
        long,
        env = "OAUTH_KAKAO_ISSUER",
        value_name = "OAUTH_KAKAO_ISSUER",
        default_value = "https://kauth.kakao.com"
    )]
    pub oauth_kakao_issuer: String,

    #[arg(
        long,
        env = "OAUTH_NAVER_CLIENT_ID",
        value_name = "OAUTH_NAVER_CLIENT_ID"
    )]
    pub oauth_naver_client_id: Option<String>,
    #[arg(
        long,
        env = "OAUTH_NAVER_CLIENT_SECRET",
        value_name = "OAUTH_NAVER_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub oauth_naver_client_secret: Option<Secret>,
    #[arg(
        long,
        env = "OAUTH_NAVER_AUTHORIZE_URL",
        value_name = "OAUTH_NAVER_AUTHORIZE_URL",
        default_value = "https://nid.naver.com/oauth2.0/authorize"
    )]
    pub oauth_naver_authorize_url: String,
    #[arg(
        long,
        env = "OAUTH_NAVER_TOKEN_URL",
        value_name = "OAUTH_NAVER_TOKEN_URL",
        default_value = "https://nid.naver.com/oauth2.0/token"
    )]
    pub oauth_naver_token_url: String,
    #[arg(
        long,
        env = "OAUTH_NAVER_PROFILE_URL",
        value_name = "OAUTH_NAVER_PROFILE_URL",
        default_value = "https://openapi.naver.com/v1/nid/me"
    )]
    pub oauth_naver_profile_url: String,

    /// The local OpenID provider of `make up` (tools/oidc-dev); never set in a cluster.
    #[arg(long, env = "OAUTH_DEV_CLIENT_ID", value_name = "OAUTH_DEV_CLIENT_ID")]
    pub oauth_dev_client_id: Option<String>,
    #[arg(
        long,
        env = "OAUTH_DEV_CLIENT_SECRET",
        value_name = "OAUTH_DEV_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub oauth_dev_client_secret: Option<Secret>,
    #[arg(
        long,
        env = "OAUTH_DEV_ISSUER",
        value_name = "OAUTH_DEV_ISSUER",
        default_value = "http://127.0.0.1:8091"
    )]
    pub oauth_dev_issuer: String,
}

/// One provider's client, as configured.
pub struct ProviderClient<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a Secret,
}

impl SocialArgs {
    /// Each provider (`google`, `kakao`, `naver`, `dev`) with its client when it is on.
    pub fn clients(&self) -> [(&'static str, Option<ProviderClient<'_>>); 4] {
        fn pair<'a>(
            id: &'a Option<String>,
            secret: &'a Option<Secret>,
        ) -> Option<ProviderClient<'a>> {
            Some(ProviderClient {
                client_id: id.as_deref()?,
                client_secret: secret.as_ref()?,
            })
        }
        [
            (
                "google",
                pair(
                    &self.oauth_google_client_id,
                    &self.oauth_google_client_secret,
                ),
            ),
            (
                "kakao",
                pair(&self.oauth_kakao_client_id, &self.oauth_kakao_client_secret),
            ),
            (
                "naver",
                pair(&self.oauth_naver_client_id, &self.oauth_naver_client_secret),
            ),
            (
                "dev",
                pair(&self.oauth_dev_client_id, &self.oauth_dev_client_secret),
            ),
        ]
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let pairs = [
            (
                "GOOGLE",
                self.oauth_google_client_id.is_some(),
                self.oauth_google_client_secret.is_some(),
            ),
            (
                "KAKAO",
                self.oauth_kakao_client_id.is_some(),
                self.oauth_kakao_client_secret.is_some(),
            ),
            (
                "NAVER",
                self.oauth_naver_client_id.is_some(),
                self.oauth_naver_client_secret.is_some(),
            ),
            (
                "DEV",
                self.oauth_dev_client_id.is_some(),
                self.oauth_dev_client_secret.is_some(),
            ),
        ];
        for (p, id, secret) in pairs {
            require(
                id == secret,
                &format!("OAUTH_{p}_CLIENT_ID and OAUTH_{p}_CLIENT_SECRET must be set together"),
            )?;
        }
        let urls = [
            ("OAUTH_GOOGLE_ISSUER", &self.oauth_google_issuer),
            ("OAUTH_KAKAO_ISSUER", &self.oauth_kakao_issuer),
            ("OAUTH_DEV_ISSUER", &self.oauth_dev_issuer),
            ("OAUTH_NAVER_AUTHORIZE_URL", &self.oauth_naver_authorize_url),
            ("OAUTH_NAVER_TOKEN_URL", &self.oauth_naver_token_url),
            ("OAUTH_NAVER_PROFILE_URL", &self.oauth_naver_profile_url),
        ];
        for (var, url) in urls {
            settings::require_http_url(var, url)?;
            require(
                url::Url::parse(url).is_ok(),
                &format!("{var} must be a URL"),
            )?;
        }
        require(
            (Duration::from_millis(100)..=Duration::from_secs(60)).contains(&self.oauth_timeout),
            "OAUTH_TIMEOUT must be between 100ms and 60s",
        )?;
        let any_on = pairs.iter().any(|(_, id, _)| *id);
        match &self.public_web_url {
            Some(url) => {
                settings::require_http_url("PUBLIC_WEB_URL", url)?;
                require(
                    self.web_url().is_some(),
                    "PUBLIC_WEB_URL must be an http(s) URL without query or fragment",
                )
            }
            None => require(
                !any_on,
                "PUBLIC_WEB_URL must be set when a social login provider (OAUTH_*_CLIENT_ID) is on",
            ),
        }
    }

    /// `PUBLIC_WEB_URL` parsed, ending in `/`.
    pub fn web_url(&self) -> Option<url::Url> {
        let mut url = url::Url::parse(self.public_web_url.as_deref()?).ok()?;
        if url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
            return None;
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Some(url)
    }
}

impl ServeConfig {
    /// Checks clap cannot express, each naming its variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.social.validate()?;
        let a = &self.auth;
        require(
            a.jwt_secret.expose().len() >= 32,
            "JWT_SECRET must be at least 32 bytes",
        )?;
        require(
            a.jwt_secret_previous
                .as_ref()
                .is_none_or(|p| p.expose().len() >= 32),
            "JWT_SECRET_PREVIOUS must be at least 32 bytes",
        )?;
        require(
            (Duration::from_secs(10)..=Duration::from_secs(15 * 60)).contains(&a.access_token_ttl),
            "ACCESS_TOKEN_TTL must be between 10s and 15m",
        )?;
        require(
            a.refresh_token_ttl >= a.access_token_ttl,
            "REFRESH_TOKEN_TTL must not be shorter than ACCESS_TOKEN_TTL",
        )?;
        require(
            (Duration::from_secs(10)..=Duration::from_secs(24 * 3600))
                .contains(&a.legacy_token_ttl)
                && a.legacy_token_ttl <= a.refresh_token_ttl,
            "LEGACY_TOKEN_TTL must be between 10s and 24h, and not longer than REFRESH_TOKEN_TTL",
        )?;
        require(
            a.auth_rate_limit_burst > 0 && !a.auth_rate_limit_period.is_zero(),
            "AUTH_RATE_LIMIT_BURST and AUTH_RATE_LIMIT_PERIOD must be above zero",
        )?;
        require(
            (1..=100).contains(&a.login_failures_per_hour),
            "LOGIN_FAILURES_PER_HOUR must be between 1 and 100",
        )?;
        require(
            a.password_hash_concurrency != Some(0),
            "PASSWORD_HASH_CONCURRENCY must be above zero",
        )
    }
}
