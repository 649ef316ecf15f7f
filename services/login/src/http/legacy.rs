//! pizza_back's login API (`/api/login/…`), for its old front end during the switch: thin
//! adapters over the same registration, password check (with its throttling) and sessions as
//! `/login`. Errors are `{"detail": …}` ([`httpkit::legacy`]). A legacy login is a normal,
//! revocable session; its access token lives `LEGACY_TOKEN_TTL`, since the old client never
//! refreshes, and works on the new API as any other.

use axum::{
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
    response::IntoResponse,
};
use httpkit::{Error, Json, LegacyRoutes, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Authenticated, BAD_CREDENTIALS, ClientAddr};
use crate::{AppState, account};

pub static ROUTES: LegacyRoutes = LegacyRoutes {
    service: "login",
    successors: &[
        ("/api/login", "/login/"),
        ("/api/login/register", "/login/register/"),
        ("/api/login/logout", "/login/logout/"),
    ],
    unauthorized: "invalid credentials",
};

/// pizza_back's fields, or the new API's: both front ends' spellings are taken (the first
/// of each pair wins). The rules of every registration hold — an id of 3–50 `[A-Za-z0-9_.-]`,
/// a password of 8–128 characters, a name of 1–100 — but the document states none of them as
/// constraints: with two spellings of each field, JSON Schema cannot say which one counts.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LegacyRegister {
    /// Or `member_id`.
    id: Option<String>,
    /// Or `member_pwd`.
    pw: Option<String>,
    /// Or `member_nm`.
    name: Option<String>,
    member_id: Option<String>,
    member_pwd: Option<String>,
    member_nm: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyRegistered {
    member_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LegacyLogin {
    /// Or `member_id`.
    id: Option<String>,
    /// Or `member_pwd`.
    pw: Option<String>,
    member_id: Option<String>,
    member_pwd: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyToken {
    /// An access token (JWT) living `LEGACY_TOKEN_TTL`, for `Authorization: Bearer …`.
    token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyLoggedOut {
    #[schema(example = "logged out")]
    status: &'static str,
}

#[deprecated = "pizza_back's API: use POST /login/register/"]
#[utoipa::path(post, path = "/api/login/register/", tag = "legacy", operation_id = "legacy_register",
    request_body = LegacyRegister,
    responses(
        (status = 201, body = LegacyRegistered, description = "Registered as CUSTOMER"),
        (status = 400, body = httpkit::doc::LegacyError, description = "`missing fields`, `duplicate member_id`, or a field outside the rules"),
        (status = 429, body = httpkit::doc::LegacyError, description = "Too many requests from this address"),
    ))]
pub(super) async fn register(
    State(s): State<AppState>,
    Json(req): Json<LegacyRegister>,
) -> Result<impl IntoResponse> {
    let (Some(id), Some(pw), Some(name)) = (
        req.id.or(req.member_id),
        req.pw.or(req.member_pwd),
        req.name.or(req.member_nm),
    ) else {
        return Err(Error::Validation("missing fields".into()));
    };
    match s.register_customer(&id, &name, pw).await {
        Err(Error::Conflict(_)) => Err(Error::Validation("duplicate member_id".into())),
        Err(e) => Err(e),
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(LegacyRegistered { member_id: id }),
        )),
    }
}

#[deprecated = "pizza_back's API: use POST /login/"]
#[utoipa::path(post, path = "/api/login/", tag = "legacy", operation_id = "legacy_login",
    request_body = LegacyLogin,
    responses(
        (status = 200, body = LegacyToken),
        (status = 400, body = httpkit::doc::LegacyError, description = "No or a malformed body"),
        (status = 401, body = httpkit::doc::LegacyError, description = "`invalid credentials`: unknown member, wrong or missing password"),
        (status = 429, body = httpkit::doc::LegacyError, description = "Too many failed logins; see Retry-After"),
    ))]
pub(super) async fn login(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Json(req): Json<LegacyLogin>,
) -> Result<Json<LegacyToken>> {
    let (Some(id), Some(pw)) = (req.id.or(req.member_id), req.pw.or(req.member_pwd)) else {
        return Err(Error::Unauthorized(BAD_CREDENTIALS));
    };
    let signed_in = s.check_password(&id, pw, ip, None).await?;
    let (member, session_id, _refresh) = s.start_session(signed_in.member, None).await?;
    let (token, _) = s
        .tokens
        .issue_for(
            &member.member_id,
            member.role,
            member.bran_id.as_deref(),
            session_id,
            s.auth.legacy_token_ttl,
        )
        .map_err(|e| Error::Internal(e.into()))?;
    Ok(Json(LegacyToken { token }))
}

/// A bearer token if one is sent, checked; pizza_back's logout took any request.
pub struct MaybeAuthenticated(Option<Authenticated>);

impl FromRequestParts<AppState> for MaybeAuthenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        match Authenticated::from_request_parts(parts, state).await {
            Ok(a) => Ok(Self(Some(a))),
            Err(Error::Unauthorized(_)) => Ok(Self(None)),
            Err(e) => Err(e),
        }
    }
}

#[deprecated = "pizza_back's API: use POST /login/logout/"]
#[utoipa::path(get, path = "/api/login/logout/", tag = "legacy", operation_id = "legacy_logout",
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = LegacyLoggedOut, description = "Always; with a valid token its session is revoked everywhere"),
    ))]
pub(super) async fn logout(
    State(s): State<AppState>,
    MaybeAuthenticated(auth): MaybeAuthenticated,
) -> Result<Json<LegacyLoggedOut>> {
    if let Some(auth) = auth {
        account::end_session(&s.db, auth.claims.sid, "logout").await?;
        tracing::info!(member.id = %auth.member.member_id, session.id = %auth.claims.sid, "logged out (legacy)");
    }
    Ok(Json(LegacyLoggedOut {
        status: "logged out",
    }))
}
