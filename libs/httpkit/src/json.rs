//! A JSON extractor whose rejections use the envelope: malformed JSON, wrong types, missing
//! fields and a missing `Content-Type` are 400 `VALIDATION_ERROR`; a body over the limit is
//! 413 `PAYLOAD_TOO_LARGE`. Text containing NUL (`\u0000`) is refused the same way:
//! PostgreSQL cannot store it, and it has no business in a name, a reason or an id.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
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
        if !json_content_type(req.headers()) {
            return Err(ApiError::validation(
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large")
            } else {
                ApiError::validation(clean(&e.body_text()))
            }
        })?;
        refuse_escaped_nul(&body)?;
        match axum::Json::<T>::from_bytes(&body) {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

/// The extractor's NUL rule, for handlers that parse the body themselves.
pub fn refuse_escaped_nul(json: &[u8]) -> Result<(), ApiError> {
    if has_escaped_nul(json) {
        return Err(ApiError::validation(NUL_MESSAGE));
    }
    Ok(())
}

/// Whether a JSON text has an escaped NUL (`\u0000`) inside a string. JSON cannot carry a raw
/// NUL inside a string, so the escape is the only way one arrives.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, b) in json.iter().enumerate() {
        if *b == b'\\' {
            backslashes += 1;
            continue;
        }
        // An odd run of backslashes escapes this character.
        if backslashes % 2 == 1
            && *b == b'u'
            && json.get(i + 1..i + 5).is_some_and(|h| h == b"0000")
        {
            return true;
        }
        backslashes = 0;
    }
    false
}

const NUL_MESSAGE: &str = "invalid request body: text must not contain NUL (\\u0000) characters";

/// `application/json` or `application/<something>+json`, parameters allowed (as axum checks).
fn json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_escaped_nul_only_where_it_is_one() {
        assert!(has_escaped_nul(br#"{"a": "x\u0000y"}"#));
        assert!(has_escaped_nul(br#"{"a": "\\\u0000"}"#)); // an escaped backslash, then NUL
        assert!(!has_escaped_nul(br#"{"a": "\\u0000"}"#)); // a backslash and the text u0000
        assert!(!has_escaped_nul(br#"{"a": "u0000 \u0041"}"#));
    }
}
