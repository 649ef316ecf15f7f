//! `make chaos` (and, with shorter faults, part of `make test`): two replicas of each service
//! behind nginx, on a PostgreSQL and a NATS server of the test's own, under the load of
//! customers placing and reading orders and staff moving them — and faults, one at a time:
//! `kill -9` of one replica of each service, NATS stopped, PostgreSQL restarted, menu and login
//! fully down. After each fault the suite pauses the load and checks that nothing was lost:
//!
//! - every order answered 201 exists exactly once, with all its lines at the catalog's prices,
//!   and no order exists that no customer was answered for; no order is without lines;
//! - the distinct `order.created` events in JetStream are exactly the orders;
//! - every replica is ready again, without the suite restarting it (a killed replica is
//!   started again on its ports, as the kubelet would);
//! - errors happened only inside the fault's window and only as 503 with the envelope.
//!
//! `CHAOS_FAULT_SECS` (default 3; `make chaos` sets 10) is how long NATS, menu and login stay
//! down; `CHAOS_CUSTOMERS` (default 50) the number of customers.

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
use serde_json::{Value, json};
use tokio::sync::RwLock;

/// Staff serve these branches; customers order from them.
const BRANCHES: [&str; 2] = ["gangnam", "hongdae"];
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

struct Load {
    base: String,
    t0: Instant,
    answers: Mutex<Vec<Answer>>,
    placed: Mutex<Vec<Placed>>,
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
        let body = json!({"bran_id": BRANCHES[index % BRANCHES.len()], "items": items});
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
                    let answered = order["items"]
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
                    load.placed.lock().unwrap().push(Placed {
                        order_id: order["order_id"].as_str().unwrap_or_default().to_owned(),
                        member_id: member_id.clone(),
                        lines: answered,
                    });
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
                let mut req = http
                    .post(load.url(&format!("/order/{id}/{action}/")))
                    .bearer_auth(&token);
                if let Some(b) = &body {
                    req = req.json(b);
                }
                load.send("POST /order/{id}/{action}/", req).await;
            }
        }
        drop(step);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
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
    for svc in stack.login.iter().chain(&stack.menu).chain(&stack.order) {
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

/// The order ids of every `order.created` event in JetStream.
async fn created_order_ids(stack: &Stack) -> HashSet<String> {
    stack
        .nats
        .events("ORDERS")
        .await
        .into_iter()
        .filter(|e| e["type"] == "order.created")
        .filter_map(|e| e["data"]["order_id"].as_str().map(str::to_owned))
        .collect()
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

    // Every order's order.created reaches JetStream once the relay has caught up.
    let want: HashSet<String> = in_db.keys().map(|k| (*k).to_owned()).collect();
    let caught_up = testkit::eventually(Duration::from_secs(30), || async {
        (created_order_ids(stack).await == want).then_some(())
    })
    .await;
    if caught_up.is_none() {
        let created = created_order_ids(stack).await;
        bad.push(format!(
            "order.created events for {} distinct orders, {} orders stored (missing {}, extra {})",
            created.len(),
            want.len(),
            want.difference(&created).count(),
            created.difference(&want).count()
        ));
    }
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

    let load = Arc::new(Load {
        base: stack.url(""),
        t0: Instant::now(),
        answers: Mutex::default(),
        placed: Mutex::default(),
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

    let calm = Duration::from_secs(2);
    let kill_for = Duration::from_secs(2).min(fault);
    let mut windows: Vec<Window> = vec![];
    tokio::time::sleep(calm).await;
    for name in [
        "kill -9 one login replica",
        "kill -9 one menu replica",
        "kill -9 one order replica",
        "NATS stopped",
        "PostgreSQL restarted (fast)",
        "menu fully down",
        "login fully down",
    ] {
        let from = load.now();
        eprintln!("chaos: {:6.1} s  {name}", from.as_secs_f64());
        let mut checks = vec![];
        match name {
            "kill -9 one login replica" => {
                down_for(&mut stack.login[..1], kill_for, &mut checks).await
            }
            "kill -9 one menu replica" => {
                down_for(&mut stack.menu[1..], kill_for, &mut checks).await
            }
            "kill -9 one order replica" => {
                down_for(&mut stack.order[..1], kill_for, &mut checks).await
            }
            "NATS stopped" => {
                stack.nats.stop().await;
                gone(&mut checks, stack.nats.port).await;
                tokio::time::sleep(fault).await;
                stack.nats.start_again().await.expect("NATS again");
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
    let final_checks = check(&stack, &load).await;

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
