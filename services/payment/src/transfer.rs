//! Bank transfers (the table-order system's pre-order, paid by a transfer to the shop's
//! account). A deposit notification service (PayAction-style) watches the account and calls
//! `POST /payment/webhooks/deposit/` with `{"tx_id", "payer_name", "amount", "deposited_at"}`,
//! signed `X-Signature: hex(HMAC-SHA256(DEPOSIT_WEBHOOK_SECRET, body))`.
//!
//! A deposit pays one UNPAID transfer order of that payer name and amount: the oldest, if
//! there are several (the next such deposit pays the next). One that matches none exactly is
//! AMBIGUOUS when an unpaid transfer order has its payer name (another amount) or its amount
//! (another name) — a customer who paid too little, a friend's account — and UNMATCHED when
//! none does. Either way it is kept, never dropped, and staff see it with those orders (oldest
//! first) until they assign it to one or send the money back. The same `tx_id` reported again
//! answers what the first report did: one deposit is one payment, however often it is
//! delivered.

use authclient::Caller;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use events::order::PaymentMethod;
use hmac::{Hmac, Mac};
use httpkit::{ApiError, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    db::{self, DepositRow, NewDeposit, State},
    workflow::{self, Paid},
};

/// A deposit as the notification service reports it (other fields it sends are ignored).
#[derive(Debug, Deserialize, ToSchema)]
pub struct DepositNotice {
    /// The bank's id of the deposit (1 to 100 visible ASCII characters).
    #[schema(pattern = "^[\\x21-\\x7E]{1,100}$")]
    pub tx_id: String,
    /// The name the bank shows for the sender (1 to 50 characters).
    #[schema(min_length = 1, max_length = 50)]
    pub payer_name: String,
    /// Whole won.
    #[serde(deserialize_with = "httpkit::whole::number")]
    pub amount: i64,
    /// RFC 3339.
    pub deposited_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// It paid `order_id`.
    Matched,
    /// No unpaid transfer order of that payer or that amount: kept for staff.
    Unmatched,
    /// None of that payer and amount, but some of that payer or that amount: kept for staff
    /// to choose.
    Ambiguous,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Matched => "MATCHED",
            Outcome::Unmatched => "UNMATCHED",
            Outcome::Ambiguous => "AMBIGUOUS",
        }
    }

    fn parse(s: &str) -> Outcome {
        match s {
            "MATCHED" => Outcome::Matched,
            "AMBIGUOUS" => Outcome::Ambiguous,
            _ => Outcome::Unmatched,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepositAnswer {
    pub tx_id: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
}

/// Whether `signature` (hex) is `body`'s HMAC-SHA256 under `secret`, compared in constant
/// time.
pub fn signature_valid(secret: &[u8], body: &[u8], signature: Option<&HeaderValue>) -> bool {
    let Some(given) = signature
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hex::decode(v.trim()).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn validate(n: &DepositNotice) -> Result<()> {
    let id = n.tx_id.as_bytes();
    if !(1..=100).contains(&id.len()) || !id.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Error::Validation(
            "tx_id must be 1 to 100 visible ASCII characters".into(),
        ));
    }
    let name = n.payer_name.trim();
    if name.is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
        return Err(Error::Validation(
            "payer_name must be 1 to 50 characters".into(),
        ));
    }
    if !(1..=100_000_000).contains(&n.amount) {
        return Err(Error::Validation(
            "amount must be 1 to 100,000,000 won".into(),
        ));
    }
    Ok(())
}

/// Records a deposit and pays what it matches, once per `tx_id`.
pub async fn deposit(s: &AppState, notice: DepositNotice) -> Result<DepositAnswer> {
    validate(&notice)?;
    let db = s.db.clone();
    // Once begun, it finishes: the notification service may give up on the call and send it
    // again, and must then find it done.
    outbox::run_to_completion(async move {
        let mut tx = db.begin().await?;
        let new = NewDeposit {
            tx_id: &notice.tx_id,
            payer_name: notice.payer_name.trim(),
            amount: notice.amount,
            deposited_at: notice.deposited_at,
        };
        if !db::claim_deposit(&mut tx, &new).await? {
            // Reported before (or being reported right now: the claim waited for it).
            let known = db::deposit(&mut tx, &notice.tx_id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("deposit vanished")))?;
            if known.amount != notice.amount {
                return Err(Error::Conflict(
                    "this tx_id was reported before with another amount".into(),
                ));
            }
            return Ok(DepositAnswer {
                tx_id: known.tx_id,
                outcome: Outcome::parse(&known.outcome),
                order_id: known.order_id,
            });
        }
        let (outcome, order_id) =
            match db::oldest_transfer_due(&mut tx, new.payer_name, new.amount).await? {
                Some(order_id) => {
                    let how = Paid::Deposit {
                        tx_id: &notice.tx_id,
                    };
                    workflow::settle_paid(&mut tx, order_id, how).await?;
                    (Outcome::Matched, Some(order_id))
                }
                None if db::transfers_near(&mut *tx, new.payer_name, new.amount)
                    .await?
                    .is_empty() =>
                {
                    (Outcome::Unmatched, None)
                }
                None => (Outcome::Ambiguous, None),
            };
        db::set_deposit_outcome(&mut tx, &notice.tx_id, outcome.as_str(), order_id).await?;
        tx.commit().await?;
        tracing::info!(tx_id = %notice.tx_id, outcome = outcome.as_str(), order.id = ?order_id, "deposit received");
        Ok(DepositAnswer {
            tx_id: notice.tx_id,
            outcome,
            order_id,
        })
    })
    .await
}

