//! Prices come from the menu, never from the client: `MenuService/GetPrices` over gRPC, for
//! the order's branch, asked for every order (the menu answers from its database, as
//! committed), so no order is priced, or sold something sold out, from a copy older than a
//! change the menu has acknowledged.
//!
//! The answers are kept in `moka` per branch and pizza for one case only: the menu cannot be
//! reached. Every `catalog.updated` (from any menu replica) drops them on every order
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
    FindPizzasRequest, GetPricesRequest, PizzaName, menu_service_client::MenuServiceClient,
};
use tonic::{
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};
use tracing::Instrument;

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
    /// The last answers, per branch and pizza, for when the menu cannot be reached; `None`
    /// records an id the menu does not know.
    cache: Cache<(u64, String, String), Option<Arc<Price>>>,
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

    /// The price of each id at `bran_id` (`None` for ids the menu does not know), asked of the
    /// menu every time, in one batch: the menu answers as committed, so a price or a sold-out
    /// it has acknowledged prices every order asked after it (the race with a change is
    /// decided by when the lookup happens, never by a cache). Only when the menu cannot be
    /// reached are the last answers used — kept per branch, dropped on every
    /// `catalog.updated` — and then only if every id has one.
    pub async fn lookup(
        &self,
        ids: &[&str],
        bran_id: &str,
    ) -> Result<HashMap<String, Option<Arc<Price>>>> {
        let generation = self.generation.load(Ordering::Acquire);
        let key = |id: &str| (generation, bran_id.to_owned(), id.to_owned());
        let started = Instant::now();
        let mut req = tonic::Request::new(GetPricesRequest {
            pizza_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            bran_id: bran_id.to_owned(),
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
                let mut found = HashMap::with_capacity(ids.len());
                for id in ids {
                    match self.cache.get(&key(id)).await {
                        Some(p) => found.insert((*id).to_owned(), p),
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
        let mut found = HashMap::with_capacity(ids.len());
        for p in reply.prices {
            let stale = p.catalog_version < announced;
            let price = Some(Arc::new(Price {
                pizza_id: p.pizza_id.clone(),
                pizza_nm: p.pizza_nm,
                size: p.size,
                price: p.price,
                available: p.available,
                catalog_version: p.catalog_version,
            }));
            if stale {
                STALE_REPLIES.inc();
            } else {
                self.cache.insert(key(&p.pizza_id), price.clone()).await;
            }
            found.insert(p.pizza_id, price);
        }
        for id in reply.unknown_ids {
            self.cache.insert(key(&id), None).await;
            found.insert(id, None);
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
