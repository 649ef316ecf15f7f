//! Everything that changes a member or a session, each in one transaction: the HTTP
//! handlers and the operator commands call these, never `db` writes directly. A session that
//! ends writes `auth.session_revoked` in the same transaction (through [`db`]), so every
//! cache of its tokens drops them. Social login's members, provider accounts and flows are
//! written by `crate::social::store`, each change in one transaction too.

use std::time::Duration;

use authclient::Role;
use httpkit::Result;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::{self, Refresh};

/// A new member; `false` (nothing written) when the id is taken.
pub async fn register(
    db: &PgPool,
    member_id: &str,
    member_nm: &str,
    pwd_hash: &str,
    role: Role,
    bran_id: Option<&str>,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    let created = db::insert_member(&mut tx, member_id, member_nm, pwd_hash, role, bran_id).await?;
    tx.commit().await?;
    Ok(created)
}

/// A session for a member who proved its password, with its first refresh token, and the
/// device it logged in from when that one is new (its token's hash), in one transaction.
pub async fn start_session(
    db: &PgPool,
    member_id: &str,
    refresh_hash: &[u8],
    refresh_ttl: Duration,
    new_device: Option<&[u8]>,
) -> Result<Uuid> {
    let mut tx = db.begin().await?;
    let session_id = db::create_session(&mut tx, member_id, refresh_hash, refresh_ttl).await?;
    if let Some(device_hash) = new_device {
        crate::throttle::remember_device(&mut tx, member_id, device_hash).await?;
    }
    tx.commit().await?;
    Ok(session_id)
}

/// Ends a session everywhere; `false` when it was not live.
pub async fn end_session(db: &PgPool, session_id: Uuid, reason: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let ended = db::revoke_session(&mut tx, session_id, reason).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Exchanges a refresh token for the next. Commits in every case: a detected reuse must
/// keep the revocation of the whole family.
pub async fn rotate(
    db: &PgPool,
    presented_hash: &[u8],
    next_hash: &[u8],
    refresh_ttl: Duration,
) -> Result<Refresh> {
    let mut tx = db.begin().await?;
    let outcome = db::rotate_refresh_token(&mut tx, presented_hash, next_hash, refresh_ttl).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// A new password; every other session of the member ends.
pub async fn change_password(
    db: &PgPool,
    member_id: &str,
    pwd_hash: &str,
    keep: Uuid,
) -> Result<()> {
    let mut tx = db.begin().await?;
    db::set_password(&mut tx, member_id, pwd_hash).await?;
    db::revoke_member_sessions(&mut tx, member_id, Some(keep), "password changed").await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces a pizza_back hash by argon2id after a login proved the password. Sessions stay:
/// nothing about the credential changed but its storage.
pub async fn replace_legacy_hash(db: &PgPool, member_id: &str, pwd_hash: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    db::set_password(&mut tx, member_id, pwd_hash).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a member (named in any case) and ends all its sessions; `false` when there is
/// no such member.
pub async fn delete_member(db: &PgPool, member_id: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let Some(member_id) = db::canonical_id(&mut tx, member_id).await? else {
        return Ok(false);
    };
    db::revoke_member_sessions(&mut tx, &member_id, None, "member deleted").await?;
    // One more event naming no session: "every session of this member".
    db::announce_revocation(&mut tx, &member_id, None).await?;
    db::delete_member(&mut tx, &member_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// A new role (and branch binding) for a member named in any case; the member's sessions
/// end, so it takes effect at the next login. `false` when there is no such member.
pub async fn set_role(
    db: &PgPool,
    member_id: &str,
    role: Role,
    bran_id: Option<&str>,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    let Some(member_id) = db::canonical_id(&mut tx, member_id).await? else {
        return Ok(false);
    };
    db::set_role(&mut tx, &member_id, role, bran_id).await?;
    db::revoke_member_sessions(&mut tx, &member_id, None, "role changed").await?;
    tx.commit().await?;
    Ok(true)
}
