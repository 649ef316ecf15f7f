//! The public HTTP API under `/payment`:
//!
//! - [`card`] — checkout and confirm (the order's owner), one order's payment;
//! - [`webhooks`] — the provider's webhook (never believed: the payment is read back) and the
//!   deposit notifications (signed);
//! - [`staff`] — open deposits and transfer refunds, for STAFF and ADMIN;
//! - here: the routes and the OpenAPI document.

mod card;
mod staff;
mod webhooks;

use axum::{
    Router,
    response::IntoResponse,
    routing::{get, post},
};
use httpkit::{
    doc::{BearerAuth, Described},
    route_both,
};
use utoipa::OpenApi;

use crate::AppState;

pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    r = route_both(r, "/payment/checkout/", post(card::checkout));
    r = route_both(r, "/payment/confirm/", post(card::confirm));
    r = route_both(r, "/payment/orders/{order_id}/", get(card::one));
    r = route_both(
        r,
        "/payment/webhooks/tosspayments/",
        post(webhooks::provider),
    );
    r = route_both(r, "/payment/webhooks/deposit/", post(webhooks::deposit));
    r = route_both(r, "/payment/deposits/", get(staff::open_deposits));
    r = route_both(
        r,
        "/payment/deposits/{tx_id}/settle/",
        post(staff::settle_deposit),
    );
    r = route_both(r, "/payment/refunds/", get(staff::refunds_due));
    r = route_both(
        r,
        "/payment/refunds/{order_id}/done/",
        post(staff::refund_done),
    );
    r = r.route("/payment/openapi.json", get(openapi));
    r.with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "pizza-payment", description = "Payments: card through Toss Payments, bank transfer by deposit notification, refunds exactly once."),
    paths(
        card::checkout,
        card::confirm,
        card::one,
        webhooks::provider,
        webhooks::deposit,
        staff::open_deposits,
        staff::settle_deposit,
        staff::refunds_due,
        staff::refund_done
    ),
    components(schemas(httpkit::doc::ErrorEnvelope)),
    modifiers(&BearerAuth, &Described),
    tags(
        (name = "payment", description = "Paying an order"),
        (name = "webhooks", description = "Calls from the provider and the bank's deposit notification service"),
        (name = "staff", description = "Deposits to settle and transfer refunds to make")
    )
)]
pub struct ApiDoc;

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
