//! `POST /order/`: validated at the edge, priced by the server from the menu, written once
//! per `Idempotency-Key` ([`crate::idempotency`], [`crate::place`]).

use std::collections::HashSet;

use authclient::Caller;
use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use httpkit::{Error, Json, Result};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Order, line_view, order_view};
use crate::{
    AppState,
    db::{self, LineRow, OrderRow},
    idempotency::{self, Key, Recorded},
    place::{self, AskedLine, Payment, Placement, Where},
    prices::LineAsk,
    status::{PaymentMethod, Service, Status},
    tables::AtTable,
};

pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: i64 = 100;
/// More options than any item offers on one line is a mistake.
pub const MAX_OPTIONS: usize = 20;

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrder {
    /// The branch to pick the order up at; or give `table_token` instead.
    #[serde(default)]
    #[schema(example = "gangnam", min_length = 1)]
    pub bran_id: Option<String>,
    /// A table's token, from its QR code, instead of `bran_id`: the order is DINE_IN at that
    /// table, at its branch.
    #[serde(default)]
    #[schema(example = "q3J0c2kxZ2hWbG9vX2Zvcg")]
    pub table_token: Option<String>,
    /// 1 to 50 lines, each pizza with the same options once.
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<NewOrderLine>,
    /// `AT_PICKUP` (the default: paid at the counter), `CARD` (through the provider's
    /// checkout, `POST /payment/checkout/`) or `TRANSFER` (to the account in the answer's
    /// `transfer`). A card or transfer order is `AWAITING_PAYMENT` until paid.
    #[serde(default)]
    pub payment_method: Option<PaymentMethod>,
    /// `TRANSFER` only, and required there: the name the transfer will come from, as the
    /// bank shows it (1 to 20 characters).
    #[serde(default)]
    #[schema(example = "김민지", min_length = 1, max_length = 20)]
    pub payer_name: Option<String>,
    /// What the kitchen should know ("no onions"): at most 200 characters.
    #[serde(default)]
    #[schema(example = "양파 빼주세요", max_length = 200)]
    pub special_requests: Option<String>,
}

/// The longest request a customer may write.
pub const MAX_REQUESTS: usize = 200;

/// The customer's request, trimmed (`None` if empty); 400 past [`MAX_REQUESTS`] characters or
/// with control characters other than line breaks.
pub(super) fn special_requests(req: &NewOrder) -> Result<Option<String>> {
    let Some(text) = req.special_requests.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_REQUESTS || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::Validation(format!(
            "special_requests must be at most {MAX_REQUESTS} characters"
        )));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// The longest payer name a bank shows with a deposit (Korean banks cut them shorter).
pub const MAX_PAYER_NAME: usize = 20;

