//! Every list the service serves reads an index for every filter it accepts, whatever the
//! planner's mood: each statement is `EXPLAIN`ed exactly as the service sends it, on 100 000
//! orders of realistic shape (most of them history, a few on the board), with the statistics
//! `ANALYZE` gathers, as a custom plan and as the generic plan a prepared statement switches to
//! after five runs. A sequential scan of `orders`, `order_detail` or
//! `order_status_history` fails the test: its cost would grow with every order ever taken.

use pizza_order::{
    db,
    status::{PaymentMethod, Status},
};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use testkit::TestDb;

const ORDERS: i64 = 100_000;

/// 100 000 orders over every branch and 20 000 members, one a minute going back; 1 % on the
/// board (PENDING, ACCEPTED, READY), a few awaiting payment, 4 % cancelled or rejected, the
/// rest completed; two lines and two history rows each.
async fn grown(db: &TestDb) -> PgConnection {
    let mut c = PgConnection::connect_with(&db.options_as(pizza_order::DB_ROLE))
        .await
        .unwrap();
    // Loading is not a request: lift the role's statement limit for this session.
    c.execute(sqlx::AssertSqlSafe(format!(
        "SET statement_timeout = 0;
         INSERT INTO orders (order_id, member_id, bran_id, status, total_price, created_at, \
                             updated_at, payment_method, payment_status)
         SELECT gen_random_uuid(), 'member_' || (g % 20000),
                (SELECT array_agg(bran_id ORDER BY bran_id) FROM branch)[1 + g % (SELECT count(*) FROM branch)],
                CASE WHEN g % 1000 < 5 THEN 'PENDING' WHEN g % 1000 < 8 THEN 'ACCEPTED'
                     WHEN g % 1000 < 10 THEN 'READY' WHEN g % 1000 < 12 THEN 'AWAITING_PAYMENT'
                     WHEN g % 1000 < 42 THEN 'CANCELLED' WHEN g % 1000 < 52 THEN 'REJECTED'
                     ELSE 'COMPLETED' END,
                36000, now() - make_interval(mins => g::int), now() - make_interval(mins => g::int),
                CASE WHEN g % 1000 BETWEEN 10 AND 11 THEN 'CARD' ELSE 'AT_PICKUP' END,
                CASE WHEN g % 1000 BETWEEN 10 AND 11 THEN 'UNPAID' ELSE 'AT_PICKUP' END
           FROM generate_series(1, {ORDERS}) g;
         INSERT INTO order_detail (order_id, line_no, pizza_id, pizza_nm, size, quantity, unit_price, line_total)
         SELECT order_id, l, 'hawaiian_m', 'The Hawaiian Pizza', 'M', 1, 18000, 18000
           FROM orders, generate_series(1, 2) l;
         INSERT INTO order_status_history (order_id, version, status, changed_by, changed_at)
         SELECT order_id, v, CASE v WHEN 1 THEN 'PENDING' ELSE status END, 'test', created_at
           FROM orders, generate_series(1, 2) v;
         ANALYZE orders; ANALYZE order_detail; ANALYZE order_status_history;"
    )))
    .await
    .unwrap();
    c
}

/// The nodes of a plan that read a whole table of ours.
fn seq_scans(plan: &Value, out: &mut Vec<String>) {
    let tables = ["orders", "order_detail", "order_status_history"];
    if plan["Node Type"] == "Seq Scan"
        && let Some(t) = plan["Relation Name"]
            .as_str()
            .filter(|t| tables.contains(t))
    {
        out.push(t.to_owned());
    }
    for child in plan["Plans"].as_array().into_iter().flatten() {
        seq_scans(child, out);
    }
}

/// `sql` prepared as the service's statement, executed with `args` (SQL literals) under both
/// plan modes: the tables it scans whole, with the plans, if any.
async fn scans(c: &mut PgConnection, n: usize, sql: &str, args: &str) -> Vec<String> {
    let mut found = vec![];
    for (i, mode) in ["force_custom_plan", "force_generic_plan"]
        .iter()
        .enumerate()
    {
        let q = format!("q{n}_{i}");
        c.execute(sqlx::AssertSqlSafe(format!(
            "SET plan_cache_mode = {mode}; PREPARE {q} AS {sql}"
        )))
        .await
        .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
        let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (FORMAT JSON) EXECUTE {q}({args})"
        )))
        .fetch_one(&mut *c)
        .await
        .unwrap_or_else(|e| panic!("explain {sql} ({args}): {e}"));
        let mut tables = vec![];
        seq_scans(&plan[0]["Plan"], &mut tables);
        if !tables.is_empty() {
            found.push(format!("{mode}: {tables:?} in {plan:#}"));
        }
    }
    found
}

#[tokio::test]
async fn every_list_reads_an_index_for_every_filter_in_both_plan_modes() {
    let db = TestDb::new(pizza_order::DB_ROLE, &pizza_order::MIGRATOR)
        .await
        .unwrap();
    let mut c = grown(&db).await;
    let (at, id): (String, String) = sqlx::query_as(
        "SELECT created_at::text, order_id::text FROM orders WHERE status = 'COMPLETED' \
         ORDER BY created_at LIMIT 1 OFFSET 20000",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    let cursor = format!("'{at}', '{id}'");
    let some_ids: Vec<String> =
        sqlx::query_scalar("SELECT order_id::text FROM orders ORDER BY order_id LIMIT 21")
            .fetch_all(&mut c)
            .await
            .unwrap();
    let ids = format!("ARRAY['{}']::uuid[]", some_ids.join("','"));
    let mut cases: Vec<(String, String, String)> = vec![];
    let mut case = |what: &str, sql: String, args: String| {
        cases.push((what.to_owned(), sql, args));
    };
    for (page, keyset) in [
        ("first page", "NULL, NULL".to_owned()),
        ("a later page", cursor),
    ] {
        case(
            &format!("the board of a branch, {page}"),
            db::queue_sql(false, true),
            format!("'gangnam', {keyset}, 21"),
        );
        case(
            &format!("the board of every branch, {page}"),
            db::queue_sql(false, false),
            format!("{keyset}, 21"),
        );
        for st in [
            Status::Completed,
            Status::Cancelled,
            Status::Pending,
            Status::AwaitingPayment,
        ] {
            case(
                &format!("{} at a branch, {page}", st.as_str()),
                db::queue_sql(true, true),
                format!("'gangnam', '{}', {keyset}, 21", st.as_str()),
            );
            case(
                &format!("{} at every branch, {page}", st.as_str()),
                db::queue_sql(true, false),
                format!("'{}', {keyset}, 21", st.as_str()),
            );
        }
        case(
            &format!("a member's orders, {page}"),
            db::member_orders_sql(),
            format!("'member_42', {keyset}, 21"),
        );
    }
    case("the lines of a page", db::LINES_SQL.to_owned(), ids);
    for (st, method) in [
        (Status::Pending, None),
        (Status::AwaitingPayment, Some(PaymentMethod::Card)),
        (Status::AwaitingPayment, Some(PaymentMethod::Transfer)),
    ] {
        case(
            &format!("the auto-cancel of {}", st.as_str()),
            db::cancel_overdue_sql(st, method),
            "900, 100".to_owned(),
        );
    }

    let mut bad = vec![];
    for (n, (what, sql, args)) in cases.iter().enumerate() {
        for found in scans(&mut c, n, sql, args).await {
            bad.push(format!("{what}: {found}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} statements scan a whole table:\n{}",
        bad.len(),
        cases.len() * 2,
        bad.join("\n\n")
    );
}
