//! `pizza-login import-legacy`: pizza_back's members, brought over with their passwords.
//!
//! Reads pizza_back's `member` table (`member_id`, `member_pwd`, `member_nm`) through a
//! read-only connection, in batches of [`BATCH`] by id, each batch in one transaction here.
//! Re-runnable: a member already here (same id) is skipped, so a second run imports only who
//! registered on pizza_back since the first (the catch-up during the switch).
//!
//! - Django's hashes are kept as they are and checked at login ([`crate::django`]); the first
//!   successful login replaces them with argon2id.
//! - A password that is no hash Django's default hashers write (a plaintext left by an older
//!   system, an unusable `!…`) is never stored: the member is imported with an unusable
//!   password (no password opens it, the same 401 as a wrong one) and reported, to be reset.
//! - An id outside this platform's rule (3–50 of `[A-Za-z0-9_.-]`), or one that another
//!   account here already holds in another case, is skipped and reported.
//! - Everyone comes as CUSTOMER (pizza_back had no roles).

use std::fmt;

use authclient::Role;
use sqlx::PgPool;

use crate::{db, django, http::members::valid_member_id};

/// Members per batch (and per transaction).
pub const BATCH: i64 = 500;

/// What an imported member with an unusable pizza_back password gets: no password matches it
/// (not `$argon2…`, not a Django format).
pub const UNUSABLE: &str = "!pizza_back-password-not-verifiable";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub read: u64,
    pub imported: u64,
    pub already_here: u64,
    pub id_outside_rules: u64,
    pub id_taken_in_another_case: u64,
    /// Imported, but with [`UNUSABLE`]: their pizza_back password cannot be checked.
    pub unverifiable_password: u64,
    pub dry_run: bool,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "import-legacy login: read {} members, {} {}, skipped {} ({} already here, {} with an id \
             outside the rules, {} with an id taken here in another case); {} of the imported \
             have a password that cannot be verified and must set a new one{}",
            self.read,
            if self.dry_run {
                "would import"
            } else {
                "imported"
            },
            self.imported,
            self.already_here + self.id_outside_rules + self.id_taken_in_another_case,
            self.already_here,
            self.id_outside_rules,
            self.id_taken_in_another_case,
            self.unverifiable_password,
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
        )
    }
}

#[derive(sqlx::FromRow)]
struct LegacyMember {
    member_id: String,
    member_pwd: Option<String>,
    member_nm: Option<String>,
}

/// Imports every member of `source` not yet here; `report` gets one line per member that is
/// skipped or needs attention (never one per member imported as is).
pub async fn members(
    target: &PgPool,
    source: &PgPool,
    dry_run: bool,
    mut report: impl FnMut(String),
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        dry_run,
        ..Summary::default()
    };
    let mut after = String::new();
    loop {
        let batch: Vec<LegacyMember> = sqlx::query_as(
            "SELECT member_id::text, member_pwd::text, member_nm::text FROM member \
             WHERE member_id::text > $1 ORDER BY member_id::text COLLATE \"C\" LIMIT $2",
        )
        .bind(&after)
        .bind(BATCH)
        .fetch_all(source)
        .await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.member_id.clone();
        let mut tx = target.begin().await?;
        for m in batch {
            summary.read += 1;
            let id = m.member_id.trim();
            if !valid_member_id(id) {
                summary.id_outside_rules += 1;
                report(format!(
                    "skipped {:?}: the id is outside the rules (3-50 of A-Z a-z 0-9 _ . -)",
                    m.member_id
                ));
                continue;
            }
            let name = display_name(m.member_nm.as_deref(), id);
            let stored = m.member_pwd.as_deref().unwrap_or_default().trim();
            let verifiable = django::recognised(stored);
            let pwd = if verifiable { stored } else { UNUSABLE };
            if db::insert_member(&mut tx, id, &name, pwd, Role::Customer, None).await? {
                summary.imported += 1;
                if !verifiable {
                    summary.unverifiable_password += 1;
                    report(format!(
                        "imported {id}, but its password cannot be verified (not a Django hash): \
                         it must set a new one"
                    ));
                }
            } else {
                match db::canonical_id(&mut tx, id).await? {
                    Some(here) if here == id => summary.already_here += 1,
                    Some(here) => {
                        summary.id_taken_in_another_case += 1;
                        report(format!("skipped {id}: {here} is already a member here"));
                    }
                    None => anyhow::bail!("member {id} could not be inserted nor found"),
                }
            }
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
    }
    Ok(summary)
}

/// pizza_back's name, or the id when it has none; at most 100 characters.
fn display_name(name: Option<&str>, id: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n.chars().take(100).collect(),
        None => id.to_owned(),
    }
}
