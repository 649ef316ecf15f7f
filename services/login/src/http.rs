//! The public HTTP API under `/login` (docs/contract.md §3): register, login, logout, refresh, me,
//! password — request and response types, handlers and routes together.

use std::sync::Arc;

use authclient::Role;
use axum::{
    Router,
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
    response::IntoResponse,
    routing::{get, post},
};
use httpkit::doc::BearerAuth;
use httpkit::{ClientIpKey, Json, route_both};
use serde::{Deserialize, Serialize};
use tower_governor::{GovernorLayer, governor::GovernorConfigBuilder};
use utoipa::{OpenApi, ToSchema};

use crate::{
    AppState, account,
    db::{self, Member, Refresh},
    passwords::Passwords,
    tokens,
};
use httpkit::{Error, Result};

/// All routes of the service (without the common layers of [`httpkit::stack`]), and the
/// job that makes the rate limiter forget idle client addresses (run it every minute: it
/// keeps an entry per address).
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

    let mut limited = Router::new();
    limited = route_both(limited, "/login/", post(login));
    limited = route_both(limited, "/login/register/", post(register));
    let limited = limited.layer(GovernorLayer::new(limit).error_handler(httpkit::governor_error));

    let mut open = Router::new();
    open = route_both(open, "/login/logout/", get(logout).post(logout));
    open = route_both(open, "/login/refresh/", post(refresh));
    open = route_both(open, "/login/me/", get(me));
    open = route_both(open, "/login/password/", post(change_password));
    open = open.route("/login/openapi.json", get(openapi));

    (limited.merge(open).with_state(state), forget_idle)
}

// ---------------------------------------------------------------------------------------
// Types

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–50 characters of `[A-Za-z0-9_.-]`.
    #[schema(example = "kim_minji", pattern = "^[A-Za-z0-9_.-]{3,50}$")]
    pub member_id: String,
    /// 8–128 characters.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    pub member_pwd: String,
    /// 1–100 characters of any script, not only spaces.
    #[schema(example = "김민지", min_length = 1, max_length = 100, pattern = "\\S")]
    pub member_nm: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    pub member_id: String,
    pub member_nm: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub member_id: String,
    pub member_pwd: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberSummary {
    pub member_id: String,
    pub member_nm: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bran_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (JWT), for `Authorization: Bearer …`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; exchange it at `/login/refresh/` for a new pair. Single use.
    pub refresh_token: String,
    pub member: MemberSummary,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub member_id: String,
    pub member_nm: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bran_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    pub member_pwd: String,
    /// 8–128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub new_member_pwd: String,
}

// ---------------------------------------------------------------------------------------
// Authentication

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
        state.authenticate(token).await
    }
}

// ---------------------------------------------------------------------------------------
// Handlers

fn valid_member_id(id: &str) -> bool {
    (3..=50).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[utoipa::path(post, path = "/login/register/", tag = "login",
    request_body = RegisterRequest,
    responses(
        (status = 201, body = RegisterResponse, description = "Registered as CUSTOMER"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "Invalid fields"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "member_id is taken"),
        (status = 429, body = httpkit::doc::ErrorEnvelope, description = "Too many requests from this address"),
    ))]
async fn register(
    State(s): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> Result<impl IntoResponse> {
    if !valid_member_id(&req.member_id) {
        return Err(Error::Validation(
            "member_id must be 3 to 50 characters of A-Z, a-z, 0-9, '_', '.', '-'".into(),
        ));
    }
    let nm_len = req.member_nm.chars().count();
    if !(1..=100).contains(&nm_len) || req.member_nm.trim().is_empty() {
        return Err(Error::Validation(
            "member_nm must be 1 to 100 characters".into(),
        ));
    }
    Passwords::validate(&req.member_pwd, "member_pwd")?;
    let hash = s.passwords.hash(req.member_pwd).await?;
    let created = account::register(
        &s.db,
        &req.member_id,
        &req.member_nm,
        &hash,
        Role::Customer,
        None,
    )
    .await?;
    if !created {
        return Err(Error::Conflict(format!(
            "member_id '{}' is already taken",
            req.member_id
        )));
    }
    tracing::info!(member.id = %req.member_id, "member registered");
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            member_id: req.member_id,
            member_nm: req.member_nm,
        }),
    ))
}

const BAD_CREDENTIALS: &str = "invalid member_id or password";

#[utoipa::path(post, path = "/login/", tag = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope, description = "Unknown member or wrong password (indistinguishable)"),
        (status = 429, body = httpkit::doc::ErrorEnvelope, description = "Too many attempts; see Retry-After"),
    ))]
