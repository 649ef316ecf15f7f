//! The public HTTP API under `/order` (docs/contract.md §3, §6), by what a reader looks for:
//!
//! - [`place`] — `POST /order/`: validated, priced by the server, written once per
//!   `Idempotency-Key`;
//! - [`read`] — my orders, one order, the branches;
//! - [`staff`] — the staff queue and the status actions;
//! - [`legacy`] — pizza_back's `/api/order/…` for its old front end;
//! - here: the routes, the answer types every part shares, and the OpenAPI document.

mod branches;
pub mod legacy;
mod place;
mod read;
mod staff;
mod tables;

use std::collections::HashMap;

use axum::{
    Router,
    response::IntoResponse,
    routing::{get, patch, post, put},
};
use chrono::FixedOffset;
use httpkit::doc::{BearerAuth, Described};
use httpkit::{Result, route_both};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

pub(crate) use branches::store_closed;

use crate::{
    AppState, Shared,
    db::{self, LineRow, OrderRow},
    status::{PaymentMethod, PaymentStatus, Service, Status},
};

#[allow(deprecated)] // pizza_back's routes, served on purpose
pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    r = route_both(
        r,
        "/order/",
        get(staff::staff_queue).post(place::create_order),
    );
    r = route_both(r, "/order/myorder/", get(read::my_orders));
    r = route_both(r, "/order/branch/", get(branches::list));
    r = route_both(
        r,
        "/order/branch/{bran_id}/hours/",
        put(branches::set_hours),
    );
    r = route_both(
        r,
        "/order/branch/{bran_id}/pause/",
        put(branches::set_pause),
    );
    r = route_both(r, "/order/ws/", get(crate::live::ws));
    r = route_both(
        r,
        "/order/branch/{bran_id}/table/",
        get(tables::list).post(tables::create),
    );
    r = route_both(
        r,
        "/order/branch/{bran_id}/table/sheet/",
        get(tables::sheet),
    );
    r = route_both(
        r,
        "/order/branch/{bran_id}/table/{table_id}/",
        patch(tables::rename).delete(tables::retire),
    );
    r = r.route(
        "/order/branch/{bran_id}/table/{table_id}/{format}",
        get(tables::qr),
    );
    r = route_both(r, "/order/table/{token}/", get(tables::by_token));
    r = route_both(r, "/order/{order_id}/", get(read::one_order));
    r = route_both(r, "/order/{order_id}/{action}/", post(staff::order_action));
    r = r.route("/order/openapi.json", get(openapi));

    let mut old = Router::new();
    old = route_both(old, "/api/order/", post(legacy::create_order));
    old = route_both(old, "/api/order/myorder/", get(legacy::my_orders));
    old = route_both(old, "/api/order/branch/", get(legacy::branches));
    r.merge(httpkit::legacy(old, &legacy::ROUTES))
        .with_state(state)
}

/// Korea has kept UTC+9 without daylight saving since 1988, so a fixed offset is exact.
pub(crate) fn seoul() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub pizza_id: String,
    pub pizza_nm: String,
    pub size: String,
    pub quantity: i32,
    /// Whole won, as paid, its options included: it never changes afterwards.
    pub unit_price: i64,
    pub line_total: i64,
    /// The options chosen (or the defaults given), with what each added.
    pub options: Vec<crate::prices::ChosenOption>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub order_id: Uuid,
    pub status: Status,
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
    /// Set on an order imported from pizza_back: its id there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_order_id: Option<i64>,
    pub payment_method: PaymentMethod,
    /// `AT_PICKUP`; or `UNPAID`, `PAID`, `REFUNDED` for an order paid up front.
    pub payment_status: PaymentStatus,
    /// While AWAITING_PAYMENT: when it is cancelled unless paid (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_due_at: Option<String>,
    /// A TRANSFER order awaiting its money: where to send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// Short, unique per branch and business day ("Order 42"); absent on pizza_back's orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<i32>,
    /// What the customer asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_requests: Option<String>,
    /// What staff said when accepting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_message: Option<String>,
    /// `PICKUP` (the default) or `DINE_IN` (placed at a table, through its QR code).
    #[serde(default)]
    pub service: Service,
    /// DINE_IN: the table's label when the order was placed ("7").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_label: Option<String>,
}

