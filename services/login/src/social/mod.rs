//! Social login (SECURITY.md, "Social login"): Google and Kakao through OpenID Connect
//! ([`oidc`]), Naver through OAuth 2.0 and its profile API ([`naver`]), and `dev`, the local
//! OpenID provider of `make up`. Each is on when its client is configured.
//!
//! A flow: [`Provider::start`] gives the provider's authorization URL and what must come
//! back with it (`state`; for OpenID Connect the `nonce` and the PKCE verifier), which
//! [`store`] keeps, bound to the browser; [`Provider::finish`] turns the code that came back
//! into who logged in ([`Identity`]). The routes are in `crate::http::social`.

mod http_client;
pub mod naver;
pub mod oidc;
pub mod store;

use url::Url;

use crate::config::SocialArgs;
use http_client::Http;

/// Who logged in at a provider.
pub struct Identity {
    /// The provider's stable id of its user (`sub`, Naver's `id`).
    pub subject: String,
    /// The name it shows, when it gave one.
    pub name: Option<String>,
}

/// Why a provider gave no identity.
#[derive(Debug)]
pub enum Failure {
    /// It could not be asked (down, slow, or its discovery document unusable): 503.
    Down(String),
    /// It answered, and what it answered is refused (a spent code, an invalid ID token).
    Refused(String),
}

/// A flow just begun: where to send the browser, and what must come back with it.
pub struct Started {
    pub url: Url,
    pub state: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
}

enum Protocol {
    Oidc(oidc::Oidc),
    Naver(naver::Naver),
}

pub struct Provider {
    /// In paths: `/login/oauth/<id>/…`.
    pub id: &'static str,
    /// For people: "Continue with <name>".
    pub name: &'static str,
    protocol: Protocol,
}

impl Provider {
    /// Its OpenID Connect issuer (none for Naver).
    pub fn issuer(&self) -> Option<&str> {
        match &self.protocol {
            Protocol::Oidc(p) => Some(p.issuer()),
            Protocol::Naver(_) => None,
        }
    }

    pub async fn start(&self, redirect: &Url) -> Result<Started, Failure> {
        match &self.protocol {
            Protocol::Oidc(p) => p.start(redirect).await,
            Protocol::Naver(p) => Ok(p.start(redirect)),
        }
    }

    pub async fn finish(
        &self,
        redirect: &Url,
        code: String,
        flow: &store::Flow,
    ) -> Result<Identity, Failure> {
        match (&self.protocol, &flow.nonce, &flow.pkce_verifier) {
            (Protocol::Oidc(p), Some(nonce), Some(verifier)) => {
                p.finish(redirect, code, nonce, verifier.clone()).await
            }
            (Protocol::Oidc(_), _, _) => Err(Failure::Refused(
                "this login was started without a nonce".into(),
            )),
            (Protocol::Naver(p), _, _) => p.finish(&code, &flow.state).await,
        }
    }
}

/// The providers that are on, and where the web client is.
pub struct Social {
    pub providers: Vec<Provider>,
    /// `PUBLIC_WEB_URL`, ending in `/` (set whenever a provider is on).
    pub web: Option<Url>,
}

impl Social {
    pub fn new(cfg: &SocialArgs) -> Self {
        let http = Http::new(cfg.oauth_timeout);
        let mut providers = Vec::new();
        for (id, client) in cfg.clients() {
            let Some(client) = client else { continue };
            let secret = client.client_secret.expose();
            let oidc = |issuer: &str, also: &'static [&'static str], scopes| {
                Protocol::Oidc(oidc::Oidc::new(
                    issuer,
                    also,
                    client.client_id,
                    secret,
                    scopes,
                    http.clone(),
                ))
            };
            let (name, protocol) = match id {
                // Google may still write its issuer without the scheme.
                "google" => (
                    "Google",
                    oidc(
                        &cfg.oauth_google_issuer,
                        &["accounts.google.com"],
                        &["openid", "profile"],
                    ),
                ),
                "kakao" => (
                    "Kakao",
                    oidc(
                        &cfg.oauth_kakao_issuer,
                        &[],
                        &["openid", "profile_nickname"],
                    ),
                ),
                "dev" => (
                    "dev",
                    oidc(&cfg.oauth_dev_issuer, &[], &["openid", "profile"]),
                ),
                _ => (
                    "Naver",
                    Protocol::Naver(naver::Naver {
                        client_id: client.client_id.to_owned(),
                        client_secret: secret.to_owned(),
                        authorize_url: parse(&cfg.oauth_naver_authorize_url),
                        token_url: parse(&cfg.oauth_naver_token_url),
                        profile_url: parse(&cfg.oauth_naver_profile_url),
                        http: http.clone(),
                    }),
                ),
            };
            providers.push(Provider { id, name, protocol });
        }
        Self {
            providers,
            web: cfg.web_url(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// The web client's address (set whenever a provider is on).
    pub fn web(&self) -> &Url {
        self.web
            .as_ref()
            .expect("PUBLIC_WEB_URL is checked at start")
    }

    /// Where `provider` sends the browser back: `<PUBLIC_WEB_URL>/login/oauth/<id>/callback`.
    pub fn callback_url(&self, provider: &str) -> Url {
        self.web()
            .join(&format!("login/oauth/{provider}/callback"))
            .expect("a path joins")
    }

    /// Cookies are `Secure` when the web client is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.web.as_ref().is_some_and(|u| u.scheme() == "https")
    }
}

fn parse(url: &str) -> Url {
    Url::parse(url).expect("checked at start")
}
