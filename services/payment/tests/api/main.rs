//! pizza-payment against real PostgreSQL, a private NATS server, real pizza-login, pizza-menu
//! and pizza-order, and the Toss Payments sandbox.

mod card;
mod helpers;
mod operations;
mod refunds;
mod transfer;
