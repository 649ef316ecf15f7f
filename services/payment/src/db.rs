//! SQL of the `payment` schema, as free functions that return rows. Reads take a pool; writes
//! take the caller's transaction: whoever changes a payment ([`crate::workflow`]) begins,
//! calls these, writes the event, commits.
//!
//! Every change is a conditional update on the payment's state, so of two racing settlements
//! (the browser's confirm, the provider's webhook, the reconciler) one wins and the other
//! finds nothing left to do: each event is written once.

use std::fmt;

use chrono::{DateTime, Utc};
use events::order::{PaymentMethod, PaymentStatus};
use httpkit::Result;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Where a prepaid order's money is (the `state` column; see the migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Unpaid,
    /// A confirm is at the provider; its answer decides.
    Confirming,
    Paid,
    /// Card: the cancel at the provider is queued.
    Refunding,
    /// Transfer: staff are to send the money back.
    RefundDue,
    /// Card: the provider refused the cancel; staff refund it at the provider's dashboard.
    RefundFailed,
    Refunded,
    /// The order was closed before anything was paid.
    Void,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Unpaid,
        State::Confirming,
        State::Paid,
        State::Refunding,
        State::RefundDue,
        State::RefundFailed,
        State::Refunded,
        State::Void,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Unpaid => "UNPAID",
            State::Confirming => "CONFIRMING",
            State::Paid => "PAID",
            State::Refunding => "REFUNDING",
            State::RefundDue => "REFUND_DUE",
            State::RefundFailed => "REFUND_FAILED",
            State::Refunded => "REFUNDED",
            State::Void => "VOID",
        }
    }

    /// The order's view of it.
    pub fn payment_status(self) -> PaymentStatus {
        match self {
            State::Unpaid | State::Confirming | State::Void => PaymentStatus::Unpaid,
            State::Paid | State::Refunding | State::RefundDue | State::RefundFailed => {
                PaymentStatus::Paid
            }
            State::Refunded => PaymentStatus::Refunded,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for State {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown payment state {s:?}"))
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub order_id: Uuid,
    pub provider_order_id: String,
    pub member_id: String,
    pub bran_id: String,
    #[sqlx(try_from = "String")]
    pub method: PaymentMethod,
    pub amount: i64,
    pub order_name: String,
    pub payer_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: State,
    pub order_closed: bool,
    pub payment_key: Option<String>,
    pub deposit_tx_id: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub refund_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub confirm_started_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub refunded_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "order_id, provider_order_id, member_id, bran_id, method, amount, \
    order_name, payer_name, state, order_closed, payment_key, deposit_tx_id, failure_code, \
    failure_message, refund_reason, created_at, confirm_started_at, paid_at, refunded_at";

/// A payment after a change, with the state it had before.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Changed {
    #[sqlx(flatten)]
    pub payment: PaymentRow,
    #[sqlx(try_from = "String")]
    pub previous_state: State,
}

/// [`COLUMNS`] of the updated row `p`, and the state of the locked row `before`.
fn changed_columns() -> &'static str {
    static CHANGED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let cols: Vec<String> = COLUMNS
            .split(',')
            .map(|c| format!("p.{}", c.trim()))
            .collect();
        format!("{}, before.state AS previous_state", cols.join(", "))
    });
    &CHANGED
}

/// How a payer name is compared: without spaces, in lower case (banks print names with and
/// without spaces, and in capitals).
pub fn payer_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A prepaid order, as its `order.created` tells it.
pub struct NewPayment<'a> {
    pub order_id: Uuid,
    pub member_id: &'a str,
    pub bran_id: &'a str,
    pub method: PaymentMethod,
    pub amount: i64,
    pub order_name: &'a str,
    pub payer_name: Option<&'a str>,
}

