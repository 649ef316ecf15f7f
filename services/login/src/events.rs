//! Events login emits (DESIGN §5): `auth.session_revoked` on stream `AUTH`.

use outbox::StreamSpec;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Result;

pub const SESSION_REVOKED: &str = "auth.session_revoked";

/// `session_id: null` means every session of the member (a deleted member, say).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRevoked {
    pub member_id: String,
    pub session_id: Option<Uuid>,
}

/// The streams login publishes to; the relay creates them if missing.
pub fn streams() -> Vec<StreamSpec> {
    vec![StreamSpec {
        name: "AUTH",
        subjects: vec!["auth.>"],
    }]
}

pub async fn session_revoked(
    conn: &mut PgConnection,
    member_id: &str,
    session_id: Option<Uuid>,
) -> Result<()> {
    let data = SessionRevoked {
        member_id: member_id.to_owned(),
        session_id,
    };
    outbox::enqueue(conn, SESSION_REVOKED, &data).await?;
    Ok(())
}
