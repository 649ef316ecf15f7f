//! Social login's routes (crate `social`; SECURITY.md, "Social login"):
//!
//! - `GET /login/oauth/providers/` — the providers that are on, for the login screen.
//! - `GET /login/oauth/{provider}/start` — 302 to the provider; sets the browser's binding
//!   cookie. `POST /login/oauth/{provider}/link/` (logged in) — the same for linking the
//!   provider to this member, answered with the URL to go to.
//! - `GET /login/oauth/{provider}/callback` — where the provider sends the browser back:
//!   303 to the web client with a one-time code in the fragment (`#oauth_code=…`), or
//!   `#oauth_linked=<provider>` after a link.
//! - `POST /login/oauth/exchange/` — the one-time code for the usual login answer.
//! - `DELETE /login/oauth/{provider}/` (logged in) — unlink.
//!
//! A browser that navigates (`Sec-Fetch-Mode: navigate`) to start or callback and is refused
//! goes back to the web client with `#oauth_error=<message>`; any other client gets the
//! status and the error envelope.

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use httpkit::{ApiError, Json};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};

use super::{Authenticated, TokenResponse};
use crate::{
    AppState,
    social::{
        Failure, Provider,
        store::{self, Linked, Unlinked},
    },
    tokens,
};
use httpkit::{Error, Result};

/// The cookie that binds a flow to the browser that started it.
const COOKIE: &str = "pizza_oauth";

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderInfo {
    /// In paths: `/login/oauth/{id}/start`.
    pub id: &'static str,
    pub name: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersResponse {
    pub providers: Vec<ProviderInfo>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// The issuer that answered (RFC 9207), when the provider says.
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExchangeRequest {
    /// The `oauth_code` of the fragment the callback sent the browser to. Single use, one
    /// minute.
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkResponse {
    /// Send the browser here (a top-level navigation, this response's cookie kept).
    pub authorize_url: String,
}

#[utoipa::path(get, path = "/login/oauth/providers/", tag = "social",
    responses((status = 200, body = ProvidersResponse)))]
pub(super) async fn providers(State(s): State<AppState>) -> Json<ProvidersResponse> {
    Json(ProvidersResponse {
        providers: s
            .social
            .providers
            .iter()
            .map(|p| ProviderInfo {
                id: p.id,
                name: p.name,
            })
            .collect(),
    })
}

#[utoipa::path(get, path = "/login/oauth/{provider}/start", tag = "social",
    params(("provider" = String, Path, description = "`google`, `kakao`, `naver` or `dev`")),
    responses(
        (status = 302, description = "To the provider; sets the cookie that binds the login to this browser"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such provider, or it is off"),
        (status = 429, body = httpkit::doc::ErrorEnvelope, description = "Too many requests from this address; see Retry-After"),
        (status = 503, body = httpkit::doc::ErrorEnvelope, description = "The provider cannot be reached"),
    ))]
pub(super) async fn start(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
) -> Response {
    let begun = async {
        let p = s.provider(&provider)?;
        s.begin(p, &headers, None).await
    }
    .await;
    match begun {
        Ok((url, cookie)) => (
            [(header::SET_COOKIE, cookie)],
            redirect(StatusCode::FOUND, url.as_str()),
        )
            .into_response(),
        Err(e) => s.refuse(&headers, e),
    }
}

#[utoipa::path(post, path = "/login/oauth/{provider}/link/", tag = "social",
    security(("bearer" = [])),
    params(("provider" = String, Path, description = "`google`, `kakao`, `naver` or `dev`")),
    responses(
        (status = 200, body = LinkResponse, description = "Go there; sets the cookie that binds the link to this browser"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such provider, or it is off"),
        (status = 503, body = httpkit::doc::ErrorEnvelope, description = "The provider cannot be reached"),
    ))]
pub(super) async fn link(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    auth: Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    let p = s.provider(&provider)?;
    let (url, cookie) = s.begin(p, &headers, Some(&auth.member.member_id)).await?;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(LinkResponse {
            authorize_url: url.into(),
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/login/oauth/{provider}/callback", tag = "social",
    params(("provider" = String, Path), CallbackQuery),
    responses(
        (status = 303, description = "To the web client: `#oauth_code=…` (exchange it), `#oauth_linked=<provider>`, or `#oauth_error=…` for a browser"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "No, unknown, expired or spent `state`; started in another browser; the provider said no"),
        (status = 401, body = httpkit::doc::ErrorEnvelope, description = "The provider refused the code, or its ID token is not valid"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such provider, or it is off"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "Linking: the account logs in another member, or this member has another one of the provider"),
        (status = 429, body = httpkit::doc::ErrorEnvelope, description = "Too many requests from this address; see Retry-After"),
        (status = 503, body = httpkit::doc::ErrorEnvelope, description = "The provider cannot be reached"),
    ))]
pub(super) async fn callback(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    match s.come_back(&provider, q, &headers).await {
        Ok(fragment) => (
            [(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            )],
            redirect(
                StatusCode::SEE_OTHER,
                &format!("{}#{fragment}", s.social.web()),
            ),
        )
            .into_response(),
        Err(e) => s.refuse(&headers, e),
    }
}

const BAD_CODE: &str = "invalid, used or expired code; log in again";

#[utoipa::path(post, path = "/login/oauth/exchange/", tag = "social",
    request_body = ExchangeRequest,
    responses(
        (status = 200, body = TokenResponse, description = "The usual login answer"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "No or a malformed body"),
        (status = 401, body = httpkit::doc::ErrorEnvelope, description = "Unknown, spent or expired code"),
        (status = 429, body = httpkit::doc::ErrorEnvelope, description = "Too many requests from this address; see Retry-After"),
    ))]