/// How to pay a transfer order: this amount, to this account, from this name (the deposit is
/// matched on the name and the amount).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Transfer {
    #[schema(example = "케이뱅크")]
    pub bank: String,
    #[schema(example = "100148347666")]
    pub account_no: String,
    /// Whole won: exactly the order's total.
    pub amount: i64,
    pub payer_name: String,
    /// Opens the Toss app's transfer screen, filled in.
    #[schema(
        example = "supertoss://send?amount=76600&bank=%EC%BC%80%EC%9D%B4%EB%B1%85%ED%81%AC&accountNo=100148347666&origin=qr"
    )]
    pub deep_link: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Branch {
    pub bran_id: String,
    pub bran_nm: String,
}

fn order_view(s: &Shared, row: &OrderRow, lines: Vec<OrderLine>) -> Order {
    let local = row.created_at.with_timezone(&seoul());
    let awaiting = row.status == Status::AwaitingPayment;
    let due = match row.payment_method {
        PaymentMethod::Card => Some(s.timeouts.card),
        PaymentMethod::Transfer => Some(s.timeouts.transfer),
        PaymentMethod::AtPickup => None,
    }
    .filter(|_| awaiting)
    .and_then(|t| chrono::Duration::from_std(t).ok())
    .map(|t| {
        (row.created_at + t)
            .with_timezone(&seoul())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    });
    let transfer = match (&s.transfer, &row.payer_name) {
        (Some(account), Some(payer_name))
            if awaiting && row.payment_method == PaymentMethod::Transfer =>
        {
            Some(Transfer {
                bank: account.bank.clone(),
                account_no: account.account_no.clone(),
                amount: row.total_price,
                payer_name: payer_name.clone(),
                deep_link: format!(
                    "supertoss://send?amount={}&bank={}&accountNo={}&origin=qr",
                    row.total_price,
                    url::form_urlencoded::byte_serialize(account.bank.as_bytes())
                        .collect::<String>(),
                    account.account_no
                ),
            })
        }
        _ => None,
    };
    Order {
        order_id: row.order_id,
        status: row.status,
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
        legacy_order_id: row.legacy_order_id,
        payment_method: row.payment_method,
        payment_status: row.payment_status,
        payment_due_at: due,
        transfer,
        order_number: row.order_number,
        special_requests: row.special_requests.clone(),
        accept_message: row.accept_message.clone(),
        service: row.service,
        table_label: row.table_label.clone(),
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
        options: l.options.0,
    }
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
        .map(|r| order_view(s, r, by_order.remove(&r.order_id).unwrap_or_default()))
        .collect())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "pizza-order", description = "Orders: server-priced, idempotent."),
    paths(
        place::create_order,
        read::my_orders,
        read::one_order,
        branches::list,
        branches::set_hours,
        branches::set_pause,
        staff::staff_queue,
        staff::order_action,
        tables::list,
        tables::create,
        tables::rename,
        tables::retire,
        tables::qr,
        tables::sheet,
        tables::by_token,
        legacy::create_order,
        legacy::my_orders,
        legacy::branches
    ),
    components(schemas(httpkit::doc::ErrorEnvelope, httpkit::doc::LegacyError)),
    modifiers(&BearerAuth, &Described),
    tags(
        (name = "order", description = "Place and read orders"),
        (name = "staff", description = "The staff queue and the status workflow"),
        (name = "tables", description = "Dine-in tables and their QR codes"),
        (name = "legacy", description = "pizza_back's API under /api/order, for its old front end during the switch (deprecated)")
    )
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
