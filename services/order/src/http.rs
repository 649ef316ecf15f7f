//! The public HTTP API under `/order` (docs/contract.md §3, §6): place an order (server-priced,
//! idempotent), my orders, one order, branches.

use std::collections::{HashMap, HashSet};

use authclient::{Caller, Role};
use axum::body::Bytes;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine;
use chrono::{DateTime, FixedOffset, Utc};
use httpkit::doc::BearerAuth;
use httpkit::{Json, route_both};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::{
    AppState,
    db::{self, LineRow, OrderRow},
    workflow::{self, Action, Outcome, Scope},
};
use httpkit::{Error, Result};

pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: i64 = 100;

pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    r = route_both(r, "/order/", get(staff_queue).post(create_order));
    r = route_both(r, "/order/myorder/", get(my_orders));
    r = route_both(r, "/order/branch/", get(branches));
    r = route_both(r, "/order/ws/", get(crate::live::ws));
    r = route_both(r, "/order/{order_id}/", get(one_order));
    r = route_both(r, "/order/{order_id}/{action}/", post(order_action));
    r = r.route("/order/openapi.json", get(openapi));
    r.with_state(state)
}

/// Korea has kept UTC+9 without daylight saving since 1988, so a fixed offset is exact.
fn seoul() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

// ---------------------------------------------------------------------------------------
// Types

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrder {
    #[schema(example = "gangnam", min_length = 1)]
    pub bran_id: String,
    /// 1 to 50 lines, each pizza once.
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<NewOrderLine>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrderLine {
    #[schema(example = "bbq_ckn_l", min_length = 1)]
    pub pizza_id: String,
    /// 1 to 100.
    #[serde(deserialize_with = "httpkit::whole::number")]
    #[schema(example = 2, minimum = 1, maximum = 100)]
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub pizza_id: String,
    pub pizza_nm: String,
    pub size: String,
    pub quantity: i32,
    /// Whole won, as paid: it never changes afterwards.
    pub unit_price: i64,
    pub line_total: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub order_id: Uuid,
    /// PENDING, ACCEPTED, READY, COMPLETED, REJECTED or CANCELLED.
    pub status: String,
    pub bran_id: String,
    /// Asia/Seoul, `YYYY-MM-DD`.
    #[schema(example = "2026-11-23")]
    pub date: String,
    /// Asia/Seoul, `HH:MM:SS`.
    #[schema(example = "12:30:05")]
    pub time: String,
    /// RFC 3339.
    pub created_at: String,
    pub items: Vec<OrderLine>,
    pub total_price: i64,
    /// Set when accepted: when it should be ready (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ready_at: Option<String>,
    /// Set when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Branch {
    pub bran_id: String,
    pub bran_nm: String,
}

fn order_view(row: &OrderRow, lines: Vec<OrderLine>) -> Order {
    let local = row.created_at.with_timezone(&seoul());
    Order {
        order_id: row.order_id,
        status: row.status.clone(),
        bran_id: row.bran_id.clone(),
        date: local.format("%Y-%m-%d").to_string(),
        time: local.format("%H:%M:%S").to_string(),
        created_at: local.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        items: lines,
        total_price: row.total_price,
        estimated_ready_at: row.estimated_ready_at.map(|t| {
            t.with_timezone(&seoul())
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        }),
        reject_reason: row.reject_reason.clone(),
    }
}

fn line_view(l: LineRow) -> OrderLine {
    OrderLine {
        pizza_id: l.pizza_id,
        pizza_nm: l.pizza_nm,
        size: l.size,
        quantity: l.quantity,
        unit_price: l.unit_price,
        line_total: l.line_total,
    }
}

// ---------------------------------------------------------------------------------------
// Placing an order

/// The request as understood, in a canonical form: its hash decides whether a reused
/// `Idempotency-Key` carries the same request.
fn request_hash(bran_id: &str, lines: &[(String, i64)]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(bran_id.as_bytes());
    for (id, q) in lines {
        h.update(format!("\n{id}:{q}").as_bytes());
    }
    h.finalize().to_vec()
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            Error::Validation("Idempotency-Key must be 1 to 255 visible ASCII characters".into())
        })?;
    Ok(Some(key.to_owned()))
}

