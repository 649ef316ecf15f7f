//! Live order status over WebSocket at `/order/ws` (docs/contract.md §3).
//!
//! Browsers cannot set headers on a WebSocket, so the first client message authenticates:
//! `{"type": "auth", "token": "…"}`. Then the server pushes
//! `{type: "order.created" | "order.status_changed" | "order.payment_changed", order_id,
//! status, previous_status?, estimated_ready_at?, payment_status?, order_number?, message?,
//! occurred_at}`: a customer
//! gets their own orders; STAFF get every order (of their branch, if bound; `?bran_id=`
//! narrows it), ADMIN every order — except, for staff and admins alike, an unpaid order's
//! creation and its cancellation unpaid (the kitchen first hears of a prepaid order when it
//! becomes PENDING).
//!
//! Fan-out: every replica reads the ORDERS stream with its own broadcast subscription, so
//! a change made on any replica reaches sockets on all of them. In the process, one
//! `tokio::sync::broadcast` channel feeds every socket.
//!
//! Bounded: a socket that falls more than the channel's capacity behind (or takes over 5 s
//! to accept a message) is closed rather than buffered. Heartbeats: a ping every 20 s; a
//! client silent for 60 s is closed. A revoked session or an expired token closes the socket.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use authclient::{AuthClient, Caller, Role};
use axum::{
    extract::{
        Query, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket},
    },
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use chrono::SecondsFormat;
use events::{Envelope, OrderEvent};
use httpkit::ApiError;
use outbox::Broadcast;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;

use crate::AppState;

/// How far a socket may fall behind before it is dropped.
const BACKLOG: usize = 1024;
const PING_EVERY: Duration = Duration::from_secs(20);
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
const AUTH_WITHIN: Duration = Duration::from_secs(10);
const SEND_WITHIN: Duration = Duration::from_secs(5);

/// Close codes in the application range.
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_TOO_SLOW: u16 = 4408;

/// One order event as pushed to sockets (routing fields are not sent).
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_ready_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<&'static str>,
    /// What staff said when accepting it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The order's number of the day (on `order.created`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<i32>,
    pub occurred_at: String,
    #[serde(skip)]
    member_id: String,
    #[serde(skip)]
    bran_id: String,
}

impl LiveEvent {
    fn from_envelope(e: &Envelope<OrderEvent>) -> Self {
        let live = |order_id: uuid::Uuid, member_id: &str, bran_id: &str, status: &str| Self {
            kind: e.subject().to_owned(),
            order_id: order_id.to_string(),
            status: status.to_owned(),
            previous_status: None,
            estimated_ready_at: None,
            payment_status: None,
            message: None,
            order_number: None,
            occurred_at: e.occurred_at.to_rfc3339(),
            member_id: member_id.to_owned(),
            bran_id: bran_id.to_owned(),
        };
        match &e.event {
            OrderEvent::Created(c) => Self {
                order_number: c.order_number,
                ..live(c.order_id, &c.member_id, &c.bran_id, &c.status)
            },
            OrderEvent::StatusChanged(c) => Self {
                previous_status: Some(c.previous_status.clone()),
                // As the event carries it (RFC 3339, UTC, fractions as stored).
                estimated_ready_at: c
                    .estimated_ready_at
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
                payment_status: c.payment_status.map(|p| p.as_str()),
                message: c.message.clone(),
                ..live(c.order_id, &c.member_id, &c.bran_id, &c.status)
            },
            OrderEvent::PaymentChanged(c) => Self {
                payment_status: Some(c.payment_status.as_str()),
                ..live(c.order_id, &c.member_id, &c.bran_id, &c.status)
            },
        }
    }

    /// Unpaid, or cancelled before it was ever paid: the kitchen never saw it.
    fn before_the_kitchen(&self) -> bool {
        const AWAITING: &str = "AWAITING_PAYMENT";
        self.status == AWAITING
            || self.previous_status.as_deref() == Some(AWAITING) && self.status != "PENDING"
    }

    fn visible_to(&self, caller: &Caller, branch: Option<&str>) -> bool {
        let in_branch = branch.is_none_or(|b| b == self.bran_id);
        match caller.role {
            Role::Customer => self.member_id == caller.member_id,
            Role::Staff | Role::Admin => in_branch && !self.before_the_kitchen(),
        }
    }
}

/// The in-process fan-out point.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Hub {
    /// The broadcast subscription that feeds this hub from the ORDERS stream.
    pub fn subscription(&self) -> Broadcast<OrderEvent> {
        let tx = self.tx.clone();
        Broadcast::new(
            Arc::new(move |event| {
                // No sockets: nothing to do.
                let _ = tx.send(Arc::new(LiveEvent::from_envelope(event)));
            }),
            // Missed events cannot be replayed to sockets; clients refetch on their own
            // reconnect, and the next change arrives as usual.
            Arc::new(|| {}),
        )
    }
}

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// STAFF/ADMIN: only this branch.
    bran_id: Option<String>,
}

