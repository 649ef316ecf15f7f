//! Prices come from the menu, never from the client: `MenuService/GetPrices` over gRPC, for
//! the order's branch, asked for every order (the menu answers from its database, as
//! committed), so no order is priced, or sold something sold out, from a copy older than a
//! change the menu has acknowledged.
//!
//! Options too: each line's choice goes with the call (`lines`), and the menu answers the
//! options the line gets with their prices, or the group the choice breaks; the order
//! service never prices an option itself.
//!
//! The answers are kept in `moka` per branch and line (pizza and choice) for one case only:
//! the menu cannot be reached. Every `catalog.updated` (from any menu replica) drops them on every order
//! replica — a broadcast subscription per process. As in the menu, the cache key carries a
//! generation bumped by each invalidation, so an answer fetched before a change and stored
//! after it is never used. A reconnect to NATS drops everything; `PRICE_CACHE_TTL` bounds
//! their age should an event be lost.
//!
//! Calls have a deadline: with the menu down, an order whose prices were never answered
//! fails fast with 503 and writes nothing.

use std::{
    collections::HashMap,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use authclient::CACHE_REQUESTS;
use events::CatalogEvent;
use moka::future::Cache;
use outbox::Broadcast;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, Opts};
use proto::menu::v1::{
    FindPizzasRequest, GetPricesRequest, LineChoice, PizzaName,
    menu_service_client::MenuServiceClient,
};
use serde::{Deserialize, Serialize};
use tonic::{
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};
use tracing::Instrument;
use utoipa::ToSchema;

use httpkit::{Error, Result};

/// A pizza as the menu sells it right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub pizza_id: String,
    pub pizza_nm: String,
    pub size: String,
    pub price: i64,
    pub available: bool,
    pub catalog_version: i64,
}

/// An option of a line, as the menu priced it when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChosenOption {
    #[schema(example = "crust_cheese_edge")]
    pub option_id: String,
    /// As the receipt and the kitchen show it.
    #[schema(example = "치즈 크러스트")]
    pub name: String,
    /// Included in the line's `unit_price`, whole won.
    #[schema(example = 3000)]
    pub price_delta: i64,
}

/// A line as asked: its pizza and, if the customer named them, its options.
#[derive(Debug, Clone, Copy)]
pub struct LineAsk<'a> {
    pub pizza_id: &'a str,
    /// `None`: the line names no options and gets each required group's default.
    pub options: Option<&'a [String]>,
}

impl LineAsk<'_> {
    /// The line's key in the fallback cache: its pizza and its choice.
    fn key(&self) -> String {
        match self.options {
            None => self.pizza_id.to_owned(),
            Some(o) => format!("{}|{}", self.pizza_id, o.join(",")),
        }
    }
}

/// Why the menu refused a line's choice: the group (empty for an unknown option) and what is
/// wrong, naming it, for the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub group_id: String,
    pub problem: String,
}

/// A line as the menu answered it: its pizza (`None`: the menu has no such pizza) and its
/// options, or why they were refused.
#[derive(Debug, Clone)]
pub struct Quoted {
    pub price: Option<Arc<Price>>,
    pub options: Result<Vec<ChosenOption>, Refusal>,
}

