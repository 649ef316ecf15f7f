//! pizza_back's menu API (`/api/menu/…`), for its old front end during the switch: the same
//! catalog snapshot as `/menu`, in pizza_back's shapes. Errors are `{"detail": …}`
//! ([`httpkit::legacy`]).

use axum::extract::State;
use httpkit::{Error, Json, LegacyRoutes, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{AppState, pizza};

pub static ROUTES: LegacyRoutes = LegacyRoutes {
    service: "menu",
    successors: &[
        ("/api/menu", "/menu/"),
        ("/api/menu/types", "/menu/types/"),
        ("/api/menu/get_pizza_id", "/menu/get_pizza_id/"),
    ],
    unauthorized: "unauthorized",
};

/// One pizza on sale, as pizza_back listed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyPizza {
    #[schema(example = "bbq_ckn_s")]
    pizza_id: String,
    /// pizza_back's name for the type's name (a Django lookup path).
    #[serde(rename = "pizza_type__pizza_nm")]
    #[schema(example = "The Barbecue Chicken Pizza")]
    pizza_nm: String,
    #[schema(example = "S")]
    size: String,
    /// Whole won, as a JSON number.
    #[schema(example = 17800)]
    price: i64,
}

/// One pizza type, as pizza_back listed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyType {
    pizza_type_id: String,
    pizza_nm: String,
    pizza_categ: String,
    /// Relative to the site root, without a leading slash: the old page shows
    /// `'./' + pizza_img_url`.
    #[schema(example = "menu/images/bbq_ckn.svg")]
    pizza_img_url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LegacyPizzaIdRequest {
    #[schema(example = "The Barbecue Chicken Pizza")]
    pizza_nm: Option<String>,
    #[schema(example = "M")]
    size: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyPizzaId {
    pizza_id: String,
}

#[deprecated = "pizza_back's API: use GET /menu/"]
#[utoipa::path(get, path = "/api/menu/", tag = "legacy", operation_id = "legacy_menu",
    responses((status = 200, body = Vec<LegacyPizza>, description = "Every pizza on sale (sold-out ones are left out: the old client cannot show them; so are sides and drinks, which it cannot order)")))]
pub(super) async fn menu(State(s): State<AppState>) -> Result<Json<Vec<LegacyPizza>>> {
    let c = s.catalog.get().await?;
    Ok(Json(
        c.items
            .iter()
            // Its front end knows pizzas and their sizes only: sides and drinks stay out.
            .filter(|p| p.available && p.kind == "pizza")
            .map(|p| LegacyPizza {
                pizza_id: p.pizza_id.clone(),
                pizza_nm: p.pizza_nm.clone(),
                size: p.size.clone(),
                price: p.price,
            })
            .collect(),
    ))
}

#[deprecated = "pizza_back's API: use GET /menu/types/"]
#[utoipa::path(get, path = "/api/menu/types/", tag = "legacy", operation_id = "legacy_types",
    responses((status = 200, body = Vec<LegacyType>)))]
pub(super) async fn types(State(s): State<AppState>) -> Result<Json<Vec<LegacyType>>> {
    let c = s.catalog.get().await?;
    Ok(Json(
        c.types
            .iter()
            .filter(|t| t.kind == "pizza")
            .map(|t| LegacyType {
                pizza_type_id: t.pizza_type_id.clone(),
                pizza_nm: t.pizza_nm.clone(),
                pizza_categ: t.pizza_categ.clone(),
                pizza_img_url: t.pizza_img_url.trim_start_matches('/').to_owned(),
            })
            .collect(),
    ))
}

#[deprecated = "pizza_back's API: use POST /menu/get_pizza_id/"]
#[utoipa::path(post, path = "/api/menu/get_pizza_id/", tag = "legacy", operation_id = "legacy_get_pizza_id",
    request_body = LegacyPizzaIdRequest,
    responses(
        (status = 200, body = LegacyPizzaId),
        (status = 400, body = httpkit::doc::LegacyError, description = "No or a malformed body, or a field missing"),
        (status = 404, body = httpkit::doc::LegacyError, description = "`not found`: no such pizza in that size"),
    ))]
pub(super) async fn get_pizza_id(
    State(s): State<AppState>,
    Json(req): Json<LegacyPizzaIdRequest>,
) -> Result<Json<LegacyPizzaId>> {
    let (Some(name), Some(size)) = (req.pizza_nm, req.size) else {
        return Err(Error::Validation("missing fields".into()));
    };
    let not_found = || Error::NotFound("not found".into());
    let size = pizza::parse_size(&size).ok_or_else(not_found)?;
    let c = s.catalog.get().await?;
    let item = c.find(&name, size).ok_or_else(not_found)?;
    Ok(Json(LegacyPizzaId {
        pizza_id: item.pizza_id.clone(),
    }))
}