#[derive(Deserialize)]
struct AuthMessage {
    #[serde(rename = "type")]
    kind: String,
    token: String,
}

/// `GET /order/ws`: upgrades, then authenticates with the first message. A browser page of
/// another origin than ours or `CORS_ALLOWED_ORIGINS` is refused (403) before the upgrade.
pub async fn ws(
    State(s): State<AppState>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !httpkit::origin_allowed(&headers, &s.allowed_origins) {
        return ApiError::forbidden("this origin may not open the live order feed").into_response();
    }
    upgrade
        .max_message_size(16 * 1024)
        .on_upgrade(move |socket| serve_socket(socket, s, q.bran_id))
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await;
}

async fn send_json(socket: &mut WebSocket, value: &impl Serialize) -> bool {
    let Ok(text) = serde_json::to_string(value) else {
        return false;
    };
    matches!(
        tokio::time::timeout(SEND_WITHIN, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

async fn authenticate(
    socket: &mut WebSocket,
    auth: &AuthClient,
) -> Result<(Caller, String), &'static str> {
    let first = tokio::time::timeout(AUTH_WITHIN, socket.recv())
        .await
        .map_err(|_| "authenticate first: {\"type\": \"auth\", \"token\": …}")?;
    let Some(Ok(Message::Text(text))) = first else {
        return Err("authenticate first: {\"type\": \"auth\", \"token\": …}");
    };
    let msg: AuthMessage = serde_json::from_str(&text)
        .map_err(|_| "the first message must be {\"type\": \"auth\", \"token\": …}")?;
    if msg.kind != "auth" {
        return Err("the first message must be {\"type\": \"auth\", \"token\": …}");
    }
    let token = msg.token.trim().to_owned();
    auth.verify(&token)
        .await
        .map(|c| (c.as_ref().clone(), token))
        .map_err(|_| "invalid or expired token")
}

async fn serve_socket(mut socket: WebSocket, s: AppState, branch: Option<String>) {
    let (caller, token) = match authenticate(&mut socket, &s.auth).await {
        Ok(c) => c,
        Err(why) => {
            let _ = send_json(
                &mut socket,
                &json!({"type": "error", "code": "UNAUTHORIZED", "message": why}),
            )
            .await;
            return close(socket, CLOSE_UNAUTHORIZED, "unauthorized").await;
        }
    };
    // A bound STAFF member sees their branch whatever they ask for.
    let branch = match (caller.role, caller.bran_id.clone()) {
        (Role::Staff, Some(bound)) => Some(bound),
        (Role::Customer, _) => None,
        _ => branch.filter(|b| !b.is_empty()),
    };
    let mut events = s.hub.tx.subscribe();
    let mut revocations = s.auth.revocations();
    if !send_json(
        &mut socket,
        &json!({"type": "ready", "member_id": caller.member_id, "role": caller.role.as_str(), "bran_id": branch}),
    )
    .await
    {
        return;
    }
    tracing::debug!(member.id = %caller.member_id, "live socket open");

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let expires = tokio::time::sleep(Duration::from_secs(
        caller.expires_at.saturating_sub(now).max(0) as u64,
    ));
    tokio::pin!(expires);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    let stopped = s.shutdown.stopped();
    tokio::pin!(stopped);

    loop {
        tokio::select! {
            e = events.recv() => match e {
                Ok(event) => {
                    if event.visible_to(&caller, branch.as_deref()) && !send_json(&mut socket, &*event).await {
                        return close(socket, CLOSE_TOO_SLOW, "too slow").await;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return close(socket, CLOSE_TOO_SLOW, "too slow; reconnect").await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
            },
            r = revocations.recv() => {
                let revoked = match r {
                    Ok(r) => r.ends(&caller),
                    // Missed some: ask again (the cache was cleared for revoked sessions).
                    Err(broadcast::error::RecvError::Lagged(_)) => s.auth.verify(&token).await.is_err(),
                    Err(broadcast::error::RecvError::Closed) => false,
                };
                if revoked {
                    return close(socket, CLOSE_UNAUTHORIZED, "session revoked").await;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    return close(socket, 1001, "no heartbeat").await;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            _ = &mut expires => return close(socket, CLOSE_UNAUTHORIZED, "token expired").await,
            _ = &mut stopped => return close(socket, 1001, "server shutting down").await,
        }
    }
}
