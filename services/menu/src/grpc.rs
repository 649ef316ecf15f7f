//! `pizza.menu.v1.MenuService` — exact prices for the order service (`GetPrices`,
//! docs/contract.md §4), read from the database as committed (one indexed query), so that a
//! price or a sold-out the menu has acknowledged prices every order asked after it, on every
//! replica; and pizzas by name and size (`FindPizzas`, for pizza_back's clients), answered
//! from the cached catalog snapshot.

use proto::menu::v1::{
    FindPizzasRequest, FindPizzasResponse, GetPricesRequest, GetPricesResponse, PizzaPrice,
    menu_service_server::MenuService,
};
use tonic::{Request, Response, Status};

use sqlx::PgPool;

use crate::{catalog::CatalogCache, db};

/// More ids than any order can hold (50 lines); a bigger batch is a mistake.
const MAX_IDS: usize = 500;

pub struct MenuGrpc {
    catalog: CatalogCache,
    db: PgPool,
}

impl MenuGrpc {
    pub fn new(catalog: CatalogCache, db: PgPool) -> Self {
        Self { catalog, db }
    }
}

#[tonic::async_trait]
impl MenuService for MenuGrpc {
    #[tracing::instrument(skip_all, name = "GetPrices", fields(ids = request.get_ref().pizza_ids.len()))]
    async fn get_prices(
        &self,
        request: Request<GetPricesRequest>,
    ) -> Result<Response<GetPricesResponse>, Status> {
        let GetPricesRequest { pizza_ids, bran_id } = request.into_inner();
        if pizza_ids.len() > MAX_IDS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_IDS} ids per call"
            )));
        }
        let bran_id = Some(bran_id.trim()).filter(|b| !b.is_empty());
        let (version, rows) = db::prices(&self.db, &pizza_ids, bran_id)
            .await
            .map_err(grpckit::status)?;
        let prices: Vec<PizzaPrice> = rows
            .into_iter()
            .map(|p| PizzaPrice {
                pizza_id: p.pizza_id,
                price: p.price,
                available: p.available,
                pizza_nm: p.pizza_nm,
                size: p.size,
                catalog_version: version,
            })
            .collect();
        let unknown_ids = pizza_ids
            .into_iter()
            .filter(|id| !prices.iter().any(|p| p.pizza_id == *id))
            .collect();
        Ok(Response::new(GetPricesResponse {
            prices,
            unknown_ids,
            catalog_version: version,
        }))
    }

    #[tracing::instrument(skip_all, name = "FindPizzas", fields(pizzas = request.get_ref().pizzas.len()))]
    async fn find_pizzas(
        &self,
        request: Request<FindPizzasRequest>,
    ) -> Result<Response<FindPizzasResponse>, Status> {
        let pizzas = request.into_inner().pizzas;
        if pizzas.len() > MAX_IDS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_IDS} pizzas per call"
            )));
        }
        let catalog = self.catalog.get().await.map_err(grpckit::status)?;
        let pizza_ids = pizzas
            .iter()
            .map(|p| {
                crate::pizza::parse_size(&p.size)
                    .and_then(|size| catalog.find(&p.pizza_nm, size))
                    .map(|item| item.pizza_id.clone())
                    .unwrap_or_default()
            })
            .collect();
        Ok(Response::new(FindPizzasResponse { pizza_ids }))
    }
}