fn validate(req: &NewOrder) -> Result<Vec<(String, i64)>> {
    if req.bran_id.trim().is_empty() {
        return Err(Error::Validation("bran_id is required".into()));
    }
    if req.items.is_empty() {
        return Err(Error::Validation("items must not be empty".into()));
    }
    if req.items.len() > MAX_LINES {
        return Err(Error::Validation(format!(
            "at most {MAX_LINES} lines per order"
        )));
    }
    let mut seen = HashSet::new();
    let mut lines = Vec::with_capacity(req.items.len());
    for item in &req.items {
        let id = item.pizza_id.trim();
        if id.is_empty() {
            return Err(Error::Validation("every item needs a pizza_id".into()));
        }
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            return Err(Error::Validation(format!(
                "quantity of '{id}' must be 1 to {MAX_QUANTITY}"
            )));
        }
        if !seen.insert(id) {
            return Err(Error::Validation(format!(
                "'{id}' is listed twice; give one line per pizza"
            )));
        }
        lines.push((id.to_owned(), item.quantity));
    }
    Ok(lines)
}

#[utoipa::path(post, path = "/order/", tag = "order",
    security(("bearer" = [])),
    request_body = NewOrder,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[\\x21-\\x7E]{1,255}$", description = "1 to 255 visible ASCII characters. Same key and body: the first response again (also to a request sent while the first was being served); another body: 422. A request that failed wrote nothing, so the key may be used again. Kept 24 h, per member.")),
    responses(
        (status = 201, body = Order, description = "Placed, priced by the server"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "Empty items, more than 50 lines, quantity outside 1..=100, malformed"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "Rare: a request with the same Idempotency-Key was served at the same time and its answer could not be read back; try again"),
        (status = 422, body = httpkit::doc::ErrorEnvelope, description = "Unknown or sold-out pizza, unknown branch, or a reused key with another body"),
        (status = 503, body = httpkit::doc::ErrorEnvelope, description = "Prices or token checks unavailable; nothing written"),
    ))]
async fn create_order(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<NewOrder>,
) -> Result<Response> {
    let lines = validate(&req)?;
    let bran_id = req.bran_id.trim().to_owned();
    let key = idempotency_key(&headers)?;
    let hash = request_hash(&bran_id, &lines);
    if let Some(key) = &key
        && let Some(recorded) = db::recorded(&s.db, &caller.member_id, key, &hash).await?
    {
        return answer_recorded(recorded);
    }
    let order = match place(
        &s,
        &caller,
        &bran_id,
        &lines,
        key.as_deref().map(|k| (k, &hash[..])),
    )
    .await?
    {
        Some(order) => order,
        // Another request with this key placed its order while we priced ours: answer what
        // it was answered. (A fresh IN_FLIGHT claim of the previous version, during a rolling
        // update, has no answer yet: 409, try again.)
        None => {
            let recorded = match &key {
                Some(key) => db::recorded(&s.db, &caller.member_id, key, &hash).await?,
                None => None,
            };
            return recorded.map(answer_recorded).unwrap_or_else(|| {
                Err(Error::Conflict(
                    "a request with this Idempotency-Key was served at the same time; try again"
                        .into(),
                ))
            });
        }
    };
    let mut res = (StatusCode::CREATED, Json(&order)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/order/{}/", order.order_id)) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(res)
}

/// The first answer again for a key used with the same request; 422 for another request.
fn answer_recorded(recorded: db::Recorded) -> Result<Response> {
    match recorded {
        db::Recorded::Replay { status, body } => {
            let mut res = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
                axum::Json(body),
            )
                .into_response();
            res.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(res)
        }
        db::Recorded::Mismatch => Err(Error::Unprocessable(
            "this Idempotency-Key was used with a different request".into(),
        )),
    }
}