/// `false` when it was recorded before (a redelivered event).
pub async fn insert_payment(conn: &mut PgConnection, p: &NewPayment<'_>) -> Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO payment (order_id, provider_order_id, member_id, bran_id, method, amount, \
                              order_name, payer_name, payer_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(p.order_id)
    .bind(p.order_id.to_string())
    .bind(p.member_id)
    .bind(p.bran_id)
    .bind(p.method.as_str())
    .bind(p.amount)
    .bind(p.order_name)
    .bind(p.payer_name)
    .bind(p.payer_name.map(payer_key))
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

pub async fn payment(db: &PgPool, order_id: Uuid) -> Result<Option<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment WHERE order_id = $1"
    )))
    .bind(order_id)
    .fetch_optional(db)
    .await?)
}

/// The payment the provider knows by `provider_order_id`.
pub async fn payment_by_provider_order(
    db: &PgPool,
    provider_order_id: &str,
) -> Result<Option<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment WHERE provider_order_id = $1"
    )))
    .bind(provider_order_id)
    .fetch_optional(db)
    .await?)
}

/// Marks a card payment as being confirmed with `payment_key`: from UNPAID, or again with
/// the same key (a retried confirm). `None`: not in a state to be confirmed with this key.
pub async fn start_confirm(
    conn: &mut PgConnection,
    order_id: Uuid,
    payment_key: &str,
) -> Result<Option<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE payment SET state = 'CONFIRMING', payment_key = $2, updated_at = now(), \
                confirm_started_at = COALESCE(confirm_started_at, now()) \
         WHERE order_id = $1 AND method = 'CARD' \
           AND (state = 'UNPAID' OR (state = 'CONFIRMING' AND payment_key = $2)) \
         RETURNING {COLUMNS}"
    )))
    .bind(order_id)
    .bind(payment_key)
    .fetch_optional(conn)
    .await?)
}

/// The money is in. PAID, or — for an order closed meanwhile — straight on to its refund
/// (REFUNDING for a card, REFUND_DUE for a transfer). `None`: it was settled before.
pub async fn settle_paid(
    conn: &mut PgConnection,
    order_id: Uuid,
    payment_key: Option<&str>,
    deposit_tx_id: Option<&str>,
    provider_payment: Option<&Value>,
) -> Result<Option<Changed>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH before AS ( \
            SELECT order_id, state FROM payment \
            WHERE order_id = $1 AND state IN ('UNPAID', 'CONFIRMING', 'VOID') FOR UPDATE) \
         UPDATE payment p SET \
                state = CASE WHEN NOT p.order_closed THEN 'PAID' \
                             WHEN p.method = 'CARD' THEN 'REFUNDING' ELSE 'REFUND_DUE' END, \
                refund_reason = CASE WHEN p.order_closed \
                                     THEN COALESCE(p.refund_reason, 'the order was closed before it was paid') \
                                     ELSE p.refund_reason END, \
                payment_key = COALESCE($2, p.payment_key), \
                deposit_tx_id = COALESCE($3, p.deposit_tx_id), \
                provider_payment = COALESCE($4, p.provider_payment), \
                failure_code = NULL, failure_message = NULL, \
                paid_at = now(), updated_at = now() \
         FROM before WHERE p.order_id = before.order_id \
         RETURNING {}",
        changed_columns()
    )))
    .bind(order_id)
    .bind(payment_key)
    .bind(deposit_tx_id)
    .bind(provider_payment)
    .fetch_optional(conn)
    .await?)
}

/// The confirm with `payment_key` was refused: unpaid again (or VOID, if the order was
/// closed meanwhile). `None`: not being confirmed with that key any more.
pub async fn settle_failed(
    conn: &mut PgConnection,
    order_id: Uuid,
    payment_key: &str,
    code: &str,
    message: &str,
) -> Result<Option<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE payment SET state = CASE WHEN order_closed THEN 'VOID' ELSE 'UNPAID' END, \
                payment_key = NULL, confirm_started_at = NULL, \
                failure_code = $3, failure_message = $4, updated_at = now() \
         WHERE order_id = $1 AND state = 'CONFIRMING' AND payment_key = $2 \
         RETURNING {COLUMNS}"
    )))
    .bind(order_id)
    .bind(payment_key)
    .bind(code)
    .bind(message)
    .fetch_optional(conn)
    .await?)
}

