//! Who is calling: bearer tokens verified by login's `AuthService/VerifyToken` over gRPC
//! (docs/contract.md §4), cached in `moka`.
//!
//! - A verification is cached until the token's own expiry (with a TTL backstop), keyed by
//!   the token's SHA-256 — the cache never holds tokens.
//! - `auth.session_revoked` drops the session's entries (or all of a member's) on every
//!   process: [`AuthClient::subscription`] is a broadcast subscription. A reconnect to NATS
//!   clears the cache, since revocations may have been missed.
//! - Calls have a deadline: with login down, tokens already verified keep working and new
//!   ones get 503 quickly, never a hang.
//!
//! Handlers take a [`Caller`] argument (it implements `FromRequestParts` for any state that
//! gives an [`AuthClient`] through `FromRef`).

mod role;
pub use role::Role;

use std::{
    sync::{Arc, LazyLock},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use events::AuthEvent;
use httpkit::ApiError;
use moka::{Expiry, future::Cache};
use outbox::Broadcast;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};
use proto::auth::v1::{VerifyTokenRequest, auth_service_client::AuthServiceClient};
use settings::{ConfigError, require};
use sha2::{Digest, Sha256};
use tonic::{
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};
use tracing::Instrument;

/// How a service reaches login's `VerifyToken`: the same variables in menu and order.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthClientArgs {
    /// login's gRPC address, for VerifyToken.
    #[arg(
        long,
        env = "LOGIN_GRPC_URL",
        value_name = "LOGIN_GRPC_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub login_grpc_url: String,
    /// Deadline of a gRPC call; past it the request is answered 503 (nothing is written).
    #[arg(long, env = "GRPC_CALL_TIMEOUT", value_name = "GRPC_CALL_TIMEOUT", default_value = "800ms", value_parser = settings::parse_duration)]
    pub grpc_call_timeout: Duration,
    /// Backstop on cached token verifications, should an `auth.session_revoked` be lost.
    #[arg(long, env = "AUTH_CACHE_TTL", value_name = "AUTH_CACHE_TTL", default_value = "5m", value_parser = settings::parse_duration)]
    pub auth_cache_ttl: Duration,
}

impl AuthClientArgs {
    /// Checks clap cannot express, each naming its variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        settings::require_http_url("LOGIN_GRPC_URL", &self.login_grpc_url)?;
        require(
            !self.grpc_call_timeout.is_zero(),
            "GRPC_CALL_TIMEOUT must be above zero",
        )?;
        require(
            !self.auth_cache_ttl.is_zero(),
            "AUTH_CACHE_TTL must be above zero",
        )
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub member_id: String,
    pub role: Role,
    /// The branch a STAFF member is bound to.
    pub bran_id: Option<String>,
    pub session_id: String,
    /// Seconds since the Unix epoch.
    pub expires_at: i64,
}

impl Caller {
    /// The one branch a STAFF member bound to it may act on; `None` for everyone else (an
    /// unbound STAFF member or an ADMIN: every branch; a customer: their own orders).
    pub fn bound_branch(&self) -> Option<&str> {
        (self.role == Role::Staff)
            .then_some(self.bran_id.as_deref())
            .flatten()
    }

    /// 403 when the caller is STAFF bound to another branch than `bran_id` (the role is
    /// [`Self::require`]'s to check).
    pub fn require_branch(&self, bran_id: &str) -> Result<(), ApiError> {
        match self.bound_branch() {
            Some(bound) if bound != bran_id => Err(ApiError::forbidden(format!(
                "you are bound to branch '{bound}'"
            ))),
            _ => Ok(()),
        }
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the role {}",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
        }
    }
}

static GRPC_LATENCY: LazyLock<HistogramVec> = LazyLock::new(|| {
    telemetry::register(
        HistogramVec::new(
            HistogramOpts::new("grpc_client_duration_seconds", "gRPC client call latency").buckets(
                vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0],
            ),
            &["method", "code"],
        )
        .expect("valid histogram"),
    )
});

/// Hits and misses of the in-process caches, by cache.
/// The hit counter of the token cache, looked up once (it counts every request).
static AUTH_HITS: LazyLock<prometheus::IntCounter> =
    LazyLock::new(|| CACHE_REQUESTS.with_label_values(&["auth", "hit"]));

pub static CACHE_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    telemetry::register(
        IntCounterVec::new(
            Opts::new(
                "cache_requests_total",
                "In-process cache lookups by cache and result",
            ),
            &["cache", "result"],
        )
        .expect("valid counter"),
    )
});

struct UntilTokenExpiry;

impl Expiry<[u8; 32], Arc<Caller>> for UntilTokenExpiry {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Arc<Caller>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Some(Duration::from_secs(
            value.expires_at.saturating_sub(now).max(0) as u64,
        ))
    }
}

#[derive(Debug)]
pub enum AuthError {
    /// No token, or login says it is not valid: 401.
    Unauthenticated,
    /// Login could not be asked in time: 503.
    Unavailable,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated => ApiError::unauthorized("invalid or expired token"),
            AuthError::Unavailable => {
                ApiError::unavailable("cannot verify the token right now; try again")
            }
        }
    }
}

/// A revoked session (`session_id: None`: every session of the member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub member_id: String,
    pub session_id: Option<String>,
}

impl Revocation {
    /// Whether this revocation ends `caller`'s session.
    pub fn ends(&self, caller: &Caller) -> bool {
        match &self.session_id {
            Some(s) => *s == caller.session_id,
            None => self.member_id == caller.member_id,
        }
    }
}

