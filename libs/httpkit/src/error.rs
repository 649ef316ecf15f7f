//! The error envelope: `{"error": {"code", "message", "details"?, "request_id"}}`, and the
//! one [`Error`] type the services' handlers return.
//!
//! Every error a service answers goes through [`ApiError`]. Errors produced outside the
//! handlers (unmatched routes, 405, a body over the limit, a timeout, a panic) get the same
//! envelope from [`crate::stack`]'s envelope middleware, so a client never sees a framework's
//! default page.

use std::sync::Arc;

use axum::{
    Json,
    http::{HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;

tokio::task_local! {
    /// The id of the request being served, set by the envelope middleware.
    pub(crate) static REQUEST_ID: String;
}

/// The request id of the request being served (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// An error as the client sees it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code_for(status),
            message: message.into(),
            details: None,
            headers: Vec::new(),
        }
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
    /// 500 with no internal detail; the cause is logged where it is handled.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
    /// 429 with `Retry-After` (seconds, at least 1).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests; try again later",
        )
        .with_header(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs.max(1)),
        )
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// The envelope code for a status (docs/contract.md §3).
pub fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "VALIDATION_ERROR",
        401 => "UNAUTHORIZED",
        402 => "PAYMENT_FAILED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        422 => "UNPROCESSABLE",
        429 => "RATE_LIMIT_EXCEEDED",
        502..=504 => "SERVICE_UNAVAILABLE",
        s if s >= 500 => "INTERNAL_ERROR",
        _ => "VALIDATION_ERROR",
    }
}

/// A plain message for errors that were not produced by a handler.
pub(crate) fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "no such resource",
        405 => "method not allowed on this resource",
        413 => "request body is too large",
        408 | 503 | 504 => "service unavailable; try again",
        s if s >= 500 => "internal error",
        _ => "bad request",
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
    request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                details: self.details.as_ref(),
                request_id: current_request_id(),
            },
        };
        let mut res = (self.status, Json(body)).into_response();
        for (k, v) in self.headers {
            res.headers_mut().insert(k, v);
        }
        res
    }
}

/// The one error type of every service's handlers (and of login's and menu's gRPC methods,
/// through `grpckit::status`). [`Error::api`] gives each variant its status, envelope code
/// and message; infrastructure errors are logged once, where they are turned into an answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400.
    #[error("{0}")]
    Validation(String),
    /// 401: wrong credentials or a token that is not valid. The message is fixed text, so it
    /// can never say which part was wrong.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 422: well-formed, but the business refuses it (unknown pizza, unknown branch, …).
    #[error("{0}")]
    Unprocessable(String),
    /// 429 with `Retry-After`.
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    /// Already in the envelope's terms: a 403, or details the client needs.
    #[error("{}", .0.message)]
    Api(ApiError),
    /// 503: the database cannot be reached right now ([`db_unavailable`]).
    #[error("database unavailable")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// 503: a service this one depends on did not answer in time.
    #[error("{0}")]
    DependencyDown(&'static str),
    /// 500, with no detail for the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::from(Arc::new(e))
    }
}

/// Cache loads share one error among their waiters.
impl From<Arc<sqlx::Error>> for Error {
    fn from(e: Arc<sqlx::Error>) -> Self {
        if db_unavailable(&e) {
            Error::Unavailable(e)
        } else {
            Error::Internal(anyhow::anyhow!("{e}"))
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(e)
    }
}

impl Error {
    /// The answer this error gets.
    pub fn api(&self) -> ApiError {
        match self {
            Error::Validation(m) => ApiError::validation(m.clone()),
            Error::Unauthorized(m) => ApiError::unauthorized(*m),
            Error::NotFound(m) => ApiError::not_found(m.clone()),
            Error::Conflict(m) => ApiError::conflict(m.clone()),
            Error::Unprocessable(m) => ApiError::unprocessable(m.clone()),
            Error::RateLimited { retry_after_secs } => ApiError::rate_limited(*retry_after_secs),
            Error::Api(e) => e.clone(),
            Error::Unavailable(_) => ApiError::unavailable("service unavailable; try again"),
            Error::DependencyDown(m) => ApiError::unavailable(*m),
            Error::Internal(_) => ApiError::internal(),
        }
    }

    /// Logs what went wrong inside the platform, once, where it is answered.
    pub fn log(&self) {
        match self {
            Error::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            Error::DependencyDown(m) => tracing::warn!(message = m, "dependency unavailable"),
            Error::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            _ => {}
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log();
        self.api().into_response()
    }
}

/// Whether a database error means "the database cannot be reached right now" (503), as
/// opposed to a bug or a constraint (500): every service maps them the same way.
///
/// Besides the pool's and the socket's own failures, PostgreSQL says so itself while it
/// restarts: `57P01` (admin_shutdown: a fast shutdown ends the session mid-request), `57P02`
/// (crash_shutdown), `57P03` (cannot_connect_now: starting up), any `08` connection
/// exception, and `53300` (too_many_connections). The chaos run (`make chaos`) saw 57P01 come
/// back as 500 before these were listed. And `57014` (query_canceled): the role's
/// `statement_timeout` (2 s, `deploy/db/roles.sql`) cut off a statement that was stuck (on a
/// lock, say); the statement rolled back and a retry may well pass.
pub fn db_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            matches!(
                code.as_ref(),
                "57P01" | "57P02" | "57P03" | "53300" | "57014"
            ) || code.starts_with("08")
        }),
        _ => false,
    }
}

/// Answers with a 404 envelope; the fallback of every router.
pub async fn not_found() -> ApiError {
    ApiError::not_found(default_message(StatusCode::NOT_FOUND))
}

#[cfg(test)]
mod db_unavailable_tests {
    use std::{borrow::Cow, error::Error as StdError, fmt};

    use sqlx::error::{DatabaseError, ErrorKind};

    use super::db_unavailable;

    #[derive(Debug)]
    struct Pg(&'static str);

    impl fmt::Display for Pg {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl StdError for Pg {}

    impl DatabaseError for Pg {
        fn message(&self) -> &str {
            "from the server"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn pg(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Pg(code)))
    }

    #[test]
    fn a_restarting_server_is_unavailable_and_a_broken_query_is_not() {
        for code in [
            "57P01", "57P02", "57P03", "08006", "08001", "53300", "57014",
        ] {
            assert!(db_unavailable(&pg(code)), "{code} is 503");
        }
        // A constraint, a syntax error, a missing table: bugs or bad data, 500 (or mapped).
        for code in ["23505", "42601", "42P01", "22P02"] {
            assert!(!db_unavailable(&pg(code)), "{code} is not 503");
        }
        assert!(db_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(!db_unavailable(&sqlx::Error::RowNotFound));
    }
}
