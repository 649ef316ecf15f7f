//! Brute force: limits per client address and per account.

use std::time::Duration;

use crate::helpers::{PASSWORD, envelope, spawn_app_with};
use serde_json::json;

#[tokio::test]
async fn login_and_register_are_rate_limited_per_client_address() {
    let app = spawn_app_with(|c| {
        c.auth.auth_rate_limit_burst = 3;
        c.auth.auth_rate_limit_period = Duration::from_secs(60);
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.login("whoever", "whatever pw").await.status(), 401);
    }
    let res = app.login("whoever", "whatever pw").await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let (status, code, _) = envelope(res).await;
    assert_eq!((status, code.as_str()), (429, "RATE_LIMIT_EXCEEDED"));
    // The limit is per address and per route group: /me is not throttled.
    assert_eq!(app.get_auth("/login/me/", "x").await.status(), 401);
}

#[tokio::test]
async fn an_address_behind_a_trusted_proxy_is_limited_on_its_own() {
    let app = spawn_app_with(|c| {
        c.auth.auth_rate_limit_burst = 2;
        c.auth.auth_rate_limit_period = Duration::from_secs(60);
        c.http.trusted_proxies = settings::parse_cidrs("127.0.0.1/32").unwrap();
    })
    .await;
    let login_from = |ip: &'static str| {
        app.client
            .post(app.url("/login/"))
            .header("x-forwarded-for", ip)
            .json(&json!({"member_id": "someone", "member_pwd": "whatever pw"}))
            .send()
    };
    assert_eq!(login_from("203.0.113.1").await.unwrap().status(), 401);
    assert_eq!(login_from("203.0.113.1").await.unwrap().status(), 401);
    assert_eq!(login_from("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(login_from("203.0.113.2").await.unwrap().status(), 401);
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_then_even_the_right_password_waits() {
    let app = spawn_app_with(|c| {
        c.auth.login_failures_per_hour = 3;
        c.auth.auth_rate_limit_burst = 50;
    })
    .await;
    app.register("target_acct").await;
    for _ in 0..3 {
        assert_eq!(app.login("target_acct", "guess guess").await.status(), 401);
    }
    let res = app.login("target_acct", PASSWORD).await;
    assert!(res.headers().contains_key("retry-after"));
    let (status, code, _) = envelope(res).await;
    assert_eq!((status, code.as_str()), (429, "RATE_LIMIT_EXCEEDED"));
    // Other accounts are unaffected.
    app.register("other_acct").await;
    assert_eq!(app.login("other_acct", PASSWORD).await.status(), 200);
}
