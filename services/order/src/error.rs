//! The one error type of the service: one match gives each variant its HTTP status and
//! envelope code ([`Error::api`]) (the order service serves no gRPC).

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use httpkit::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    /// An error already in the envelope's terms (authentication, authorization).
    #[error("{}", .0.message)]
    Api(ApiError),
    #[error("database unavailable")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// A dependency (menu, login) did not answer in time.
    #[error("{0}")]
    DependencyDown(&'static str),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::from(Arc::new(e))
    }
}

/// Cache loads share one error among their waiters.
impl From<Arc<sqlx::Error>> for Error {
    fn from(e: Arc<sqlx::Error>) -> Self {
        if httpkit::db_unavailable(&e) {
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
    pub fn api(&self) -> ApiError {
        match self {
            Error::Validation(m) => ApiError::validation(m.clone()),
            Error::NotFound(m) => ApiError::not_found(m.clone()),
            Error::Conflict(m) => ApiError::conflict(m.clone()),
            Error::Unprocessable(m) => ApiError::unprocessable(m.clone()),
            Error::Api(e) => e.clone(),
            Error::Unavailable(_) => ApiError::unavailable("service unavailable; try again"),
            Error::DependencyDown(m) => ApiError::unavailable(*m),
            Error::Internal(_) => ApiError::internal(),
        }
    }

    fn log(&self) {
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
