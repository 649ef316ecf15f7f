//! The SQL of social login: flows on their way to a provider and back (single use, ten
//! minutes), the one-time codes that hand a finished login to the web client (one minute),
//! and the provider accounts of members. Secrets that come back from a browser (a `state`,
//! a cookie, a code) are stored only as their SHA-256.

use rand::Rng;
use sqlx::{PgConnection, PgPool};

use super::Started;
use crate::{db::Member, tokens::hash_opaque_token};
use httpkit::Result;

/// How long a flow may take at the provider.
const FLOW_TTL_SECS: f64 = 600.0;
/// How long the web client has to exchange the one-time code.
const HANDOFF_TTL_SECS: f64 = 60.0;

/// A flow that came back.
pub struct Flow {
    /// The `state` it came back with (Naver's token endpoint asks for it).
    pub state: String,
    pub browser_hash: Vec<u8>,
    pub provider: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    /// A link asked for by this member, not a login.
    pub link_member: Option<String>,
}

pub async fn save_flow(
    db: &PgPool,
    started: &Started,
    browser: &str,
    provider: &str,
    link_member: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO oauth_flow \
           (state_hash, browser_hash, provider, nonce, pkce_verifier, link_member, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
    )
    .bind(hash_opaque_token(&started.state))
    .bind(hash_opaque_token(browser))
    .bind(provider)
    .bind(&started.nonce)
    .bind(&started.pkce_verifier)
    .bind(link_member)
    .bind(FLOW_TTL_SECS)
    .execute(db)
    .await?;
    Ok(())
}

/// The flow `state` names, deleted as it is read: whatever happens next, it cannot come back
/// twice. `None` when there is none, or it has expired.
pub async fn take_flow(db: &PgPool, state: &str) -> Result<Option<Flow>> {
    type Row = (
        Vec<u8>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    );
    let row: Option<Row> = sqlx::query_as(
        "DELETE FROM oauth_flow WHERE state_hash = $1 \
         RETURNING browser_hash, provider, nonce, pkce_verifier, link_member, expires_at > now()",
    )
    .bind(hash_opaque_token(state))
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(
        |(browser_hash, provider, nonce, pkce_verifier, link_member, live)| {
            live.then(|| Flow {
                state: state.to_owned(),
                browser_hash,
                provider,
                nonce,
                pkce_verifier,
                link_member,
            })
        },
    ))
}

/// A one-time code for `member_id`, to put in the URL fragment the browser goes back with.
pub async fn handoff(db: &PgPool, member_id: &str) -> Result<String> {
    let (code, hash) = crate::tokens::new_opaque_token();
    sqlx::query(
        "INSERT INTO oauth_handoff (code_hash, member_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(hash)
    .bind(member_id)
    .bind(HANDOFF_TTL_SECS)
    .execute(db)
    .await?;
    Ok(code)
}

/// The member a one-time code was made for, the code deleted as it is read; `None` when it
/// is unknown, spent or expired.
pub async fn take_handoff(db: &PgPool, code: &str) -> Result<Option<Member>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        member: Member,
        live: bool,
    }
    let row: Option<Row> = sqlx::query_as(
        "DELETE FROM oauth_handoff h USING member m \
         WHERE h.code_hash = $1 AND m.member_id = h.member_id \
         RETURNING m.member_id, m.member_nm, m.role, m.bran_id, m.created_at, \
                   h.expires_at > now() AS live",
    )
    .bind(hash_opaque_token(code))
    .fetch_optional(db)
    .await?;
    Ok(row.filter(|r| r.live).map(|r| r.member))
}

/// The member who logs in with this provider account.
pub async fn member_of(db: &PgPool, provider: &str, subject: &str) -> Result<Option<Member>> {
    Ok(sqlx::query_as(
        "SELECT m.member_id, m.member_nm, m.role, m.bran_id, m.created_at \
         FROM member_identity i JOIN member m ON m.member_id = i.member_id \
         WHERE i.provider = $1 AND i.subject = $2",
    )
    .bind(provider)
    .bind(subject)
    .fetch_optional(db)
    .await?)
}

