//! Brute force: limits per client address and per account.

use std::time::Duration;

use crate::helpers::{PASSWORD, TestApp, envelope, spawn_app_with};
use serde_json::{Value, json};

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

/// The app behind a trusted proxy (this test), so `X-Forwarded-For` names the client, with
/// the per-address request limiter out of the way.
async fn behind_proxy(change: impl FnOnce(&mut pizza_login::config::ServeConfig)) -> TestApp {
    spawn_app_with(|c| {
        c.auth.auth_rate_limit_burst = 1000;
        c.http.trusted_proxies = settings::parse_cidrs("127.0.0.1/32").unwrap();
        change(c);
    })
    .await
}

/// A login as sent from `ip`; `device` is a device token from an earlier login.
async fn login_from(
    app: &TestApp,
    ip: &str,
    member_id: &str,
    password: &str,
    device: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"member_id": member_id, "member_pwd": password});
    if let Some(d) = device {
        body["device_token"] = json!(d);
    }
    app.client
        .post(app.url("/login/"))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn guessing_from_one_address_slows_that_address_and_never_locks_out_the_owner() {
    let app = behind_proxy(|_| {}).await;
    app.register("owner_kim").await;
    // The probe's attack: twenty wrong passwords from one address.
    let mut refused = 0;
    for _ in 0..20 {
        let res = login_from(&app, "203.0.113.66", "owner_kim", "guess guess", None).await;
        match res.status().as_u16() {
            401 => {}
            429 => {
                assert!(retry_after(&res) >= 1);
                refused += 1;
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert!(
        refused >= 13,
        "only {refused} of 20 guesses were made to wait"
    );
    // The owner, from anywhere else, logs in at once.
    let res = login_from(&app, "198.51.100.7", "owner_kim", PASSWORD, None).await;
    assert_eq!(res.status(), 200);
    // Only the attacking address waits, for this account only.
    let res = login_from(&app, "203.0.113.66", "owner_kim", PASSWORD, None).await;
    assert_eq!(res.status(), 429);
    let (status, code, _) = envelope(res).await;
    assert_eq!((status, code.as_str()), (429, "RATE_LIMIT_EXCEEDED"));
    app.register("other_acct").await;
    let res = login_from(&app, "203.0.113.66", "other_acct", PASSWORD, None).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn each_failure_past_the_free_ones_doubles_the_wait_and_the_right_password_clears_it() {
    let app = behind_proxy(|_| {}).await;
    app.register("slow_lee").await;
    let ip = "203.0.113.5";
    for n in 1..=6 {
        let res = login_from(&app, ip, "slow_lee", "guess guess", None).await;
        assert_eq!(res.status(), 401, "failure {n} is answered");
    }
    let res = login_from(&app, ip, "slow_lee", "guess guess", None).await;
    assert_eq!((res.status().as_u16(), retry_after(&res)), (429, 1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        login_from(&app, ip, "slow_lee", "guess guess", None)
            .await
            .status(),
        401
    );
    let res = login_from(&app, ip, "slow_lee", "guess guess", None).await;
    assert_eq!((res.status().as_u16(), retry_after(&res)), (429, 2));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The member itself, having mistyped: in after the wait, and its slate is clean.
    assert_eq!(
        login_from(&app, ip, "slow_lee", PASSWORD, None)
            .await
            .status(),
        200
    );
    for _ in 0..5 {
        assert_eq!(
            login_from(&app, ip, "slow_lee", "typo typo", None)
                .await
                .status(),
            401
        );
    }
}

#[tokio::test]
async fn guessing_from_many_addresses_stops_at_the_account_ceiling_except_for_the_owners_device() {
    let app = behind_proxy(|c| c.auth.login_failures_per_hour = 6).await;
    app.register("Target_Park").await;
    let first: Value = login_from(&app, "198.51.100.7", "target_park", PASSWORD, None)
        .await
        .json()
        .await
        .unwrap();
    let device = first["device_token"]
        .as_str()
        .expect("a device token")
        .to_owned();
    assert_eq!(first["member"]["member_id"], "Target_Park");

    // Six addresses, one guess each (in any case of the id): the ceiling.
    for i in 1..=6 {
        let id = if i % 2 == 0 {
            "TARGET_PARK"
        } else {
            "target_park"
        };
        let res = login_from(&app, &format!("203.0.113.{i}"), id, "guess guess", None).await;
        assert_eq!(res.status(), 401);
    }
    // Any seventh guess waits, from a fresh address too, and so does the right password
    // without the device's proof: nothing tells a distributed guesser from the owner.
    for ip in ["203.0.113.7", "198.51.100.8"] {
        let pw = if ip.starts_with("203") {
            "guess guess"
        } else {
            PASSWORD
        };
        let res = login_from(&app, ip, "target_park", pw, None).await;
        assert!(retry_after(&res) > 3000, "the ceiling holds for the hour");
        let (status, _, message) = envelope(res).await;
        assert_eq!(status, 429);
        assert!(message.contains("device"), "{message}");
    }
    // The owner's device gets in, from any address.
    let res = login_from(&app, "192.0.2.200", "Target_Park", PASSWORD, Some(&device)).await;
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(
        again["device_token"],
        device.as_str(),
        "the same device keeps its token"
    );
    // A device token is no key to the account: it only lets the password be tried, and a
    // few wrong passwords void it.
    let other = app.member_with_session("bystander").await;
    let theirs = other["device_token"].as_str().unwrap();
    let res = login_from(&app, "192.0.2.201", "target_park", PASSWORD, Some(theirs)).await;
    assert_eq!(res.status(), 429, "another member's device is no proof");
    for _ in 0..5 {
        let res = login_from(
            &app,
            "192.0.2.200",
            "target_park",
            "guess guess",
            Some(&device),
        )
        .await;
        assert_eq!(res.status(), 401);
    }
    let res = login_from(&app, "192.0.2.200", "target_park", PASSWORD, Some(&device)).await;
    assert_eq!(res.status(), 429, "the guessed-with token is void");
    // The rest of the platform is untouched.
    assert_eq!(app.login("bystander", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn concurrent_guesses_cannot_slip_past_the_ceiling_while_hashes_are_computed() {
    let app = behind_proxy(|c| c.auth.login_failures_per_hour = 5).await;
    app.register("burst_acct").await;
    let guesses = (0..30).map(|i| {
        let app = &app;
        async move {
            login_from(
                app,
                &format!("203.0.113.{}", 10 + i),
                "burst_acct",
                "guess guess",
                None,
            )
            .await
            .status()
            .as_u16()
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 25), "{statuses:?}");
}

#[tokio::test]
async fn right_passwords_sent_at_once_from_one_address_never_make_each_other_wait() {
    // Found by the benchmark: eight parallel logins of one member from one address.
    let app = behind_proxy(|_| {}).await;
    app.register("busy_kiosk").await;
    let logins = (0..12).map(|_| async {
        login_from(&app, "203.0.113.9", "busy_kiosk", PASSWORD, None)
            .await
            .status()
            .as_u16()
    });
    let statuses = futures::future::join_all(logins).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
