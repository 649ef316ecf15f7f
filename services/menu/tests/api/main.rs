//! pizza-menu against real PostgreSQL, a private NATS server, a real pizza-login, and real
//! gRPC, with one or two replicas.

mod branches;
mod edits;
mod helpers;
mod items;
mod legacy;
mod operations;
mod reads;