/// Cheap to clone (one `Arc`): the `Caller` extractor takes one per request.
#[derive(Clone)]
pub struct AuthClient {
    inner: Arc<Inner>,
}

struct Inner {
    grpc: AuthServiceClient<InterceptedService<Channel, grpckit::Propagate>>,
    cache: Cache<[u8; 32], Arc<Caller>>,
    timeout: Duration,
    revocations: tokio::sync::broadcast::Sender<Revocation>,
}

impl AuthClient {
    /// The client `args` describe.
    pub fn from_args(args: &AuthClientArgs) -> Result<Self, String> {
        Self::new(
            &args.login_grpc_url,
            args.grpc_call_timeout,
            args.auth_cache_ttl,
        )
    }

    /// `url` is login's gRPC address (`LOGIN_GRPC_URL`); the channel connects lazily, so a
    /// process starts while login is still coming up.
    pub fn new(url: &str, timeout: Duration, ttl_backstop: Duration) -> Result<Self, String> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| format!("LOGIN_GRPC_URL is not a valid URL: {e}"))?
            .connect_timeout(timeout)
            .timeout(timeout)
            .tcp_nodelay(true);
        // Exposed from the start (at 0), so dashboards see them before the first request.
        LazyLock::force(&AUTH_HITS);
        CACHE_REQUESTS.with_label_values(&["auth", "miss"]);
        Ok(Self {
            inner: Arc::new(Inner {
                grpc: AuthServiceClient::with_interceptor(
                    endpoint.connect_lazy(),
                    grpckit::Propagate,
                ),
                cache: Cache::builder()
                    .max_capacity(200_000)
                    .time_to_live(ttl_backstop)
                    .expire_after(UntilTokenExpiry)
                    .support_invalidation_closures()
                    .build(),
                timeout,
                revocations: tokio::sync::broadcast::channel(256).0,
            }),
        })
    }

    /// The caller a bearer token belongs to.
    pub async fn verify(&self, token: &str) -> Result<Arc<Caller>, AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(c) = self.inner.cache.get(&key).await {
            AUTH_HITS.inc();
            return Ok(c);
        }
        CACHE_REQUESTS.with_label_values(&["auth", "miss"]).inc();
        let started = Instant::now();
        let mut req = tonic::Request::new(VerifyTokenRequest {
            token: token.to_owned(),
        });
        req.set_timeout(self.inner.timeout);
        let result = self
            .inner
            .grpc
            .clone()
            .verify_token(req)
            .instrument(grpckit::client_span("VerifyToken"))
            .await;
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(s) => s.code(),
        };
        GRPC_LATENCY
            .with_label_values(&["VerifyToken", &format!("{code:?}")])
            .observe(started.elapsed().as_secs_f64());
        let reply = match result {
            Ok(r) => r.into_inner(),
            Err(s) if s.code() == tonic::Code::Unauthenticated => {
                return Err(AuthError::Unauthenticated);
            }
            Err(s) => {
                tracing::warn!(code = ?s.code(), message = s.message(), "VerifyToken failed");
                return Err(AuthError::Unavailable);
            }
        };
        let role = Role::parse(&reply.role).ok_or(AuthError::Unauthenticated)?;
        let caller = Arc::new(Caller {
            member_id: reply.member_id,
            role,
            bran_id: Some(reply.bran_id).filter(|b| !b.is_empty()),
            session_id: reply.session_id,
            expires_at: reply.expires_at,
        });
        self.inner.cache.insert(key, caller.clone()).await;
        Ok(caller)
    }

    /// Revocations as they arrive, for long-lived connections that must end with their
    /// session (a WebSocket, say).
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<Revocation> {
        self.inner.revocations.subscribe()
    }

    /// Drops cached verifications of one session, or of every session of the member.
    pub fn revoke(&self, member_id: &str, session_id: Option<&str>) {
        let _ = self.inner.revocations.send(Revocation {
            member_id: member_id.to_owned(),
            session_id: session_id.map(str::to_owned),
        });
        let member_id = member_id.to_owned();
        let session_id = session_id.map(str::to_owned);
        let r = self
            .inner
            .cache
            .invalidate_entries_if(move |_, c| match &session_id {
                Some(s) => &c.session_id == s,
                None => c.member_id == member_id,
            });
        if r.is_err() {
            self.inner.cache.invalidate_all();
        }
    }

    /// Forgets every verification (after a NATS reconnect: revocations may be missed).
    pub fn clear(&self) {
        self.inner.cache.invalidate_all();
    }

    /// The broadcast subscription to `auth.session_revoked` that keeps this cache honest.
    pub fn subscription(&self) -> Broadcast<AuthEvent> {
        let on_event = self.clone();
        let on_reset = self.clone();
        Broadcast::new(
            Arc::new(move |event| {
                let AuthEvent::SessionRevoked(r) = &event.event;
                let session = r.session_id.map(|s| s.to_string());
                on_event.revoke(&r.member_id, session.as_deref());
            }),
            Arc::new(move || on_reset.clear()),
        )
    }
}

/// The bearer token of a request, if it has one. The scheme is case-insensitive (RFC 9110
/// §11.1), so `bearer …` works as `Bearer …` does, on every service.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    AuthClient: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token =
            bearer(&parts.headers).ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        let client = AuthClient::from_ref(state);
        let caller = client.verify(token).await?.as_ref().clone();
        httpkit::note_member(&parts.extensions, &caller.member_id);
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::bearer;

    fn with(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_nothing_else_is_a_token() {
        for ok in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer  abc "] {
            assert_eq!(bearer(&with(ok)), Some("abc"), "{ok}");
        }
        for no in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "abc"] {
            assert_eq!(bearer(&with(no)), None, "{no}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
