//! Stream `AUTH`, written by login.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Stream};

pub const SESSION_REVOKED: &str = "auth.session_revoked";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AuthEvent {
    /// A session ended before its tokens expired (logout, reused refresh token, password or
    /// role change, deleted member): caches of its token verifications must drop them.
    #[serde(rename = "auth.session_revoked")]
    SessionRevoked(SessionRevoked),
}

impl Event for AuthEvent {
    const STREAM: Stream = Stream {
        name: "AUTH",
        subjects: "auth.>",
    };

    fn subject(&self) -> &'static str {
        match self {
            AuthEvent::SessionRevoked(_) => SESSION_REVOKED,
        }
    }
}

/// `session_id: None` means every session of the member (a deleted member, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRevoked {
    pub member_id: String,
    pub session_id: Option<Uuid>,
}

#[cfg(test)]
pub(crate) fn examples() -> Vec<AuthEvent> {
    vec![
        AuthEvent::SessionRevoked(SessionRevoked {
            member_id: "kim_minji".into(),
            session_id: Some(Uuid::now_v7()),
        }),
        AuthEvent::SessionRevoked(SessionRevoked {
            member_id: "kim_minji".into(),
            session_id: None,
        }),
    ]
}
