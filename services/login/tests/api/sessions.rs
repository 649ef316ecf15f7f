//! Members and sessions: register, log in, refresh, log out, change the password.

use std::time::Duration;

use crate::helpers::{PASSWORD, envelope, spawn_app};
use serde_json::{Value, json};

#[tokio::test]
async fn register_login_me_refresh_logout_and_the_old_token_is_rejected_everywhere() {
    let app = spawn_app().await;
    let res = app.register("kim_minji").await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"member_id": "kim_minji", "member_nm": "테스트"})
    );

    let login: Value = app.login("kim_minji", PASSWORD).await.json().await.unwrap();
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    assert_eq!(login["member"]["role"], "CUSTOMER");
    let token = login["token"].as_str().unwrap();

    let me: Value = app
        .get_auth("/login/me/", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["member_id"], "kim_minji");
    assert_eq!(me["member_nm"], "테스트");
    assert_eq!(app.verify(token).await, Ok("kim_minji".to_owned()));

    let refreshed = app
        .post(
            "/login/refresh/",
            &json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let new_token = refreshed["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_ne!(refreshed["refresh_token"], login["refresh_token"]);
    assert_eq!(app.get_auth("/login/me", new_token).await.status(), 200);

    let out = app
        .client
        .post(app.url("/login/logout/"))
        .bearer_auth(new_token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);

    // Both access tokens of the session are dead, over HTTP and over gRPC.
    for t in [token, new_token] {
        let (status, code, _) = envelope(app.get_auth("/login/me/", t).await).await;
        assert_eq!((status, code.as_str()), (401, "UNAUTHORIZED"));
        assert_eq!(app.verify(t).await, Err(tonic::Code::Unauthenticated));
    }
    // And so is the refresh token of the session.
    let res = app
        .post(
            "/login/refresh/",
            &json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn logout_publishes_session_revoked_through_the_outbox() {
    let app = spawn_app().await;
    let login = app.member_with_session("lee_jun").await;
    let token = login["token"].as_str().unwrap();
    let sid = app.verify(token).await.map(|_| ()).ok();
    assert!(sid.is_some());
    app.client
        .get(app.url("/login/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();

    let events = app.wait_for_auth_events(1, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].member_id, "lee_jun");
    assert!(events[0].session_id.is_some(), "the one session, by id");
    // Marked sent once the ack is in (just after the event reached the stream).
    let marked = testkit::eventually(Duration::from_secs(5), || async {
        let unsent = app
            .count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await;
        (unsent == 0).then_some(())
    })
    .await;
    assert!(marked.is_some());
}

#[tokio::test]
async fn logout_while_nats_is_down_succeeds_and_the_event_goes_out_after_it_returns() {
    let mut app = spawn_app().await;
    let login = app.member_with_session("park_sora").await;
    let token = login["token"].as_str().unwrap().to_owned();
    app.nats.stop().await;

    let started = std::time::Instant::now();
    let out = app
        .client
        .post(app.url("/login/logout/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204, "NATS down never fails a request");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(app.verify(&token).await, Err(tonic::Code::Unauthenticated));
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await,
        1,
        "the event waits in the outbox"
    );

    app.nats.start_again().await.unwrap();
    let events = app.wait_for_auth_events(1, Duration::from_secs(20)).await;
    assert_eq!(events.len(), 1, "published once, not duplicated by retries");
    assert_eq!(events[0].member_id, "park_sora");
}

#[tokio::test]
async fn duplicate_member_id_is_409_and_keeps_the_first_member() {
    let app = spawn_app().await;
    assert_eq!(app.register("choi_hana").await.status(), 201);
    let res = app
        .post(
            "/login/register/",
            &json!({"member_id": "choi_hana", "member_pwd": "another password", "member_nm": "x"}),
        )
        .await;
    let (status, code, _) = envelope(res).await;
    assert_eq!((status, code.as_str()), (409, "CONFLICT"));
    assert_eq!(app.login("choi_hana", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn member_ids_are_one_account_whatever_their_case() {
    let app = spawn_app().await;
    assert_eq!(app.register("Kim_Minji").await.status(), 201);
    for look_alike in ["kim_minji", "KIM_MINJI", "Kim_minJi"] {
        let (status, code, _) = envelope(app.register(look_alike).await).await;
        assert_eq!((status, code.as_str()), (409, "CONFLICT"), "{look_alike}");
    }
    assert_eq!(app.count("SELECT count(*) FROM member").await, 1);
    // Logged in however it is typed; tokens and /me name the id as registered.
    let res = app.login("kim_MINJI", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["member"]["member_id"], "Kim_Minji");
    let me: Value = app
        .get_auth("/login/me/", body["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["member_id"], "Kim_Minji");
    assert_eq!(
        app.verify(body["token"].as_str().unwrap()).await,
        Ok("Kim_Minji".to_owned())
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_member_look_exactly_the_same() {
    let app = spawn_app().await;
    app.register("jung_yuna").await;
    let wrong = app.login("jung_yuna", "not the password").await;
    let unknown = app.login("nobody_here", "not the password").await;
    let wrong_headers: Vec<_> = wrong.headers().keys().map(|k| k.to_string()).collect();
    let unknown_headers: Vec<_> = unknown.headers().keys().map(|k| k.to_string()).collect();
    let (s1, c1, m1) = envelope(wrong).await;
    let (s2, c2, m2) = envelope(unknown).await;
    assert_eq!((s1, c1.as_str()), (401, "UNAUTHORIZED"));
    assert_eq!((s1, c1, m1), (s2, c2, m2));
    assert_eq!(wrong_headers, unknown_headers);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    let login = app.member_with_session("han_seo").await;
    let first = login["refresh_token"].clone();
    let second: Value = app
        .post("/login/refresh/", &json!({"refresh_token": first}))
        .await
        .json()
        .await
        .unwrap();
    let newest_access = second["token"].as_str().unwrap();
    assert_eq!(
        app.get_auth("/login/me/", newest_access).await.status(),
        200
    );

    // The spent token comes back (stolen?): refused, and the family dies with it.
    let (status, code, _) = envelope(
        app.post("/login/refresh/", &json!({"refresh_token": first}))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "UNAUTHORIZED"));
    let res = app
        .post(
            "/login/refresh/",
            &json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(
        res.status(),
        401,
        "the newer refresh token of the family stops working"
    );
    assert_eq!(
        app.get_auth("/login/me/", newest_access).await.status(),
        401
    );
    assert_eq!(
        app.verify(newest_access).await,
        Err(tonic::Code::Unauthenticated)
    );
    let events = app.wait_for_auth_events(1, Duration::from_secs(5)).await;
    assert_eq!(events[0].member_id, "han_seo");
}

#[tokio::test]
async fn changing_the_password_revokes_the_other_sessions_only() {
    let app = spawn_app().await;
    let a = app.member_with_session("yoon_ji").await;
    let b: Value = app.login("yoon_ji", PASSWORD).await.json().await.unwrap();
    let res = app
        .client
        .post(app.url("/login/password/"))
        .bearer_auth(a["token"].as_str().unwrap())
        .json(&json!({"member_pwd": PASSWORD, "new_member_pwd": "a brand new secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_auth("/login/me/", a["token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_auth("/login/me/", b["token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    assert_eq!(app.login("yoon_ji", PASSWORD).await.status(), 401);
    assert_eq!(
        app.login("yoon_ji", "a brand new secret").await.status(),
        200
    );
}

#[tokio::test]
async fn long_passwords_are_compared_whole_never_truncated() {
    let app = spawn_app().await;
    let long = "p".repeat(127) + "a";
    let res = app
        .post(
            "/login/register/",
            &json!({"member_id": "long_pw", "member_pwd": long, "member_nm": "x"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let almost = "p".repeat(127) + "b";
    assert_eq!(app.login("long_pw", &almost).await.status(), 401);
    assert_eq!(app.login("long_pw", &long).await.status(), 200);
}

#[tokio::test]
async fn stored_hashes_are_argon2id_at_owasp_parameters() {
    let app = spawn_app().await;
    app.register("song_eun").await;
    let hash: String =
        sqlx::query_scalar("SELECT member_pwd FROM member WHERE member_id = 'song_eun'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn dead_sessions_and_stale_login_counters_are_pruned() {
    let app = spawn_app().await;
    let live = app.member_with_session("pruned_one").await;
    let gone = app
        .login("pruned_one", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    app.login("pruned_one", "wrong password").await;
    // Age one session past its expiry and the failure's counters past their hour.
    let sid: uuid::Uuid =
        sqlx::query_scalar("SELECT session_id FROM session ORDER BY created_at DESC LIMIT 1")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    sqlx::query(
        "UPDATE session SET expires_at = now() - interval '1 minute' WHERE session_id = $1",
    )
    .bind(sid)
    .execute(&app.db.pool)
    .await
    .unwrap();
    for sql in [
        "UPDATE login_attempt SET at = now() - interval '2 hours'",
        "UPDATE login_throttle SET last_failure = now() - interval '2 hours', \
                                   blocked_until = now() - interval '2 hours'",
    ] {
        sqlx::query(sql).execute(&app.db.pool).await.unwrap();
    }

    let n = pizza_login::db::prune(&app.db.pool, Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(
        n, 3,
        "one session, one failed attempt, one address's counter"
    );
    assert_eq!(app.count("SELECT count(*) FROM session").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM login_attempt").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM login_throttle").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM login_device").await,
        2,
        "devices last 90 days"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_token").await,
        1,
        "the dead session's refresh tokens went with it"
    );
    let tokens = [
        live["token"].as_str().unwrap(),
        gone["token"].as_str().unwrap(),
    ];
    let statuses: Vec<u16> = futures::future::join_all(
        tokens
            .iter()
            .map(|t| async { app.get_auth("/login/me/", t).await.status().as_u16() }),
    )
    .await;
    assert!(
        statuses.contains(&200) && statuses.contains(&401),
        "{statuses:?}"
    );
}
