//! A member's own record: register, read it (`/login/me/`), change its password.

use authclient::Role;
use axum::{extract::State, http::StatusCode, response::IntoResponse};
use httpkit::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Authenticated, BAD_CREDENTIALS, ClientAddr};
use crate::{
    AppState, account, db,
    passwords::Passwords,
    throttle::{self, Admission, Attempt},
};
use httpkit::{Error, Result};

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–50 characters of `[A-Za-z0-9_.-]`; unique whatever its case (`Kim` and `kim` are
    /// one account), kept in the case given.
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

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub member_id: String,
    pub member_nm: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bran_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The providers this member logs in with.
    pub linked: Vec<LinkedProvider>,
    /// It can log in with a password (a member made by a social login has none).
    pub has_password: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedProvider {
    pub provider: String,
    pub linked_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    pub member_pwd: String,
    /// 8–128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub new_member_pwd: String,
}

/// What a member id may be: 3–50 of `[A-Za-z0-9_.-]`.
pub(crate) fn valid_member_id(id: &str) -> bool {
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
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "member_id is taken (in any case)"),
        (status = 429, body = httpkit::doc::ErrorEnvelope, description = "Too many requests from this address"),
    ))]
pub(super) async fn register(
    State(s): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> Result<impl IntoResponse> {
    s.register_customer(&req.member_id, &req.member_nm, req.member_pwd)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            member_id: req.member_id,
            member_nm: req.member_nm,
        }),
    ))
}

impl AppState {
    /// A new CUSTOMER, under the rules of every registration: 400 for an id, a name or a
    /// password outside them, 409 for an id taken (in any case).
    pub async fn register_customer(
        &self,
        member_id: &str,
        member_nm: &str,
        password: String,
    ) -> Result<()> {
        if !valid_member_id(member_id) {
            return Err(Error::Validation(
                "member_id must be 3 to 50 characters of A-Z, a-z, 0-9, '_', '.', '-'".into(),
            ));
        }
        let nm_len = member_nm.chars().count();
        if !(1..=100).contains(&nm_len) || member_nm.trim().is_empty() {
            return Err(Error::Validation(
                "member_nm must be 1 to 100 characters".into(),
            ));
        }
        Passwords::validate(&password, "member_pwd")?;
        let hash = self.passwords.hash(password).await?;
        let created =
            account::register(&self.db, member_id, member_nm, &hash, Role::Customer, None).await?;
        if !created {
            return Err(Error::Conflict(format!(
                "member_id '{member_id}' is already taken"
            )));
        }
        tracing::info!(member.id = %member_id, "member registered");
        Ok(())
    }
}

#[utoipa::path(get, path = "/login/me/", tag = "login",
    security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = httpkit::doc::ErrorEnvelope)))]
pub(super) async fn me(State(s): State<AppState>, auth: Authenticated) -> Result<Json<MeResponse>> {
    let m = auth.member;
    let (linked, has_password) = crate::social::store::ways_in(&s.db, &m.member_id).await?;
    Ok(Json(MeResponse {
        member_id: m.member_id,
        member_nm: m.member_nm,
        role: m.role,
        bran_id: m.bran_id,
        created_at: m.created_at,
        linked: linked
            .into_iter()
            .map(|(provider, linked_at)| LinkedProvider {
                provider,
                linked_at,
            })
            .collect(),
        has_password,
    }))
}

#[utoipa::path(post, path = "/login/password/", tag = "login",
    security(("bearer" = [])),
    request_body = PasswordRequest,
    responses(
        (status = 204, description = "Changed; the member's other sessions are revoked"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope, description = "Wrong current password or token"),
        (status = 429, body = httpkit::doc::ErrorEnvelope, description = "Too many wrong passwords from this address; see Retry-After"),
    ))]
pub(super) async fn change_password(
    State(s): State<AppState>,
    auth: Authenticated,
    ClientAddr(ip): ClientAddr,
    Json(req): Json<PasswordRequest>,
) -> Result<StatusCode> {
    Passwords::validate(&req.new_member_pwd, "new_member_pwd")?;
    let member_id = auth.member.member_id;
    // The current password is a guess like any other: it counts against this address and
    // the account, but a live session is proof enough to pass the account-wide ceiling.
    let key = throttle::member_key(&member_id);
    let client = throttle::client_key(ip);
    let attempt = Attempt {
        member_key: &key,
        client: &client,
        device: None,
        ceiling: None,
    };
    let admitted = match throttle::admit(&s.db, &attempt).await? {
        Admission::Go(a) => a,
        Admission::Wait { secs, .. } => {
            return Err(Error::RateLimited {
                retry_after_secs: secs,
            });
        }
    };
    let stored = db::credentials(&s.db, &member_id)
        .await?
        .and_then(|(h, _)| h);
    if !s.passwords.verify(req.member_pwd, stored).await? {
        admitted.failed(&s.db, &attempt).await?;
        return Err(Error::Unauthorized(BAD_CREDENTIALS));
    }
    admitted.succeeded(&s.db, &attempt).await?;
    let hash = s.passwords.hash(req.new_member_pwd).await?;
    account::change_password(&s.db, &member_id, &hash, auth.claims.sid).await?;
    Ok(StatusCode::NO_CONTENT)
}
