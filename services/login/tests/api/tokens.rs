//! The JWT attack set: every forged or stale token is refused by `/login/me/` and by
//! `VerifyToken` alike.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{SECRET, TestApp, spawn_app};

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn kid() -> String {
    pizza_login::tokens::Tokens::new(SECRET.as_bytes(), None, std::time::Duration::from_secs(60))
        .kid()
        .to_owned()
}

fn sign(claims: &Value, secret: &str) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let res = app.get_auth("/login/me/", token).await;
    assert_eq!(res.status(), 401, "/login/me/ accepted {what}");
    assert_eq!(
        app.verify(token).await,
        Err(tonic::Code::Unauthenticated),
        "VerifyToken accepted {what}"
    );
}

#[tokio::test]
async fn forged_expired_and_incomplete_tokens_are_all_rejected() {
    let app = spawn_app().await;
    let login = app.member_with_session("victim").await;
    let good = login["token"].as_str().unwrap();
    assert_eq!(app.get_auth("/login/me/", good).await.status(), 200);

    // The genuine claims, to tamper with.
    let payload = good.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let with = |k: &str, v: Value| {
        let mut c = claims.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };

    // alg: none, unsigned.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid()})),
        b64(&claims)
    );
    assert_refused(&app, &none, "alg none").await;
    // Signed with another key.
    assert_refused(
        &app,
        &sign(&claims, "some-other-secret-of-32-bytes-len!"),
        "a wrong key",
    )
    .await;
    // Payload changed after signing (role escalation).
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with("role", json!("ADMIN"))),
        parts[2]
    );
    assert_refused(&app, &tampered, "a tampered payload").await;
    // Properly signed, but expired beyond the 5 s leeway.
    assert_refused(
        &app,
        &sign(&with("exp", json!(now - 30)), SECRET),
        "an expired token",
    )
    .await;
    // Properly signed, but missing a required claim or with a wrong one.
    for k in ["aud", "iss", "exp", "sub", "iat", "jti", "sid"] {
        assert_refused(
            &app,
            &sign(&without(k), SECRET),
            &format!("a token without {k}"),
        )
        .await;
    }
    assert_refused(
        &app,
        &sign(&with("aud", json!("someone-else")), SECRET),
        "a wrong aud",
    )
    .await;
    assert_refused(
        &app,
        &sign(&with("iss", json!("evil")), SECRET),
        "a wrong iss",
    )
    .await;
    // A refresh token is not an access token.
    assert_refused(
        &app,
        login["refresh_token"].as_str().unwrap(),
        "a refresh token",
    )
    .await;
    // Garbage.
    assert_refused(&app, "not.a.jwt", "garbage").await;

    // The genuine token still works: nothing above damaged the session.
    assert_eq!(app.get_auth("/login/me/", good).await.status(), 200);
}

#[tokio::test]
async fn a_token_for_a_session_that_never_existed_is_rejected() {
    let app = spawn_app().await;
    let login = app.member_with_session("ghost").await;
    let good = login["token"].as_str().unwrap();
    let payload = good.split('.').nth(1).unwrap();
    let mut claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    // Correctly signed (a leaked key would allow it) but naming a made-up session.
    claims["sid"] = json!(uuid::Uuid::new_v4());
    assert_refused(&app, &sign(&claims, SECRET), "an unknown session").await;
}
