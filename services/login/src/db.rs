//! SQL of the login schema, as free functions. Functions that change sessions take the
//! caller's transaction and write the `auth.session_revoked` event into the outbox in it.

use std::time::Duration;

use authclient::Role;
use events::{AuthEvent, auth::SessionRevoked};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use httpkit::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    pub member_id: String,
    pub member_nm: String,
    pub role: Role,
    pub bran_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Inserts a member; `false` when the id is taken, in any case (`member_id_lower`).
pub async fn insert_member(
    conn: &mut PgConnection,
    member_id: &str,
    member_nm: &str,
    pwd_hash: &str,
    role: Role,
    bran_id: Option<&str>,
) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO member (member_id, member_nm, member_pwd, role, bran_id) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(member_id)
    .bind(member_nm)
    .bind(pwd_hash)
    .bind(role)
    .bind(bran_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The id as stored of the member an operator names: the exact id if there is one, else the
/// one that differs only by case.
pub async fn canonical_id(conn: &mut PgConnection, member_id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT member_id FROM member WHERE lower(member_id) = lower($1) \
         ORDER BY member_id = $1 DESC LIMIT 1 FOR UPDATE",
    )
    .bind(member_id)
    .fetch_optional(conn)
    .await?)
}

#[derive(sqlx::FromRow)]
struct Credentials {
    member_pwd: Option<String>,
    #[sqlx(flatten)]
    member: Member,
}

/// The stored hash (none for a member made by a social login) and the member, for a login:
/// the id in any case.
pub async fn credentials(
    pool: &PgPool,
    member_id: &str,
) -> Result<Option<(Option<String>, Member)>> {
    let row: Option<Credentials> = sqlx::query_as(
        "SELECT member_pwd, member_id, member_nm, role, bran_id, created_at \
         FROM member WHERE lower(member_id) = lower($1)",
    )
    .bind(member_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|c| (c.member_pwd, c.member)))
}

