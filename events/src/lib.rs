//! The events the services send each other, as one contract (beside `proto/` for gRPC):
//! the JetStream streams, the subjects, and a payload struct for each.
//!
//! | stream | enum | subject | payload | from | read by |
//! |---|---|---|---|---|---|
//! | `AUTH` | [`AuthEvent`] | `auth.session_revoked` | [`auth::SessionRevoked`] | login | token caches (menu, order) |
//! | `CATALOG` | [`CatalogEvent`] | `catalog.updated` | [`catalog::CatalogUpdated`] | menu | served menu (menu), prices (order) |
//! | `ORDERS` | [`OrderEvent`] | `order.created` | [`order::OrderCreated`] | order | live sockets, notifications (order); what is to be paid (payment) |
//! | | | `order.status_changed` | [`order::StatusChanged`] | order | live sockets, notifications (order); refunds (payment) |
//! | | | `order.payment_changed` | [`order::PaymentChanged`] | order | live sockets (order) |
//! | `BRANCHES` | [`BranchEvent`] | `branch.updated` | [`branch::BranchUpdated`] | order | branch lists (order) |
//! | | | `branch.table_changed` | [`branch::TableChanged`] | order | tables by token (order) |
//! | `PAYMENTS` | [`PaymentEvent`] | `payment.completed` | [`payment::PaymentCompleted`] | payment | the order's payment status (order) |
//! | | | `payment.failed` | [`payment::PaymentFailed`] | payment | logs (order) |
//! | | | `payment.refunded` | [`payment::PaymentRefunded`] | payment | the order's payment status (order) |
//! | | | `payment.refund_requested` | [`payment::RefundRequested`] | payment | the refunder (payment's own work queue) |
//!
//! Each stream's events are one enum, so a producer names the event it writes and a consumer
//! matches on what it got: a field renamed on one side no longer compiles on the other.
//! Producers write them with `outbox::enqueue` (in the transaction of the change they
//! announce); consumers receive [`Envelope`]s of the stream's enum. The wire format is JSON:
//! `{"id", "occurred_at", "version", "type": <subject>, "data": <payload>}`.
//!
//! Compatible changes only, as with `proto/`: add optional fields (`#[serde(default)]`), add
//! events; never rename or retype a field. A consumer older than its producer skips an event
//! type it does not know (and logs it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

pub mod auth;
pub mod branch;
pub mod catalog;
pub mod order;
pub mod payment;

pub use auth::AuthEvent;
pub use branch::BranchEvent;
pub use catalog::CatalogEvent;
pub use order::OrderEvent;
pub use payment::PaymentEvent;

/// The envelope format written now. Events written before the field existed read as 1.
pub const VERSION: u32 = 1;

/// A JetStream stream: its name, and the subjects it holds (one wildcard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    pub name: &'static str,
    pub subjects: &'static str,
}

/// The events of one stream, as one enum whose variants are tagged with their subject.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stream that holds these events.
    const STREAM: Stream;

    /// The subject this event is published on (also its envelope's `type`).
    fn subject(&self) -> &'static str;
}

/// Every event on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<E> {
    /// Unique per event; also its JetStream `Nats-Msg-Id`, so a republished event is dropped.
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    #[serde(default = "first_version")]
    pub version: u32,
    /// `type` (the subject) and `data` (the payload).
    #[serde(flatten)]
    pub event: E,
}

fn first_version() -> u32 {
    1
}

impl<E: Event> Envelope<E> {
    /// A new event, now, with a fresh (time-ordered) id.
    pub fn new(event: E) -> Self {
        Self {
            id: Uuid::now_v7(),
            occurred_at: Utc::now(),
            version: VERSION,
            event,
        }
    }

    pub fn subject(&self) -> &'static str {
        self.event.subject()
    }

    pub fn decode(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subject of `E`, each through JSON and back, in the stream that holds it.
    fn round_trip<E: Event + PartialEq + std::fmt::Debug + Clone>(all: Vec<E>) {
        for event in all {
            let sent = Envelope::new(event.clone());
            let json = serde_json::to_value(&sent).unwrap();
            assert_eq!(json["type"], sent.subject(), "{json}");
            assert_eq!(json["version"], VERSION);
            let prefix = E::STREAM.subjects.trim_end_matches('>');
            assert!(
                sent.subject().starts_with(prefix),
                "{} is not in stream {}",
                sent.subject(),
                E::STREAM.name
            );
            let got = Envelope::<E>::decode(json.to_string().as_bytes()).unwrap();
            assert_eq!(got, sent);
        }
    }

    #[test]
    fn every_subject_round_trips_in_its_stream() {
        round_trip(auth::examples());
        round_trip(branch::examples());
        round_trip(catalog::examples());
        round_trip(order::examples());
        round_trip(payment::examples());
    }

    #[test]
    fn events_written_before_the_version_field_still_decode() {
        let old = r#"{"id":"019abc00-0000-7000-8000-000000000001","type":"catalog.updated",
            "occurred_at":"2026-11-23T06:12:40.123456Z",
            "data":{"catalog_version":7,"pizza_ids":["hawaiian_l"]}}"#;
        let e = Envelope::<CatalogEvent>::decode(old.as_bytes()).unwrap();
        assert_eq!(e.version, 1);
        let CatalogEvent::Updated(u) = e.event;
        assert_eq!(u.catalog_version, 7);
        assert_eq!(u.pizza_ids, vec!["hawaiian_l"]);
    }

    #[test]
    fn an_order_created_before_payments_existed_is_paid_at_pickup() {
        let old = r#"{"id":"019abc00-0000-7000-8000-000000000001","type":"order.created",
            "occurred_at":"2026-11-23T06:12:40Z","version":1,
            "data":{"order_id":"019abc00-0000-7000-8000-000000000002","member_id":"kim",
                    "bran_id":"gangnam","status":"PENDING","total_price":76600}}"#;
        let e = Envelope::<OrderEvent>::decode(old.as_bytes()).unwrap();
        let OrderEvent::Created(c) = e.event else {
            panic!("an order.created")
        };
        assert_eq!(c.payment_method, order::PaymentMethod::AtPickup);
        assert_eq!(c.payer_name, None);
    }

    #[test]
    fn an_unknown_event_type_is_an_error_not_a_panic() {
        let newer = r#"{"id":"019abc00-0000-7000-8000-000000000001","type":"order.paid",
            "occurred_at":"2026-11-23T06:12:40Z","data":{}}"#;
        assert!(Envelope::<OrderEvent>::decode(newer.as_bytes()).is_err());
    }

    #[test]
    fn the_streams_do_not_overlap() {
        let streams = [
            AuthEvent::STREAM,
            BranchEvent::STREAM,
            CatalogEvent::STREAM,
            OrderEvent::STREAM,
            PaymentEvent::STREAM,
        ];
        for (i, a) in streams.iter().enumerate() {
            for b in &streams[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.subjects, b.subjects);
            }
        }
    }
}
