//! An order's status (docs/contract.md §6), and how it is paid: parsed once where they come in
//! (a query string, a body, a row), types everywhere else; stored and sent as upper-case names.

use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::{
    Decode, Encode, Postgres, Type,
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Prepaid (card, transfer) and not paid yet: the kitchen does not see it.
    AwaitingPayment,
    Pending,
    Accepted,
    Ready,
    Completed,
    Rejected,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::AwaitingPayment,
        Status::Pending,
        Status::Accepted,
        Status::Ready,
        Status::Completed,
        Status::Rejected,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingPayment => "AWAITING_PAYMENT",
            Status::Pending => "PENDING",
            Status::Accepted => "ACCEPTED",
            Status::Ready => "READY",
            Status::Completed => "COMPLETED",
            Status::Rejected => "REJECTED",
            Status::Cancelled => "CANCELLED",
        }
    }

    /// Any case (`?status=pending` works too).
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// The names, for error messages and documentation.
    pub fn names() -> String {
        Status::ALL.map(Status::as_str).join(", ")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stored as `TEXT`.
impl Type<Postgres> for Status {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Status {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.as_str(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for Status {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = <&str as Decode<Postgres>>::decode(value)?;
        Ok(Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown order status {s:?}"))?)
    }
}

/// Stored as `TEXT`, like [`Status`]: the vocabulary is the events' (`events::order`), shared
/// with the payment service.
pub use events::order::{PaymentMethod, PaymentStatus};

/// Where the order is eaten: at the counter (`PICKUP`, every order before tables), or at a
/// table it was placed from (`DINE_IN`). Stored as `TEXT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Service {
    #[default]
    Pickup,
    DineIn,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Pickup => "PICKUP",
            Service::DineIn => "DINE_IN",
        }
    }
}

impl TryFrom<String> for Service {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "PICKUP" => Ok(Service::Pickup),
            "DINE_IN" => Ok(Service::DineIn),
            _ => Err(format!("unknown service {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_reads_back_as_itself_in_any_case() {
        for st in Status::ALL {
            assert_eq!(Status::parse(st.as_str()), Some(st));
            assert_eq!(Status::parse(&st.as_str().to_lowercase()), Some(st));
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                serde_json::json!(st.as_str())
            );
        }
        assert_eq!(Status::parse("SHIPPED"), None);
    }
}
