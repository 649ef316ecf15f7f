//! Stream `BRANCHES`, written by order: a branch's store settings changed — its opening
//! hours or pause, or one of its dine-in tables.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Stream};

pub const UPDATED: &str = "branch.updated";
pub const TABLE_CHANGED: &str = "branch.table_changed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum BranchEvent {
    /// Its hours or its pause changed: every copy of the branch list is stale.
    #[serde(rename = "branch.updated")]
    Updated(BranchUpdated),
    /// A table was created, renamed or retired: every copy of what its token names is stale.
    #[serde(rename = "branch.table_changed")]
    TableChanged(TableChanged),
}

impl Event for BranchEvent {
    const STREAM: Stream = Stream {
        name: "BRANCHES",
        subjects: "branch.>",
    };

    fn subject(&self) -> &'static str {
        match self {
            BranchEvent::Updated(_) => UPDATED,
            BranchEvent::TableChanged(_) => TABLE_CHANGED,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchUpdated {
    pub bran_id: String,
    /// Staff paused new orders (until `paused_until`, or until resumed).
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChanged {
    pub bran_id: String,
    pub table_id: Uuid,
    pub label: String,
    /// Retired: its token orders nothing any more.
    pub retired: bool,
}

#[cfg(test)]
pub(crate) fn examples() -> Vec<BranchEvent> {
    vec![
        BranchEvent::Updated(BranchUpdated {
            bran_id: "gangnam".into(),
            paused: true,
            paused_until: Some("2026-12-03T06:00:00Z".parse().unwrap()),
        }),
        BranchEvent::TableChanged(TableChanged {
            bran_id: "gangnam".into(),
            table_id: Uuid::now_v7(),
            label: "7".into(),
            retired: false,
        }),
    ]
}
