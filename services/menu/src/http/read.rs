//! Public reads: the menu, the types, pizza lookup, the pictures.

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};
use httpkit::{Error, Json, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::conditional;
use crate::{
    AppState,
    catalog::Rendered,
    images,
    pizza::{self, ItemDetail, MenuItem, PizzaType},
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MenuQuery {
    /// Only this category: Classic, Chicken, Supreme, Veggie, Side or Drink (any case; empty
    /// means all).
    #[param(
        pattern = "^\\s*([Cc][Ll][Aa][Ss][Ss][Ii][Cc]|[Cc][Hh][Ii][Cc][Kk][Ee][Nn]|[Ss][Uu][Pp][Rr][Ee][Mm][Ee]|[Vv][Ee][Gg][Gg][Ii][Ee]|[Ss][Ii][Dd][Ee]|[Dd][Rr][Ii][Nn][Kk]|)\\s*$"
    )]
    categ: Option<String>,
    /// As this branch sells it: `available` is false for what is sold out there too.
    #[param(example = "gangnam")]
    bran_id: Option<String>,
}

#[utoipa::path(get, path = "/menu/", tag = "menu", params(MenuQuery),
    responses(
        (status = 200, body = Vec<MenuItem>, description = "Every item (pizzas, then sides and drinks) in every size, with its type, price and availability"),
        (status = 304, description = "Not modified since the ETag given in If-None-Match"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "Unknown category"),
    ))]
pub(super) async fn menu(
    State(s): State<AppState>,
    Query(q): Query<MenuQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let category = match q.categ.as_deref() {
        None => None,
        Some(c) if c.trim().is_empty() => None,
        Some(c) => Some(pizza::parse_category(c).ok_or_else(|| {
            Error::Validation(format!(
                "categ must be one of {}",
                pizza::CATEGORIES.join(", ")
            ))
        })?),
    };
    let c = s.catalog.get().await?;
    let at = q
        .bran_id
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty());
    if let Some(rendered) = at.and_then(|b| c.menu_at(category, b)) {
        return Ok(conditional(&rendered, &headers, "application/json"));
    }
    Ok(conditional(c.menu(category), &headers, "application/json"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// As this branch sells it: a size's `available` is false for what is sold out there too.
    #[param(example = "gangnam")]
    bran_id: Option<String>,
}

#[utoipa::path(get, path = "/menu/items/{pizza_type_id}/", tag = "menu",
    params(("pizza_type_id" = String, Path, example = "bbq_ckn"), ItemQuery),
    responses(
        (status = 200, body = ItemDetail, description = "The item, its sizes and its option groups"),
        (status = 304, description = "Not modified since the ETag given in If-None-Match"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such item"),
    ))]
pub(super) async fn item(
    State(s): State<AppState>,
    Path(pizza_type_id): Path<String>,
    Query(q): Query<ItemQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let c = s.catalog.get().await?;
    let at = q
        .bran_id
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty());
    let rendered = c
        .item_detail(&pizza_type_id, at)
        .ok_or_else(|| Error::NotFound(format!("no item '{pizza_type_id}'")))?;
    Ok(conditional(&rendered, &headers, "application/json"))
}

#[utoipa::path(get, path = "/menu/options/", tag = "menu",
    responses(
        (status = 200, body = Vec<crate::options::OptionGroup>, description = "Every option group some item offers, with its options"),
        (status = 304, description = "Not modified"),
    ))]
pub(super) async fn option_groups(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Response> {
    let c = s.catalog.get().await?;
    Ok(conditional(c.option_groups(), &headers, "application/json"))
}

#[utoipa::path(get, path = "/menu/types/", tag = "menu",
    responses(
        (status = 200, body = Vec<PizzaType>),
        (status = 304, description = "Not modified"),
    ))]
pub(super) async fn types(State(s): State<AppState>, headers: HeaderMap) -> Result<Response> {
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

pub(super) fn size(s: &str) -> Result<&'static str> {
    pizza::parse_size(s).ok_or_else(|| {
        Error::Validation(format!("size must be one of {}", pizza::SIZES.join(", ")))
    })
}

#[utoipa::path(post, path = "/menu/get_pizza_id/", tag = "menu",
    request_body = PizzaIdRequest,
    responses(
        (status = 200, body = PizzaIdResponse),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "Size is not one of S, M, L, XL, XXL"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such pizza in that size"),
    ))]
pub(super) async fn get_pizza_id(
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
pub(super) async fn image(
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
