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

/// What OpenAPI requires and utoipa leaves out: every response gets a description (its
/// status's reason phrase, "Unauthorized", when the path gives none), and an operation served
/// on two methods (`method(get, post)`) gets its method appended to the second one's id, so
/// every `operationId` is unique.
pub struct Described;

impl utoipa::Modify for Described {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        let mut ids = std::collections::HashSet::new();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            let methods = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            for (operation, method) in operations.into_iter().zip(methods) {
                let Some(operation) = operation else { continue };
                if let Some(id) = &mut operation.operation_id
                    && !ids.insert(id.clone())
                {
                    id.push('_');
                    id.push_str(method);
                    ids.insert(id.clone());
                }
                for (status, response) in &mut operation.responses.responses {
                    if let RefOr::T(r) = response
                        && r.description.is_empty()
                    {
                        r.description = status
                            .parse::<u16>()
                            .ok()
                            .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("The answer")
                            .to_owned();
                    }
                }
            }
        }
    }
}

/// The browsable API documentation of `service` at `/<service>/docs/`: Swagger UI (its files
/// are built into the binary, nothing is fetched from elsewhere) reading the service's own
/// `/<service>/openapi.json`.
pub fn ui(service: &'static str) -> axum::Router {
    let config = utoipa_swagger_ui::Config::new([format!("/{service}/openapi.json")])
        .try_it_out_enabled(true)
        .display_request_duration(true);
    utoipa_swagger_ui::SwaggerUi::new(format!("/{service}/docs"))
        .config(config)
        .into()
}
