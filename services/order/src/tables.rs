//! Dine-in tables: staff of a branch create, rename and retire them; each has a token that
//! its QR code carries in the web client's URL (`?table=<token>`). An order placed with a
//! table's token is DINE_IN at that table, at its branch.
//!
//! The token is 128 random bits: it cannot be guessed, and whoever holds it (the guest at the
//! table) can do one thing with it, order to that table. Retiring a table ends its token; an
//! order placed at the same moment is serialized against the retire by a row lock
//! ([`lock_live`]), so no order lands on a table after its retire committed.

use base64::Engine;
use chrono::{DateTime, Utc};
use events::{BranchEvent, branch::TableChanged};
use httpkit::Result;
use qrcode::{EcLevel, QrCode, render::svg};
use rand::RngCore;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The longest label ("Table 12", "테라스 3").
pub const MAX_LABEL: usize = 20;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TableRow {
    pub table_id: Uuid,
    pub bran_id: String,
    pub label: String,
    pub token: String,
    pub created_at: DateTime<Utc>,
}

/// A table an order is placed at, as the token named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtTable {
    pub table_id: Uuid,
    pub bran_id: String,
    pub label: String,
}

/// A fresh token: 16 bytes from the OS's generator, base64url (22 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` can be a token at all (22 base64url characters), so that nothing else reaches
/// the database.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const COLUMNS: &str = "table_id, bran_id, label, token, created_at";

/// The branch's tables in use, by label.
pub async fn of_branch(db: &PgPool, bran_id: &str) -> Result<Vec<TableRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dining_table WHERE bran_id = $1 AND retired_at IS NULL \
         ORDER BY length(label), label"
    )))
    .bind(bran_id)
    .fetch_all(db)
    .await?)
}

/// One table of the branch, in use.
pub async fn one(db: &PgPool, bran_id: &str, table_id: Uuid) -> Result<Option<TableRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dining_table \
         WHERE table_id = $1 AND bran_id = $2 AND retired_at IS NULL"
    )))
    .bind(table_id)
    .bind(bran_id)
    .fetch_optional(db)
    .await?)
}

/// What a created or renamed table's label ran into.
pub enum Written {
    Done(TableRow),
    /// Another table of the branch in use has this label.
    LabelTaken,
    /// No such table (or retired).
    Missing,
}

fn label_taken(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.constraint() == Some("dining_table_label"))
}

/// Announces a table's change in the caller's transaction (every replica's copies of what
/// its token names are dropped).
async fn announce(conn: &mut PgConnection, row: &TableRow, retired: bool) -> Result<()> {
    let changed = TableChanged {
        bran_id: row.bran_id.clone(),
        table_id: row.table_id,
        label: row.label.clone(),
        retired,
    };
    outbox::enqueue(conn, BranchEvent::TableChanged(changed)).await?;
    Ok(())
}

pub async fn create(db: &PgPool, bran_id: &str, label: &str) -> Result<Written> {
    let mut tx = db.begin().await?;
    let res = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO dining_table (table_id, bran_id, label, token) VALUES ($1, $2, $3, $4) \
         RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(bran_id)
    .bind(label)
    .bind(new_token())
    .fetch_one(&mut *tx)
    .await;
    match res {
        Ok(row) => {
            announce(&mut tx, &row, false).await?;
            tx.commit().await?;
            Ok(Written::Done(row))
        }
        Err(e) if label_taken(&e) => Ok(Written::LabelTaken),
        Err(e) => Err(e.into()),
    }
}

pub async fn rename(db: &PgPool, bran_id: &str, table_id: Uuid, label: &str) -> Result<Written> {
    let mut tx = db.begin().await?;
    let res = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE dining_table SET label = $3 \
         WHERE table_id = $1 AND bran_id = $2 AND retired_at IS NULL RETURNING {COLUMNS}"
    )))
    .bind(table_id)
    .bind(bran_id)
    .bind(label)
    .fetch_optional(&mut *tx)
    .await;
    match res {
        Ok(Some(row)) => {
            announce(&mut tx, &row, false).await?;
            tx.commit().await?;
            Ok(Written::Done(row))
        }
        Ok(None) => Ok(Written::Missing),
        Err(e) if label_taken(&e) => Ok(Written::LabelTaken),
        Err(e) => Err(e.into()),
    }
}

/// Retires the table: its token orders nothing from now on. `false` if there was none in use.
pub async fn retire(db: &PgPool, bran_id: &str, table_id: Uuid) -> Result<bool> {
    let mut tx = db.begin().await?;
    let row: Option<TableRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE dining_table SET retired_at = now() \
         WHERE table_id = $1 AND bran_id = $2 AND retired_at IS NULL RETURNING {COLUMNS}"
    )))
    .bind(table_id)
    .bind(bran_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    announce(&mut tx, &row, true).await?;
    tx.commit().await?;
    Ok(true)
}