async fn login(
    State(s): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenResponse>> {
    if let Some(wait) =
        db::failure_block(&s.db, &req.member_id, s.auth.login_failures_per_hour).await?
    {
        return Err(Error::RateLimited {
            retry_after_secs: wait,
        });
    }
    let found = db::credentials(&s.db, &req.member_id).await?;
    let (hash, member) = match found {
        Some((h, m)) => (Some(h), Some(m)),
        None => (None, None),
    };
    let ok = s.passwords.verify(req.member_pwd, hash).await?;
    let member = match (ok, member) {
        (true, Some(m)) => m,
        _ => {
            db::record_failure(&s.db, &req.member_id).await?;
            return Err(Error::Unauthorized(BAD_CREDENTIALS));
        }
    };
    db::clear_failures(&s.db, &member.member_id).await?;
    let (refresh_token, refresh_hash) = tokens::new_refresh_token();
    let session_id = account::start_session(
        &s.db,
        &member.member_id,
        &refresh_hash,
        s.auth.refresh_token_ttl,
    )
    .await?;
    tracing::info!(member.id = %member.member_id, session.id = %session_id, "logged in");
    Ok(Json(s.token_response(member, session_id, refresh_token)?))
}

#[utoipa::path(method(get, post), path = "/login/logout/", tag = "login",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is revoked everywhere"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
    ))]
async fn logout(State(s): State<AppState>, auth: Authenticated) -> Result<StatusCode> {
    account::end_session(&s.db, auth.claims.sid, "logout").await?;
    tracing::info!(member.id = %auth.member.member_id, session.id = %auth.claims.sid, "logged out");
    Ok(StatusCode::NO_CONTENT)
}

const REFRESH_REUSED: &str = "refresh token was already used; the session has been revoked";
const REFRESH_INVALID: &str = "refresh token is not valid";

#[utoipa::path(post, path = "/login/refresh/", tag = "login",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse, description = "A new access token and the next refresh token"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "No or a malformed body"),
        (status = 401, body = httpkit::doc::ErrorEnvelope, description = "Unknown, expired or reused (the whole family is then revoked)"),
    ))]
async fn refresh(
    State(s): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>> {
    let presented = tokens::hash_refresh_token(&req.refresh_token);
    let (next_token, next_hash) = tokens::new_refresh_token();
    let outcome = account::rotate(&s.db, &presented, &next_hash, s.auth.refresh_token_ttl).await?;
    match outcome {
        Refresh::Rotated { member, session_id } => {
            Ok(Json(s.token_response(member, session_id, next_token)?))
        }
        Refresh::Reused => {
            tracing::warn!("refresh token reuse detected; session revoked");
            Err(Error::Unauthorized(REFRESH_REUSED))
        }
        Refresh::Invalid => Err(Error::Unauthorized(REFRESH_INVALID)),
    }
}

#[utoipa::path(get, path = "/login/me/", tag = "login",
    security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = httpkit::doc::ErrorEnvelope)))]
async fn me(auth: Authenticated) -> Json<MeResponse> {
    let m = auth.member;
    Json(MeResponse {
        member_id: m.member_id,
        member_nm: m.member_nm,
        role: m.role,
        bran_id: m.bran_id,
        created_at: m.created_at,
    })
}

#[utoipa::path(post, path = "/login/password/", tag = "login",
    security(("bearer" = [])),
    request_body = PasswordRequest,
    responses(
        (status = 204, description = "Changed; the member's other sessions are revoked"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope, description = "Wrong current password or token"),
    ))]
async fn change_password(
    State(s): State<AppState>,
    auth: Authenticated,
    Json(req): Json<PasswordRequest>,
) -> Result<StatusCode> {
    Passwords::validate(&req.new_member_pwd, "new_member_pwd")?;
    let member_id = auth.member.member_id;
    let stored = db::credentials(&s.db, &member_id).await?.map(|(h, _)| h);
    if !s.passwords.verify(req.member_pwd, stored).await? {
        db::record_failure(&s.db, &member_id).await?;
        return Err(Error::Unauthorized(BAD_CREDENTIALS));
    }
    let hash = s.passwords.hash(req.new_member_pwd).await?;
    account::change_password(&s.db, &member_id, &hash, auth.claims.sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl AppState {
    fn token_response(
        &self,
        member: Member,
        session_id: uuid::Uuid,
        refresh_token: String,
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
    paths(register, login, logout, refresh, me, change_password),
    components(schemas(httpkit::doc::ErrorEnvelope)),
    modifiers(&BearerAuth),
    tags((name = "login", description = "Register, log in, refresh, log out"))
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
