//! pizza_back's API (`/api/login/…`, `/api/menu/…`, `/api/order/…`), served by the same
//! services while its old front end is still in use. Each service writes its legacy handlers
//! as thin adapters over its own use cases; [`legacy`] wraps them with what every legacy
//! answer shares:
//!
//! - errors as pizza_back's clients read them, `{"detail": "<message>"}` (status and
//!   `Retry-After`/`Allow` kept), whatever produced them (a handler, the JSON extractor, the
//!   router's 405);
//! - `Deprecation` (RFC 9745) and `Link: <successor>; rel="successor-version"`;
//! - a counter per legacy route, `legacy_requests_total{route}` in `/metrics`, so an
//!   operator sees when the old client is gone.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use prometheus::{IntCounterVec, Opts};
use serde_json::{Value, json};

/// When the legacy API was deprecated (2026-12-01T00:00:00Z), as RFC 9745 writes it.
const DEPRECATED_AT: &str = "@1796083200";

/// The most of an error body the adapter reads to find its message.
const ERROR_BODY_CAP: usize = 64 * 1024;

static LEGACY_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    telemetry::register(
        IntCounterVec::new(
            Opts::new(
                "legacy_requests_total",
                "Requests to pizza_back's API (/api/...), by route",
            ),
            &["route"],
        )
        .expect("valid counter"),
    )
});

/// One service's legacy routes.
pub struct LegacyRoutes {
    pub service: &'static str,
    /// Each legacy route (as routed, without the trailing slash) and the route of the new API
    /// that replaces it.
    pub successors: &'static [(&'static str, &'static str)],
    /// The `detail` of every 401 on these routes: pizza_back never said why.
    pub unauthorized: &'static str,
}

/// Wraps a service's legacy routes with the legacy answer's shape.
pub fn legacy<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    routes: &'static LegacyRoutes,
) -> Router<S> {
    // Each route exposed from the start (at 0): the dashboards show which are still used.
    for (route, _) in routes.successors {
        LEGACY_REQUESTS.with_label_values(&[*route]);
    }
    router.layer(middleware::from_fn_with_state(routes, adapt))
}

async fn adapt(State(routes): State<&'static LegacyRoutes>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    LEGACY_REQUESTS.with_label_values(&[route.as_str()]).inc();
    let mut res = next.run(req).await;
    if res.status().as_u16() >= 400 {
        res = as_detail(res, routes).await;
    }
    let h = res.headers_mut();
    h.insert("deprecation", HeaderValue::from_static(DEPRECATED_AT));
    if let Some((_, successor)) = routes.successors.iter().find(|(r, _)| *r == route)
        && let Ok(link) =
            HeaderValue::from_str(&format!("<{successor}>; rel=\"successor-version\""))
    {
        h.insert(header::LINK, link);
    }
    res
}

/// The same error as `{"detail": …}`: the envelope's message, pizza_back's wording for 401.
async fn as_detail(res: Response, routes: &LegacyRoutes) -> Response {
    let (parts, body) = res.into_parts();
    let status = parts.status;
    let message = match status {
        StatusCode::UNAUTHORIZED => routes.unauthorized.to_owned(),
        _ => {
            let bytes = axum::body::to_bytes(body, ERROR_BODY_CAP)
                .await
                .unwrap_or_default();
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| crate::error::default_message(status).to_owned())
        }
    };
    let mut out = (status, axum::Json(json!({ "detail": message }))).into_response();
    for name in [
        header::RETRY_AFTER,
        header::ALLOW,
        "x-request-id".parse().expect("name"),
    ] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
