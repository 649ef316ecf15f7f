//! Operator commands (`pizza-login member create|delete|set-role`). STAFF and ADMIN members
//! exist only through these, never through the public API.

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use settings::DbArgs;

use crate::{
    config::{MemberAction, RoleArg},
    db,
    passwords::Passwords,
};

pub async fn member(db_args: &DbArgs, action: MemberAction) -> anyhow::Result<()> {
    let pool = db_args
        .pool_options()
        .connect_with(db_args.connect_options("login_svc")?)
        .await
        .context("cannot connect to the database")?;
    let mut out = std::io::stdout();
    match action {
        MemberAction::Create {
            member_id,
            member_nm,
            role,
            bran_id,
        } => {
            check_binding(role, bran_id.as_deref())?;
            let password = read_password()?;
            Passwords::validate(&password, "password").map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = Passwords::new(1)
                .hash(password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut tx = pool.begin().await?;
            let created = db::insert_member(
                &mut tx,
                &member_id,
                &member_nm,
                &hash,
                role.as_str(),
                bran_id.as_deref(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            tx.commit().await?;
            if !created {
                bail!("member '{member_id}' already exists");
            }
            writeln!(
                out,
                "created member {member_id} with role {}",
                role.as_str()
            )?;
        }
        MemberAction::Delete { member_id } => {
            let mut tx = pool.begin().await?;
            db::revoke_member_sessions(&mut tx, &member_id, None, "member deleted")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            // One more event naming no session: "every session of this member".
            db::announce_revocation(&mut tx, &member_id, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let gone = sqlx::query("DELETE FROM member WHERE member_id = $1")
                .bind(&member_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone == 0 {
                bail!("no member '{member_id}'");
            }
            tx.commit().await?;
            writeln!(out, "deleted member {member_id}; its sessions are revoked")?;
        }
        MemberAction::SetRole {
            member_id,
            role,
            bran_id,
        } => {
            check_binding(role, bran_id.as_deref())?;
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE member SET role = $2, bran_id = $3, updated_at = now() WHERE member_id = $1",
            )
            .bind(&member_id)
            .bind(role.as_str())
            .bind(&bran_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                bail!("no member '{member_id}'");
            }
            db::revoke_member_sessions(&mut tx, &member_id, None, "role changed")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tx.commit().await?;
            writeln!(
                out,
                "member {member_id} is now {}; it logs in again to use it",
                role.as_str()
            )?;
        }
    }
    Ok(())
}

fn check_binding(role: RoleArg, bran_id: Option<&str>) -> anyhow::Result<()> {
    if bran_id.is_some() && role != RoleArg::Staff {
        bail!("--bran-id binds STAFF members only");
    }
    Ok(())
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_owned();
    if pw.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pw)
}
