//! OpenAPI schemas shared by every service's document.

use serde::Serialize;
use utoipa::ToSchema;

/// The error envelope every error response carries (DESIGN §3).
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE,
    /// UNPROCESSABLE, RATE_LIMIT_EXCEEDED, INTERNAL_ERROR or SERVICE_UNAVAILABLE.
    #[schema(example = "VALIDATION_ERROR")]
    pub code: String,
    /// For people; never internal detail.
    pub message: String,
    /// Machine-readable specifics, when there are any.
    #[schema(nullable = false)]
    pub details: Option<serde_json::Value>,
    /// The `x-request-id` of the request, to find its log lines.
    pub request_id: String,
}
