//! The error envelope of DESIGN §3: `{"error": {"code", "message", "details"?, "request_id"}}`.
//!
//! Every error a service answers goes through [`ApiError`]. Errors produced outside the
//! handlers (unmatched routes, 405, a body over the limit, a timeout, a panic) get the same
//! envelope from [`crate::stack`]'s envelope middleware, so a client never sees a framework's
//! default page.

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

/// The envelope code for a status (DESIGN §3).
pub fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "VALIDATION_ERROR",
        401 => "UNAUTHORIZED",
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

/// Whether a database error means "the database cannot be reached right now" (503), as
/// opposed to a bug or a constraint (500): every service maps them the same way.
///
/// Besides the pool's and the socket's own failures, PostgreSQL says so itself while it
/// restarts: `57P01` (admin_shutdown: a fast shutdown ends the session mid-request), `57P02`
/// (crash_shutdown), `57P03` (cannot_connect_now: starting up), any `08` connection
/// exception, and `53300` (too_many_connections). The chaos run (`make chaos`) saw 57P01 come
/// back as 500 before these were listed.
pub fn db_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300") || code.starts_with("08")
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
        for code in ["57P01", "57P02", "57P03", "08006", "08001", "53300"] {
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
