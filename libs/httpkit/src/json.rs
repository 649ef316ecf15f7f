//! A JSON extractor whose rejections use the envelope: malformed JSON, wrong types, missing
//! fields and a missing `Content-Type` are 400 `VALIDATION_ERROR`; a body over the limit is
//! 413 `PAYLOAD_TOO_LARGE`.

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::ApiError;

/// Use in place of `axum::Json`, both to extract and to respond.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

fn rejection_to_error(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => ApiError::validation(clean(&e.body_text())),
        JsonRejection::JsonSyntaxError(e) => ApiError::validation(clean(&e.body_text())),
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::validation("expected a JSON body with Content-Type: application/json")
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large")
        }
        other => ApiError::validation(clean(&other.body_text())),
    }
}

/// axum's texts name its own types ("Failed to deserialize the JSON body into the target
/// type: member_pwd: invalid type…"); keep the part that speaks of the request.
fn clean(text: &str) -> String {
    let t = text
        .trim_start_matches("Failed to deserialize the JSON body into the target type: ")
        .trim_start_matches("Failed to parse the request body as JSON: ");
    format!("invalid request body: {t}")
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