/// How the order is paid, as asked: 400 for a payer name without a transfer or a transfer
/// without one, 422 for a transfer where the shop takes none.
pub(super) fn payment(s: &AppState, req: &NewOrder) -> Result<Payment> {
    let method = req.payment_method.unwrap_or_default();
    let payer_name = req
        .payer_name
        .as_deref()
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "));
    match (method, payer_name) {
        (PaymentMethod::Transfer, None) => Err(Error::Validation(
            "payer_name is required with TRANSFER: the name your transfer will come from".into(),
        )),
        (PaymentMethod::Transfer, Some(name)) => {
            if name.is_empty()
                || name.chars().count() > MAX_PAYER_NAME
                || name.chars().any(char::is_control)
            {
                return Err(Error::Validation(format!(
                    "payer_name must be 1 to {MAX_PAYER_NAME} characters"
                )));
            }
            if s.transfer.is_none() {
                return Err(Error::Unprocessable(
                    "this shop takes no bank transfers; pay by card or at pickup".into(),
                ));
            }
            Ok(Payment {
                method,
                payer_name: Some(name),
            })
        }
        (_, Some(_)) => Err(Error::Validation(
            "payer_name goes with payment_method TRANSFER only".into(),
        )),
        (method, None) => Ok(Payment {
            method,
            payer_name: None,
        }),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrderLine {
    #[schema(example = "bbq_ckn_l", min_length = 1)]
    pub pizza_id: String,
    /// 1 to 100.
    #[serde(deserialize_with = "httpkit::whole::number")]
    #[schema(example = 2, minimum = 1, maximum = 100)]
    pub quantity: i64,
    /// The chosen options' ids (`GET /menu/items/{pizza_type_id}/` lists them), priced by the
    /// menu. Left out: each required group's default (a pizza's original crust), as clients
    /// without options order; given: exactly these, and a required group must be among them
    /// (422 naming the group otherwise).
    #[serde(default)]
    #[schema(example = json!(["crust_cheese_edge", "topping_cheese"]), max_items = 20)]
    pub options: Option<Vec<String>>,
}

/// `bran_id` or `table_token`, exactly one; 400 otherwise.
pub(super) fn where_to(req: &NewOrder) -> Result<Where> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    match (given(&req.bran_id), given(&req.table_token)) {
        (Some(b), None) => Ok(Where::Branch(b.to_owned())),
        (None, Some(t)) => Ok(Where::Table(t.to_owned())),
        (None, None) => Err(Error::Validation(
            "bran_id is required (or table_token, at a table)".into(),
        )),
        (Some(_), Some(_)) => Err(Error::Validation(
            "give bran_id or table_token, not both: a table's branch is its own".into(),
        )),
    }
}

/// The branch, and the table when ordered at one; 422 for a token that is no table in use.
pub(super) async fn resolve(s: &AppState, at: &Where) -> Result<(String, Option<AtTable>)> {
    match at {
        Where::Branch(b) => Ok((b.clone(), None)),
        // Possibly a copy: the order locks the table in its transaction and refuses if it was
        // retired meanwhile.
        Where::Table(token) => match s.branches.table(token).await? {
            Some(t) => Ok((t.0.bran_id.clone(), Some(t.0.clone()))),
            None => Err(table_gone()),
        },
    }
}

fn table_gone() -> Error {
    Error::Unprocessable(
        "this table's QR code is not in use (unknown or retired); ask the staff".into(),
    )
}

/// The lines as asked, each pizza with the same options once (options sorted); 400 for
/// anything else.
pub(super) fn validate(req: &NewOrder) -> Result<Vec<AskedLine>> {
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
        let options = match &item.options {
            None => None,
            Some(o) if o.len() > MAX_OPTIONS => {
                return Err(Error::Validation(format!(
                    "at most {MAX_OPTIONS} options on '{id}'"
                )));
            }
            Some(o) => {
                let mut o: Vec<String> = o.iter().map(|x| x.trim().to_owned()).collect();
                if o.iter().any(String::is_empty) {
                    return Err(Error::Validation(format!("an option of '{id}' is empty")));
                }
                o.sort();
                Some(o)
            }
        };
        if !seen.insert((id, options.clone())) {
            return Err(Error::Validation(format!(
                "'{id}' is listed twice with the same options; give one line with its quantity"
            )));
        }
        lines.push(AskedLine {
            pizza_id: id.to_owned(),
            quantity: item.quantity,
            options,
        });
    }
    Ok(lines)
}

#[utoipa::path(post, path = "/order/", tag = "order",
    security(("bearer" = [])),
    request_body = NewOrder,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[\\x21-\\x7E]{1,255}$", description = "1 to 255 visible ASCII characters. Same key and body: the first response again (also to a request sent while the first was being served); another body: 422. A request that failed wrote nothing, so the key may be used again. Kept 24 h, per member.")),
    responses(
        (status = 201, body = Order, description = "Placed, priced by the server: PENDING, or AWAITING_PAYMENT for CARD and TRANSFER (with `transfer`: where to send the money)"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "Neither or both of bran_id and table_token, empty items, more than 50 lines, quantity outside 1..=100, an unknown payment method, TRANSFER without payer_name (or payer_name without TRANSFER), malformed"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 409, body = httpkit::doc::ErrorEnvelope, description = "Rare: a request with the same Idempotency-Key was served at the same time and its answer could not be read back; try again"),
        (status = 422, body = httpkit::doc::ErrorEnvelope, description = "STORE_CLOSED: the branch is closed or paused (`details.opens_at`: when it takes orders again, if known); unknown or sold-out pizza, unknown branch, a table token not in use (unknown or retired), TRANSFER where the shop takes none, or a reused key with another body"),
        (status = 503, body = httpkit::doc::ErrorEnvelope, description = "Prices or token checks unavailable; nothing written"),
    ))]
