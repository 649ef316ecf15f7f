//! Operator commands (`pizza-login member create|delete|set-role`). STAFF and ADMIN members
//! exist only through these, never through the public API.

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use authclient::Role;
use settings::DbArgs;

use crate::{account, config::MemberAction, passwords::Passwords};

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
            let created = account::register(
                &pool,
                &member_id,
                &member_nm,
                &hash,
                role,
                bran_id.as_deref(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
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
            if !account::delete_member(&pool, &member_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                bail!("no member '{member_id}'");
            }
            writeln!(out, "deleted member {member_id}; its sessions are revoked")?;
        }
        MemberAction::SetRole {
            member_id,
            role,
            bran_id,
        } => {
            check_binding(role, bran_id.as_deref())?;
            if !account::set_role(&pool, &member_id, role, bran_id.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                bail!("no member '{member_id}'");
            }
            writeln!(
                out,
                "member {member_id} is now {}; it logs in again to use it",
                role.as_str()
            )?;
        }
    }
    Ok(())
}

fn check_binding(role: Role, bran_id: Option<&str>) -> anyhow::Result<()> {
    if bran_id.is_some() && role != Role::Staff {
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
