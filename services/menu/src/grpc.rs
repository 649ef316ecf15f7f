//! `pizza.menu.v1.MenuService` — exact prices for the order service (`GetPrices`,
//! docs/contract.md §4) and pizzas by name and size (`FindPizzas`, for pizza_back's
//! clients), answered from the cached catalog snapshot.

use proto::menu::v1::{
    FindPizzasRequest, FindPizzasResponse, GetPricesRequest, GetPricesResponse, PizzaPrice,
    menu_service_server::MenuService,
};
use tonic::{Request, Response, Status};

use crate::catalog::CatalogCache;

/// More ids than any order can hold (50 lines); a bigger batch is a mistake.
const MAX_IDS: usize = 500;

pub struct MenuGrpc {
    catalog: CatalogCache,
}

impl MenuGrpc {
    pub fn new(catalog: CatalogCache) -> Self {
        Self { catalog }
    }
}

#[tonic::async_trait]
impl MenuService for MenuGrpc {
    #[tracing::instrument(skip_all, name = "GetPrices", fields(ids = request.get_ref().pizza_ids.len()))]
    async fn get_prices(
        &self,
        request: Request<GetPricesRequest>,
    ) -> Result<Response<GetPricesResponse>, Status> {
        let ids = request.into_inner().pizza_ids;
        if ids.len() > MAX_IDS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_IDS} ids per call"
            )));
        }
        let catalog = self.catalog.get().await.map_err(grpckit::status)?;
        let mut prices = Vec::with_capacity(ids.len());
        let mut unknown_ids = Vec::new();
        for id in ids {
            match catalog.item(&id) {
                Some(p) => prices.push(PizzaPrice {
                    pizza_id: p.pizza_id.clone(),
                    price: p.price,
                    available: p.available,
                    pizza_nm: p.pizza_nm.clone(),
                    size: p.size.clone(),
                    catalog_version: catalog.version,
                }),
                None => unknown_ids.push(id),
            }
        }
        Ok(Response::new(GetPricesResponse {
            prices,
            unknown_ids,
            catalog_version: catalog.version,
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