/// Prices and writes the order; `None` when `key` was taken meanwhile (nothing written).
async fn place(
    s: &AppState,
    caller: &Caller,
    bran_id: &str,
    lines: &[(String, i64)],
    key: Option<(&str, &[u8])>,
) -> Result<Option<Order>> {
    let ids: Vec<&str> = lines.iter().map(|(id, _)| id.as_str()).collect();
    let prices = s.prices.lookup(&ids).await?;
    let mut priced = Vec::with_capacity(lines.len());
    let mut total: i64 = 0;
    for (id, quantity) in lines {
        let p = prices
            .get(id)
            .cloned()
            .flatten()
            .ok_or_else(|| unprocessable_pizza(id, "is not on the menu"))?;
        if !p.available {
            return Err(unprocessable_pizza(id, "is sold out"));
        }
        let line_total = p
            .price
            .checked_mul(*quantity)
            .ok_or_else(|| Error::Validation("order total is too large".into()))?;
        total = total
            .checked_add(line_total)
            .ok_or_else(|| Error::Validation("order total is too large".into()))?;
        priced.push((p, *quantity as i32, line_total));
    }

    let order_id = Uuid::now_v7();
    // Microseconds, as PostgreSQL keeps them, so the stored and the answered time agree.
    let created_at = DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros())
        .expect("now is representable");
    let row = OrderRow {
        order_id,
        member_id: caller.member_id.clone(),
        bran_id: bran_id.to_owned(),
        status: "PENDING".into(),
        total_price: total,
        created_at,
        version: 1,
        estimated_ready_at: None,
        reject_reason: None,
    };
    let lines: Vec<db::LineRow> = priced
        .iter()
        .map(|(p, q, t)| db::LineRow {
            order_id,
            pizza_id: p.pizza_id.clone(),
            pizza_nm: p.pizza_nm.clone(),
            size: p.size.clone(),
            quantity: *q,
            unit_price: p.price,
            line_total: *t,
        })
        .collect();
    let view = order_view(&row, lines.iter().cloned().map(line_view).collect());
    let order = db::NewOrder {
        order_id,
        member_id: caller.member_id.clone(),
        bran_id: bran_id.to_owned(),
        total_price: total,
        created_at,
        lines,
        idempotency: match key {
            Some((key, hash)) => Some((
                key.to_owned(),
                hash.to_vec(),
                serde_json::to_value(&view).map_err(|e| Error::Internal(e.into()))?,
            )),
            None => None,
        },
    };

    // Once its transaction begins, the write runs to its end even if the client hangs up:
    // the retry then finds the key and replays this answer (ARCHITECTURE.md).
    let db = s.db.clone();
    let placed = outbox::run_to_completion(async move {
        let placed = db::place_order(&db, &order).await?;
        if let db::Placement::Written = placed {
            tracing::info!(order.id = %order.order_id, member.id = %order.member_id, total_price = order.total_price, "order placed");
        }
        Ok::<_, Error>(placed)
    })
    .await?;
    match placed {
        db::Placement::Written => Ok(Some(view)),
        db::Placement::UnknownBranch => {
            Err(Error::Unprocessable(format!("unknown branch '{bran_id}'")))
        }
        db::Placement::KeyTaken => Ok(None),
    }
}

fn unprocessable_pizza(id: &str, why: &str) -> Error {
    Error::Api(
        httpkit::ApiError::unprocessable(format!("pizza '{id}' {why}"))
            .with_details(json!({"pizza_id": id})),
    )
}

// ---------------------------------------------------------------------------------------
// Reading orders

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// From the `Link: <…>; rel="next"` header of the previous page.
    cursor: Option<String>,
}

fn encode_cursor(row: &OrderRow) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        row.created_at.timestamp_micros(),
        row.order_id
    ))
}

fn decode_cursor(c: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (micros, id) = raw.split_once('.')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

/// Orders with their lines: two queries whatever the page size.
async fn with_lines(s: &AppState, rows: &[OrderRow]) -> Result<Vec<Order>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.order_id).collect();
    let mut by_order: HashMap<Uuid, Vec<OrderLine>> = HashMap::new();
    for l in db::lines_of(&s.db, &ids).await? {
        by_order.entry(l.order_id).or_default().push(line_view(l));
    }
    Ok(rows
        .iter()
        .map(|r| order_view(r, by_order.remove(&r.order_id).unwrap_or_default()))
        .collect())
}

#[utoipa::path(get, path = "/order/myorder/", tag = "order",
    security(("bearer" = [])),
    params(Page),
    responses(
        (status = 200, body = Vec<Order>, description = "The caller's orders, newest first; the next page is in the Link header"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
    ))]
async fn my_orders(
    State(s): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Response> {
    let limit = page.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::Validation("limit must be 1 to 100".into()));
    }
    let before = match page.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => {
            Some(decode_cursor(c).ok_or_else(|| Error::Validation("cursor is not valid".into()))?)
        }
    };
    let mut rows = db::member_orders(&s.db, &caller.member_id, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let orders = with_lines(&s, &rows).await?;
    let mut res = Json(orders).into_response();
    if more && let Some(last) = rows.last() {
        let link = format!(
            "</order/myorder/?limit={limit}&cursor={}>; rel=\"next\"",
            encode_cursor(last)
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(res)
}

#[utoipa::path(get, path = "/order/{order_id}/", tag = "order",
    security(("bearer" = [])),
    params(("order_id" = String, Path)),
    responses(
        (status = 200, body = Order),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such order, or not yours to see"),
    ))]
