//! pizza_back's login API (`/api/login/…`) as its old front end calls it.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app};

fn detail(body: &Value) -> &str {
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail in {body}"))
}

#[tokio::test]
async fn the_old_front_ends_register_login_and_logout_work_and_say_they_are_deprecated() {
    let app = spawn_app().await;
    // js/regist.js: axios.post('/api/login/register/', { id, name, pw })
    let res = app
        .post(
            "/api/login/register/",
            &json!({"id": "old_client", "name": "옛 손님", "pw": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["deprecation"], "@1796083200");
    assert_eq!(
        res.headers()["link"],
        "</login/register/>; rel=\"successor-version\""
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"member_id": "old_client"}));

    // The new API's spelling is taken too; a taken id, in any case, is pizza_back's 400.
    let res = app
        .post(
            "/api/login/register/",
            &json!({"member_id": "OLD_CLIENT", "member_nm": "x", "member_pwd": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(detail(&res.json().await.unwrap()), "duplicate member_id");
    let res = app
        .post("/api/login/register/", &json!({"id": "no_pw", "name": "x"}))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(detail(&res.json().await.unwrap()), "missing fields");
    // The rules of every registration still hold, said pizza_back's way.
    let res = app
        .post(
            "/api/login/register/",
            &json!({"id": "short_pw", "name": "x", "pw": "short"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(detail(&res.json().await.unwrap()).contains("member_pwd"));

    // js/login.js: axios.post('/api/login/', { id, pw }) → response.data.token
    let res = app
        .post(
            "/api/login/",
            &json!({"id": "old_client", "pw": "wrong password"}),
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(detail(&res.json().await.unwrap()), "invalid credentials");
    let res = app
        .post("/api/login/", &json!({"id": "old_client", "pw": PASSWORD}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["link"],
        "</login/>; rel=\"successor-version\""
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();

    // The old client never refreshes: its token lives LEGACY_TOKEN_TTL (1 h), and it is a
    // token of the platform like any other.
    let claims: Value = {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(app.get_auth("/login/me/", &token).await.status(), 200);
    assert_eq!(app.verify(&token).await, Ok("old_client".to_owned()));

    // js/logout.js sends `Bearer null` when it has no token: still 200, nothing happens.
    let res = app
        .client
        .get(app.url("/api/login/logout/"))
        .header("authorization", "Bearer null")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_auth("/login/me/", &token).await.status(), 200);
    // With its token, the session is revoked everywhere.
    let res = app
        .client
        .get(app.url("/api/login/logout/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "logged out"})
    );
    assert_eq!(app.get_auth("/login/me/", &token).await.status(), 401);
    assert!(app.verify(&token).await.is_err());
    app.wait_for_auth_events(1, std::time::Duration::from_secs(5))
        .await;
}

#[tokio::test]
async fn legacy_errors_of_every_kind_are_details_and_each_route_is_counted() {
    let app = spawn_app().await;
    // Malformed JSON, a wrong method, the wrong content type: pizza_back's shape, not ours.
    let res = app
        .client
        .post(app.url("/api/login/"))
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("error").is_none(), "{body}");
    assert!(!detail(&body).is_empty());
    let res = app
        .client
        .delete(app.url("/api/login/register/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert!(res.headers().contains_key("allow"));
    assert!(!detail(&res.json().await.unwrap()).is_empty());
    // A login with no fields is pizza_back's 401.
    let res = app.post("/api/login/", &json!({})).await;
    assert_eq!(res.status(), 401);
    assert_eq!(detail(&res.json().await.unwrap()), "invalid credentials");

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for route in ["/api/login", "/api/login/register"] {
        let series = format!("legacy_requests_total{{route=\"{route}\"}} ");
        let count: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(count >= 1, "{route} not counted:\n{metrics}");
    }
    // Exposed before its first use, at 0 (dashboards show which routes are still called).
    assert!(
        metrics.contains("legacy_requests_total{route=\"/api/login/logout\"} 0"),
        "{metrics}"
    );
}