/// An unpaid transfer order a deposit could be for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Candidate {
    pub order_id: Uuid,
    pub bran_id: String,
    pub amount: i64,
    pub created_at: String,
}

/// A deposit that paid nothing yet, with the unpaid transfer orders of its payer or its
/// amount, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenDeposit {
    pub tx_id: String,
    pub payer_name: String,
    pub amount: i64,
    pub deposited_at: String,
    pub outcome: Outcome,
    pub candidates: Vec<Candidate>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What staff see of deposits to settle.
pub async fn open_deposits(s: &AppState) -> Result<Vec<OpenDeposit>> {
    let mut out = vec![];
    for d in db::open_deposits(&s.db).await? {
        let candidates = db::transfers_near(&s.db, &d.payer_name, d.amount)
            .await?
            .into_iter()
            .map(|p| Candidate {
                order_id: p.order_id,
                bran_id: p.bran_id,
                amount: p.amount,
                created_at: rfc3339(p.created_at),
            })
            .collect();
        out.push(open_view(d, candidates));
    }
    Ok(out)
}

fn open_view(d: DepositRow, candidates: Vec<Candidate>) -> OpenDeposit {
    OpenDeposit {
        outcome: Outcome::parse(&d.outcome),
        tx_id: d.tx_id,
        payer_name: d.payer_name,
        amount: d.amount,
        deposited_at: rfc3339(d.deposited_at),
        candidates,
    }
}

/// Staff's answer for an open deposit: the order it pays, or none (the money was sent back).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    /// The unpaid transfer order this deposit pays (its amount must be the deposit's);
    /// absent or null: the money was sent back to the payer.
    #[serde(default)]
    pub order_id: Option<Uuid>,
}

/// Settles an open deposit as `caller`. A STAFF member bound to a branch may pay only that
/// branch's orders with it, and may not mark it sent back: the shop's account is everyone's,
/// and the deposit may be meant for another branch's order (ADMIN and unbound STAFF may).
pub async fn settle(
    s: &AppState,
    caller: &Caller,
    tx_id: String,
    settlement: Settlement,
) -> Result<DepositAnswer> {
    let db = s.db.clone();
    let by = caller.member_id.clone();
    let bound = caller.bound_branch().map(str::to_owned);
    if settlement.order_id.is_none() && bound.is_some() {
        return Err(ApiError::forbidden(
            "staff of one branch cannot mark a deposit sent back; ask an unbound STAFF or an ADMIN",
        )
        .into());
    }
    outbox::run_to_completion(async move {
        let mut tx = db.begin().await?;
        let d = db::deposit(&mut tx, &tx_id)
            .await?
            .ok_or_else(|| Error::NotFound("no such deposit".into()))?;
        if d.outcome == "MATCHED" || d.settled_at.is_some() {
            return Err(ApiError::conflict("this deposit is settled already")
                .with_details(json!({"order_id": d.order_id}))
                .into());
        }
        if let Some(order_id) = settlement.order_id {
            let p = db::payment(&db, order_id)
                .await?
                .filter(|p| bound.as_deref().is_none_or(|b| b == p.bran_id))
                .ok_or_else(|| Error::NotFound("no such order".into()))?;
            if p.method != PaymentMethod::Transfer || p.state != State::Unpaid {
                return Err(ApiError::conflict("that order is not an unpaid transfer")
                    .with_details(json!({"state": p.state}))
                    .into());
            }
            if p.amount != d.amount {
                return Err(Error::Unprocessable(format!(
                    "the deposit is {} won, the order {} won",
                    d.amount, p.amount
                )));
            }
            let paid =
                workflow::settle_paid(&mut tx, order_id, Paid::Deposit { tx_id: &tx_id }).await?;
            if paid.is_none() {
                return Err(Error::Conflict("that order was paid meanwhile".into()));
            }
        }
        if !db::settle_deposit(&mut tx, &tx_id, &by, settlement.order_id).await? {
            return Err(Error::Conflict("this deposit was settled meanwhile".into()));
        }
        tx.commit().await?;
        tracing::info!(tx_id = %tx_id, order.id = ?settlement.order_id, by = %by, "deposit settled by staff");
        Ok(DepositAnswer {
            tx_id,
            outcome: if settlement.order_id.is_some() {
                Outcome::Matched
            } else {
                Outcome::parse(&d.outcome)
            },
            order_id: settlement.order_id,
        })
    })
    .await
}