pub(super) async fn create_order(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<NewOrder>,
) -> Result<Response> {
    let at = where_to(&req)?;
    let lines = validate(&req)?;
    let pay = payment(&s, &req)?;
    let requests = special_requests(&req)?;
    let key = Key::from_headers(&headers)?;
    let hash = idempotency::request_hash(&at, &lines, &pay, requests.as_deref());
    if let Some(key) = &key
        && let Some(recorded) = idempotency::recorded(&s.db, &caller.member_id, key, &hash).await?
    {
        return answer_recorded(recorded);
    }
    let key = key.map(|k| (k, hash));
    let (bran_id, table) = resolve(&s, &at).await?;
    let placing = Placing {
        bran_id: &bran_id,
        table,
        lines: &lines,
        pay,
        special_requests: requests,
    };
    let Some(order) = price_and_write(&s, &caller, placing, key.clone()).await? else {
        // Another request with this key placed its order while we priced ours: answer what
        // it was answered. (A fresh IN_FLIGHT claim of the previous version, during a rolling
        // update, has no answer yet: 409, try again.)
        let recorded = match &key {
            Some((key, hash)) => idempotency::recorded(&s.db, &caller.member_id, key, hash).await?,
            None => None,
        };
        return recorded.map(answer_recorded).unwrap_or_else(|| {
            Err(Error::Conflict(
                "a request with this Idempotency-Key was served at the same time; try again".into(),
            ))
        });
    };
    let mut res = (StatusCode::CREATED, Json(&order)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/order/{}/", order.order_id)) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(res)
}

/// The first answer again for a key used with the same request; 422 for another request.
fn answer_recorded(recorded: Recorded) -> Result<Response> {
    match recorded {
        Recorded::Replay { status, body } => {
            let mut res = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
                axum::Json(body),
            )
                .into_response();
            res.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(res)
        }
        Recorded::Mismatch => Err(Error::Unprocessable(
            "this Idempotency-Key was used with a different request".into(),
        )),
    }
}

/// An order as asked for, checked: what [`price_and_write`] prices and writes.
pub(super) struct Placing<'a> {
    pub bran_id: &'a str,
    /// DINE_IN: the table (of `bran_id`).
    pub table: Option<AtTable>,
    pub lines: &'a [AskedLine],
    pub pay: Payment,
    pub special_requests: Option<String>,
}

