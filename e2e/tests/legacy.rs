//! pizza_back's old front end against the platform, through the ingress, its calls made
//! exactly as its JavaScript makes them (axios, JSON bodies, `Bearer ${token}` from
//! localStorage, trailing slashes, paths on its own host).

use e2e::Stack;
use serde_json::{Value, json};

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
