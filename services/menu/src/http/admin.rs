//! The ADMIN's catalog edits ([`crate::edit`]): each answers with what this replica serves
//! right after it (the other replicas follow on `catalog.updated`).

use authclient::{Caller, Role};
use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use httpkit::{Error, Json, Result};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    catalog::Catalog,
    edit,
    options::ItemOption,
    pizza::{MenuItem, PizzaType},
};

/// Cheapest and dearest accepted prices, in won: anything outside is a typo.
pub const MIN_PRICE: i64 = 1;
pub const MAX_PRICE: i64 = 1_000_000;

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
pub(super) async fn fresh_item(s: &AppState, pizza_id: &str) -> Result<MenuItem> {
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
pub(super) async fn update_pizza(
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
    if let Some(version) = edit::update_pizza(
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

/// At least one of the three.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(min_properties = 1)]
pub struct TypePatch {
    /// What it is, in Korean (at most 500 characters).
    #[schema(
        max_length = 500,
        example = "바비큐 치킨, 홍피망과 청피망, 토마토, 적양파에 바비큐 소스."
    )]
    pub description_ko: Option<String>,
    /// In English (at most 500 characters); empty: none.
    #[schema(max_length = 500)]
    pub description_en: Option<String>,
    /// Codes of Korean labelling: wheat, milk, egg, soy, pork, beef, chicken, shrimp, crab,
    /// mackerel, buckwheat, peanut, walnut, pine_nut, peach, tomato, sulfites, squid,
    /// shellfish, fish.
    #[schema(example = json!(["wheat", "milk", "chicken", "tomato"]))]
    pub allergens: Option<Vec<String>>,
}

fn description(field: &str, text: &str) -> Result<String> {
    let text = text.trim();
    if text.chars().count() > crate::pizza::MAX_DESCRIPTION
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(Error::Validation(format!(
            "{field} must be at most {} characters",
            crate::pizza::MAX_DESCRIPTION
        )));
    }
    Ok(text.to_owned())
}

#[utoipa::path(patch, path = "/menu/types/{pizza_type_id}/", tag = "admin",
    security(("bearer" = [])),
    params(("pizza_type_id" = String, Path, example = "bbq_ckn")),
    request_body = TypePatch,
    responses(
        (status = 200, body = crate::pizza::ItemDetail, description = "The item as now served"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not an ADMIN"),
        (status = 404, body = httpkit::doc::ErrorEnvelope),
    ))]
pub(super) async fn update_type(
    State(s): State<AppState>,
    caller: Caller,
    Path(pizza_type_id): Path<String>,
    Json(req): Json<TypePatch>,
) -> Result<axum::response::Response> {
    caller.require(&[Role::Admin])?;
    if req.description_ko.is_none() && req.description_en.is_none() && req.allergens.is_none() {
        return Err(Error::Validation(
            "give description_ko, description_en and/or allergens".into(),
        ));
    }
    let description_ko = req
        .description_ko
        .as_deref()
        .map(|t| description("description_ko", t))
        .transpose()?;
    let description_en = req
        .description_en
        .as_deref()
        .map(|t| description("description_en", t).map(|t| Some(t).filter(|t| !t.is_empty())))
        .transpose()?;
    let allergens = match req.allergens {
        None => None,
        Some(list) => {
            let mut codes: Vec<String> = vec![];
            for a in list {
                let a = a.trim().to_lowercase();
                if !crate::pizza::ALLERGENS.contains(&a.as_str()) {
                    return Err(Error::Validation(format!(
                        "'{a}' is not an allergen code: one of {}",
                        crate::pizza::ALLERGENS.join(", ")
                    )));
                }
                if !codes.contains(&a) {
                    codes.push(a);
                }
            }
            Some(codes)
        }
    };
    let about = edit::About {
        description_ko,
        description_en,
        allergens,
    };
    if let Some(version) =
        edit::update_about(&s.db, &caller.member_id, &pizza_type_id, about).await?
    {
        tracing::info!(pizza_type.id = %pizza_type_id, catalog_version = version, by = %caller.member_id, "item updated");
    }
    s.catalog.invalidate();
    let c = s.catalog.get().await?;
    let rendered = c
        .item_detail(&pizza_type_id, None)
        .ok_or_else(|| Error::NotFound(format!("no item '{pizza_type_id}'")))?;
    // The sheet as the read serves it (identity, with its ETag).
    Ok(super::conditional(
        &rendered,
        &axum::http::HeaderMap::new(),
        "application/json",
    ))
}

/// At least one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(min_properties = 1)]
pub struct OptionPatch {
    /// Added to the item's price, whole won (0 to 100,000).
    #[serde(default, deserialize_with = "httpkit::whole::option")]
    #[schema(minimum = 0, maximum = 100_000, nullable = false)]
    pub price_delta: Option<i64>,
    /// `false`: not to be had until it is `true` again.
    #[serde(default, deserialize_with = "httpkit::whole::present")]
    #[schema(nullable = false)]
    pub available: Option<bool>,
}

/// The dearest an option may add, in won.
pub const MAX_PRICE_DELTA: i64 = 100_000;

/// An option as now served, with its group.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct OptionNow {
    pub group_id: String,
    #[serde(flatten)]
    pub option: ItemOption,
}

#[utoipa::path(patch, path = "/menu/options/{option_id}/", tag = "admin",
    security(("bearer" = [])),
    params(("option_id" = String, Path, example = "crust_cheese_edge")),
    request_body = OptionPatch,
    responses(
        (status = 200, body = OptionNow, description = "The option as now served"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not an ADMIN"),
        (status = 404, body = httpkit::doc::ErrorEnvelope),
    ))]