async fn one_order(
    State(s): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
) -> Result<Json<Order>> {
    let not_found = || Error::NotFound("no such order".into());
    let id: Uuid = order_id.parse().map_err(|_| not_found())?;
    let row = db::order(&s.db, id).await?.ok_or_else(not_found)?;
    let allowed = match caller.role {
        Role::Admin => true,
        Role::Staff => caller.bran_id.as_deref().is_none_or(|b| b == row.bran_id),
        Role::Customer => caller.member_id == row.member_id,
    } || caller.member_id == row.member_id;
    // Someone else's order is "not found", so its existence is not revealed.
    if !allowed {
        return Err(not_found());
    }
    let mut orders = with_lines(&s, std::slice::from_ref(&row)).await?;
    Ok(Json(orders.remove(0)))
}

#[utoipa::path(get, path = "/order/branch/", tag = "order",
    responses((status = 200, body = Vec<Branch>)))]
async fn branches(State(s): State<AppState>) -> Result<Json<Vec<Branch>>> {
    Ok(Json(
        db::branches(&s.db)
            .await?
            .into_iter()
            .map(|(bran_id, bran_nm)| Branch { bran_id, bran_nm })
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------
// Staff: the queue and the status actions

pub const STATUSES: [&str; 6] = [
    "PENDING",
    "ACCEPTED",
    "READY",
    "COMPLETED",
    "REJECTED",
    "CANCELLED",
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// PENDING, ACCEPTED, READY, COMPLETED, REJECTED or CANCELLED.
    status: Option<String>,
    /// One branch (a STAFF member bound to a branch sees only that one).
    bran_id: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/order/", tag = "staff",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, body = Vec<Order>, description = "Oldest first; the next page is in the Link header"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not STAFF/ADMIN, or another branch than the one the STAFF member is bound to"),
    ))]
