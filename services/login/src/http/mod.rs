//! The public HTTP API under `/login` (docs/contract.md §3), split by what a reader looks for:
//! [`members`] — register, me, password change; [`sessions`] — log in (with its throttling),
//! refresh, log out; [`social`] — log in with a provider, link, unlink. Here: the routes, the
//! extractors every handler shares, the token answer and the OpenAPI document.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    Router,
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use httpkit::doc::{BearerAuth, Described};
use httpkit::{ClientIpKey, route_both};
use tower_governor::{GovernorLayer, governor::GovernorConfigBuilder};
use utoipa::OpenApi;

use crate::{AppState, db::Member, tokens};
use httpkit::{Error, Result};

pub mod legacy;
pub mod members;
pub mod sessions;
pub mod social;

pub use members::{MeResponse, PasswordRequest, RegisterRequest, RegisterResponse};
pub use sessions::{LoginRequest, MemberSummary, RefreshRequest, TokenResponse};

/// All routes of the service (without the common layers of [`httpkit::stack`]), and the
/// job that makes the rate limiter forget idle client addresses (run it every minute: it
/// keeps an entry per address).
#[allow(deprecated)] // pizza_back's routes, served on purpose
pub fn router(state: AppState) -> (Router, impl Fn() + Send + Sync + 'static) {
    let limit = Arc::new(
        GovernorConfigBuilder::default()
            .period(state.auth.auth_rate_limit_period)
            .burst_size(state.auth.auth_rate_limit_burst)
            .key_extractor(ClientIpKey {
                trusted: Arc::new(state.trusted_proxies.clone()),
            })
            .finish()
            .expect("burst and period are checked at start"),
    );
    let limiter = limit.limiter().clone();
    let forget_idle = move || limiter.retain_recent();

    // Logging in, registering, logging out and changing a password run to their end even if
    // the client hangs up (`outbox::run_to_completion`): each is several transactions (the
    // throttle's charge and settlement, the session, the device), none of which a vanished
    // client should cut half-way. Refresh is left cancellable on purpose: a rotation the
    // client never received must not count (ARCHITECTURE.md, "Cancel-safe writes").
    let finish = || middleware::from_fn(run_to_completion);

    let mut limited = Router::new();
    limited = route_both(limited, "/login/", post(sessions::login));
    limited = route_both(limited, "/login/register/", post(members::register));
    // Social login: each start writes a flow, each callback asks the provider.
    limited = limited
        .route("/login/oauth/{provider}/start", get(social::start))
        .route("/login/oauth/{provider}/callback", get(social::callback));
    limited = route_both(limited, "/login/oauth/exchange/", post(social::exchange));
    let limited = limited
        .layer(finish())
        .layer(GovernorLayer::new(limit.clone()).error_handler(httpkit::governor_error));

    // pizza_back's API: the same limits, its error shape and deprecation headers.
    let mut legacy_limited = Router::new();
    legacy_limited = route_both(legacy_limited, "/api/login/", post(legacy::login));
    legacy_limited = route_both(
        legacy_limited,
        "/api/login/register/",
        post(legacy::register),
    );
    let legacy_limited = legacy_limited
        .layer(finish())
        .layer(GovernorLayer::new(limit).error_handler(httpkit::governor_error));
    let legacy_open =
        route_both(Router::new(), "/api/login/logout/", get(legacy::logout)).layer(finish());
    let legacy_routes = httpkit::legacy(legacy_limited.merge(legacy_open), &legacy::ROUTES);

    let mut finished = Router::new();
    finished = route_both(
        finished,
        "/login/logout/",
        get(sessions::logout).post(sessions::logout),
    );
    finished = route_both(finished, "/login/password/", post(members::change_password));
    finished = route_both(
        finished,
        "/login/oauth/{provider}/link/",
        post(social::link),
    );
    finished = route_both(finished, "/login/oauth/{provider}/", delete(social::unlink));
    let mut open = finished.layer(finish());
    open = route_both(open, "/login/refresh/", post(sessions::refresh));
    open = route_both(open, "/login/me/", get(members::me));
    open = route_both(open, "/login/oauth/providers/", get(social::providers));
    open = open.route("/login/openapi.json", get(openapi));

    (
        limited.merge(open).merge(legacy_routes).with_state(state),
        forget_idle,
    )
}

async fn run_to_completion(req: axum::extract::Request, next: Next) -> Response {
    outbox::run_to_completion(next.run(req)).await
}

/// Wrong member id or password: one fixed text, so it never says which.
pub(crate) const BAD_CREDENTIALS: &str = "invalid member_id or password";

// ---------------------------------------------------------------------------------------
// Extractors

/// A request with a valid access token of a live session.
pub struct Authenticated {
    pub claims: tokens::Claims,
    pub member: Member,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = authclient::bearer(&parts.headers)
            .ok_or(Error::Unauthorized("missing bearer token"))?;
        let auth = state.authenticate(token).await?;
        httpkit::note_member(&parts.extensions, &auth.member.member_id);
        Ok(auth)
    }
}

/// The client's address: the peer, or the address a trusted proxy names
/// (`TRUSTED_PROXIES`), as the rate limiter sees it.
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("served without the peer address")))?;
        Ok(ClientAddr(httpkit::client_ip(
            peer,
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

// ---------------------------------------------------------------------------------------
// The token answer

impl AppState {
    /// The answer to a login or a refresh: an access token for the session and the next
    /// refresh token (and, after a login, the device token).
    fn token_response(
        &self,
        member: Member,
        session_id: uuid::Uuid,
        refresh_token: String,
        device_token: Option<String>,
    ) -> Result<TokenResponse> {
        let (token, _) = self
            .tokens
            .issue(
                &member.member_id,
                member.role,
                member.bran_id.as_deref(),
                session_id,
            )
            .map_err(|e| Error::Internal(e.into()))?;
        Ok(TokenResponse {
            token,
            token_type: "Bearer",
            expires_in: self.tokens.access_ttl.as_secs(),
            refresh_token,
            device_token,
            member: MemberSummary {
                member_id: member.member_id,
                member_nm: member.member_nm,
                role: member.role,
                bran_id: member.bran_id,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// OpenAPI

#[derive(OpenApi)]
#[openapi(
    info(title = "pizza-login", description = "Members, sessions and tokens."),
    paths(
        members::register,
        sessions::login,
        sessions::logout,
        sessions::refresh,
        members::me,
        members::change_password,
        social::providers,
        social::start,
        social::callback,
        social::exchange,
        social::link,
        social::unlink,
        legacy::register,
        legacy::login,
        legacy::logout
    ),
    components(schemas(httpkit::doc::ErrorEnvelope, httpkit::doc::LegacyError)),
    modifiers(&BearerAuth, &Described),
    tags(
        (name = "login", description = "Register, log in, refresh, log out"),
        (name = "social", description = "Log in with Google, Kakao or Naver; link and unlink them"),
        (name = "legacy", description = "pizza_back's API under /api/login, for its old front end during the switch (deprecated)")
    )
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
