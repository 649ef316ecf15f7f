//! The one error type of the service: one match gives each variant its HTTP status and
//! envelope code ([`Error::api`]) and its gRPC code.

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
            Error::Internal(_) => ApiError::internal(),
        }
    }

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
            Error::NotFound(_) => tonic::Status::not_found(msg),
            Error::Conflict(_) => tonic::Status::already_exists(msg),
            Error::Unprocessable(_) => tonic::Status::failed_precondition(msg),
            Error::Api(a) if a.status.as_u16() == 401 => tonic::Status::unauthenticated(msg),
            Error::Api(a) if a.status.as_u16() == 403 => tonic::Status::permission_denied(msg),
            Error::Api(_) | Error::Unavailable(_) => tonic::Status::unavailable(msg),
            Error::Internal(_) => tonic::Status::internal(msg),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