pub(super) async fn exchange(
    State(s): State<AppState>,
    Json(req): Json<ExchangeRequest>,
) -> Result<Json<TokenResponse>> {
    let member = store::take_handoff(&s.db, &req.code)
        .await?
        .ok_or(Error::Unauthorized(BAD_CODE))?;
    let (member, session_id, refresh_token) = s.start_session(member, None).await?;
    Ok(Json(s.token_response(
        member,
        session_id,
        refresh_token,
        None,
    )?))
}

#[utoipa::path(delete, path = "/login/oauth/{provider}/", tag = "social",
    security(("bearer" = [])),
    params(("provider" = String, Path)),
    responses(
        (status = 204, description = "Unlinked: the provider account no longer logs in this member"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "Not linked"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "It is the member's only way to log in"),
    ))]
pub(super) async fn unlink(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    auth: Authenticated,
) -> Result<StatusCode> {
    let member_id = &auth.member.member_id;
    match store::unlink(&s.db, member_id, &provider).await? {
        Unlinked::Done => {
            tracing::info!(member.id = %member_id, provider = %provider, "provider unlinked");
            Ok(StatusCode::NO_CONTENT)
        }
        Unlinked::NotLinked => Err(Error::NotFound(format!(
            "no {provider} account is linked to this member"
        ))),
        Unlinked::LastWay => Err(Error::Conflict(format!(
            "{provider} is this member's only way to log in; link another provider first"
        ))),
    }
}

