//! pizza-order against real PostgreSQL, a private NATS server, and real pizza-login and
//! pizza-menu over real gRPC.

mod branch_events;
mod helpers;
mod hours;
mod idempotency;
mod legacy;
mod live;
mod notify;
mod numbers;
mod operations;
mod options;
mod payments;
mod placing;
mod plans;
mod reading;
mod sold_out;
mod tables;
mod workflow;
