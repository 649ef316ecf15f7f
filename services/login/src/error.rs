//! The one error type of the service. [`Error::api`] gives each variant its HTTP status and
//! envelope code, and `From<Error> for tonic::Status` its gRPC code, from the same match, so
//! the two faces agree.

use axum::response::{IntoResponse, Response};
use httpkit::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Validation(String),
    /// Wrong credentials or a token that is not valid; the message never says which part.
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if httpkit::db_unavailable(&e) {
            Error::Unavailable(e)
        } else {
            Error::Internal(e.into())
        }
    }
}

impl Error {
    pub fn api(&self) -> ApiError {
        match self {
            Error::Validation(m) => ApiError::validation(m.clone()),
            Error::Unauthorized(m) => ApiError::unauthorized(*m),
            Error::Conflict(m) => ApiError::conflict(m.clone()),
            Error::NotFound(m) => ApiError::not_found(m.clone()),
            Error::RateLimited { retry_after_secs } => ApiError::rate_limited(*retry_after_secs),
            Error::Unavailable(_) => ApiError::unavailable("service unavailable; try again"),
            Error::Internal(_) => ApiError::internal(),
        }
    }

    /// Logs infrastructure errors once, here, where they are turned into a response.
    fn log(&self) {
        match self {
            Error::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
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

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        e.log();
        let msg = e.api().message;
        match e {
            Error::Validation(_) => tonic::Status::invalid_argument(msg),
            Error::Unauthorized(_) => tonic::Status::unauthenticated(msg),
            Error::Conflict(_) => tonic::Status::already_exists(msg),
            Error::NotFound(_) => tonic::Status::not_found(msg),
            Error::RateLimited { .. } => tonic::Status::resource_exhausted(msg),
            Error::Unavailable(_) => tonic::Status::unavailable(msg),
            Error::Internal(_) => tonic::Status::internal(msg),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
