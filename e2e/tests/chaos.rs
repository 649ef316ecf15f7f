//! `make chaos` (and, with shorter faults, part of `make test`): two replicas of each service
//! behind nginx, on a PostgreSQL and a NATS server of the test's own, with the payment
//! provider's sandbox, under the load of customers placing, paying (every fifth by card) and
//! reading orders and staff moving them (rejecting some paid ones) — and faults, one at a
//! time: a storm of clients hanging up mid-request, `kill -9` of one replica of each service,
//! the provider frozen, NATS stopped, PostgreSQL restarted, menu and login fully down. After
//! each fault the suite pauses the load and checks that nothing was lost:
//!
//! - every order answered 201 exists exactly once, with all its lines at the catalog's prices,
//!   and no order exists that no customer was answered for; no order is without lines;
//! - every status change answered 200 is in the order's history; each order's history is
//!   versions 1..=its version, ending in its status; each branch's order numbers of a day are
//!   1..=n, none missing, none twice;
//! - the distinct `order.created` events in JetStream are exactly the orders, and the
//!   `order.status_changed` events exactly the history's changes;
//! - no PostgreSQL session stays idle in a transaction for more than a second (sampled all
//!   along), the server never warns of a transaction already (or no longer) in progress, and
//!   the outbox relay never waits on a lock (the server logs waits over 50 ms);
//! - every card order the customer paid is PAID (or, rejected, REFUNDED) on the order and in
//!   the payment service alike, was confirmed exactly once at the provider for its amount, and
//!   every refund was cancelled exactly once there; the provider holds no payment without an
//!   order;
//! - every replica is ready again, without the suite restarting it (a killed replica is
//!   started again on its ports, as the kubelet would);
//! - errors happened only inside the fault's window and only as 503 with the envelope.
//!
//! The disconnect storm: clients that send `POST /order/` (with an `Idempotency-Key`), staff
//! actions, registrations and logins and hang up 1–50 ms in (half with a FIN, half with a
//! reset), while the load goes on. Afterwards every cut-off order is sent again with its key
//! and must be answered 201 — the order its first attempt placed, or a new one if it placed
//! none — and every cut-off registration must either exist, complete, or be free to register.
//!
//! `CHAOS_FAULT_SECS` (default 3; `make chaos` sets 10) is how long the storm lasts and how
//! long NATS, menu and login stay down; `CHAOS_CUSTOMERS` (default 50) the number of customers.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use e2e::{Service, Stack};
use events::OrderEvent;
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, net::TcpStream, sync::RwLock};

/// Staff serve these branches; customers order from them.
const BRANCHES: [&str; 2] = ["gangnam", "hongdae"];
/// The disconnect storm's customers order from this branch, and its staff serve it, so that
/// the load's staff never find an order moved under them.
const STORM_BRANCH: &str = "jamsil";
/// Clients of the storm at once.
const STORM_CLIENTS: usize = 4;
/// How long after recovery an error still counts as the fault's (a gRPC channel reconnecting
/// with backoff, a request that started inside the window).
const GRACE: Duration = Duration::from_secs(3);
/// A customer gives up retrying one order after this long (then it counts as lost).
const GIVE_UP: Duration = Duration::from_secs(90);

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One answer the load got.
#[derive(Debug, Clone)]
struct Answer {
    what: &'static str,
    started: Duration,
    ended: Duration,
    /// 0 when no HTTP answer came at all.
    status: u16,
    /// The body was the error envelope (for statuses ≥ 400).
    envelope: bool,
    /// The envelope's message, or what went wrong without an answer.
    message: String,
}

/// An order a customer was answered 201 for.
#[derive(Debug, Clone)]
struct Placed {
    order_id: String,
    member_id: String,
    /// pizza_id → (quantity, unit price answered).
    lines: HashMap<String, (i64, i64)>,
}