/// A redirect no cache keeps (each one carries a one-time state or code).
fn redirect(status: StatusCode, to: &str) -> Response {
    (
        status,
        [
            (
                header::LOCATION,
                HeaderValue::from_str(to).expect("a URL is a header value"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// The binding cookie's value, when the request carries one of ours.
fn browser_binding(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .find(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

fn unavailable(p: &Provider, why: &str) -> Error {
    tracing::warn!(provider = p.id, error = %why, "social login provider unreachable");
    ApiError::unavailable(format!(
        "{} cannot be reached right now; try again later",
        p.name
    ))
    .into()
}

impl AppState {
    fn provider(&self, id: &str) -> Result<&Provider> {
        self.social
            .get(id)
            .ok_or_else(|| Error::NotFound(format!("no login provider '{id}' here")))
    }

    /// A new flow at `p` for this browser (its binding cookie kept if it has one, so two
    /// tabs can log in at once): the provider's URL and the cookie to set.
    async fn begin(
        &self,
        p: &Provider,
        headers: &HeaderMap,
        link_member: Option<&str>,
    ) -> Result<(url::Url, HeaderValue)> {
        let browser = browser_binding(headers).unwrap_or_else(|| tokens::new_opaque_token().0);
        let started = p
            .start(&self.social.callback_url(p.id))
            .await
            .map_err(|e| match e {
                Failure::Down(why) | Failure::Refused(why) => unavailable(p, &why),
            })?;
        store::save_flow(&self.db, &started, &browser, p.id, link_member).await?;
        let secure = if self.social.secure_cookies() {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{COOKIE}={browser}; Path=/login/oauth/; Max-Age=600; HttpOnly; SameSite=Lax{secure}"
        );
        Ok((
            started.url,
            HeaderValue::from_str(&cookie).expect("a cookie is a header value"),
        ))
    }

    /// The callback: the flow its `state` names, from this browser; who the provider says
    /// logged in; then a login (a one-time code) or a link. The fragment to go back with.
    async fn come_back(
        &self,
        provider: &str,
        q: CallbackQuery,
        headers: &HeaderMap,
    ) -> Result<String> {
        let p = self.provider(provider)?;
        let state = q
            .state
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Validation("the provider's answer has no state".into()))?;
        // Deleted as it is read: whatever follows, this state cannot be used again.
        let flow = store::take_flow(&self.db, &state)
            .await?
            .filter(|f| f.provider == p.id)
            .ok_or_else(|| {
                Error::Validation(
                    "this login is unknown, already finished or expired; start it again".into(),
                )
            })?;
        let same_browser = browser_binding(headers)
            .is_some_and(|b| bool::from(tokens::hash_opaque_token(&b).ct_eq(&flow.browser_hash)));
        if !same_browser {
            tracing::warn!(
                provider = p.id,
                "social login callback from another browser refused"
            );
            return Err(Error::Validation(
                "this login was started in another browser; start it again here".into(),
            ));
        }
        if let Some(error) = q.error {
            return Err(Error::Validation(format!(
                "{} did not log you in ({error}{})",
                p.name,
                q.error_description
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )));
        }
        let code = q
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::Validation("the provider's answer has no code".into()))?;
        // A code from another issuer than the one this flow went to (a mix-up attack) is
        // never sent to this one's token endpoint.
        if let (Some(iss), Some(expected)) = (&q.iss, p.issuer())
            && iss.trim_end_matches('/') != expected.trim_end_matches('/')
        {
            return Err(Error::Validation(format!(
                "the answer names another issuer ({iss}) than {}'s",
                p.name
            )));
        }
        let identity = p
            .finish(&self.social.callback_url(p.id), code, &flow)
            .await
            .map_err(|e| match e {
                Failure::Down(why) => unavailable(p, &why),
                Failure::Refused(why) => {
                    tracing::warn!(provider = p.id, reason = %why, "social login refused");
                    ApiError::unauthorized(format!("{} login refused: {why}", p.name)).into()
                }
            })?;

        if let Some(member_id) = flow.link_member {
            return match store::link(&self.db, &member_id, p.id, &identity.subject).await? {
                Linked::New | Linked::Already => {
                    tracing::info!(member.id = %member_id, provider = p.id, "provider linked");
                    Ok(format!("oauth_linked={}", p.id))
                }
                Linked::OtherMember => Err(Error::Conflict(format!(
                    "this {} account logs in another member; unlink it there first",
                    p.name
                ))),
                Linked::ProviderTaken => Err(Error::Conflict(format!(
                    "another {} account is linked to this member; unlink it first",
                    p.name
                ))),
            };
        }
        let member = match store::member_of(&self.db, p.id, &identity.subject).await? {
            Some(m) => m,
            None => {
                let name = display_name(identity.name.as_deref(), p.name);
                let m = store::create_member(&self.db, p.id, &identity.subject, &name).await?;
                tracing::info!(member.id = %m.member_id, provider = p.id, "member created by a first social login");
                m
            }
        };
        let code = store::handoff(&self.db, &member.member_id).await?;
        Ok(format!("oauth_code={code}"))
    }

    /// A refused start or callback: a navigating browser goes back to the web client with the
    /// message in the fragment; anyone else gets the envelope.
    fn refuse(&self, headers: &HeaderMap, e: Error) -> Response {
        let navigating = headers
            .get("sec-fetch-mode")
            .is_some_and(|m| m.as_bytes() == b"navigate");
        match &self.social.web {
            Some(web) if navigating => {
                let message: String =
                    url::form_urlencoded::byte_serialize(e.to_string().as_bytes()).collect();
                redirect(
                    StatusCode::SEE_OTHER,
                    &format!("{web}#oauth_error={message}"),
                )
            }
            _ => e.into_response(),
        }
    }
}

/// The provider's name for its user, made fit for `member_nm` (1–100 characters, no
/// control characters); "<Provider> member" when it gave none.
fn display_name(given: Option<&str>, provider: &str) -> String {
    let name: String = given
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    match name.trim() {
        "" => format!("{provider} member"),
        n => n.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_fit_for_member_nm() {
        assert_eq!(display_name(Some("  김민지 "), "Kakao"), "김민지");
        assert_eq!(display_name(Some("a\u{0}b\nc"), "Kakao"), "abc");
        assert_eq!(display_name(None, "Naver"), "Naver member");
        assert_eq!(display_name(Some("  "), "Google"), "Google member");
        assert_eq!(
            display_name(Some(&"가".repeat(300)), "dev").chars().count(),
            100
        );
    }

    #[test]
    fn only_our_cookie_of_the_right_shape_binds() {
        let mut h = HeaderMap::new();
        let good = "A".repeat(43);
        h.insert(
            header::COOKIE,
            format!("other=1; pizza_oauth={good}").parse().unwrap(),
        );
        assert_eq!(browser_binding(&h).as_deref(), Some(good.as_str()));
        h.insert(header::COOKIE, "pizza_oauth=short".parse().unwrap());
        assert_eq!(browser_binding(&h), None);
        h.insert(
            header::COOKIE,
            format!("pizza_oauthx={good}").parse().unwrap(),
        );
        assert_eq!(browser_binding(&h), None);
    }
}