/// The order was rejected or cancelled: nothing may be paid any more, and what was paid goes
/// back (REFUNDING for a card, REFUND_DUE for a transfer). `None`: known closed already.
pub async fn close_order(
    conn: &mut PgConnection,
    order_id: Uuid,
    reason: &str,
) -> Result<Option<Changed>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH before AS ( \
            SELECT order_id, state FROM payment \
            WHERE order_id = $1 AND NOT order_closed FOR UPDATE) \
         UPDATE payment p SET order_closed = true, updated_at = now(), \
                state = CASE p.state WHEN 'UNPAID' THEN 'VOID' \
                                     WHEN 'PAID' THEN CASE p.method WHEN 'CARD' THEN 'REFUNDING' \
                                                                    ELSE 'REFUND_DUE' END \
                                     ELSE p.state END, \
                refund_reason = $2 \
         FROM before WHERE p.order_id = before.order_id \
         RETURNING {}",
        changed_columns()
    )))
    .bind(order_id)
    .bind(reason)
    .fetch_optional(conn)
    .await?)
}

/// The money went back. From PAID too: a payment cancelled at the provider's dashboard.
/// `None`: refunded before (or never paid).
pub async fn settle_refunded(
    conn: &mut PgConnection,
    order_id: Uuid,
    provider_payment: Option<&Value>,
) -> Result<Option<Changed>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH before AS ( \
            SELECT order_id, state FROM payment \
            WHERE order_id = $1 AND state IN ('PAID', 'REFUNDING', 'REFUND_DUE', 'REFUND_FAILED') \
            FOR UPDATE) \
         UPDATE payment p SET state = 'REFUNDED', refunded_at = now(), updated_at = now(), \
                provider_payment = COALESCE($2, p.provider_payment) \
         FROM before WHERE p.order_id = before.order_id \
         RETURNING {}",
        changed_columns()
    )))
    .bind(order_id)
    .bind(provider_payment)
    .fetch_optional(conn)
    .await?)
}

/// The provider refused to cancel a card payment: staff refund it by hand. `false` if it was
/// not being refunded.
pub async fn refund_refused(
    conn: &mut PgConnection,
    order_id: Uuid,
    code: &str,
    message: &str,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE payment SET state = 'REFUND_FAILED', failure_code = $2, failure_message = $3, \
                updated_at = now() \
         WHERE order_id = $1 AND state = 'REFUNDING'",
    )
    .bind(order_id)
    .bind(code)
    .bind(message)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Confirms sent longer ago than `secs` whose answer never came, oldest first.
pub async fn unanswered_confirms(db: &PgPool, secs: f64, limit: i64) -> Result<Vec<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment WHERE state = 'CONFIRMING' \
           AND confirm_started_at < now() - make_interval(secs => $1) \
         ORDER BY confirm_started_at LIMIT $2"
    )))
    .bind(secs)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Refunds staff are to make (of one branch, or all), oldest first: transfers to send back,
/// and card refunds the provider refused.
pub async fn refunds_due(db: &PgPool, bran_id: Option<&str>) -> Result<Vec<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment WHERE state IN ('REFUND_DUE', 'REFUND_FAILED') \
           AND ($1::text IS NULL OR bran_id = $1) ORDER BY updated_at LIMIT 200"
    )))
    .bind(bran_id)
    .fetch_all(db)
    .await?)
}

// ---------------------------------------------------------------------------------------
// Deposits

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DepositRow {
    pub tx_id: String,
    pub payer_name: String,
    pub amount: i64,
    pub deposited_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub outcome: String,
    pub order_id: Option<Uuid>,
    pub settled_by: Option<String>,
    pub settled_at: Option<DateTime<Utc>>,
}

const DEPOSIT_COLUMNS: &str = "tx_id, payer_name, amount, deposited_at, received_at, outcome, \
                               order_id, settled_by, settled_at";

