//! Dine-in tables ([`crate::tables`]): staff of a branch (ADMIN: any) list, create, rename
//! and retire them, and get each one's QR code (SVG, PNG) and a printable sheet; anyone
//! holding a table's token can read which table and branch it is.

use std::sync::LazyLock;

use authclient::{Caller, Role};
use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
use httpkit::{Error, Json, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState, db,
    tables::{self, MAX_LABEL, TableRow, Written},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct Table {
    pub table_id: Uuid,
    pub bran_id: String,
    #[schema(example = "7")]
    pub label: String,
    /// What the QR code carries; `POST /order/` takes it as `table_token`.
    #[schema(example = "q3J0c2kxZ2hWbG9vX2Zvcg")]
    pub token: String,
    /// The web client's address that the QR code opens.
    #[schema(example = "https://pizza.example/?table=q3J0c2kxZ2hWbG9vX2Zvcg")]
    pub url: String,
    /// The QR code as SVG, and as PNG (paths under this API).
    pub qr_svg: String,
    pub qr_png: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TableBody {
    /// 1 to 20 characters, unique among the branch's tables in use.
    #[schema(example = "7", min_length = 1, max_length = 20)]
    pub label: String,
}

/// Which table and branch a token is, for a guest who opened its QR code.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableInfo {
    pub bran_id: String,
    pub bran_nm: String,
    pub table_label: String,
}

/// 403 unless the caller is ADMIN, or STAFF not bound to another branch; 404 for a branch
/// that is not there. The branch's name.
pub(super) async fn manage(s: &AppState, caller: &Caller, bran_id: &str) -> Result<String> {
    caller.require(&[Role::Staff, Role::Admin])?;
    caller.require_branch(bran_id)?;
    let mut conn = s.db.acquire().await?;
    db::branch_name(&mut conn, bran_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no branch '{bran_id}'")))
}

/// The label trimmed; 400 if empty, too long or with control characters.
fn label(body: &TableBody) -> Result<String> {
    let label = body.label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control)
    {
        return Err(Error::Validation(format!(
            "label must be 1 to {MAX_LABEL} characters"
        )));
    }
    Ok(label.to_owned())
}

/// The web client's address QR codes open: `PUBLIC_WEB_URL`, or else the address the caller
/// reached us at (the ingress's host, through which staff use the console).
fn web_base(s: &AppState, headers: &HeaderMap) -> Result<url::Url> {
    if let Some(base) = &s.public_web_url {
        return Ok(base.clone());
    }
    httpkit::reached_at(headers)
        .and_then(|base| url::Url::parse(&base).ok())
        .ok_or_else(|| Error::Validation("a Host header is needed to make QR codes".into()))
}

fn view(row: TableRow, base: &url::Url) -> Table {
    let path = format!("/order/branch/{}/table/{}", row.bran_id, row.table_id);
    Table {
        url: tables::order_url(base, &row.token),
        qr_svg: format!("{path}/qr.svg"),
        qr_png: format!("{path}/qr.png"),
        table_id: row.table_id,
        bran_id: row.bran_id,
        label: row.label,
        token: row.token,
    }
}

fn written(w: Written, base: &url::Url, label: &str) -> Result<Table> {
    match w {
        Written::Done(row) => Ok(view(row, base)),
        Written::LabelTaken => Err(Error::Conflict(format!(
            "the branch has a table '{label}' already"
        ))),
        Written::Missing => Err(Error::NotFound("no such table".into())),
    }
}

fn table_id(raw: &str) -> Result<Uuid> {
    raw.parse()
        .map_err(|_| Error::NotFound("no such table".into()))
}

#[utoipa::path(get, path = "/order/branch/{bran_id}/table/", tag = "tables", operation_id = "list_tables",
    security(("bearer" = [])),
    params(("bran_id" = String, Path)),
    responses(
        (status = 200, body = Vec<Table>, description = "The branch's tables in use, by label"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not STAFF/ADMIN, or STAFF bound to another branch"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such branch"),
    ))]
pub(super) async fn list(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(bran_id): Path<String>,
) -> Result<Json<Vec<Table>>> {
    manage(&s, &caller, &bran_id).await?;
    let base = web_base(&s, &headers)?;
    let rows = tables::of_branch(&s.db, &bran_id).await?;
    Ok(Json(rows.into_iter().map(|r| view(r, &base)).collect()))
}

#[utoipa::path(post, path = "/order/branch/{bran_id}/table/", tag = "tables",
    security(("bearer" = [])),
    params(("bran_id" = String, Path)),
    request_body = TableBody,
    responses(
        (status = 201, body = Table, description = "Created, with a fresh token"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such branch"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "The branch has a table with this label"),
    ))]
pub(super) async fn create(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(bran_id): Path<String>,
    Json(body): Json<TableBody>,
) -> Result<Response> {
    manage(&s, &caller, &bran_id).await?;
    let label = label(&body)?;
    let base = web_base(&s, &headers)?;
    let table = written(
        tables::create(&s.db, &bran_id, &label).await?,
        &base,
        &label,
    )?;
    tracing::info!(table.id = %table.table_id, bran.id = %bran_id, by = %caller.member_id, "table created");
    Ok((StatusCode::CREATED, Json(table)).into_response())
}