impl Placed {
    /// From a 201's body.
    fn from_answer(order: &Value, member_id: &str) -> Placed {
        let lines = order["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|l| {
                        (
                            l["pizza_id"].as_str().unwrap_or_default().to_owned(),
                            (
                                l["quantity"].as_i64().unwrap_or(0),
                                l["unit_price"].as_i64().unwrap_or(0),
                            ),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Placed {
            order_id: order["order_id"].as_str().unwrap_or_default().to_owned(),
            member_id: member_id.to_owned(),
            lines,
        }
    }
}

struct Load {
    base: String,
    t0: Instant,
    answers: Mutex<Vec<Answer>>,
    placed: Mutex<Vec<Placed>>,
    /// Status changes answered 200: (order id, the status it was answered in).
    moved: Mutex<Vec<(String, String)>>,
    /// Card orders whose confirm was answered 200: their customer knows they are paid.
    paid: Mutex<Vec<String>>,
    lost: Mutex<Vec<String>>,
    stop: AtomicBool,
    /// Customers and staff hold it for reading per step; the checker takes it to pause them.
    gate: RwLock<()>,
    /// pizza_id → catalog price, for available pizzas.
    catalog: Vec<(String, i64)>,
}

impl Load {
    fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Sends one request and records its answer; `None` without an HTTP answer.
    async fn send(&self, what: &'static str, req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
        let started = self.now();
        let res = req.timeout(Duration::from_secs(30)).send().await;
        let (status, body, mut message) = match res {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.json::<Value>().await.unwrap_or(Value::Null);
                (status, Some(body), String::new())
            }
            Err(e) => (0, None, e.to_string()),
        };
        if let Some(m) = body.as_ref().and_then(|b| b["error"]["message"].as_str()) {
            message = m.to_owned();
        }
        let envelope = body.as_ref().is_some_and(|b| {
            b["error"]["code"].is_string()
                && b["error"]["message"].is_string()
                && b["error"]["request_id"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
        });
        self.answers.lock().unwrap().push(Answer {
            what,
            started,
            ended: self.now(),
            status,
            envelope,
            message,
        });
        body.map(|b| (status, b))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A small deterministic generator (each customer its own), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

async fn customer(load: Arc<Load>, index: usize, member_id: String, token: String) {
    let http = testkit::http();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0x2545_F491));
    let mut n = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let _step = load.gate.read().await;
        n += 1;
        let mut lines: HashMap<String, i64> = HashMap::new();
        for _ in 0..1 + rng.next(3) {
            let (id, _) = &load.catalog[rng.next(load.catalog.len())];
            lines.insert(id.clone(), 1 + rng.next(3) as i64);
        }
        let items: Vec<Value> = lines
            .iter()
            .map(|(id, q)| json!({"pizza_id": id, "quantity": q}))
            .collect();
        let card = index.is_multiple_of(5);
        let mut body = json!({"bran_id": BRANCHES[index % BRANCHES.len()], "items": items});
        if card {
            body["payment_method"] = json!("CARD");
        }
        let key = format!("chaos-{member_id}-{n}");
        let first = Instant::now();
        // The same key until an answer that is not "try again": a retried order is one order.
        loop {
            let req = http
                .post(load.url("/order/"))
                .bearer_auth(&token)
                .header("idempotency-key", &key)
                .json(&body);
            match load.send("POST /order/", req).await {
                Some((201, order)) => {
                    load.placed
                        .lock()
                        .unwrap()
                        .push(Placed::from_answer(&order, &member_id));
                    if card {
                        let id = order["order_id"].as_str().unwrap_or_default();
                        pay_by_card(&load, &http, &token, id).await;
                    }
                    break;
                }
                None | Some((503, _)) if first.elapsed() < GIVE_UP => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                None | Some((503, _)) => {
                    load.lost.lock().unwrap().push(key.clone());
                    break;
                }
                Some(_) => break, // recorded as an error; the checks report it
            }
        }
        match n % 3 {
            0 => {
                let req = http
                    .get(load.url("/order/myorder/?limit=5"))
                    .bearer_auth(&token);
                load.send("GET /order/myorder/", req).await;
            }
            1 => {
                let req = http.get(load.url("/login/me/")).bearer_auth(&token);
                load.send("GET /login/me/", req).await;
            }
            _ => {
                load.send("GET /menu/", http.get(load.url("/menu/"))).await;
            }
        }
        drop(_step);
        tokio::time::sleep(Duration::from_millis(500 + 100 * rng.next(11) as u64)).await;
    }
}

/// What a customer's browser does for a card order: the checkout, the provider's page and
/// its approval, then the confirm — each tried again until it goes through (the provider or
/// a replica may be down), as a customer would. Calls to the provider's page are the
/// browser's, not the platform's: they are not counted as answers.
async fn pay_by_card(load: &Load, http: &reqwest::Client, token: &str, order_id: &str) {
    let first = Instant::now();
    let retry = || async { tokio::time::sleep(Duration::from_millis(300)).await };
    let checkout = loop {
        let req = http
            .post(load.url("/payment/checkout/"))
            .bearer_auth(token)
            .header("origin", load.url(""))
            .json(&json!({"order_id": order_id}));
        match load.send("POST /payment/checkout/", req).await {
            Some((200, c)) => break c,
            None | Some((503, _)) if first.elapsed() < GIVE_UP => retry().await,
            _ => {
                load.lost
                    .lock()
                    .unwrap()
                    .push(format!("checkout of {order_id}"));
                return;
            }
        }
    };
    let approved = loop {
        if first.elapsed() > GIVE_UP {
            load.lost
                .lock()
                .unwrap()
                .push(format!("approval of {order_id}"));
            return;
        }
        match approve(http, &checkout).await {
            Some(a) => break a,
            None => retry().await,
        }
    };
    loop {
        let req = http
            .post(load.url("/payment/confirm/"))
            .bearer_auth(token)
            .json(&approved);
        match load.send("POST /payment/confirm/", req).await {
            Some((200, p)) if p["payment_status"] == "PAID" => {
                load.paid.lock().unwrap().push(order_id.to_owned());
                return;
            }
            None | Some((503, _)) if first.elapsed() < GIVE_UP => retry().await,
            _ => {
                load.lost
                    .lock()
                    .unwrap()
                    .push(format!("confirm of {order_id}"));
                return;
            }
        }
    }
}

/// The provider's checkout page, approved: the confirm's body, or `None` if the provider did
/// not answer (within 3 s).
async fn approve(http: &reqwest::Client, checkout: &Value) -> Option<Value> {
    let page = checkout["checkout_url"].as_str()?;
    tokio::time::timeout(Duration::from_secs(3), testkit::toss::approve(http, page))
        .await
        .ok()?
        .ok()
        .map(|a| a.body())
}

/// Staff reject some paid card orders (a third of them, by id): their refunds.
fn rejected_by_staff(order: &Value) -> bool {
    order["payment_method"] == "CARD"
        && order["order_id"]
            .as_str()
            .is_some_and(|id| id.bytes().map(u32::from).sum::<u32>() % 3 == 0)
}

async fn staff(load: Arc<Load>, bran_id: &'static str, token: String) {
    let http = testkit::http();
    while !load.stop.load(Ordering::Relaxed) {
        let step = load.gate.read().await;
        for (status, action, body) in [
            ("READY", "complete", None),
            ("ACCEPTED", "ready", None),
            (
                "PENDING",
                "accept",
                Some(json!({"estimated_time_minutes": 15})),
            ),
        ] {
            let req = http
                .get(load.url(&format!(
                    "/order/?bran_id={bran_id}&status={status}&limit=10"
                )))
                .bearer_auth(&token);
            let Some((200, Value::Array(orders))) = load.send("GET /order/ (staff)", req).await
            else {
                continue;
            };
            for o in orders {
                let id = o["order_id"].as_str().unwrap_or_default();
                let (action, body) = if status == "PENDING" && rejected_by_staff(&o) {
                    ("reject", Some(json!({"reason": "out of dough"})))
                } else {
                    (action, body.clone())
                };
                let mut req = http
                    .post(load.url(&format!("/order/{id}/{action}/")))
                    .bearer_auth(&token);
                if let Some(b) = &body {
                    req = req.json(b);
                }
                if let Some((200, moved)) = load.send("POST /order/{id}/{action}/", req).await {
                    let status = moved["status"].as_str().unwrap_or_default().to_owned();
                    load.moved.lock().unwrap().push((id.to_owned(), status));
                }
            }
        }
        drop(step);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The disconnect storm's own members: customers of [`STORM_BRANCH`] and a staff member of it.
struct Crowd {
    /// (member id, access token).
    customers: Vec<(String, String)>,
    staff: String,
}

/// What the storm cut off, to be checked afterwards.
#[derive(Default)]
struct CutOff {
    /// Orders: (index into the crowd's customers, Idempotency-Key, body).
    orders: Vec<(usize, String, Value)>,
    staff_actions: usize,
    /// Member ids whose registration was cut off.
    registrations: Vec<String>,
    logins: usize,
}

impl CutOff {
    fn absorb(&mut self, other: CutOff) {
        self.orders.extend(other.orders);
        self.staff_actions += other.staff_actions;
        self.registrations.extend(other.registrations);
        self.logins += other.logins;
    }
}

/// A request as bytes on the wire (HTTP/1.1, a JSON body or none).
fn raw_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Vec<u8> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    if !body.is_empty() {
        req.push_str("content-type: application/json\r\n");
    }
    write!(req, "content-length: {}\r\n", body.len()).unwrap();
    for (k, v) in headers {
        write!(req, "{k}: {v}\r\n").unwrap();
    }
    req.push_str("\r\n");
    req.push_str(&body);
    req.into_bytes()
}

/// Sends `request` to the ingress and hangs up `after` it, with a reset (a killed client) or
/// a FIN (a closed tab), whatever the service is doing by then.
async fn hang_up(port: u16, request: &[u8], after: Duration, reset: bool) {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    if conn.write_all(request).await.is_err() {
        return;
    }
    tokio::time::sleep(after).await;
    if reset {
        let _ = conn.set_zero_linger();
    }
    drop(conn);
}

/// One client of the storm, until `until`: orders, staff actions, registrations and logins,
/// each cut off 1–50 ms after it was sent.
async fn storm_client(
    load: Arc<Load>,
    crowd: Arc<Crowd>,
    port: u16,
    client: usize,
    until: Instant,
) -> CutOff {
    let http = testkit::http();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (client as u64 + 1).wrapping_mul(0x9E37_79B9));
    let mut cut = CutOff::default();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let after = Duration::from_millis(1 + rng.next(50) as u64);
        let reset = rng.next(2) == 0;
        match rng.next(20) {
            0..=9 => {
                let who = rng.next(crowd.customers.len());
                let mut lines: HashMap<String, usize> = HashMap::new();
                for _ in 0..1 + rng.next(3) {
                    let (id, _) = &load.catalog[rng.next(load.catalog.len())];
                    lines.insert(id.clone(), 1 + rng.next(3));
                }
                let items: Vec<Value> = lines
                    .iter()
                    .map(|(id, q)| json!({"pizza_id": id, "quantity": q}))
                    .collect();
                let body = json!({"bran_id": STORM_BRANCH, "items": items});
                let key = format!("storm-{client}-{n}");
                let auth = format!("Bearer {}", crowd.customers[who].1);
                let headers = [("authorization", auth.as_str()), ("idempotency-key", &key)];
                let req = raw_request("POST", "/order/", &headers, Some(&body));
                hang_up(port, &req, after, reset).await;
                cut.orders.push((who, key, body));
            }
            10..=15 => {
                // An order of the storm's branch that waits for this action.
                let (status, action, body) = match rng.next(3) {
                    0 => (
                        "PENDING",
                        "accept",
                        Some(json!({"estimated_time_minutes": 10})),
                    ),
                    1 => ("ACCEPTED", "ready", None),
                    _ => ("READY", "complete", None),
                };
                let queue = http
                    .get(load.url(&format!(
                        "/order/?bran_id={STORM_BRANCH}&status={status}&limit=20"
                    )))
                    .bearer_auth(&crowd.staff)
                    .send()
                    .await;
                let waiting: Vec<Value> = match queue {
                    Ok(r) if r.status() == 200 => r.json().await.unwrap_or_default(),
                    _ => vec![],
                };
                if !waiting.is_empty() {
                    let id = waiting[rng.next(waiting.len())]["order_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let auth = format!("Bearer {}", crowd.staff);
                    let path = format!("/order/{id}/{action}/");
                    let req =
                        raw_request("POST", &path, &[("authorization", &auth)], body.as_ref());
                    hang_up(port, &req, after, reset).await;
                    cut.staff_actions += 1;
                }
            }
            16 => {
                let id = format!("storm_{client}_{n}");
                let body =
                    json!({"member_id": id, "member_pwd": e2e::PASSWORD, "member_nm": "폭풍"});
                let req = raw_request("POST", "/login/register/", &[], Some(&body));
                hang_up(port, &req, after, reset).await;
                cut.registrations.push(id);
            }
            _ => {
                let (id, _) = &crowd.customers[rng.next(crowd.customers.len())];
                let body = json!({"member_id": id, "member_pwd": e2e::PASSWORD});
                let req = raw_request("POST", "/login/", &[], Some(&body));
                hang_up(port, &req, after, reset).await;
                cut.logins += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.next(20) as u64)).await;
    }
    cut
}

/// How the storm's cut-off writes turned out when they were sent again.
#[derive(Default)]
struct Settled {
    /// Orders answered from their key: the cut-off attempt had placed them.
    replayed: usize,
    /// Orders placed by the second attempt: the first had written nothing.
    placed_again: usize,
    /// Registrations the cut-off attempt had completed (409 the second time).
    registered_before: usize,
    registered_again: usize,
}

/// Sends every cut-off order again with its key (each must be answered 201, and is then
/// checked like any other), and every cut-off registration (201, or 409 if the first went
/// through), then logs each of those members in. Broken expectations are returned as lines.
async fn settle(load: &Load, crowd: &Crowd, cut: &CutOff) -> (Settled, Vec<String>) {
    let http = testkit::http();
    let mut settled = Settled::default();
    let mut bad = vec![];
    for (who, key, body) in &cut.orders {
        let (member_id, token) = &crowd.customers[*who];
        let first = Instant::now();
        loop {
            let res = http
                .post(load.url("/order/"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(body)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            let retry = match res {
                Ok(r) if r.status() == 201 => {
                    if r.headers().contains_key("idempotent-replayed") {
                        settled.replayed += 1;
                    } else {
                        settled.placed_again += 1;
                    }
                    let order: Value = r.json().await.unwrap_or_default();
                    load.placed
                        .lock()
                        .unwrap()
                        .push(Placed::from_answer(&order, member_id));
                    false
                }
                Ok(r) if r.status() == 503 => true,
                Err(_) => true,
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    bad.push(format!("cut-off order {key} sent again: {status} {text}"));
                    false
                }
            };
            if !retry {
                break;
            }
            if first.elapsed() > GIVE_UP {
                load.lost.lock().unwrap().push(key.clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    for id in &cut.registrations {
        let body = json!({"member_id": id, "member_pwd": e2e::PASSWORD, "member_nm": "폭풍"});
        match http
            .post(load.url("/login/register/"))
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status() == 201 => settled.registered_again += 1,
            Ok(r) if r.status() == 409 => settled.registered_before += 1,
            Ok(r) => bad.push(format!(
                "cut-off registration {id} sent again: {}",
                r.status()
            )),
            Err(e) => bad.push(format!("cut-off registration {id} sent again: {e}")),
        }
        let login = json!({"member_id": id, "member_pwd": e2e::PASSWORD});
        match http.post(load.url("/login/")).json(&login).send().await {
            Ok(r) if r.status() == 200 => {}
            Ok(r) => bad.push(format!(
                "{id} cannot log in after the storm: {}",
                r.status()
            )),
            Err(e) => bad.push(format!("{id} cannot log in after the storm: {e}")),
        }
    }
    (settled, bad)
}

/// Samples PostgreSQL every 100 ms until `stop`: any session idle inside a transaction for
/// more than a second, as (when, what).
async fn watch_idle_in_transaction(
    admin: sqlx::postgres::PgConnectOptions,
    load: Arc<Load>,
    found: Arc<Mutex<Vec<(Duration, String)>>>,
) {
    use sqlx::Connection;
    let mut conn: Option<sqlx::PgConnection> = None;
    while !load.stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            conn = sqlx::PgConnection::connect_with(&admin).await.ok();
        }
        if let Some(c) = conn.as_mut() {
            let rows: Result<Vec<String>, _> = sqlx::query_scalar(
                "SELECT format('%s [%s] %s for %s s after: %s', usename, pid, state, \
                               round(extract(epoch FROM clock_timestamp() - state_change), 1), \
                               left(query, 100)) \
                 FROM pg_stat_activity \
                 WHERE state LIKE 'idle in transaction%' \
                   AND state_change < clock_timestamp() - interval '1 second'",
            )
            .fetch_all(&mut *c)
            .await;
            match rows {
                Ok(rows) => {
                    let now = load.now();
                    found
                        .lock()
                        .unwrap()
                        .extend(rows.into_iter().map(|r| (now, r)));
                }
                // The server restarted (a fault); connect again.
                Err(_) => conn = None,
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the PostgreSQL log says went wrong: a transaction begun inside another or ended
/// outside one (a session the driver lost track of), statements refused in an aborted one,
/// and any wait of the outbox relay on a lock.
fn server_log_problems(lines: &[&str]) -> Vec<String> {
    let mut bad = vec![];
    for (i, line) in lines.iter().enumerate() {
        if line.contains("there is already a transaction in progress")
            || line.contains("there is no transaction in progress")
            || line.contains("current transaction is aborted")
        {
            bad.push(format!("PostgreSQL: {line}"));
        }
        if line.contains("still waiting for") {
            // The waiting statement follows, from the same process.
            let pid = line
                .split_once('[')
                .and_then(|(_, rest)| rest.split_once(']'))
                .map(|(pid, _)| format!("[{pid}]"))
                .unwrap_or_default();
            let statement = lines[i + 1..]
                .iter()
                .take(6)
                .find(|l| l.contains(pid.as_str()) && l.contains("STATEMENT:"));
            if statement.is_some_and(|s| s.contains("outbox")) {
                bad.push(format!(
                    "the outbox relay waited on a lock: {line} / {}",
                    statement.unwrap_or(&"")
                ));
            }
        }
    }
    bad
}

/// A fault as it happened.
struct Window {
    name: String,
    from: Duration,
    /// When every replica was ready again.
    to: Duration,
    checks: Vec<String>,
}

/// Waits until every replica is ready (nobody restarts them).
async fn all_ready(stack: &Stack, within: Duration) -> Result<(), String> {
    for svc in stack
        .login
        .iter()
        .chain(&stack.menu)
        .chain(&stack.order)
        .chain(&stack.payment)
    {
        let ok = testkit::eventually(within, || async {
            e2e::is_ready(svc.http).await.then_some(())
        })
        .await;
        if ok.is_none() {
            return Err(format!(
                "{} on port {} not ready within {within:?}",
                svc.proc.name, svc.http
            ));
        }
    }
    Ok(())
}

/// Records a broken check when something still accepts connections on `port` after its fault.
async fn gone(checks: &mut Vec<String>, port: u16) {
    if tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        checks.push(format!(
            "port {port} still accepts connections after the fault"
        ));
    }
}

/// `kill -9` of `replicas`, down for `how_long`, then started again on their ports (the
/// kubelet's part).
async fn down_for(replicas: &mut [Service], how_long: Duration, checks: &mut Vec<String>) {
    for r in replicas.iter_mut() {
        r.kill();
        gone(checks, r.http).await;
    }
    tokio::time::sleep(how_long).await;
    for r in replicas.iter_mut() {
        r.restart().await;
    }
}

/// What JetStream holds of the orders: the order id of every `order.created`, and the
/// (order id, version) of every `order.status_changed`, each once however often it was sent.
async fn order_events(stack: &Stack) -> (HashSet<String>, HashSet<(String, i64)>) {
    let mut created = HashSet::new();
    let mut changed = HashSet::new();
    for e in stack.nats.events::<OrderEvent>().await {
        match e.event {
            OrderEvent::Created(c) => {
                created.insert(c.order_id.to_string());
            }
            OrderEvent::StatusChanged(c) => {
                changed.insert((c.order_id.to_string(), i64::from(c.version)));
            }
            OrderEvent::PaymentChanged(_) => {}
        }
    }
    (created, changed)
}

/// Whether, within 30 s, every outbox is drained and every card order older than a second is
/// known to the payment service.
async fn events_flow(stack: &Stack) -> bool {
    testkit::eventually(Duration::from_secs(30), || async {
        let mut db = stack.db.admin().await.ok()?;
        let waiting: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM ordering.outbox WHERE published_at IS NULL) \
                  + (SELECT count(*) FROM payment.outbox WHERE published_at IS NULL) \
                  + (SELECT count(*) FROM ordering.orders o WHERE o.payment_method = 'CARD' \
                       AND o.created_at < now() - interval '1 second' \
                       AND NOT EXISTS (SELECT 1 FROM payment.payment p \
                                       WHERE p.order_id = o.order_id))",
        )
        .fetch_one(&mut db)
        .await
        .ok()?;
        (waiting == 0).then_some(())
    })
    .await
    .is_some()
}

/// What the payments look like once settled: (card orders paid, of them refunded).
#[derive(Default, Clone, Copy)]
struct Payments {
    paid: usize,
    refunded: usize,
}

/// The payment invariants: the order's and the payment service's view agree (once refunds in
/// flight have gone through), each paid card order was confirmed once at the provider for its
/// amount, each refund cancelled once, and the provider holds nothing without an order.
async fn check_payments(stack: &Stack, load: &Load, bad: &mut Vec<String>) -> Payments {
    let mut db = stack.db.admin().await.expect("admin connection");
    // Refunds and confirms still in flight settle first (the provider may just be back).
    let settled = testkit::eventually(Duration::from_secs(60), || async {
        let mut db = stack.db.admin().await.ok()?;
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM payment.payment WHERE state IN ('CONFIRMING', 'REFUNDING')",
        )
        .fetch_one(&mut db)
        .await
        .ok()?;
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM ordering.orders o JOIN payment.payment p USING (order_id) \
             WHERE o.payment_status <> CASE p.state WHEN 'REFUNDED' THEN 'REFUNDED' \
                   WHEN 'PAID' THEN 'PAID' WHEN 'REFUNDING' THEN 'PAID' \
                   WHEN 'REFUND_DUE' THEN 'PAID' WHEN 'REFUND_FAILED' THEN 'PAID' \
                   ELSE 'UNPAID' END \
                OR (o.status IN ('REJECTED', 'CANCELLED') AND p.state = 'PAID')",
        )
        .fetch_one(&mut db)
        .await
        .ok()?;
        (busy == 0 && behind == 0).then_some(())
    })
    .await;
    if settled.is_none() {
        bad.push(
            "payments still confirming or refunding, or the order and the payment service \
             disagree, a minute after the load paused"
                .to_owned(),
        );
    }
    let rows: Vec<(String, String, String, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT o.order_id::text, o.status, o.payment_status, o.total_price, \
                COALESCE(p.state, 'NONE'), p.payment_key \
         FROM ordering.orders o LEFT JOIN payment.payment p USING (order_id) \
         WHERE o.payment_method = 'CARD'",
    )
    .fetch_all(&mut db)
    .await
    .expect("card orders");
    let ledger = stack.toss.ledger().await;
    let mut confirms: HashMap<String, Vec<i64>> = HashMap::new();
    let mut cancels: HashMap<String, usize> = HashMap::new();
    for e in &ledger {
        match e["op"].as_str() {
            Some("confirm") => confirms
                .entry(e["orderId"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(e["amount"].as_i64().unwrap_or(0)),
            Some("cancel") => {
                *cancels
                    .entry(e["paymentKey"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1
            }
            _ => {}
        }
    }
    let known: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    for id in confirms.keys() {
        if !known.contains(id.as_str()) {
            bad.push(format!(
                "the provider holds a payment of {id}, which is no order"
            ));
        }
    }
    let customer_paid: HashSet<String> = load.paid.lock().unwrap().iter().cloned().collect();
    let mut counts = Payments::default();
    for (id, status, payment_status, total, state, key) in &rows {
        let confirmed = confirms.get(id).cloned().unwrap_or_default();
        let paid = matches!(payment_status.as_str(), "PAID" | "REFUNDED");
        if paid {
            counts.paid += 1;
            if confirmed != [*total] {
                bad.push(format!(
                    "order {id} ({payment_status}) was confirmed at the provider {confirmed:?}, not once for {total}"
                ));
            }
        } else if !confirmed.is_empty() {
            bad.push(format!(
                "order {id} is {payment_status} but was confirmed {confirmed:?}"
            ));
        }
        if customer_paid.contains(id) && !paid {
            bad.push(format!(
                "order {id} was answered PAID, and is {status}/{payment_status} ({state})"
            ));
        }
        let cancelled = key
            .as_ref()
            .and_then(|k| cancels.get(k))
            .copied()
            .unwrap_or(0);
        if payment_status == "REFUNDED" {
            counts.refunded += 1;
            if cancelled != 1 {
                bad.push(format!(
                    "order {id} is REFUNDED, cancelled {cancelled} times at the provider"
                ));
            }
        } else if cancelled != 0 {
            bad.push(format!(
                "order {id} is {payment_status}, cancelled {cancelled} times at the provider"
            ));
        }
        if paid
            && matches!(status.as_str(), "REJECTED" | "CANCELLED")
            && payment_status != "REFUNDED"
        {
            bad.push(format!(
                "order {id} is {status} and {payment_status}: not refunded"
            ));
        }
    }
    counts
}

/// The invariants, with the load paused; each violation as a line.
async fn check(stack: &Stack, load: &Load) -> Vec<String> {
    let mut bad = vec![];
    let placed = load.placed.lock().unwrap().clone();
    let mut db = stack.db.admin().await.expect("admin connection");
    let orders: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT order_id::text, member_id, total_price FROM ordering.orders")
            .fetch_all(&mut db)
            .await
            .expect("orders");
    let lines: Vec<(String, String, i32, i64)> = sqlx::query_as(
        "SELECT order_id::text, pizza_id, quantity, unit_price FROM ordering.order_detail",
    )
    .fetch_all(&mut db)
    .await
    .expect("lines");
    let mut by_order: HashMap<&str, HashMap<String, (i64, i64)>> = HashMap::new();
    for (id, pizza, q, price) in &lines {
        by_order
            .entry(id.as_str())
            .or_default()
            .insert(pizza.clone(), (*q as i64, *price));
    }
    let catalog: HashMap<&str, i64> = load.catalog.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let in_db: HashMap<&str, (&str, i64)> = orders
        .iter()
        .map(|(id, m, t)| (id.as_str(), (m.as_str(), *t)))
        .collect();

    let mut answered = HashSet::new();
    for p in &placed {
        if !answered.insert(p.order_id.as_str()) {
            bad.push(format!("order {} answered 201 twice", p.order_id));
        }
        let Some((member, total)) = in_db.get(p.order_id.as_str()) else {
            bad.push(format!("order {} answered 201 but not stored", p.order_id));
            continue;
        };
        if *member != p.member_id {
            bad.push(format!("order {} stored for {member}", p.order_id));
        }
        let stored = by_order
            .get(p.order_id.as_str())
            .cloned()
            .unwrap_or_default();
        if stored != p.lines {
            bad.push(format!(
                "order {}: stored lines {stored:?}, answered {:?}",
                p.order_id, p.lines
            ));
        }
        for (pizza, (_, price)) in &stored {
            if catalog.get(pizza.as_str()) != Some(price) {
                bad.push(format!(
                    "order {}: {pizza} at {price}, the catalog says {:?}",
                    p.order_id,
                    catalog.get(pizza.as_str())
                ));
            }
        }
        let sum: i64 = stored.values().map(|(q, price)| q * price).sum();
        if sum != *total {
            bad.push(format!(
                "order {}: total {total}, lines sum {sum}",
                p.order_id
            ));
        }
    }
    for id in in_db.keys() {
        if !answered.contains(id) {
            bad.push(format!(
                "order {id} stored but no customer was answered 201 for it"
            ));
        }
        if !by_order.contains_key(id) {
            bad.push(format!("order {id} has no lines"));
        }
    }

    // Each order's history is versions 1..=its version and ends in its status; every change
    // a staff member was answered for is in it.
    let statuses: Vec<(String, i32, String)> =
        sqlx::query_as("SELECT order_id::text, version, status FROM ordering.orders")
            .fetch_all(&mut db)
            .await
            .expect("statuses");
    let history: Vec<(String, i32, String)> = sqlx::query_as(
        "SELECT order_id::text, version, status FROM ordering.order_status_history \
         ORDER BY order_id, version",
    )
    .fetch_all(&mut db)
    .await
    .expect("history");
    let mut steps: HashMap<&str, Vec<(i32, &str)>> = HashMap::new();
    for (id, version, status) in &history {
        steps
            .entry(id.as_str())
            .or_default()
            .push((*version, status.as_str()));
    }
    for (id, version, status) in &statuses {
        let got = steps.get(id.as_str()).cloned().unwrap_or_default();
        let versions: Vec<i32> = got.iter().map(|(v, _)| *v).collect();
        if versions != (1..=*version).collect::<Vec<_>>()
            || got.last().map(|(_, s)| *s) != Some(status.as_str())
        {
            bad.push(format!(
                "order {id} is {status} at version {version}, its history says {got:?}"
            ));
        }
    }
    let reached: HashSet<(&str, &str)> = history
        .iter()
        .map(|(id, _, status)| (id.as_str(), status.as_str()))
        .collect();
    for (id, status) in load.moved.lock().unwrap().iter() {
        if !reached.contains(&(id.as_str(), status.as_str())) {
            bad.push(format!("order {id} answered {status}, not in its history"));
        }
    }

    // Every order's order.created and every change's order.status_changed reach JetStream
    // once the relay has caught up.
    let want_created: HashSet<String> = in_db.keys().map(|k| (*k).to_owned()).collect();
    let want_changed: HashSet<(String, i64)> = history
        .iter()
        .filter(|(_, v, _)| *v > 1)
        .map(|(id, v, _)| (id.clone(), i64::from(*v)))
        .collect();
    let caught_up = testkit::eventually(Duration::from_secs(30), || async {
        (order_events(stack).await == (want_created.clone(), want_changed.clone())).then_some(())
    })
    .await;
    if caught_up.is_none() {
        let (created, changed) = order_events(stack).await;
        bad.push(format!(
            "order.created events for {} distinct orders, {} orders stored (missing {}, extra {}); \
             order.status_changed for {} changes, {} in the histories (missing {}, extra {})",
            created.len(),
            want_created.len(),
            want_created.difference(&created).count(),
            created.difference(&want_created).count(),
            changed.len(),
            want_changed.len(),
            want_changed.difference(&changed).count(),
            changed.difference(&want_changed).count()
        ));
    }
    // Order numbers: per branch and business day exactly 1..=n, whatever was cut off or killed.
    let numbered: Vec<(String, String, Vec<i32>)> = sqlx::query_as(
        "SELECT bran_id, business_day::text, array_agg(order_number ORDER BY order_number) \
         FROM ordering.orders WHERE order_number IS NOT NULL GROUP BY bran_id, business_day",
    )
    .fetch_all(&mut db)
    .await
    .expect("order numbers");
    for (bran_id, day, ns) in numbered {
        if ns != (1..=ns.len() as i32).collect::<Vec<_>>() {
            let gaps: Vec<i32> = (1..=ns.last().copied().unwrap_or(0))
                .filter(|n| !ns.contains(n))
                .take(5)
                .collect();
            bad.push(format!(
                "order numbers of {bran_id} on {day} are not 1..={}: {} numbers, missing {gaps:?}",
                ns.len(),
                ns.len()
            ));
        }
    }
    check_payments(stack, load, &mut bad).await;
    bad
}

// Several threads: the faults' blocking steps (pg_ctl, waiting for a killed process) must not
// freeze the load they are meant to disturb.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_when_replicas_nats_postgres_menu_or_login_fail() {
    let fault = Duration::from_secs(env_secs("CHAOS_FAULT_SECS", 3));
    let customers = env_secs("CHAOS_CUSTOMERS", 50) as usize;
    // Registrations and logins of the whole crowd come from one address.
    let mut stack = Stack::start_on_own_postgres(
        2,
        &[
            ("AUTH_RATE_LIMIT_BURST", "1000000"),
            ("AUTH_RATE_LIMIT_PERIOD", "1ms"),
        ],
    )
    .await;
    let http = testkit::http();
    let menu: Vec<Value> = http
        .get(stack.url("/menu/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let catalog: Vec<(String, i64)> = menu
        .iter()
        .filter(|p| p["available"] == true)
        .map(|p| {
            (
                p["pizza_id"].as_str().unwrap().to_owned(),
                p["price"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(catalog.len() > 10, "the seeded catalog");

    eprintln!("chaos: registering {customers} customers");
    let mut people = vec![];
    for i in 0..customers {
        let id = format!("chaos_{i:03}");
        people.push((id.clone(), stack.customer(&id).await));
    }
    let mut staff_tokens = vec![];
    for b in BRANCHES {
        staff_tokens.push(
            stack
                .member(&format!("chaos_staff_{b}"), "STAFF", Some(b))
                .await,
        );
    }
    let mut storm_customers = vec![];
    for i in 0..5 {
        let id = format!("storm_customer_{i}");
        storm_customers.push((id.clone(), stack.customer(&id).await));
    }
    let crowd = Arc::new(Crowd {
        customers: storm_customers,
        staff: stack
            .member("storm_staff", "STAFF", Some(STORM_BRANCH))
            .await,
    });

    let load = Arc::new(Load {
        base: stack.url(""),
        t0: Instant::now(),
        answers: Mutex::default(),
        placed: Mutex::default(),
        moved: Mutex::default(),
        paid: Mutex::default(),
        lost: Mutex::default(),
        stop: AtomicBool::new(false),
        gate: RwLock::new(()),
        catalog,
    });
    let mut tasks = vec![];
    for (i, (id, token)) in people.into_iter().enumerate() {
        tasks.push(tokio::spawn(customer(load.clone(), i, id, token)));
    }
    for (b, token) in BRANCHES.into_iter().zip(staff_tokens) {
        tasks.push(tokio::spawn(staff(load.clone(), b, token)));
    }

    let idle_in_transaction = Arc::new(Mutex::new(vec![]));
    tasks.push(tokio::spawn(watch_idle_in_transaction(
        stack.db.options_as("postgres"),
        load.clone(),
        idle_in_transaction.clone(),
    )));
    let pg = stack.pg.as_ref().expect("our own PostgreSQL");
    // What PostgreSQL showed since the last look: sessions the watcher saw idle in a
    // transaction, and the server log's new lines (`seen` counts the lines read so far).
    let mut log_seen = 0;
    let postgres_findings = |seen: &mut usize| {
        let mut bad: Vec<String> = idle_in_transaction
            .lock()
            .unwrap()
            .drain(..)
            .map(|(at, what): (Duration, String)| {
                format!(
                    "idle in a transaction for over a second (seen at {:.1} s): {what}",
                    at.as_secs_f64()
                )
            })
            .collect();
        let log = pg.log();
        let lines: Vec<&str> = log.lines().collect();
        bad.extend(server_log_problems(&lines[(*seen).min(lines.len())..]));
        *seen = lines.len();
        bad
    };

    let calm = Duration::from_secs(2);
    let kill_for = Duration::from_secs(2).min(fault);
    let mut windows: Vec<Window> = vec![];
    let mut storm = None;
    tokio::time::sleep(calm).await;
    for name in [
        "disconnect storm",
        "kill -9 one login replica",
        "kill -9 one menu replica",
        "kill -9 one order replica",
        "kill -9 one payment replica",
        "payment provider frozen",
        "NATS stopped",
        "PostgreSQL restarted (fast)",
        "menu fully down",
        "login fully down",
    ] {
        let from = load.now();
        eprintln!("chaos: {:6.1} s  {name}", from.as_secs_f64());
        let mut checks = vec![];
        match name {
            "disconnect storm" => {
                // Orders of the storm's branch waiting for its staff, so the storm has staff
                // actions to cut off however few of its own cut-off orders were written
                // before their hang-up (on a slow machine, none are).
                let http = testkit::http();
                for (i, (member_id, token)) in crowd.customers.iter().enumerate() {
                    for j in 0..4 {
                        let (id, _) = &load.catalog[(i * 4 + j) % load.catalog.len()];
                        let body = json!({"bran_id": STORM_BRANCH, "items": [{"pizza_id": id, "quantity": 1}]});
                        let req = http
                            .post(load.url("/order/"))
                            .bearer_auth(token)
                            .json(&body);
                        if let Some((201, order)) = load.send("POST /order/", req).await {
                            load.placed
                                .lock()
                                .unwrap()
                                .push(Placed::from_answer(&order, member_id));
                        }
                    }
                }
                let until = Instant::now() + fault;
                let clients: Vec<_> = (0..STORM_CLIENTS)
                    .map(|c| {
                        tokio::spawn(storm_client(
                            load.clone(),
                            crowd.clone(),
                            stack.ingress,
                            c,
                            until,
                        ))
                    })
                    .collect();
                let mut cut = CutOff::default();
                for c in clients {
                    cut.absorb(c.await.expect("a storm client"));
                }
                let (settled, bad) = settle(&load, &crowd, &cut).await;
                checks.extend(bad);
                storm = Some((cut, settled));
            }
            "kill -9 one login replica" => {
                down_for(&mut stack.login[..1], kill_for, &mut checks).await
            }
            "kill -9 one menu replica" => {
                down_for(&mut stack.menu[1..], kill_for, &mut checks).await
            }
            "kill -9 one order replica" => {
                down_for(&mut stack.order[..1], kill_for, &mut checks).await
            }
            "kill -9 one payment replica" => {
                down_for(&mut stack.payment[..1], kill_for, &mut checks).await;
                // Recovered means the events the killed replica had taken (unacknowledged)
                // reached the other one: the orders placed meanwhile are known to payments.
                if !events_flow(&stack).await {
                    checks.push("events did not flow again within 30 s of the kill".to_owned());
                }
            }
            "payment provider frozen" => {
                stack.toss.pause();
                tokio::time::sleep(fault).await;
                stack.toss.resume();
            }
            "NATS stopped" => {
                stack.nats.stop().await;
                gone(&mut checks, stack.nats.port).await;
                tokio::time::sleep(fault).await;
                stack.nats.start_again().await.expect("NATS again");
                // Recovered means the events flow again: what was written meanwhile is out,
                // and the payment service knows the card orders placed meanwhile.
                if !events_flow(&stack).await {
                    checks.push("events did not flow again within 30 s of NATS".to_owned());
                }
            }
            "PostgreSQL restarted (fast)" => {
                let pg = stack.pg.as_ref().expect("our own PostgreSQL");
                let started = || async {
                    let mut db = stack.db.admin().await.expect("admin connection");
                    sqlx::query_scalar::<_, String>("SELECT pg_postmaster_start_time()::text")
                        .fetch_one(&mut db)
                        .await
                        .expect("postmaster start time")
                };
                let before = started().await;
                pg.stop_fast().expect("pg_ctl stop -m fast");
                gone(&mut checks, pg.port).await;
                // A real server takes a moment to come back.
                tokio::time::sleep(Duration::from_secs(1)).await;
                pg.start_again().await.expect("pg_ctl start");
                if started().await == before {
                    checks.push("PostgreSQL did not restart".to_owned());
                }
            }
            "menu fully down" => down_for(&mut stack.menu, fault, &mut checks).await,
            "login fully down" => down_for(&mut stack.login, fault, &mut checks).await,
            _ => unreachable!(),
        }
        if let Err(e) = all_ready(&stack, Duration::from_secs(30)).await {
            checks.push(e);
        }
        let to = load.now();
        eprintln!("chaos: {:6.1} s  recovered; checking", to.as_secs_f64());
        tokio::time::sleep(calm).await;
        {
            // Pause the load (each customer finishes its order, retries included), check.
            let _paused = load.gate.write().await;
            checks.extend(check(&stack, &load).await);
        }
        checks.extend(postgres_findings(&mut log_seen));
        windows.push(Window {
            name: name.to_owned(),
            from,
            to,
            checks,
        });
        tokio::time::sleep(calm).await;
    }
    load.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("a load task");
    }
    let mut final_checks = check(&stack, &load).await;
    final_checks.extend(postgres_findings(&mut log_seen));
    let payments = check_payments(&stack, &load, &mut vec![]).await;

    // Errors: only inside a window (a request overlapping it), only 503 with the envelope.
    let answers = load.answers.lock().unwrap().clone();
    let mut outside = vec![];
    let mut per_window: Vec<(usize, usize)> = vec![(0, 0); windows.len()];
    for a in &answers {
        let w = windows
            .iter()
            .position(|w| a.started <= w.to + GRACE && a.ended >= w.from);
        if let Some(i) = w {
            per_window[i].0 += 1;
        }
        if a.status < 400 && a.status != 0 {
            continue;
        }
        match w {
            Some(i) if a.status == 503 && a.envelope => per_window[i].1 += 1,
            _ => outside.push(a.clone()),
        }
    }
    let placed = load.placed.lock().unwrap().len();
    let lost = load.lost.lock().unwrap().clone();
    let elapsed = load.now().as_secs_f64();

    let mut table = String::new();
    writeln!(
        table,
        "\nchaos: 2 replicas of each service behind nginx, own PostgreSQL and NATS, \
         {customers} customers + {} staff, faults of {} s\n",
        BRANCHES.len(),
        fault.as_secs()
    )
    .unwrap();
    writeln!(
        table,
        "| fault | window s | requests in window | 503 (envelope) | invariants |"
    )
    .unwrap();
    writeln!(table, "|---|---|---|---|---|").unwrap();
    for (w, (n, u)) in windows.iter().zip(&per_window) {
        writeln!(
            table,
            "| {} | {:.1} | {n} | {u} | {} |",
            w.name,
            (w.to - w.from).as_secs_f64(),
            if w.checks.is_empty() {
                "hold".to_owned()
            } else {
                format!("{} broken", w.checks.len())
            }
        )
        .unwrap();
    }
    let survived = windows.iter().filter(|w| w.checks.is_empty()).count();
    writeln!(
        table,
        "\nload held: {} requests in {elapsed:.0} s ({:.0}/s), {placed} orders placed; \
         faults survived: {survived}/{}; errors outside a fault window or not a 503 envelope: {}; \
         lost = {}",
        answers.len(),
        answers.len() as f64 / elapsed,
        windows.len(),
        outside.len(),
        lost.len()
    )
    .unwrap();
    // nginx logs 499 for a client that hung up before its answer: the storm's reached the
    // services while they were working on the request.
    let hung_up = stack
        .nginx_access()
        .lines()
        .filter(|l| l.contains("\" 499 "))
        .count();
    let (cut, settled) = storm.expect("the storm ran");
    writeln!(
        table,
        "disconnect storm: {} requests cut off 1–50 ms in ({} orders, {} staff actions, {} \
         registrations, {} logins), {hung_up} of them while a service was still working on \
         them (nginx 499); sent again: {} orders answered from their key, {} placed by the \
         second attempt; {} registrations had gone through, {} had not",
        cut.orders.len() + cut.staff_actions + cut.registrations.len() + cut.logins,
        cut.orders.len(),
        cut.staff_actions,
        cut.registrations.len(),
        cut.logins,
        settled.replayed,
        settled.placed_again,
        settled.registered_before,
        settled.registered_again,
    )
    .unwrap();
    writeln!(
        table,
        "payments: {} card orders paid, each confirmed once at the provider for its amount; \
         {} of them rejected by staff and refunded, each cancelled once at the provider; no \
         payment at the provider without an order",
        payments.paid, payments.refunded
    )
    .unwrap();
    eprintln!("{table}");

    for w in &windows {
        for c in w.checks.iter().take(10) {
            eprintln!("after '{}': {c}", w.name);
        }
    }
    for c in final_checks.iter().take(10) {
        eprintln!("at the end: {c}");
    }
    let mut kinds: HashMap<(&str, u16, &str), (usize, f64)> = HashMap::new();
    for a in &outside {
        let k = kinds
            .entry((a.what, a.status, a.message.as_str()))
            .or_insert((0, a.started.as_secs_f64()));
        k.0 += 1;
    }
    for ((what, status, message), (n, first)) in &kinds {
        eprintln!(
            "{n} × {what} → {status} outside a fault window or not a 503 envelope \
             (first at {first:.2} s): {message}"
        );
    }
    for w in &windows {
        eprintln!(
            "window '{}': {:.2}-{:.2} s",
            w.name,
            w.from.as_secs_f64(),
            w.to.as_secs_f64()
        );
    }
    if !outside.is_empty() {
        let log = stack.nginx_errors();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("nginx error.log, last lines:");
        for l in &lines[lines.len().saturating_sub(30)..] {
            eprintln!("  {l}");
        }
    }
    assert!(placed > 0, "the load placed orders");
    assert!(
        payments.paid > 0 && payments.refunded > 0,
        "the load paid by card and staff rejected some paid orders"
    );
    assert!(
        !cut.orders.is_empty() && cut.staff_actions > 0 && hung_up > 0,
        "the storm cut off orders and staff actions while they were being served"
    );
    // The load was there for every fault, and felt the ones nothing can hide: with every menu
    // (login) replica down, GET /menu/ (/login/me/) can only be 503.
    for (w, (n, unavailable)) in windows.iter().zip(&per_window) {
        assert!(*n > 0, "no request during '{}'", w.name);
        if w.name.ends_with("fully down") {
            assert!(*unavailable > 0, "'{}' went unnoticed", w.name);
        }
    }
    assert!(lost.is_empty(), "orders given up: {lost:?}");
    assert_eq!(survived, windows.len(), "invariants broken after a fault");
    assert!(final_checks.is_empty(), "invariants broken at the end");
    assert!(outside.is_empty(), "errors outside the fault windows");
}