pub struct NewDeposit<'a> {
    pub tx_id: &'a str,
    pub payer_name: &'a str,
    pub amount: i64,
    pub deposited_at: DateTime<Utc>,
}

/// Takes the deposit's id first, so that the same `tx_id` reported twice (or at once by two
/// deliveries) is handled once: `false` when it was known already.
pub async fn claim_deposit(conn: &mut PgConnection, d: &NewDeposit<'_>) -> Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO deposit (tx_id, payer_name, payer_key, amount, deposited_at, outcome) \
         VALUES ($1, $2, $3, $4, $5, 'UNMATCHED') ON CONFLICT (tx_id) DO NOTHING",
    )
    .bind(d.tx_id)
    .bind(d.payer_name)
    .bind(payer_key(d.payer_name))
    .bind(d.amount)
    .bind(d.deposited_at)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

pub async fn set_deposit_outcome(
    conn: &mut PgConnection,
    tx_id: &str,
    outcome: &str,
    order_id: Option<Uuid>,
) -> Result<()> {
    sqlx::query("UPDATE deposit SET outcome = $2, order_id = $3 WHERE tx_id = $1")
        .bind(tx_id)
        .bind(outcome)
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn deposit(conn: &mut PgConnection, tx_id: &str) -> Result<Option<DepositRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DEPOSIT_COLUMNS} FROM deposit WHERE tx_id = $1"
    )))
    .bind(tx_id)
    .fetch_optional(conn)
    .await?)
}

/// The oldest unpaid transfer order of `payer_name` and `amount` — what a deposit from that
/// payer of that amount pays. All of them are locked (there are a handful at most): a
/// concurrent deposit waits, then finds the one paid meanwhile gone (PostgreSQL checks a row
/// it waited for again) and takes the next. (`LIMIT 1` would return nothing in that case.)
pub async fn oldest_transfer_due(
    conn: &mut PgConnection,
    payer_name: &str,
    amount: i64,
) -> Result<Option<Uuid>> {
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT order_id FROM payment \
         WHERE method = 'TRANSFER' AND state = 'UNPAID' AND payer_key = $1 AND amount = $2 \
         ORDER BY created_at FOR UPDATE",
    )
    .bind(payer_key(payer_name))
    .bind(amount)
    .fetch_all(conn)
    .await?;
    Ok(due.first().copied())
}

/// The unpaid transfer orders a deposit might be for, though it matches none exactly: those
/// of its payer (another amount) and those of its amount (another name), oldest first.
pub async fn transfers_near(
    db: impl sqlx::PgExecutor<'_>,
    payer_name: &str,
    amount: i64,
) -> Result<Vec<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment \
         WHERE method = 'TRANSFER' AND state = 'UNPAID' AND (payer_key = $1 OR amount = $2) \
         ORDER BY created_at LIMIT 20"
    )))
    .bind(payer_key(payer_name))
    .bind(amount)
    .fetch_all(db)
    .await?)
}

/// Deposits that paid nothing yet and that no one has settled, oldest first.
pub async fn open_deposits(db: &PgPool) -> Result<Vec<DepositRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DEPOSIT_COLUMNS} FROM deposit \
         WHERE outcome <> 'MATCHED' AND settled_at IS NULL ORDER BY received_at LIMIT 200"
    )))
    .fetch_all(db)
    .await?)
}

/// Staff settled an open deposit (`order_id`: the order it paid; none: sent back). `false`
/// when it was not open.
pub async fn settle_deposit(
    conn: &mut PgConnection,
    tx_id: &str,
    by: &str,
    order_id: Option<Uuid>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE deposit SET settled_by = $2, settled_at = now(), order_id = $3, \
                outcome = CASE WHEN $3::uuid IS NULL THEN outcome ELSE 'MATCHED' END \
         WHERE tx_id = $1 AND outcome <> 'MATCHED' AND settled_at IS NULL",
    )
    .bind(tx_id)
    .bind(by)
    .bind(order_id)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}
