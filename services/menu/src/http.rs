//! The public HTTP API under `/menu` (docs/contract.md §3): menu reads with `ETag`, pizza lookup,
//! images, and the ADMIN writes.

use authclient::{Caller, Role};
use axum::{
    Router,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, patch, post},
};
use httpkit::doc::BearerAuth;
use httpkit::{Json, route_both};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{
    AppState,
    catalog::{self, Catalog, MenuItem, PizzaType, Rendered},
    db, images,
};
use httpkit::{Error, Result};

/// Cheapest and dearest accepted prices, in won: anything outside is a typo.
pub const MIN_PRICE: i64 = 1;
pub const MAX_PRICE: i64 = 1_000_000;

pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    r = route_both(r, "/menu/", get(menu));
    r = route_both(r, "/menu/types/", get(types).post(add_type));
    r = route_both(r, "/menu/get_pizza_id/", post(get_pizza_id));
    r = route_both(r, "/menu/pizzas/", post(add_pizza));
    r = route_both(r, "/menu/pizzas/{pizza_id}/", patch(update_pizza));
    r = r.route("/menu/images/{file}", get(image));
    r = r.route("/menu/openapi.json", get(openapi));
    r.with_state(state)
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
fn conditional(rendered: &Rendered, headers: &HeaderMap, content_type: &'static str) -> Response {
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MenuQuery {
    /// Only this category: Classic, Chicken, Supreme or Veggie (any case; empty means all).
    #[param(
        pattern = "^\\s*([Cc][Ll][Aa][Ss][Ss][Ii][Cc]|[Cc][Hh][Ii][Cc][Kk][Ee][Nn]|[Ss][Uu][Pp][Rr][Ee][Mm][Ee]|[Vv][Ee][Gg][Gg][Ii][Ee]|)\\s*$"
    )]
    categ: Option<String>,
}

#[utoipa::path(get, path = "/menu/", tag = "menu", params(MenuQuery),
    responses(
        (status = 200, body = Vec<MenuItem>, description = "Every pizza with its type, size, price and availability"),
        (status = 304, description = "Not modified since the ETag given in If-None-Match"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "Unknown category"),
    ))]
async fn menu(
    State(s): State<AppState>,
    Query(q): Query<MenuQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let category = match q.categ.as_deref() {
        None => None,
        Some(c) if c.trim().is_empty() => None,
        Some(c) => Some(catalog::parse_category(c).ok_or_else(|| {
            Error::Validation(format!(
                "categ must be one of {}",
                catalog::CATEGORIES.join(", ")
            ))
        })?),
    };
    let c = s.catalog.get().await?;
    Ok(conditional(c.menu(category), &headers, "application/json"))
}

#[utoipa::path(get, path = "/menu/types/", tag = "menu",
    responses(
        (status = 200, body = Vec<PizzaType>),
        (status = 304, description = "Not modified"),
    ))]
async fn types(State(s): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let c = s.catalog.get().await?;
    Ok(conditional(c.types(), &headers, "application/json"))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PizzaIdRequest {
    #[schema(example = "The Barbecue Chicken Pizza")]
    pub pizza_nm: String,
    /// S, M, L, XL or XXL (any case).
    #[schema(
        example = "M",
        pattern = "^\\s*([Ss]|[Mm]|[Ll]|[Xx][Ll]|[Xx][Xx][Ll])\\s*$"
    )]
    pub size: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PizzaIdResponse {
    pub pizza_id: String,
}

fn size(s: &str) -> Result<&'static str> {
    catalog::parse_size(s).ok_or_else(|| {
        Error::Validation(format!("size must be one of {}", catalog::SIZES.join(", ")))
    })
}

#[utoipa::path(post, path = "/menu/get_pizza_id/", tag = "menu",
    request_body = PizzaIdRequest,
    responses(
        (status = 200, body = PizzaIdResponse),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "Size is not one of S, M, L, XL, XXL"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such pizza in that size"),
    ))]
