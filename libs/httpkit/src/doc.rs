//! OpenAPI schemas shared by every service's document.

use serde::Serialize;
use utoipa::ToSchema;

/// The error envelope every error response carries (docs/contract.md §3).
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// VALIDATION_ERROR, UNAUTHORIZED, PAYMENT_FAILED, FORBIDDEN, NOT_FOUND, CONFLICT,
    /// PAYLOAD_TOO_LARGE, UNPROCESSABLE, RATE_LIMIT_EXCEEDED, INTERNAL_ERROR or
    /// SERVICE_UNAVAILABLE.
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

/// An error on pizza_back's API (`/api/...`), as its old clients read it.
#[derive(Serialize, ToSchema)]
pub struct LegacyError {
    #[schema(example = "invalid credentials")]
    pub detail: String,
}

/// Adds the `bearer` security scheme (HTTP bearer, a JWT from `/login/`) to a document.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}
