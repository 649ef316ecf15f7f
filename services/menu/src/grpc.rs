//! `pizza.menu.v1.MenuService` — exact prices for the order service (`GetPrices`,
//! docs/contract.md §4), read from the database as committed (one indexed query), so that a
//! price or a sold-out the menu has acknowledged prices every order asked after it, on every
//! replica; and pizzas by name and size (`FindPizzas`, for pizza_back's clients), answered
//! from the cached catalog snapshot.

use std::collections::{HashMap, HashSet};

use proto::menu::v1::{
    FindPizzasRequest, FindPizzasResponse, GetPricesRequest, GetPricesResponse, LinePrice,
    OptionPrice, PizzaPrice, menu_service_server::MenuService,
};
use tonic::{Request, Response, Status};

use sqlx::PgPool;

use crate::{catalog::CatalogCache, db, options};

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
        let GetPricesRequest {
            mut pizza_ids,
            bran_id,
            lines,
        } = request.into_inner();
        if pizza_ids.len() > MAX_IDS || lines.len() > MAX_IDS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_IDS} ids per call"
            )));
        }
        let bran_id = Some(bran_id.trim()).filter(|b| !b.is_empty());
        if lines.is_empty() {
            let (version, rows) = db::prices(&self.db, &pizza_ids, bran_id)
                .await
                .map_err(grpckit::status)?;
            return Ok(Response::new(answer(version, rows, pizza_ids, vec![])));
        }
        for l in &lines {
            if !pizza_ids.contains(&l.pizza_id) {
                pizza_ids.push(l.pizza_id.clone());
            }
        }
        let asked: Vec<String> = lines
            .iter()
            .flat_map(|l| l.option_ids.iter().cloned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if asked.len() > MAX_IDS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_IDS} options per call"
            )));
        }
        let quote = db::quote(&self.db, &pizza_ids, bran_id, &asked)
            .await
            .map_err(grpckit::status)?;
        let offered = options::groups_by_owner(quote.groups, &quote.options);
        let known: HashMap<String, options::ItemOption> = quote
            .options
            .into_iter()
            .map(|o| (o.option_id.clone(), o))
            .collect();
        let names: HashMap<&str, &str> = quote
            .prices
            .iter()
            .map(|p| (p.pizza_id.as_str(), p.pizza_nm.as_str()))
            .collect();
        let priced = lines
            .iter()
            .map(|l| {
                let Some(name) = names.get(l.pizza_id.as_str()) else {
                    // Reported in unknown_ids.
                    return LinePrice {
                        pizza_id: l.pizza_id.clone(),
                        ..Default::default()
                    };
                };
                let groups = offered.get(&l.pizza_id).map(Vec::as_slice).unwrap_or(&[]);
                let asked = l.options_given.then_some(l.option_ids.as_slice());
                match options::resolve(name, groups, asked, &known) {
                    Ok(chosen) => LinePrice {
                        pizza_id: l.pizza_id.clone(),
                        options: chosen
                            .into_iter()
                            .map(|o| OptionPrice {
                                option_id: o.option_id,
                                group_id: o.group_id,
                                name: o.name_ko,
                                price_delta: o.price_delta,
                            })
                            .collect(),
                        ..Default::default()
                    },
                    Err(refused) => LinePrice {
                        pizza_id: l.pizza_id.clone(),
                        options: vec![],
                        problem: refused.problem,
                        group_id: refused.group_id,
                    },
                }
            })
            .collect();
        Ok(Response::new(answer(
            quote.version,
            quote.prices,
            pizza_ids,
            priced,
        )))
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

/// The reply: the prices found, the ids that were not, the lines.
fn answer(
    version: i64,
    rows: Vec<db::PriceRow>,
    pizza_ids: Vec<String>,
    lines: Vec<LinePrice>,
) -> GetPricesResponse {
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
    GetPricesResponse {
        prices,
        unknown_ids,
        catalog_version: version,
        lines,
    }
}
