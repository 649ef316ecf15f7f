//! Refunds. A card payment is cancelled at the provider by the refunder, a work queue on
//! `payment.refund_requested` (one durable consumer shared by the replicas): the event was
//! written in the transaction that decided the refund, so none is forgotten, and it is
//! acted on until the provider answers — a 5xx, a timeout or this replica dying mean another
//! attempt later. Every attempt carries the event's id as the `Idempotency-Key`, so however
//! many attempts reach the provider, it cancels once.
//!
//! A transfer is sent back by staff (the platform holds no bank credentials): the order shows
//! on their list of refunds to make until they mark it done ([`refunded_by_staff`]). So does a
//! card refund the provider refused (it answered, and will not cancel: REFUND_FAILED): staff
//! make it at the provider's dashboard.

use std::{sync::Arc, time::Duration};

use authclient::Caller;
use events::{Envelope, PaymentEvent};
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
            // On a task of its own: a shutdown never cuts the attempt between the provider's
            // answer and its record.
            Box::pin(outbox::run_to_completion(
                async move { refund(&s, event).await },
            ))
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
            tracing::error!(order.id = %r.order_id, code, message, "the provider refuses the refund; it goes on the staff's list");
            let mut tx = s.db.begin().await?;
            db::refund_refused(&mut tx, r.order_id, &code, &message).await?;
            tx.commit().await?;
            Ok(())
        }
        Err(Failure::Unknown(why)) => anyhow::bail!("{why}"),
    }
}

/// Refunds staff are to make (a bound STAFF member: their branch's).
pub async fn due(s: &AppState, caller: &Caller) -> Result<Vec<db::PaymentRow>> {
    db::refunds_due(&s.db, caller.bound_branch()).await
}

/// Staff sent a transfer's money back, or refunded a card at the provider's dashboard:
/// REFUNDED, `payment.refunded`.
pub async fn refunded_by_staff(
    s: &AppState,
    caller: &Caller,
    order_id: Uuid,
) -> Result<db::PaymentRow> {
    let bound = caller.bound_branch();
    let p = db::payment(&s.db, order_id)
        .await?
        .filter(|p| bound.is_none_or(|b| b == p.bran_id))
        .ok_or_else(|| Error::NotFound("no such order".into()))?;
    if !matches!(p.state, State::RefundDue | State::RefundFailed) {
        return Err(
            ApiError::conflict("no refund is due from staff for this order")
                .with_details(json!({"state": p.state}))
                .into(),
        );
    }
    let db = s.db.clone();
    let done =
        outbox::run_to_completion(async move { workflow::refunded(&db, order_id, None).await })
            .await?;
    match done {
        Some(p) => {
            tracing::info!(order.id = %order_id, by = %caller.member_id, "refunded by staff");
            Ok(p)
        }
        None => Err(Error::Conflict("refunded meanwhile".into())),
    }
}
