//! pizza-login against real PostgreSQL, a real NATS JetStream server and real gRPC.

mod binary;
mod helpers;
mod import;
mod input;
mod legacy;
mod limits;
mod operations;
mod secured;
mod sessions;
mod social;
mod tokens;