pub async fn set_password(conn: &mut PgConnection, member_id: &str, pwd_hash: &str) -> Result<()> {
    sqlx::query("UPDATE member SET member_pwd = $2, updated_at = now() WHERE member_id = $1")
        .bind(member_id)
        .bind(pwd_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Opens a session with its first refresh token (given as its hash).
pub async fn create_session(
    conn: &mut PgConnection,
    member_id: &str,
    refresh_hash: &[u8],
    ttl: Duration,
) -> Result<Uuid> {
    let session_id = Uuid::now_v7();
    let secs = ttl.as_secs_f64();
    sqlx::query(
        "INSERT INTO session (session_id, member_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(session_id)
    .bind(member_id)
    .bind(secs)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO refresh_token (token_hash, session_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(refresh_hash)
    .bind(session_id)
    .bind(secs)
    .execute(&mut *conn)
    .await?;
    Ok(session_id)
}

/// A session that is neither revoked nor expired, with its member as it is now (so a role
/// change or a deletion takes effect at once).
pub async fn live_session(pool: &PgPool, session_id: Uuid) -> Result<Option<Member>> {
    Ok(sqlx::query_as(
        "SELECT m.member_id, m.member_nm, m.role, m.bran_id, m.created_at \
         FROM session s JOIN member m ON m.member_id = s.member_id \
         WHERE s.session_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()",
    )
    .bind(session_id)
    .fetch_optional(pool)
    .await?)
}

/// Revokes one session and writes `auth.session_revoked`; `false` if it was not live.
pub async fn revoke_session(
    conn: &mut PgConnection,
    session_id: Uuid,
    reason: &str,
) -> Result<bool> {
    let member: Option<String> = sqlx::query_scalar(
        "UPDATE session SET revoked_at = now(), revoke_reason = $2 \
         WHERE session_id = $1 AND revoked_at IS NULL RETURNING member_id",
    )
    .bind(session_id)
    .bind(reason)
    .fetch_optional(&mut *conn)
    .await?;
    match member {
        Some(member_id) => {
            announce_revocation(conn, &member_id, Some(session_id)).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Revokes every live session of a member but `except`; one event per session.
pub async fn revoke_member_sessions(
    conn: &mut PgConnection,
    member_id: &str,
    except: Option<Uuid>,
    reason: &str,
) -> Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE session SET revoked_at = now(), revoke_reason = $3 \
         WHERE member_id = $1 AND revoked_at IS NULL \
           AND ($2::uuid IS NULL OR session_id <> $2) \
         RETURNING session_id",
    )
    .bind(member_id)
    .bind(except)
    .bind(reason)
    .fetch_all(&mut *conn)
    .await?;
    for id in &ids {
        announce_revocation(conn, member_id, Some(*id)).await?;
    }
    Ok(ids)
}

/// Deletes a member (its sessions and refresh tokens go with it); `false` if there was none.
pub async fn delete_member(conn: &mut PgConnection, member_id: &str) -> Result<bool> {
    let gone = sqlx::query("DELETE FROM member WHERE member_id = $1")
        .bind(member_id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(gone == 1)
}

/// `false` if there is no such member.
pub async fn set_role(
    conn: &mut PgConnection,
    member_id: &str,
    role: Role,
    bran_id: Option<&str>,
) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE member SET role = $2, bran_id = $3, updated_at = now() WHERE member_id = $1",
    )
    .bind(member_id)
    .bind(role)
    .bind(bran_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Writes `auth.session_revoked` in the caller's transaction; `None` means every session of
/// the member.
pub async fn announce_revocation(
    conn: &mut PgConnection,
    member_id: &str,
    session_id: Option<Uuid>,
) -> Result<()> {
    let revoked = SessionRevoked {
        member_id: member_id.to_owned(),
        session_id,
    };
    outbox::enqueue(conn, AuthEvent::SessionRevoked(revoked)).await?;
    Ok(())
}

/// What presenting a refresh token leads to.
pub enum Refresh {
    /// Rotated: the member and session to issue new tokens for.
    Rotated { member: Member, session_id: Uuid },
    /// A spent token came back: its whole family (session) has been revoked.
    Reused,
    /// Unknown, expired, or of a dead session.
    Invalid,
}

/// Exchanges a refresh token for the next one of its family, in the caller's transaction.
pub async fn rotate_refresh_token(
    conn: &mut PgConnection,
    presented_hash: &[u8],
    next_hash: &[u8],
    ttl: Duration,
) -> Result<Refresh> {
    // The row lock makes concurrent presentations of one token take turns: the first
    // rotates, the second sees it spent.
    let row: Option<(Uuid, bool, bool)> = sqlx::query_as(
        "SELECT rt.session_id, rt.used_at IS NOT NULL, \
                (rt.expires_at > now() AND s.revoked_at IS NULL AND s.expires_at > now()) \
         FROM refresh_token rt JOIN session s ON s.session_id = rt.session_id \
         WHERE rt.token_hash = $1 FOR UPDATE OF rt, s",
    )
    .bind(presented_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((session_id, spent, live)) = row else {
        return Ok(Refresh::Invalid);
    };
    if spent {
        revoke_session(conn, session_id, "refresh token reused").await?;
        return Ok(Refresh::Reused);
    }
    if !live {
        return Ok(Refresh::Invalid);
    }
    let secs = ttl.as_secs_f64();
    sqlx::query("UPDATE refresh_token SET used_at = now() WHERE token_hash = $1")
        .bind(presented_hash)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO refresh_token (token_hash, session_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(next_hash)
    .bind(session_id)
    .bind(secs)
    .execute(&mut *conn)
    .await?;
    let member: Member = sqlx::query_as(
        "UPDATE session s SET expires_at = now() + make_interval(secs => $2) \
         FROM member m WHERE s.session_id = $1 AND m.member_id = s.member_id \
         RETURNING m.member_id, m.member_nm, m.role, m.bran_id, m.created_at",
    )
    .bind(session_id)
    .bind(secs)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Refresh::Rotated { member, session_id })
}

/// Deletes what no one can use any more: expired sessions, sessions revoked long enough ago
/// that their access tokens have expired too (their refresh tokens go with them), and
/// login-throttling counters no rule looks at any more, social login flows and one-time codes
/// past their time.
/// Each kind a bounded batch at a time by its index (`outbox::retention`), so a backlog never
/// becomes one long transaction.
pub async fn prune(pool: &PgPool, access_ttl: Duration) -> Result<u64> {
    let secs = access_ttl.as_secs() + 60;
    let mut n = 0;
    for (table, cond) in [
        (
            "session",
            format!("expires_at < now() OR revoked_at < now() - make_interval(secs => {secs})"),
        ),
        ("login_attempt", "at < now() - interval '1 hour'".to_owned()),
        (
            "login_throttle",
            "last_failure < now() - interval '1 hour' AND blocked_until < now()".to_owned(),
        ),
        ("login_device", "expires_at < now()".to_owned()),
        ("oauth_flow", "expires_at < now()".to_owned()),
        ("oauth_handoff", "expires_at < now()".to_owned()),
    ] {
        n += outbox::retention::delete_where(pool, table, &cond).await?;
    }
    Ok(n)
}
