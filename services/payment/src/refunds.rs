//! Refunds. A card payment is cancelled at the provider by the refunder, a work queue on
//! `payment.refund_requested` (one durable consumer shared by the replicas): the event was
//! written in the transaction that decided the refund, so none is forgotten, and it is
//! acted on until the provider answers — a 5xx, a timeout or this replica dying mean another
//! attempt later. Every attempt carries the event's id as the `Idempotency-Key`, so however
//! many attempts reach the provider, it cancels once.
//!
//! A transfer is sent back by staff (the platform holds no bank credentials): the order shows
//! on their list of refunds to make until they mark it done ([`transfer_refunded`]).

use std::{sync::Arc, time::Duration};

use authclient::Caller;
use events::{Envelope, PaymentEvent, order::PaymentMethod};
use httpkit::{ApiError, Error, Result};
use serde_json::json;
use uuid::Uuid;

use crate::{
    AppState,
    db::{self, State},
    toss::Failure,
    workflow,
};

/// The refunder's work queue. An attempt takes at most two calls to the provider: a replica
/// that dies during one has its event given to another replica soon after.
pub fn queue(s: AppState) -> outbox::WorkQueue<PaymentEvent> {
    let ack_wait = s.toss_timeout * 2 + Duration::from_secs(5);
    let mut queue = outbox::WorkQueue::new(
        "payment-refunder",
        events::payment::REFUND_REQUESTED,
        Arc::new(move |event| {
            let s = s.clone();
            Box::pin(async move { refund(&s, event).await })
        }),
    );
    queue.ack_wait = ack_wait;
    queue
}

async fn refund(s: &AppState, event: Envelope<PaymentEvent>) -> anyhow::Result<()> {
    let PaymentEvent::RefundRequested(r) = &event.event else {
        return Ok(());
    };
    let Some(p) = db::payment(&s.db, r.order_id).await? else {
        anyhow::bail!("refund of unknown payment {}", r.order_id);
    };
    if p.state != State::Refunding {
        // Refunded already (an earlier attempt's answer arrived after all).
        return Ok(());
    }
    let answer = s
        .toss
        .cancel(&r.payment_key, &r.reason, &event.id.to_string())
        .await;
    let answer = match answer {
        // Cancelled before (by an attempt whose answer was lost, or at the dashboard).
        Err(Failure::Refused { code, .. }) if code == "ALREADY_CANCELED_PAYMENT" => {
            s.toss.payment(&r.payment_key).await
        }
        other => other,
    };
    match answer {
        Ok(provider) if provider.status == "CANCELED" => {
            workflow::refunded(&s.db, r.order_id, Some(&provider.raw)).await?;
            Ok(())
        }
        Ok(provider) => anyhow::bail!(
            "the provider says {} of a payment it was asked to cancel",
            provider.status
        ),
        Err(Failure::Refused { code, message, .. }) => {
            tracing::error!(order.id = %r.order_id, code, message, "the provider refuses the refund; it is tried again (and can be made at its dashboard)");
            anyhow::bail!("refused: {code}")
        }
        Err(Failure::Unknown(why)) => anyhow::bail!("{why}"),
    }
}

/// Transfer refunds staff are to make (a bound STAFF member: their branch's).
pub async fn transfers_due(s: &AppState, caller: &Caller) -> Result<Vec<db::PaymentRow>> {
    let bound = (caller.role == authclient::Role::Staff)
        .then_some(caller.bran_id.as_deref())
        .flatten();
    db::refunds_due(&s.db, bound).await
}

/// Staff sent a transfer order's money back: REFUNDED, `payment.refunded`.
pub async fn transfer_refunded(
    s: &AppState,
    caller: &Caller,
    order_id: Uuid,
) -> Result<db::PaymentRow> {
    let bound = (caller.role == authclient::Role::Staff)
        .then(|| caller.bran_id.clone())
        .flatten();
    let p = db::payment(&s.db, order_id)
        .await?
        .filter(|p| p.method == PaymentMethod::Transfer)
        .filter(|p| bound.as_deref().is_none_or(|b| b == p.bran_id))
        .ok_or_else(|| Error::NotFound("no such transfer order".into()))?;
    if p.state != State::RefundDue {
        return Err(ApiError::conflict("no refund is due for this order")
            .with_details(json!({"state": p.state}))
            .into());
    }
    let db = s.db.clone();
    let done =
        outbox::run_to_completion(async move { workflow::refunded(&db, order_id, None).await })
            .await?;
    match done {
        Some(p) => {
            tracing::info!(order.id = %order_id, by = %caller.member_id, "transfer refunded by staff");
            Ok(p)
        }
        None => Err(Error::Conflict("refunded meanwhile".into())),
    }
}
