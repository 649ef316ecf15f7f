//! The public HTTP API under `/menu` (docs/contract.md §3):
//!
//! - [`read`] — the menu and the types (with `ETag`, gzip once per catalog version), one
//!   item with its options, pizza lookup, the pictures;
//! - [`admin`] — the ADMIN's catalog edits;
//! - [`legacy`] — pizza_back's `/api/menu/…` for its old front end;
//! - here: the routes, the conditional answer both use, and the OpenAPI document.

mod admin;
pub mod legacy;
mod read;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
};
use httpkit::doc::{BearerAuth, Described};
use httpkit::route_both;
use utoipa::OpenApi;

use crate::{AppState, catalog::Rendered};

#[allow(deprecated)] // pizza_back's routes, served on purpose
pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    r = route_both(r, "/menu/", get(read::menu));
    r = route_both(r, "/menu/types/", get(read::types).post(admin::add_type));
    r = route_both(r, "/menu/get_pizza_id/", post(read::get_pizza_id));
    r = route_both(r, "/menu/items/{pizza_type_id}/", get(read::item));
    r = route_both(r, "/menu/types/{pizza_type_id}/", patch(admin::update_type));
    r = route_both(r, "/menu/options/", get(read::option_groups));
    r = route_both(r, "/menu/options/{option_id}/", patch(admin::update_option));
    r = route_both(r, "/menu/pizzas/", post(admin::add_pizza));
    r = route_both(r, "/menu/pizzas/{pizza_id}/", patch(admin::update_pizza));
    r = route_both(
        r,
        "/menu/pizzas/{pizza_id}/branches/{bran_id}/",
        put(admin::set_branch_availability),
    );
    r = r.route("/menu/images/{file}", get(read::image));
    r = r.route("/menu/openapi.json", get(openapi));

    let mut old = Router::new();
    old = route_both(old, "/api/menu/", get(legacy::menu));
    old = route_both(old, "/api/menu/types/", get(legacy::types));
    old = route_both(old, "/api/menu/get_pizza_id/", post(legacy::get_pizza_id));
    r.merge(httpkit::legacy(old, &legacy::ROUTES))
        .with_state(state)
}

/// Clients revalidate every time (cheap: a 304 with no body), so a change is visible at once.
const CACHE_CONTROL: &str = "no-cache";

/// Whether `Accept-Encoding` allows gzip (any q other than 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// 304 when the client's `If-None-Match` names the entity it would get, the body otherwise:
/// gzip bytes compressed once per catalog version when the client accepts them.
pub(super) fn conditional(
    rendered: &Rendered,
    headers: &HeaderMap,
    content_type: &'static str,
) -> Response {
    let (body, etag, gzipped) = match &rendered.gzip {
        Some((z, tag)) if accepts_gzip(headers) => (z, tag, true),
        _ => (&rendered.body, &rendered.etag, false),
    };
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag.to_str().unwrap_or_default()
        });
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(body.clone()));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if gzipped {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    if rendered.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

#[derive(OpenApi)]
#[openapi(
    info(title = "pizza-menu", description = "The catalog: pizzas, types, prices, images."),
    paths(
        read::menu,
        read::types,
        read::get_pizza_id,
        read::item,
        read::option_groups,
        read::image,
        admin::update_pizza,
        admin::update_option,
        admin::update_type,
        admin::set_branch_availability,
        admin::add_pizza,
        admin::add_type,
        legacy::menu,
        legacy::types,
        legacy::get_pizza_id
    ),
    components(schemas(httpkit::doc::ErrorEnvelope, httpkit::doc::LegacyError)),
    modifiers(&BearerAuth, &Described),
    tags(
        (name = "menu", description = "Public reads"),
        (name = "admin", description = "Catalog changes (ADMIN only)"),
        (name = "legacy", description = "pizza_back's API under /api/menu, for its old front end during the switch (deprecated)")
    )
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