/// Prices the lines and writes the order; `None` when `key` was taken meanwhile (nothing
/// written).
pub(super) async fn price_and_write(
    s: &AppState,
    caller: &Caller,
    placing: Placing<'_>,
    key: Option<(Key, Vec<u8>)>,
) -> Result<Option<Order>> {
    let Placing {
        bran_id,
        table,
        lines,
        pay,
        special_requests,
    } = placing;
    let asks: Vec<LineAsk> = lines
        .iter()
        .map(|l| LineAsk {
            pizza_id: &l.pizza_id,
            options: l.options.as_deref(),
        })
        .collect();
    let quoted = s.prices.lookup(&asks, bran_id).await?;
    let order_id = Uuid::now_v7();
    let mut rows = Vec::with_capacity(lines.len());
    let mut total: i64 = 0;
    let too_large = || Error::Validation("order total is too large".into());
    for (line, q) in lines.iter().zip(quoted) {
        let id = &line.pizza_id;
        let p = q
            .price
            .ok_or_else(|| unprocessable_pizza(id, "is not on the menu"))?;
        if !p.available {
            return Err(unprocessable_pizza(id, "is sold out"));
        }
        let options = q.options.map_err(|r| {
            Error::Api(
                httpkit::ApiError::unprocessable(r.problem)
                    .with_details(json!({"pizza_id": id, "group_id": r.group_id})),
            )
        })?;
        let unit_price = options
            .iter()
            .try_fold(p.price, |sum, o| sum.checked_add(o.price_delta))
            .ok_or_else(too_large)?;
        let line_total = unit_price
            .checked_mul(line.quantity)
            .ok_or_else(too_large)?;
        total = total.checked_add(line_total).ok_or_else(too_large)?;
        rows.push(LineRow {
            order_id,
            pizza_id: p.pizza_id.clone(),
            pizza_nm: p.pizza_nm.clone(),
            size: p.size.clone(),
            quantity: line.quantity as i32,
            unit_price,
            line_total,
            options: sqlx::types::Json(options),
        });
    }

    // Microseconds, as PostgreSQL keeps them, so the stored and the answered time agree.
    let created_at = DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros())
        .expect("now is representable");
    // A prepaid order waits for its money before the kitchen sees it.
    let status = if pay.method.is_prepaid() {
        Status::AwaitingPayment
    } else {
        Status::Pending
    };
    let row = OrderRow {
        order_id,
        member_id: caller.member_id.clone(),
        bran_id: bran_id.to_owned(),
        status,
        total_price: total,
        created_at,
        version: 1,
        estimated_ready_at: None,
        reject_reason: None,
        legacy_order_id: None,
        payment_method: pay.method,
        payment_status: db::initial_payment_status(pay.method),
        payer_name: pay.payer_name.clone(),
        // Given in the order's transaction (the answer recorded for the key gets it there).
        order_number: None,
        special_requests: special_requests.clone(),
        accept_message: None,
        service: if table.is_some() {
            Service::DineIn
        } else {
            Service::Pickup
        },
        table_label: table.as_ref().map(|t| t.label.clone()),
    };
    let mut view = order_view(s, &row, rows.iter().cloned().map(line_view).collect());
    let order = db::NewOrder {
        order_id,
        member_id: row.member_id,
        bran_id: row.bran_id,
        total_price: total,
        created_at,
        status,
        payment_method: pay.method,
        payer_name: pay.payer_name,
        special_requests,
        table,
        lines: rows,
        idempotency: match key {
            Some((key, hash)) => Some((
                key.as_str().to_owned(),
                hash,
                serde_json::to_value(&view).map_err(|e| Error::Internal(e.into()))?,
            )),
            None => None,
        },
    };

    // Once its transaction begins, the write runs to its end even if the client hangs up:
    // the retry then finds the key and replays this answer (ARCHITECTURE.md).
    let db = s.db.clone();
    let placed = outbox::run_to_completion(async move {
        let placed = place::write(&db, &order).await?;
        if let Placement::Written(number) = placed {
            tracing::info!(order.id = %order.order_id, order.number = number, member.id = %order.member_id, total_price = order.total_price, "order placed");
        }
        Ok::<_, Error>(placed)
    })
    .await?;
    match placed {
        Placement::Written(number) => {
            view.order_number = Some(number);
            Ok(Some(view))
        }
        Placement::UnknownBranch => {
            Err(Error::Unprocessable(format!("unknown branch '{bran_id}'")))
        }
        Placement::TableRetired => Err(table_gone()),
        Placement::Closed(state) => Err(super::store_closed(&state)),
        Placement::KeyTaken => Ok(None),
    }
}

fn unprocessable_pizza(id: &str, why: &str) -> Error {
    Error::Api(
        httpkit::ApiError::unprocessable(format!("pizza '{id}' {why}"))
            .with_details(json!({"pizza_id": id})),
    )
}