/// The table in use that `token` belongs to, with its branch's name (one query).
pub async fn by_token(db: &PgPool, token: &str) -> Result<Option<(AtTable, String)>> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    Ok(sqlx::query_as::<_, (Uuid, String, String, String)>(
        "SELECT t.table_id, t.bran_id, t.label, b.bran_nm \
         FROM dining_table t JOIN branch b ON b.bran_id = t.bran_id \
         WHERE t.token = $1 AND t.retired_at IS NULL",
    )
    .bind(token)
    .fetch_optional(db)
    .await?
    .map(|(table_id, bran_id, label, bran_nm)| {
        (
            AtTable {
                table_id,
                bran_id,
                label,
            },
            bran_nm,
        )
    }))
}

/// In the order's transaction: whether the table is still in use, holding a share lock on it
/// until the commit so that a retire waits for the order (or the order sees the retire).
pub async fn lock_live(conn: &mut PgConnection, table_id: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i32>(
        "SELECT 1 FROM dining_table WHERE table_id = $1 AND retired_at IS NULL FOR SHARE",
    )
    .bind(table_id)
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// The URL a table's QR code opens: the web client at `base` with `?table=<token>`.
pub fn order_url(base: &url::Url, token: &str) -> String {
    let mut url = base.clone();
    url.query_pairs_mut().append_pair("table", token);
    url.into()
}

/// Medium error correction survives a scuffed sticker and keeps the code small.
fn code(url: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(url, EcLevel::M)
        .map_err(|e| httpkit::Error::Internal(anyhow::anyhow!("QR code of {url}: {e}")))
}

/// The QR code as an SVG document (with the standard four-module quiet zone).
pub fn svg(url: &str) -> Result<String> {
    Ok(code(url)?
        .render::<svg::Color>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// Pixels per module in the PNG: 8 makes a 33-module code about 330 px, sharp when printed
/// at 3 cm.
const PNG_SCALE: usize = 8;
const QUIET_ZONE: usize = 4;

/// The QR code as a greyscale PNG.
pub fn png(url: &str) -> Result<Vec<u8>> {
    let code = code(url)?;
    let modules = code.width();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
            for y in my * PNG_SCALE..(my + 1) * PNG_SCALE {
                pixels[y * side + mx * PNG_SCALE..y * side + (mx + 1) * PNG_SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let written = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&pixels));
    written.map_err(|e| httpkit::Error::Internal(anyhow::anyhow!("PNG: {e}")))?;
    Ok(out)
}

/// A printable page of the branch's tables: each table's code with its label, as many to an
/// A4 page as fit, none split across pages. Inline SVG only: no script, no request.
pub fn sheet(branch: &str, tables: &[(String, String)]) -> Result<String> {
    let mut cards = String::new();
    for (label, url) in tables {
        let code = svg(url)?;
        let code = code
            .find("<svg")
            .map(|i| &code[i..])
            .unwrap_or(code.as_str());
        cards.push_str(&format!(
            "<figure>{code}<figcaption><strong>{}</strong><span>{}</span></figcaption></figure>\n",
            escape(label),
            escape(branch),
        ));
    }
    Ok(format!(
        "<!doctype html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">\
         <title>{branch} · QR</title><style>{SHEET_CSS}</style></head>\
         <body><h1>{branch}</h1><main>\n{cards}</main></body></html>\n",
        branch = escape(branch),
    ))
}

/// The sheet's only style, sent with a CSP that allows exactly this (its hash).
pub const SHEET_CSS: &str = "body{font-family:sans-serif;margin:1cm}h1{font-size:14pt}\
main{display:grid;grid-template-columns:repeat(3,1fr);gap:1cm}\
figure{margin:0;text-align:center;break-inside:avoid;border:1px dashed #888;padding:4mm}\
figure svg{width:100%;height:auto}figcaption strong{display:block;font-size:18pt}\
figcaption span{font-size:10pt}@media print{h1{display:none}}";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_22_url_safe_characters_and_differ() {
        let (a, b) = (new_token(), new_token());
        assert!(looks_like_token(&a) && looks_like_token(&b));
        assert_ne!(a, b);
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token("aaaaaaaaaaaaaaaaaaaa/="));
    }

    #[test]
    fn the_url_carries_the_token_as_a_query_parameter() {
        let base = url::Url::parse("https://pizza.example/").unwrap();
        assert_eq!(
            order_url(&base, "AbC-_012345678901234567"),
            "https://pizza.example/?table=AbC-_012345678901234567"
        );
    }

    #[test]
    fn the_sheet_escapes_labels() {
        let page = sheet(
            "강남점",
            &[("<b>7</b>".into(), "https://x/?table=t".into())],
        )
        .unwrap();
        assert!(page.contains("&lt;b&gt;7&lt;/b&gt;"));
        assert!(!page.contains("<?xml"));
    }
}
