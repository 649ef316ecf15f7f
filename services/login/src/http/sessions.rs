//! Sessions: log in (throttled per address, per account and per device: [`crate::throttle`]),
//! exchange a refresh token, log out.

use std::net::IpAddr;

use authclient::Role;
use axum::{extract::State, http::StatusCode};
use httpkit::{ApiError, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Authenticated, BAD_CREDENTIALS, ClientAddr, members::valid_member_id};
use crate::{
    AppState, account,
    db::{self, Member, Refresh},
    passwords::Passwords,
    throttle::{self, Admission, Attempt},
    tokens,
};
use httpkit::{Error, Result};

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// In any case: `Kim` and `kim` are one account.
    pub member_id: String,
    pub member_pwd: String,
    /// The `device_token` an earlier login on this device answered. While the account is
    /// at its hourly ceiling of failed logins (guessing from many addresses), only logins
    /// that present one get through.
    #[serde(default)]
    pub device_token: Option<String>,
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
    /// After a login: keep it on this device and send it with the next login of this
    /// member (see `LoginRequest.device_token`). Valid 90 days from its last use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    pub member: MemberSummary,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[utoipa::path(post, path = "/login/", tag = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope, description = "Unknown member or wrong password (indistinguishable)"),
        (status = 429, body = httpkit::doc::ErrorEnvelope, description = "Too many failed logins from this address, or for this account from everywhere; see Retry-After"),
    ))]
pub(super) async fn login(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenResponse>> {
    let signed_in = s
        .check_password(
            &req.member_id,
            req.member_pwd,
            ip,
            req.device_token.as_deref(),
        )
        .await?;
    // The device keeps its token if it presented a valid one; a new one is remembered with
    // the session.
    let (device_token, new_device) = match req.device_token {
        Some(t) if signed_in.trusted_device => (t, None),
        _ => {
            let (token, hash) = tokens::new_opaque_token();
            (token, Some(hash))
        }
    };
    let (member, session_id, refresh_token) = s
        .start_session(signed_in.member, new_device.as_deref())
        .await?;
    Ok(Json(s.token_response(
        member,
        session_id,
        refresh_token,
        Some(device_token),
    )?))
}

/// A member who proved its password.
pub struct SignedIn {
    pub member: Member,
    /// It presented a valid device token of this member (and may keep it).
    pub trusted_device: bool,
}

impl AppState {
    /// Checks a member's password under the throttling rules: 429 before any check when
    /// this address or the whole account must wait, 401 for a wrong id or password.
    pub async fn check_password(
        &self,
        member_id: &str,
        password: String,
        ip: IpAddr,
        device_token: Option<&str>,
    ) -> Result<SignedIn> {
        // No account can have an id outside the rule, and the rule is public.
        if !valid_member_id(member_id) {
            return Err(Error::Unauthorized(BAD_CREDENTIALS));
        }
        let key = throttle::member_key(member_id);
        let client = throttle::client_key(ip);
        let device_hash = device_token.map(tokens::hash_opaque_token);
        let attempt = Attempt {
            member_key: &key,
            client: &client,
            device: device_hash.as_deref(),
            ceiling: Some(self.auth.login_failures_per_hour),
        };
        let admitted = match throttle::admit(&self.db, &attempt).await? {
            Admission::Go(a) => a,
            Admission::Wait {
                secs,
                account_wide: false,
            } => {
                return Err(Error::RateLimited {
                    retry_after_secs: secs,
                });
            }
            Admission::Wait {
                secs,
                account_wide: true,
            } => {
                tracing::warn!(member.key = %key, "failed-login ceiling reached for the account");
                let mut e = ApiError::rate_limited(secs);
                e.message = "too many failed logins for this account; try again later, or \
                             log in from a device that has logged in to it before"
                    .into();
                return Err(e.into());
            }
        };
        let (hash, member) = match db::credentials(&self.db, member_id).await? {
            Some((h, m)) => (h, Some(m)),
            None => (None, None),
        };
        // A hash imported from pizza_back is replaced once the password is known to match.
        let upgrade = hash
            .as_deref()
            .is_some_and(Passwords::is_legacy)
            .then(|| password.clone());
        let ok = self.passwords.verify(password, hash).await?;
        let (true, Some(member)) = (ok, member) else {
            admitted.failed(&self.db, &attempt).await?;
            return Err(Error::Unauthorized(BAD_CREDENTIALS));
        };
        let trusted_device = admitted.trusted_device;
        admitted.succeeded(&self.db, &attempt).await?;
        if let Some(password) = upgrade {
            let argon2id = self.passwords.hash(password).await?;
            account::replace_legacy_hash(&self.db, &member.member_id, &argon2id).await?;
            tracing::info!(member.id = %member.member_id, "pizza_back password hash replaced by argon2id");
        }
        Ok(SignedIn {
            member,
            trusted_device,
        })
    }

    /// A new session for a member who proved its password (and the device it came from, when
    /// that one is new): the member, the session and its first refresh token.
    pub async fn start_session(
        &self,
        member: Member,
        new_device: Option<&[u8]>,
    ) -> Result<(Member, uuid::Uuid, String)> {
        let (refresh_token, refresh_hash) = tokens::new_opaque_token();
        let session_id = account::start_session(
            &self.db,
            &member.member_id,
            &refresh_hash,
            self.auth.refresh_token_ttl,
            new_device,
        )
        .await?;
        tracing::info!(member.id = %member.member_id, session.id = %session_id, "logged in");
        Ok((member, session_id, refresh_token))
    }
}

#[utoipa::path(method(get, post), path = "/login/logout/", tag = "login",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is revoked everywhere"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
    ))]
pub(super) async fn logout(State(s): State<AppState>, auth: Authenticated) -> Result<StatusCode> {
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
pub(super) async fn refresh(
    State(s): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>> {
    let presented = tokens::hash_opaque_token(&req.refresh_token);
    let (next_token, next_hash) = tokens::new_opaque_token();
    let outcome = account::rotate(&s.db, &presented, &next_hash, s.auth.refresh_token_ttl).await?;
    match outcome {
        Refresh::Rotated { member, session_id } => Ok(Json(
            s.token_response(member, session_id, next_token, None)?,
        )),
        Refresh::Reused => {
            tracing::warn!("refresh token reuse detected; session revoked");
            Err(Error::Unauthorized(REFRESH_REUSED))
        }
        Refresh::Invalid => Err(Error::Unauthorized(REFRESH_INVALID)),
    }
}