async fn get_pizza_id(
    State(s): State<AppState>,
    Json(req): Json<PizzaIdRequest>,
) -> Result<Json<PizzaIdResponse>> {
    let size = size(&req.size)?;
    let c = s.catalog.get().await?;
    let item = c.find(&req.pizza_nm, size).ok_or_else(|| {
        Error::NotFound(format!("no pizza '{}' in size {size}", req.pizza_nm.trim()))
    })?;
    Ok(Json(PizzaIdResponse {
        pizza_id: item.pizza_id.clone(),
    }))
}

#[utoipa::path(get, path = "/menu/images/{file}", tag = "menu",
    params(("file" = String, Path, description = "`{pizza_type_id}.svg`")),
    responses(
        (status = 200, content_type = "image/svg+xml", description = "The type's picture"),
        (status = 404, body = httpkit::doc::ErrorEnvelope),
    ))]
async fn image(
    State(s): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let not_found = || Error::NotFound(format!("no image '{file}'"));
    let type_id = file.strip_suffix(".svg").ok_or_else(not_found)?;
    let c = s.catalog.get().await?;
    let t = c
        .types
        .iter()
        .find(|t| t.pizza_type_id == type_id)
        .ok_or_else(not_found)?;
    let svg = images::svg(&t.pizza_type_id, &t.pizza_nm, &t.pizza_categ);
    let rendered = Rendered::of_bytes(svg.into_bytes());
    let mut res = conditional(&rendered, &headers, "image/svg+xml");
    // Pictures change only with a type's name; a day of caching is fine.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(res)
}

// ---------------------------------------------------------------------------------------
// ADMIN writes

/// At least one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(min_properties = 1)]
pub struct PizzaPatch {
    /// New price in whole won (1 to 1,000,000).
    #[serde(default, deserialize_with = "httpkit::whole::option")]
    #[schema(minimum = 1, maximum = 1_000_000, nullable = false)]
    pub price: Option<i64>,
    /// `false` marks it sold out.
    #[serde(default, deserialize_with = "httpkit::whole::present")]
    #[schema(nullable = false)]
    pub available: Option<bool>,
}

fn check_price(price: i64) -> Result<()> {
    if (MIN_PRICE..=MAX_PRICE).contains(&price) {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "price must be whole won from {MIN_PRICE} to {MAX_PRICE}"
        )))
    }
}

/// What this replica serves right after its own change (others follow on the event).
async fn fresh_item(s: &AppState, pizza_id: &str) -> Result<MenuItem> {
    s.catalog.invalidate();
    let c: std::sync::Arc<Catalog> = s.catalog.get().await?;
    c.item(pizza_id)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("no pizza '{pizza_id}'")))
}

#[utoipa::path(patch, path = "/menu/pizzas/{pizza_id}/", tag = "admin",
    security(("bearer" = [])),
    params(("pizza_id" = String, Path)),
    request_body = PizzaPatch,
    responses(
        (status = 200, body = MenuItem, description = "The pizza as now served"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not an ADMIN"),
        (status = 404, body = httpkit::doc::ErrorEnvelope),
    ))]