static GRPC_LATENCY: LazyLock<HistogramVec> = LazyLock::new(|| {
    telemetry::register(
        HistogramVec::new(
            HistogramOpts::new(
                "order_get_prices_duration_seconds",
                "GetPrices call latency",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
            &["code"],
        )
        .expect("valid histogram"),
    )
});

/// The cache's counters, looked up once (every order line counts one).
static PRICE_HITS: LazyLock<IntCounter> =
    LazyLock::new(|| CACHE_REQUESTS.with_label_values(&["prices", "hit"]));
static PRICE_MISSES: LazyLock<IntCounter> =
    LazyLock::new(|| CACHE_REQUESTS.with_label_values(&["prices", "miss"]));

static STALE_REPLIES: LazyLock<IntCounter> = LazyLock::new(|| {
    telemetry::register(
        IntCounter::with_opts(Opts::new(
            "order_stale_price_replies_total",
            "GetPrices replies older than the newest announced catalog version (used, not cached)",
        ))
        .expect("valid counter"),
    )
});

#[derive(Clone)]
pub struct Prices {
    grpc: MenuServiceClient<InterceptedService<Channel, grpckit::Propagate>>,
    /// The last answers, per branch and line, for when the menu cannot be reached.
    cache: Cache<(u64, String, String), Arc<Quoted>>,
    generation: Arc<AtomicU64>,
    /// The newest catalog version `catalog.updated` has announced. A reply older than that
    /// came from a menu replica that has not taken the change in yet (the event reaches the
    /// replicas in no particular order): it prices this order but is not cached, or the old
    /// price would stay for a whole `PRICE_CACHE_TTL`.
    announced: Arc<AtomicI64>,
    timeout: Duration,
}

impl Prices {
    pub fn new(url: &str, timeout: Duration, ttl: Duration) -> Result<Self, String> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| format!("MENU_GRPC_URL is not a valid URL: {e}"))?
            .connect_timeout(timeout)
            .timeout(timeout)
            .tcp_nodelay(true);
        // Exposed from the start (at 0), so dashboards see them before the first order.
        for counter in [&PRICE_HITS, &PRICE_MISSES, &STALE_REPLIES] {
            LazyLock::force(counter);
        }
        Ok(Self {
            grpc: MenuServiceClient::with_interceptor(endpoint.connect_lazy(), grpckit::Propagate),
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
            generation: Arc::new(AtomicU64::new(0)),
            announced: Arc::new(AtomicI64::new(0)),
            timeout,
        })
    }

    /// Each line priced at `bran_id`, in order, asked of the menu every time, in one batch:
    /// the menu answers as committed, so a price, an option's price or a sold-out it has
    /// acknowledged prices every order asked after it (the race with a change is decided by
    /// when the lookup happens, never by a cache). Only when the menu cannot be reached are
    /// the last answers used — kept per branch and line, dropped on every `catalog.updated` —
    /// and then only if every line has one.
    pub async fn lookup(&self, lines: &[LineAsk<'_>], bran_id: &str) -> Result<Vec<Quoted>> {
        let generation = self.generation.load(Ordering::Acquire);
        let key = |l: &LineAsk<'_>| (generation, bran_id.to_owned(), l.key());
        let started = Instant::now();
        let mut pizza_ids: Vec<String> = vec![];
        for l in lines {
            if !pizza_ids.iter().any(|id| id == l.pizza_id) {
                pizza_ids.push(l.pizza_id.to_owned());
            }
        }
        let mut req = tonic::Request::new(GetPricesRequest {
            pizza_ids,
            bran_id: bran_id.to_owned(),
            lines: lines
                .iter()
                .map(|l| LineChoice {
                    pizza_id: l.pizza_id.to_owned(),
                    options_given: l.options.is_some(),
                    option_ids: l.options.map(<[String]>::to_vec).unwrap_or_default(),
                })
                .collect(),
        });
        req.set_timeout(self.timeout);
        let result = self
            .grpc
            .clone()
            .get_prices(req)
            .instrument(grpckit::client_span("GetPrices"))
            .await;
        let code = result
            .as_ref()
            .map_or_else(|s| s.code(), |_| tonic::Code::Ok);
        GRPC_LATENCY
            .with_label_values(&[&format!("{code:?}")])
            .observe(started.elapsed().as_secs_f64());
        let reply = match result {
            Ok(reply) => reply.into_inner(),
            Err(s) => {
                tracing::warn!(code = ?s.code(), message = s.message(), "GetPrices failed");
                let mut found = Vec::with_capacity(lines.len());
                for l in lines {
                    match self.cache.get(&key(l)).await {
                        Some(q) => found.push(Quoted::clone(&q)),
                        None => {
                            PRICE_MISSES.inc();
                            return Err(Error::DependencyDown(
                                "prices are unavailable right now; try again",
                            ));
                        }
                    };
                }
                PRICE_HITS.inc();
                return Ok(found);
            }
        };
        let announced = self.announced.load(Ordering::Acquire);
        let stale = reply.catalog_version < announced;
        if stale {
            STALE_REPLIES.inc();
        }
        let prices: HashMap<String, Arc<Price>> = reply
            .prices
            .into_iter()
            .map(|p| {
                let price = Arc::new(Price {
                    pizza_id: p.pizza_id.clone(),
                    pizza_nm: p.pizza_nm,
                    size: p.size,
                    price: p.price,
                    available: p.available,
                    catalog_version: p.catalog_version,
                });
                (p.pizza_id, price)
            })
            .collect();
        // A menu of the previous release answers no lines: it can price a line that names
        // no options (the defaults add nothing to the seed's prices) but not a choice.
        let old_menu = reply.lines.len() != lines.len();
        let mut answered = reply.lines.into_iter();
        let mut found = Vec::with_capacity(lines.len());
        for l in lines {
            let options = match (old_menu, answered.next()) {
                (false, Some(line)) if !line.problem.is_empty() => Err(Refusal {
                    group_id: line.group_id,
                    problem: line.problem,
                }),
                (false, Some(line)) => Ok(line
                    .options
                    .into_iter()
                    .map(|o| ChosenOption {
                        option_id: o.option_id,
                        name: o.name,
                        price_delta: o.price_delta,
                    })
                    .collect()),
                _ if l.options.is_none() => Ok(vec![]),
                _ => {
                    return Err(Error::DependencyDown(
                        "options cannot be priced right now; try again",
                    ));
                }
            };
            let quoted = Quoted {
                price: prices.get(l.pizza_id).cloned(),
                options,
            };
            if !stale && !old_menu {
                self.cache.insert(key(l), Arc::new(quoted.clone())).await;
            }
            found.push(quoted);
        }
        Ok(found)
    }

    /// The id of each pizza named by its type's name and its size (pizza_back's clients name
    /// pizzas so), `None` for those the menu does not have; one uncached call to the menu.
    pub async fn find(&self, names: &[(String, String)]) -> Result<Vec<Option<String>>> {
        let mut req = tonic::Request::new(FindPizzasRequest {
            pizzas: names
                .iter()
                .map(|(pizza_nm, size)| PizzaName {
                    pizza_nm: pizza_nm.clone(),
                    size: size.clone(),
                })
                .collect(),
        });
        req.set_timeout(self.timeout);
        let reply = self
            .grpc
            .clone()
            .find_pizzas(req)
            .instrument(grpckit::client_span("FindPizzas"))
            .await
            .map_err(|s| {
                tracing::warn!(code = ?s.code(), message = s.message(), "FindPizzas failed");
                Error::DependencyDown("the menu is unavailable right now; try again")
            })?
            .into_inner();
        if reply.pizza_ids.len() != names.len() {
            return Err(Error::Internal(anyhow::anyhow!(
                "FindPizzas answered {} ids for {} pizzas",
                reply.pizza_ids.len(),
                names.len()
            )));
        }
        Ok(reply
            .pizza_ids
            .into_iter()
            .map(|id| (!id.is_empty()).then_some(id))
            .collect())
    }

    /// Drops every cached price.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
    }

    /// The broadcast subscription to `catalog.updated` that keeps this cache honest.
    pub fn subscription(&self) -> Broadcast<CatalogEvent> {
        let on_event = self.clone();
        let on_reset = self.clone();
        Broadcast::new(
            Arc::new(move |e| {
                let CatalogEvent::Updated(u) = &e.event;
                on_event
                    .announced
                    .fetch_max(u.catalog_version, Ordering::AcqRel);
                on_event.invalidate();
            }),
            Arc::new(move || on_reset.invalidate()),
        )
    }
}
