//! Stream `CATALOG`, written by menu.

use serde::{Deserialize, Serialize};

use crate::{Event, Stream};

pub const UPDATED: &str = "catalog.updated";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CatalogEvent {
    /// The catalog changed: every cache of it (the served menu, prices) is stale.
    #[serde(rename = "catalog.updated")]
    Updated(CatalogUpdated),
}

impl Event for CatalogEvent {
    const STREAM: Stream = Stream {
        name: "CATALOG",
        subjects: "catalog.>",
    };

    fn subject(&self) -> &'static str {
        match self {
            CatalogEvent::Updated(_) => UPDATED,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogUpdated {
    /// Increases with every change, in commit order.
    pub catalog_version: i64,
    /// The pizzas whose price or availability changed, or that were added (empty when only a
    /// type was added).
    pub pizza_ids: Vec<String>,
    /// Set when the change was to one branch only (a pizza sold out there, or back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bran_id: Option<String>,
}

#[cfg(test)]
pub(crate) fn examples() -> Vec<CatalogEvent> {
    vec![CatalogEvent::Updated(CatalogUpdated {
        catalog_version: 42,
        pizza_ids: vec!["hawaiian_l".into(), "bbq_ckn_m".into()],
        bran_id: None,
    })]
}
