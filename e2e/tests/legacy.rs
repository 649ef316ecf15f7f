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
async fn the_old_front_end_registers_logs_in_and_out_through_the_ingress() {
    let stack = Stack::start(&[]).await;
    let mut client = OldClient {
        stack: &stack,
        http: testkit::http(),
        jwt_token: None,
    };
    // js/regist.js
    let res = client
        .post(
            "/api/login/register/",
            json!({"id": "old_front", "name": "옛 화면", "pw": "pizza lover 1"}),
            false,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert!(res.headers().contains_key("deprecation"));
    // js/login.js: response.data.token → localStorage
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
    // The token is the platform's: the new API takes it.
    let me = client.get("/login/me/", true).await;
    assert_eq!(me.status(), 200);
    // A wrong password: the old page reads nothing but the failure.
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
    // js/logout.js: needs exactly 200, then forgets the token; the session is dead
    // everywhere.
    let res = client.get("/api/login/logout/", true).await;
    assert_eq!(res.status(), 200);
    assert_eq!(client.get("/login/me/", true).await.status(), 401);
    let order = client.get("/order/myorder/", true).await;
    assert_eq!(order.status(), 401);
}