async fn staff_queue(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> Result<Response> {
    caller.require(&[Role::Staff, Role::Admin])?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(st) => Some(
            STATUSES
                .iter()
                .copied()
                .find(|x| x.eq_ignore_ascii_case(st))
                .ok_or_else(|| {
                    Error::Validation(format!("status must be one of {}", STATUSES.join(", ")))
                })?,
        ),
    };
    let wanted = q.bran_id.as_deref().filter(|b| !b.is_empty());
    let bran_id = match (caller.role, caller.bran_id.as_deref()) {
        (Role::Staff, Some(bound)) => {
            if wanted.is_some_and(|w| w != bound) {
                return Err(httpkit::ApiError::forbidden(format!(
                    "you are bound to branch '{bound}'"
                ))
                .into());
            }
            Some(bound)
        }
        _ => wanted,
    };
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::Validation("limit must be 1 to 100".into()));
    }
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => {
            Some(decode_cursor(c).ok_or_else(|| Error::Validation("cursor is not valid".into()))?)
        }
    };
    let mut rows = db::queue(&s.db, status, bran_id, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let orders = with_lines(&s, &rows).await?;
    let mut res = Json(orders).into_response();
    if more && let Some(last) = rows.last() {
        let mut link = format!("</order/?limit={limit}&cursor={}", encode_cursor(last));
        if let Some(st) = status {
            link.push_str(&format!("&status={st}"));
        }
        if let Some(b) = bran_id {
            link.push_str(&format!("&bran_id={b}"));
        }
        link.push_str(">; rel=\"next\"");
        if let Ok(v) = HeaderValue::from_str(&link) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(res)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptBody {
    /// Minutes until ready, 1 to 180.
    #[serde(deserialize_with = "httpkit::whole::number")]
    #[schema(minimum = 1, maximum = 180)]
    pub estimated_time_minutes: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectBody {
    /// Why, for the customer (1 to 500 characters).
    pub reason: String,
}

fn body_as<T: serde::de::DeserializeOwned>(body: &Bytes, what: &str) -> Result<T> {
    httpkit::refuse_escaped_nul(body)?;
    serde_json::from_slice(body).map_err(|e| Error::Validation(format!("{what}: {e}")))
}

#[utoipa::path(post, path = "/order/{order_id}/{action}/", tag = "staff",
    security(("bearer" = [])),
    params(
        ("order_id" = String, Path),
        ("action" = String, Path, description = "accept (STAFF/ADMIN, body AcceptBody), reject (STAFF/ADMIN, body RejectBody), ready, complete (STAFF/ADMIN), cancel (the customer, while PENDING)"),
    ),
    request_body(content = AcceptBody, description = "For accept; RejectBody for reject; nothing for the others"),
    responses(
        (status = 200, body = Order, description = "The order in its new status"),
        (status = 400, body = httpkit::doc::ErrorEnvelope),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "A CUSTOMER calling a staff action"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such order, or not the caller's (branch)"),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "Not allowed from the current status (details.current_status), or lost a race"),
    ))]
async fn order_action(
    State(s): State<AppState>,
    caller: Caller,
    Path((order_id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Order>> {
    let staff = match action.as_str() {
        "accept" | "reject" | "ready" | "complete" => true,
        "cancel" => false,
        _ => return Err(Error::NotFound(format!("no action '{action}'"))),
    };
    // A customer calling a staff action is refused before the order is even looked up.
    if staff {
        caller.require(&[Role::Staff, Role::Admin])?;
    }
    let action = match action.as_str() {
        "accept" => {
            let b: AcceptBody =
                body_as(&body, "accept needs {\"estimated_time_minutes\": 1..180}")?;
            if !(1..=180).contains(&b.estimated_time_minutes) {
                return Err(Error::Validation(
                    "estimated_time_minutes must be 1 to 180".into(),
                ));
            }
            Action::Accept {
                minutes: b.estimated_time_minutes,
            }
        }
        "reject" => {
            let b: RejectBody = body_as(&body, "reject needs {\"reason\": \"…\"}")?;
            let reason = b.reason.trim();
            if reason.is_empty() || reason.chars().count() > 500 {
                return Err(Error::Validation(
                    "reason must be 1 to 500 characters".into(),
                ));
            }
            Action::Reject {
                reason: reason.to_owned(),
            }
        }
        "ready" => Action::Ready,
        "complete" => Action::Complete,
        _ => Action::Cancel,
    };
    let not_found = || Error::NotFound("no such order".into());
    let id: Uuid = order_id.parse().map_err(|_| not_found())?;
    // Who may touch it: bound staff their branch, a customer their own orders.
    let (bran_id, member_id) = if staff {
        let bound = (caller.role == Role::Staff).then(|| caller.bran_id.clone());
        (bound.flatten(), None)
    } else {
        (None, Some(caller.member_id.clone()))
    };
    // Once begun, the change runs to its end even if the client hangs up: a retry then gets
    // 409 with the status it already moved to (ARCHITECTURE.md).
    let (db, by, act) = (s.db.clone(), caller.member_id.clone(), action.clone());
    let outcome = outbox::run_to_completion(async move {
        let scope = Scope {
            bran_id: bran_id.as_deref(),
            member_id: member_id.as_deref(),
        };
        workflow::apply(&db, id, &act, &by, scope).await
    })
    .await?;
    match outcome {
        Outcome::Done { order, previous } => {
            tracing::info!(order.id = %id, from = previous, to = %order.status, by = %caller.member_id, "order status changed");
            let mut orders = with_lines(&s, std::slice::from_ref(&order)).await?;
            Ok(Json(orders.remove(0)))
        }
        Outcome::NotFound => Err(not_found()),
        Outcome::Conflict { current } => {
            let (from, to) = action.transition();
            Err(httpkit::ApiError::conflict(format!(
                "cannot move the order from {current} to {to} (it must be {from})"
            ))
            .with_details(json!({"current_status": current}))
            .into())
        }
    }
}

// ---------------------------------------------------------------------------------------
// OpenAPI

#[derive(OpenApi)]
#[openapi(
    info(title = "pizza-order", description = "Orders: server-priced, idempotent."),
    paths(create_order, my_orders, one_order, branches, staff_queue, order_action),
    components(schemas(httpkit::doc::ErrorEnvelope)),
    modifiers(&BearerAuth),
    tags(
        (name = "order", description = "Place and read orders"),
        (name = "staff", description = "The staff queue and the status workflow")
    )
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