/// A member for a provider account that logs in for the first time: a CUSTOMER with no
/// password, named as the provider names its user, with an id made up of the provider and
/// random letters. Two first logins at once make one member.
pub async fn create_member(
    db: &PgPool,
    provider: &str,
    subject: &str,
    name: &str,
) -> Result<Member> {
    loop {
        let mut tx = db.begin().await?;
        let member_id = new_member_id(provider);
        let member: Option<Member> = sqlx::query_as(
            "INSERT INTO member (member_id, member_nm, member_pwd, role) \
             VALUES ($1, $2, NULL, 'CUSTOMER') ON CONFLICT DO NOTHING \
             RETURNING member_id, member_nm, role, bran_id, created_at",
        )
        .bind(&member_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(member) = member else { continue };
        if link_in(&mut tx, &member.member_id, provider, subject).await? == Linked::New {
            tx.commit().await?;
            return Ok(member);
        }
        // Another login of the same account made its member first: that one it is.
        drop(tx);
        if let Some(existing) = member_of(db, provider, subject).await? {
            return Ok(existing);
        }
    }
}

/// `kakao_` and ten random lowercase letters and digits: within the member id rule.
fn new_member_id(provider: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{provider}_{tail}")
}

/// What linking a provider account to a member came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Linked {
    New,
    /// It was linked to this member already.
    Already,
    /// It logs in another member.
    OtherMember,
    /// This member has another account of the provider linked.
    ProviderTaken,
}

async fn link_in(
    conn: &mut PgConnection,
    member_id: &str,
    provider: &str,
    subject: &str,
) -> Result<Linked> {
    let inserted = sqlx::query(
        "INSERT INTO member_identity (provider, subject, member_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(provider)
    .bind(subject)
    .bind(member_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Linked::New);
    }
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT member_id FROM member_identity WHERE provider = $1 AND subject = $2",
    )
    .bind(provider)
    .bind(subject)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match owner {
        Some(o) if o == member_id => Linked::Already,
        Some(_) => Linked::OtherMember,
        None => Linked::ProviderTaken,
    })
}

pub async fn link(db: &PgPool, member_id: &str, provider: &str, subject: &str) -> Result<Linked> {
    let mut tx = db.begin().await?;
    let linked = link_in(&mut tx, member_id, provider, subject).await?;
    tx.commit().await?;
    Ok(linked)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Unlinked {
    Done,
    NotLinked,
    /// It is the member's only way to log in (no password, no other provider).
    LastWay,
}

pub async fn unlink(db: &PgPool, member_id: &str, provider: &str) -> Result<Unlinked> {
    let mut tx = db.begin().await?;
    // The member's row lock makes two unlinks at once take turns: the second sees one way
    // left, and keeps it.
    let has_password: Option<bool> = sqlx::query_scalar(
        "SELECT member_pwd IS NOT NULL FROM member WHERE member_id = $1 FOR UPDATE",
    )
    .bind(member_id)
    .fetch_optional(&mut *tx)
    .await?;
    let providers: Vec<String> =
        sqlx::query_scalar("SELECT provider FROM member_identity WHERE member_id = $1")
            .bind(member_id)
            .fetch_all(&mut *tx)
            .await?;
    if !providers.iter().any(|p| p == provider) {
        return Ok(Unlinked::NotLinked);
    }
    if has_password != Some(true) && providers.len() == 1 {
        return Ok(Unlinked::LastWay);
    }
    sqlx::query("DELETE FROM member_identity WHERE member_id = $1 AND provider = $2")
        .bind(member_id)
        .bind(provider)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Unlinked::Done)
}

/// The providers a member logs in with (and when each was linked), and whether it has a
/// password.
pub async fn ways_in(
    db: &PgPool,
    member_id: &str,
) -> Result<(Vec<(String, chrono::DateTime<chrono::Utc>)>, bool)> {
    type Row = (bool, Option<String>, Option<chrono::DateTime<chrono::Utc>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT m.member_pwd IS NOT NULL, i.provider, i.linked_at \
         FROM member m LEFT JOIN member_identity i ON i.member_id = m.member_id \
         WHERE m.member_id = $1 ORDER BY i.linked_at",
    )
    .bind(member_id)
    .fetch_all(db)
    .await?;
    let has_password = rows.first().is_some_and(|r| r.0);
    let linked = rows
        .into_iter()
        .filter_map(|(_, provider, at)| Some((provider?, at?)))
        .collect();
    Ok((linked, has_password))
}