#[utoipa::path(patch, path = "/order/branch/{bran_id}/table/{table_id}/", tag = "tables",
    security(("bearer" = [])),
    params(("bran_id" = String, Path), ("table_id" = String, Path)),
    request_body = TableBody,
    responses(
        (status = 200, body = Table, description = "Renamed; the token and the QR code stay"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such branch, or no such table in use"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "The branch has a table with this label"),
    ))]
pub(super) async fn rename(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((bran_id, id)): Path<(String, String)>,
    Json(body): Json<TableBody>,
) -> Result<Json<Table>> {
    manage(&s, &caller, &bran_id).await?;
    let id = table_id(&id)?;
    let label = label(&body)?;
    let base = web_base(&s, &headers)?;
    let w = tables::rename(&s.db, &bran_id, id, &label).await?;
    s.branches.invalidate();
    Ok(Json(written(w, &base, &label)?))
}

#[utoipa::path(delete, path = "/order/branch/{bran_id}/table/{table_id}/", tag = "tables",
    security(("bearer" = [])),
    params(("bran_id" = String, Path), ("table_id" = String, Path)),
    responses(
        (status = 204, description = "Retired: its QR code orders nothing any more (its orders stay)"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such branch, or no such table in use"),
    ))]
pub(super) async fn retire(
    State(s): State<AppState>,
    caller: Caller,
    Path((bran_id, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    manage(&s, &caller, &bran_id).await?;
    let id = table_id(&id)?;
    if !tables::retire(&s.db, &bran_id, id).await? {
        return Err(Error::NotFound("no such table".into()));
    }
    // This replica's own copies at once; the others' on the event.
    s.branches.invalidate();
    tracing::info!(table.id = %id, bran.id = %bran_id, by = %caller.member_id, "table retired");
    Ok(StatusCode::NO_CONTENT)
}

/// The table's code, as `format` (`qr.svg` or `qr.png`).
#[utoipa::path(get, path = "/order/branch/{bran_id}/table/{table_id}/{format}", tag = "tables",
    security(("bearer" = [])),
    params(("bran_id" = String, Path), ("table_id" = String, Path),
           ("format" = String, Path, description = "`qr.svg` or `qr.png`")),
    responses(
        (status = 200, description = "The QR code of the table's URL", content(
            (String = "image/svg+xml"), (Vec<u8> = "image/png"))),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such branch, table in use, or format"),
    ))]
pub(super) async fn qr(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((bran_id, id, format)): Path<(String, String, String)>,
) -> Result<Response> {
    manage(&s, &caller, &bran_id).await?;
    let id = table_id(&id)?;
    let row = tables::one(&s.db, &bran_id, id)
        .await?
        .ok_or_else(|| Error::NotFound("no such table".into()))?;
    let url = tables::order_url(&web_base(&s, &headers)?, &row.token);
    let (body, kind) = match format.as_str() {
        "qr.svg" => (tables::svg(&url)?.into_bytes(), "image/svg+xml"),
        "qr.png" => (tables::png(&url)?, "image/png"),
        _ => return Err(Error::NotFound("qr.svg or qr.png".into())),
    };
    Ok(private(
        [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
        body,
    ))
}

/// What the sheet may load: its one style, nothing else.
static SHEET_CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD
        .encode(Sha256::digest(tables::SHEET_CSS.as_bytes()));
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    ))
    .expect("a valid header")
});

#[utoipa::path(get, path = "/order/branch/{bran_id}/table/sheet/", tag = "tables",
    security(("bearer" = [])),
    params(("bran_id" = String, Path)),
    responses(
        (status = 200, description = "A printable HTML page: every table's QR code with its label", content_type = "text/html"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such branch"),
    ))]
pub(super) async fn sheet(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(bran_id): Path<String>,
) -> Result<Response> {
    let name = manage(&s, &caller, &bran_id).await?;
    let base = web_base(&s, &headers)?;
    let rows = tables::of_branch(&s.db, &bran_id).await?;
    let cards: Vec<(String, String)> = rows
        .into_iter()
        .map(|r| (r.label, tables::order_url(&base, &r.token)))
        .collect();
    let page = tables::sheet(&name, &cards)?;
    Ok(private(
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, SHEET_CSP.clone()),
        ],
        page.into_bytes(),
    ))
}

/// A staff-only document: never kept by a shared cache.
fn private<const N: usize>(
    headers: [(header::HeaderName, HeaderValue); N],
    body: Vec<u8>,
) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    for (name, value) in headers {
        h.insert(name, value);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

#[utoipa::path(get, path = "/order/table/{token}/", tag = "tables",
    params(("token" = String, Path, description = "From the table's QR code")),
    responses(
        (status = 200, body = TableInfo, description = "The table and its branch"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "Unknown token, or the table was retired"),
    ))]
pub(super) async fn by_token(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<TableInfo>> {
    let found = s
        .branches
        .table(&token)
        .await?
        .ok_or_else(|| Error::NotFound("no such table: ask the staff for a new code".into()))?;
    let (table, bran_nm) = &*found;
    Ok(Json(TableInfo {
        bran_id: table.bran_id.clone(),
        bran_nm: bran_nm.clone(),
        table_label: table.label.clone(),
    }))
}