pub(super) async fn update_option(
    State(s): State<AppState>,
    caller: Caller,
    Path(option_id): Path<String>,
    Json(req): Json<OptionPatch>,
) -> Result<Json<OptionNow>> {
    caller.require(&[Role::Admin])?;
    if req.price_delta.is_none() && req.available.is_none() {
        return Err(Error::Validation(
            "give price_delta and/or available".into(),
        ));
    }
    if let Some(d) = req.price_delta
        && !(0..=MAX_PRICE_DELTA).contains(&d)
    {
        return Err(Error::Validation(format!(
            "price_delta must be whole won from 0 to {MAX_PRICE_DELTA}"
        )));
    }
    if let Some(version) = edit::update_option(
        &s.db,
        &caller.member_id,
        &option_id,
        req.price_delta,
        req.available,
    )
    .await?
    {
        tracing::info!(option.id = %option_id, catalog_version = version, by = %caller.member_id, "option updated");
    }
    s.catalog.invalidate();
    let c = s.catalog.get().await?;
    let option = c
        .option(&option_id)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("no option '{option_id}'")))?;
    Ok(Json(OptionNow {
        group_id: option.group_id.clone(),
        option,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPizza {
    pub pizza_type_id: String,
    /// S, M, L, XL or XXL for a pizza; REG for a side; 500ml or 1.25L for a drink (any case).
    #[schema(
        pattern = "^\\s*([Ss]|[Mm]|[Ll]|[Xx][Ll]|[Xx][Xx][Ll]|[Rr][Ee][Gg]|500[Mm][Ll]|1\\.25[Ll])\\s*$"
    )]
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
pub(super) async fn add_pizza(
    State(s): State<AppState>,
    caller: Caller,
    Json(req): Json<NewPizza>,
) -> Result<(StatusCode, Json<MenuItem>)> {
    caller.require(&[Role::Admin])?;
    let size = crate::pizza::parse_any_size(&req.size).ok_or_else(|| {
        Error::Validation(format!(
            "size must be one of {}",
            crate::pizza::ALL_SIZES.join(", ")
        ))
    })?;
    check_price(req.price)?;
    let pizza_id = edit::add_pizza(
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
    /// Classic, Chicken, Supreme or Veggie for a pizza; Side; Drink (any case).
    #[schema(
        pattern = "^\\s*([Cc][Ll][Aa][Ss][Ss][Ii][Cc]|[Cc][Hh][Ii][Cc][Kk][Ee][Nn]|[Ss][Uu][Pp][Rr][Ee][Mm][Ee]|[Vv][Ee][Gg][Gg][Ii][Ee]|[Ss][Ii][Dd][Ee]|[Dd][Rr][Ii][Nn][Kk])\\s*$"
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
pub(super) async fn add_type(
    State(s): State<AppState>,
    caller: Caller,
    Json(req): Json<NewType>,
) -> Result<(StatusCode, Json<PizzaType>)> {
    caller.require(&[Role::Admin])?;
    let t = PizzaType::checked(&req.pizza_type_id, &req.pizza_nm, &req.pizza_categ)
        .map_err(Error::Validation)?;
    edit::add_type(&s.db, &caller.member_id, &t).await?;
    s.catalog.invalidate();
    tracing::info!(pizza_type.id = %t.pizza_type_id, by = %caller.member_id, "pizza type added");
    Ok((StatusCode::CREATED, Json(t)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BranchAvailability {
    /// `false`: sold out at this branch; `true`: on sale there again.
    pub available: bool,
}

/// A pizza at one branch.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AtBranch {
    pub pizza_id: String,
    pub bran_id: String,
    /// On sale at this branch: available everywhere and not sold out here.
    pub available: bool,
    /// Sold out at this branch (whatever the ADMIN set for every branch).
    pub sold_out_here: bool,
}

/// A branch id as the order service writes them.
fn branch_id(raw: &str) -> Result<&str> {
    let ok = (1..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(raw)
        .ok_or_else(|| Error::NotFound(format!("no branch '{raw}'")))
}

#[utoipa::path(put, path = "/menu/pizzas/{pizza_id}/branches/{bran_id}/", tag = "admin",
    security(("bearer" = [])),
    params(("pizza_id" = String, Path), ("bran_id" = String, Path)),
    request_body = BranchAvailability,
    responses(
        (status = 200, body = AtBranch, description = "The pizza at that branch, as orders there are now priced"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not STAFF/ADMIN, or STAFF bound to another branch"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such pizza"),
    ))]
pub(super) async fn set_branch_availability(
    State(s): State<AppState>,
    caller: Caller,
    Path((pizza_id, bran_id)): Path<(String, String)>,
    Json(req): Json<BranchAvailability>,
) -> Result<Json<AtBranch>> {
    caller.require(&[Role::Staff, Role::Admin])?;
    let bran_id = branch_id(&bran_id)?;
    caller.require_branch(bran_id)?;
    let changed =
        edit::set_branch_availability(&s.db, &caller.member_id, &pizza_id, bran_id, req.available)
            .await?;
    if let Some(version) = changed {
        tracing::info!(pizza.id = %pizza_id, bran.id = %bran_id, available = req.available, catalog_version = version, by = %caller.member_id, "branch availability changed");
    }
    let item = fresh_item(&s, &pizza_id).await?;
    Ok(Json(AtBranch {
        available: item.available && req.available,
        sold_out_here: !req.available,
        pizza_id,
        bran_id: bran_id.to_owned(),
    }))
}