async fn update_pizza(
    State(s): State<AppState>,
    caller: Caller,
    Path(pizza_id): Path<String>,
    Json(req): Json<PizzaPatch>,
) -> Result<Json<MenuItem>> {
    caller.require(&[Role::Admin])?;
    if req.price.is_none() && req.available.is_none() {
        return Err(Error::Validation("give price and/or available".into()));
    }
    if let Some(p) = req.price {
        check_price(p)?;
    }
    if let Some(version) = db::update_pizza(
        &s.db,
        &caller.member_id,
        &pizza_id,
        req.price,
        req.available,
    )
    .await?
    {
        tracing::info!(pizza.id = %pizza_id, catalog_version = version, by = %caller.member_id, "pizza updated");
    }
    Ok(Json(fresh_item(&s, &pizza_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPizza {
    pub pizza_type_id: String,
    /// S, M, L, XL or XXL (any case).
    #[schema(pattern = "^\\s*([Ss]|[Mm]|[Ll]|[Xx][Ll]|[Xx][Xx][Ll])\\s*$")]
    pub size: String,
    /// In whole won, 1 to 1,000,000.
    #[serde(deserialize_with = "httpkit::whole::number")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub price: i64,
    /// Defaults to `true`.
    pub available: Option<bool>,
}

#[utoipa::path(post, path = "/menu/pizzas/", tag = "admin",
    security(("bearer" = [])),
    request_body = NewPizza,
    responses(
        (status = 201, body = MenuItem, description = "Added; its id is `{pizza_type_id}_{size}`"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "That size exists"),
        (status = 422, body = httpkit::doc::ErrorEnvelope, description = "No such type"),
    ))]
async fn add_pizza(
    State(s): State<AppState>,
    caller: Caller,
    Json(req): Json<NewPizza>,
) -> Result<(StatusCode, Json<MenuItem>)> {
    caller.require(&[Role::Admin])?;
    let size = size(&req.size)?;
    check_price(req.price)?;
    let pizza_id = db::add_pizza(
        &s.db,
        &caller.member_id,
        req.pizza_type_id.trim(),
        size,
        req.price,
        req.available.unwrap_or(true),
    )
    .await?;
    tracing::info!(pizza.id = %pizza_id, by = %caller.member_id, "pizza added");
    Ok((StatusCode::CREATED, Json(fresh_item(&s, &pizza_id).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewType {
    /// 2–40 characters of `a-z`, `0-9`, `_`.
    #[schema(example = "kimchi_bulgogi", pattern = "^\\s*[a-z0-9_]{2,40}\\s*$")]
    pub pizza_type_id: String,
    /// 1–100 characters, not only spaces.
    #[schema(
        example = "The Kimchi Bulgogi Pizza",
        min_length = 1,
        max_length = 100,
        pattern = "\\S"
    )]
    pub pizza_nm: String,
    /// Classic, Chicken, Supreme or Veggie (any case).
    #[schema(
        pattern = "^\\s*([Cc][Ll][Aa][Ss][Ss][Ii][Cc]|[Cc][Hh][Ii][Cc][Kk][Ee][Nn]|[Ss][Uu][Pp][Rr][Ee][Mm][Ee]|[Vv][Ee][Gg][Gg][Ii][Ee])\\s*$"
    )]
    pub pizza_categ: String,
}

#[utoipa::path(post, path = "/menu/types/", tag = "admin",
    security(("bearer" = [])),
    request_body = NewType,
    responses(
        (status = 201, body = PizzaType),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "The id or the name is taken"),
    ))]
async fn add_type(
    State(s): State<AppState>,
    caller: Caller,
    Json(req): Json<NewType>,
) -> Result<(StatusCode, Json<PizzaType>)> {
    caller.require(&[Role::Admin])?;
    let id = req.pizza_type_id.trim();
    if !(2..=40).contains(&id.len())
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::Validation(
            "pizza_type_id must be 2 to 40 characters of a-z, 0-9, '_'".into(),
        ));
    }
    let name = req.pizza_nm.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Validation(
            "pizza_nm must be 1 to 100 characters".into(),
        ));
    }
    let categ = catalog::parse_category(&req.pizza_categ).ok_or_else(|| {
        Error::Validation(format!(
            "pizza_categ must be one of {}",
            catalog::CATEGORIES.join(", ")
        ))
    })?;
    let t = PizzaType {
        pizza_type_id: id.to_owned(),
        pizza_nm: name.to_owned(),
        pizza_categ: categ.to_owned(),
        pizza_img_url: format!("/menu/images/{id}.svg"),
    };
    db::add_type(&s.db, &caller.member_id, &t).await?;
    s.catalog.invalidate();
    tracing::info!(pizza_type.id = %t.pizza_type_id, by = %caller.member_id, "pizza type added");
    Ok((StatusCode::CREATED, Json(t)))
}

// ---------------------------------------------------------------------------------------
// OpenAPI

#[derive(OpenApi)]
#[openapi(
    info(title = "pizza-menu", description = "The catalog: pizzas, types, prices, images."),
    paths(menu, types, get_pizza_id, image, update_pizza, add_pizza, add_type),
    components(schemas(httpkit::doc::ErrorEnvelope)),
    modifiers(&BearerAuth),
    tags(
        (name = "menu", description = "Public reads"),
        (name = "admin", description = "Catalog changes (ADMIN only)")
    )
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
