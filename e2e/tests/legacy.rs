//! pizza_back's old front end against the platform, through the ingress, its calls made
//! exactly as its JavaScript makes them (axios, JSON bodies, `Bearer ${token}` from
//! localStorage, trailing slashes, paths on its own host).

use e2e::Stack;
use serde_json::{Value, json};
use testkit::pizza_back::{PizzaBack, django_hashes};

/// axios as the old pages use it: JSON bodies; an answer is read only for the fields the page
/// uses.
struct OldClient<'a> {
    stack: &'a Stack,
    http: reqwest::Client,
    /// localStorage['jwt_token']
    jwt_token: Option<String>,
}

impl OldClient<'_> {
    fn bearer(&self) -> String {
        // `Bearer ${token}`: the literal "null" when nothing is stored.
        format!("Bearer {}", self.jwt_token.as_deref().unwrap_or("null"))
    }

    async fn post(&self, path: &str, body: Value, auth: bool) -> reqwest::Response {
        let mut req = self.http.post(self.stack.url(path)).json(&body);
        if auth {
            req = req.header("authorization", self.bearer());
        }
        req.send().await.unwrap()
    }

    async fn get(&self, path: &str, auth: bool) -> reqwest::Response {
        let mut req = self.http.get(self.stack.url(path));
        if auth {
            req = req.header("authorization", self.bearer());
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn the_old_front_end_works_screen_by_screen_through_the_ingress() {
    let stack = Stack::start(&[]).await;
    let mut client = OldClient {
        stack: &stack,
        http: testkit::http(),
        jwt_token: None,
    };
    // regist.html → js/regist.js: any 2xx is success.
    let res = client
        .post(
            "/api/login/register/",
            json!({"id": "old_front", "name": "옛 화면", "pw": "pizza lover 1"}),
            false,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert!(res.headers().contains_key("deprecation"));

    // index.html → js/login.js: response.data.token → localStorage['jwt_token'].
    let res = client
        .post(
            "/api/login/",
            json!({"id": "old_front", "pw": "not it at all"}),
            false,
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "invalid credentials"})
    );
    let res = client
        .post(
            "/api/login/",
            json!({"id": "old_front", "pw": "pizza lover 1"}),
            false,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    client.jwt_token = Some(body["token"].as_str().unwrap().to_owned());

    // pizzalist.html → js/pizzalist.js: name, size, `${price}달러`.
    let menu: Vec<Value> = client.get("/api/menu/", false).await.json().await.unwrap();
    assert!(menu.len() > 10);
    for p in &menu {
        assert!(
            p["pizza_type__pizza_nm"].is_string() && p["size"].is_string(),
            "{p}"
        );
        assert!(p["price"].is_number(), "{p}");
    }

    // order.html → js/order.js: types (with pictures), branches, then the order.
    let types: Vec<Value> = client
        .get("/api/menu/types/", false)
        .await
        .json()
        .await
        .unwrap();
    let bbq = types
        .iter()
        .find(|t| t["pizza_nm"] == "The Barbecue Chicken Pizza")
        .expect("the type");
    // img.src = './' + pizza.pizza_img_url, on a page at the site root.
    let page = reqwest::Url::parse(&stack.url("/order.html")).unwrap();
    let picture = page
        .join(&format!("./{}", bbq["pizza_img_url"].as_str().unwrap()))
        .unwrap();
    let res = client.http.get(picture.clone()).send().await.unwrap();
    assert_eq!(res.status(), 200, "{picture}");
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let branches: Vec<Value> = client
        .get("/api/order/branch/", false)
        .await
        .json()
        .await
        .unwrap();
    let branch = branches[0]["bran_id"].as_str().unwrap().to_owned();
    let res = client
        .post(
            "/api/order/",
            json!({"branchId": branch, "lines": [
                {"name": "The Barbecue Chicken Pizza", "size": "M", "quantity": 2},
                {"name": "The Hawaiian Pizza", "size": "L", "quantity": 1},
            ]}),
            true,
        )
        .await;
    assert_eq!(res.status(), 201);
    let order_id = res.json::<Value>().await.unwrap()["order_id"].clone();
    assert!(!order_id.is_null());

    // myorder.html → js/myorder.js: one row per line.
    let rows: Vec<Value> = client
        .get("/api/order/myorder/", true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let mut got: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["order_id"], order_id);
            assert!(
                r["date"].as_str().unwrap().len() == 10 && r["time"].as_str().unwrap().len() == 8
            );
            (
                r["pizza_id"].as_str().unwrap().to_owned(),
                r["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("bbq_ckn_m".to_owned(), 2), ("hawaiian_l".to_owned(), 1)]
    );
    // The same order on the new API, with the same token.
    let mine: Vec<Value> = client
        .get("/order/myorder/", true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["order_id"], order_id);

    // js/logout.js: needs exactly 200; the session is dead everywhere afterwards.
    let res = client.get("/api/login/logout/", true).await;
    assert_eq!(res.status(), 200);
    assert_eq!(client.get("/login/me/", true).await.status(), 401);
    let after = testkit::eventually(std::time::Duration::from_secs(5), || async {
        let s = client.get("/api/order/myorder/", true).await.status();
        (s == 401).then_some(s)
    })
    .await;
    assert!(after.is_some(), "the token still opens my orders");
    assert_eq!(
        client
            .get("/api/order/myorder/", true)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!({"detail": "unauthorized"})
    );
}

/// `pizza-<service> import-legacy` as an operator runs it: its summary line.
fn import(stack: &Stack, service: &str, role: &str, source: &PizzaBack) -> String {
    let mut cmd = std::process::Command::new(e2e::binary(&format!("pizza-{service}")));
    cmd.arg("import-legacy")
        .env("DATABASE_URL", stack.db.url_as(role))
        .env("LEGACY_SOURCE_URL", source.url());
    if service != "login" {
        cmd.args(["--won-per-unit", "1300"]);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{service}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn pizza_backs_data_comes_over_twice_without_a_duplicate_and_its_people_carry_on() {
    let stack = Stack::start(&[]).await;
    let source = PizzaBack::create().await.unwrap();
    let hashes = django_hashes(&[
        ("old secret 1", "pbkdf2_sha256"),
        ("old secret 2", "bcrypt_sha256"),
    ]);
    let fill = [
        "INSERT INTO member VALUES ('kim_old', $1, '김옛날'), ('lee_old', $2, '이옛날')",
        // The catalog in dollars: one type this platform has, one it has not.
        "INSERT INTO pizza_types VALUES \
           ('bbq_ckn', 'The Barbecue Chicken Pizza', 'Chicken', 'images/bbq.png'), \
           ('old_special', 'The Old Special Pizza', 'Supreme', 'images/old.png')",
        "INSERT INTO pizza VALUES ('bbq_ckn_m', 'bbq_ckn', 'M', 16.75), \
           ('old_special_l', 'old_special', 'L', 20.75)",
        "INSERT INTO branch VALUES ('gangnam', '강남점'), ('old_town', '옛마을점')",
        "INSERT INTO orders VALUES ('101', 'kim_old', 'old_town', '2024-05-01', '12:30:00'), \
           ('102', 'kim_old', 'gangnam', '2024-05-02', '18:05:09'), \
           ('103', 'lee_old', 'gangnam', '2024-06-01', '09:00:00')",
        "INSERT INTO order_detail VALUES (1, '101', 'bbq_ckn_m', 2), (2, '101', 'old_special_l', 1), \
           (3, '102', 'old_special_l', 3), (4, '103', 'bbq_ckn_m', 1)",
    ];
    for sql in fill {
        let mut q = sqlx::query(sql);
        if sql.contains("$1") {
            q = q.bind(&hashes[0]).bind(&hashes[1]);
        }
        q.execute(&source.pool).await.unwrap();
    }

    // Money is never guessed: no rate, no import (one line naming the variable).
    for service in ["menu", "order"] {
        let out = std::process::Command::new(e2e::binary(&format!("pizza-{service}")))
            .arg("import-legacy")
            .env("DATABASE_URL", stack.db.url_as(&format!("{service}_svc")))
            .env("LEGACY_SOURCE_URL", source.url())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("LEGACY_WON_PER_UNIT"),
            "{stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }

    // The order of the switch: login, menu, order; then all again (the catch-up), which
    // finds everything here already.
    let rounds = [
        [
            "imported 2, skipped 0",
            "added 1 types and 1 pizzas",
            "added 1 branches and 3 orders",
        ],
        [
            "imported 0, skipped 2 (2 already here",
            "added 0 types and 0 pizzas",
            "added 0 branches and 0 orders, skipped 3 orders (3 already here",
        ],
    ];
    for expected in rounds {
        for (service, says) in ["login", "menu", "order"].into_iter().zip(expected) {
            let summary = import(&stack, service, &format!("{service}_svc"), &source);
            assert!(summary.contains(says), "{service}: {summary}");
        }
    }
    let mut admin = stack.db.admin().await.unwrap();
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    assert_eq!(
        count("SELECT count(*) FROM ordering.orders")
            .fetch_one(&mut admin)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        count("SELECT count(*) FROM ordering.order_detail")
            .fetch_one(&mut admin)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        count("SELECT count(*) FROM ordering.outbox")
            .fetch_one(&mut admin)
            .await
            .unwrap(),
        0,
        "history is no new order"
    );

    // The new pizza is on the menu in won: 20.75 × 1300.
    let menu: Vec<Value> = testkit::http()
        .get(stack.url("/menu/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let special = menu
        .iter()
        .find(|p| p["pizza_id"] == "old_special_l")
        .expect("imported pizza");
    assert_eq!(special["price"], 26975);

    // kim_old logs in on the old front end with the password Django hashed.
    let mut client = OldClient {
        stack: &stack,
        http: testkit::http(),
        jwt_token: None,
    };
    let res = client
        .post(
            "/api/login/",
            json!({"id": "kim_old", "pw": "old secret 1"}),
            false,
        )
        .await;
    let status = res.status();
    assert_eq!(status, 200, "{}", res.text().await.unwrap_or_default());
    client.jwt_token = Some(
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let stored: String =
        sqlx::query_scalar("SELECT member_pwd FROM login.member WHERE member_id = 'kim_old'")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");

    // Its history, on both APIs: the old ids, Seoul's date and time, lines priced in won.
    let rows: Vec<Value> = client
        .get("/api/order/myorder/", true)
        .await
        .json()
        .await
        .unwrap();
    let mut seen: Vec<(i64, String, i64, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["order_id"].as_i64().expect("the old integer id"),
                r["pizza_id"].as_str().unwrap().to_owned(),
                r["quantity"].as_i64().unwrap(),
                r["date"].as_str().unwrap().to_owned(),
                r["time"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let day = |d: &str, t: &str| (d.to_owned(), t.to_owned());
    let (d1, t1) = day("2024-05-01", "12:30:00");
    let (d2, t2) = day("2024-05-02", "18:05:09");
    assert_eq!(
        seen,
        [
            (101, "bbq_ckn_m".into(), 2, d1.clone(), t1.clone()),
            (101, "old_special_l".into(), 1, d1, t1),
            (102, "old_special_l".into(), 3, d2, t2),
        ]
    );
    let mine: Vec<Value> = client
        .get("/order/myorder/", true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
    let old_101 = mine
        .iter()
        .find(|o| o["legacy_order_id"] == 101)
        .expect("order 101");
    assert_eq!(old_101["status"], "COMPLETED");
    assert_eq!(old_101["total_price"], 2 * 21775 + 26975);
    assert_eq!(old_101["bran_id"], "old_town");
}
