//! Social login against a real OpenID provider (npm's oidc-provider, `tools/oidc-dev`) and
//! its Naver-style sandbox: the flow as a browser goes through it, and everything it refuses.

use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::{Value, json};
use testkit::{
    NatsServer, TestDb,
    oidc::{self, OidcProvider},
};

use crate::helpers::{PASSWORD, TestApp, envelope};

struct Social {
    app: TestApp,
    provider: OidcProvider,
    /// `PUBLIC_WEB_URL`: the login service itself here (it serves the callbacks).
    web: String,
}

/// login with providers `dev` (OpenID Connect) and `naver` (the sandbox), both served by one
/// private provider process.
async fn spawn_social() -> Social {
    spawn_social_with(|_| {}).await
}

async fn spawn_social_with(change: impl FnOnce(&mut pizza_login::config::ServeConfig)) -> Social {
    let db = TestDb::new(pizza_login::DB_ROLE, &pizza_login::MIGRATOR)
        .await
        .expect("test database");
    let nats = NatsServer::start().await.expect("nats-server");
    let (h, g) = (testkit::listener().await, testkit::listener().await);
    let web = format!("http://{}/", h.local_addr().unwrap());
    let provider = OidcProvider::start(&[
        format!("{web}login/oauth/dev/callback"),
        format!("{web}login/oauth/naver/callback"),
    ])
    .await
    .expect("the local OpenID provider (scripts/deps.sh installs it)");
    let mut cfg = harness::login_config(&db, &nats);
    let s = &mut cfg.social;
    s.public_web_url = Some(web.clone());
    s.oauth_dev_client_id = Some(oidc::CLIENT_ID.into());
    s.oauth_dev_client_secret = Some(settings::Secret::new(oidc::CLIENT_SECRET));
    s.oauth_dev_issuer = provider.issuer();
    let [authorize, token, profile] = provider.naver_urls();
    s.oauth_naver_client_id = Some(oidc::CLIENT_ID.into());
    s.oauth_naver_client_secret = Some(settings::Secret::new(oidc::CLIENT_SECRET));
    s.oauth_naver_authorize_url = authorize;
    s.oauth_naver_token_url = token;
    s.oauth_naver_profile_url = profile;
    change(&mut cfg);
    Social {
        app: TestApp::around(harness::start_login_on(cfg, h, g), db, nats),
        provider,
        web,
    }
}

/// The value of `key` in `url`'s query.
fn param(url: &str, key: &str) -> String {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {url}"))
        .1
        .into_owned()
}

/// A flow begun: where the provider is, and the binding cookie set for this browser.
struct Begun {
    authorize_url: String,
    cookie: String,
}

fn cookie_of(res: &reqwest::Response) -> String {
    let set = res
        .headers()
        .get("set-cookie")
        .expect("the binding cookie")
        .to_str()
        .unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(set.contains("Path=/login/oauth/"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

impl Social {
    async fn start(&self, provider: &str) -> Begun {
        let res = self
            .app
            .client
            .get(self.app.url(&format!("/login/oauth/{provider}/start")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "{:?}", res.text().await);
        let authorize_url = res.headers()["location"].to_str().unwrap().to_owned();
        Begun {
            cookie: cookie_of(&res),
            authorize_url,
        }
    }

    /// A link of `provider` to the member of `token` begun: its URL, with the binding cookie.
    async fn link(&self, provider: &str, token: &str) -> Begun {
        let res = self
            .app
            .client
            .post(self.app.url(&format!("/login/oauth/{provider}/link/")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let cookie = cookie_of(&res);
        let body: Value = res.json().await.unwrap();
        Begun {
            authorize_url: body["authorize_url"].as_str().unwrap().to_owned(),
            cookie,
        }
    }

    /// The provider's redirect back to us, after logging in there as `login`.
    async fn at_provider(&self, begun: &Begun, login: &str) -> Url {
        let back = oidc::log_in_at(&self.app.client, &begun.authorize_url, login)
            .await
            .expect("through the provider's pages");
        assert!(back.as_str().starts_with(&self.web), "{back}");
        back
    }

    async fn callback(&self, url: &Url, cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.app.client.get(url.clone());
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// A fragment parameter of the web client URL a callback answered with.
    fn fragment(res: &reqwest::Response, key: &str) -> String {
        assert_eq!(res.status(), 303);
        let to = Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        let fragment = to.fragment().expect("a fragment").to_owned();
        url::form_urlencoded::parse(fragment.as_bytes())
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no {key} in #{fragment}"))
            .1
            .into_owned()
    }

    async fn exchange(&self, code: &str) -> reqwest::Response {
        self.app
            .post("/login/oauth/exchange/", &json!({"code": code}))
            .await
    }

    /// The whole login as `login` at `provider`: the usual login answer.
    async fn log_in(&self, provider: &str, login: &str) -> Value {
        let begun = self.start(provider).await;
        let back = self.at_provider(&begun, login).await;
        let res = self.callback(&back, Some(&begun.cookie)).await;
        let code = Self::fragment(&res, "oauth_code");
        let res = self.exchange(&code).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn members(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM member")
            .fetch_one(&self.app.db.pool)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_first_social_login_creates_a_member_and_the_next_finds_it_with_sessions_as_usual() {
    let s = spawn_social().await;
    let first = s.log_in("dev", "alice").await;
    let member_id = first["member"]["member_id"].as_str().unwrap().to_owned();
    assert!(member_id.starts_with("dev_"), "{member_id}");
    assert_eq!(first["member"]["member_nm"], "Alice");
    assert_eq!(first["member"]["role"], "CUSTOMER");
    assert_eq!(first["token_type"], "Bearer");

    let again = s.log_in("dev", "alice").await;
    assert_eq!(again["member"]["member_id"], member_id.as_str());
    let other = s.log_in("dev", "bob").await;
    assert_ne!(other["member"]["member_id"], member_id.as_str());
    assert_eq!(s.members().await, 2);

    // The member's page: logs in with dev, has no password (and no password logs it in).
    let token = again["token"].as_str().unwrap();
    let me: Value = s
        .app
        .get_auth("/login/me/", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["linked"][0]["provider"], "dev");
    assert_eq!(me["has_password"], false);
    let (status, _, _) = envelope(s.app.login(&member_id, PASSWORD).await).await;
    assert_eq!(status, 401);

    // Same sessions as a password login: refresh, verify over gRPC, log out.
    let refreshed = s
        .app
        .post(
            "/login/refresh/",
            &json!({"refresh_token": again["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let token = refreshed["token"].as_str().unwrap();
    assert_eq!(s.app.verify(token).await, Ok(member_id.clone()));
    let out = s
        .app
        .client
        .post(s.app.url("/login/logout/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(s.app.get_auth("/login/me/", token).await.status(), 401);
    // The first login's session is another one, still live.
    let first_token = first["token"].as_str().unwrap();
    assert_eq!(
        s.app.get_auth("/login/me/", first_token).await.status(),
        200
    );
}

#[tokio::test]
async fn a_missing_or_wrong_state_is_refused_and_creates_nothing() {
    let s = spawn_social().await;
    let begun = s.start("dev").await;
    let back = s.at_provider(&begun, "alice").await;
    let code = param(back.as_str(), "code");
    for query in [format!("code={code}"), format!("code={code}&state=forged")] {
        let url = Url::parse(&format!("{}login/oauth/dev/callback?{query}", s.web)).unwrap();
        let (status, code, e) = envelope(s.callback(&url, Some(&begun.cookie)).await).await;
        assert_eq!((status, code.as_str()), (400, "VALIDATION_ERROR"), "{e}");
        assert!(e.contains("state") || e.contains("unknown"), "{e}");
    }
    assert_eq!(s.members().await, 0);

    // A flow older than its ten minutes.
    let begun = s.start("dev").await;
    sqlx::query("UPDATE oauth_flow SET expires_at = now() - interval '1 second'")
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    let back = s.at_provider(&begun, "alice").await;
    let (status, _, e) = envelope(s.callback(&back, Some(&begun.cookie)).await).await;
    assert_eq!(status, 400, "{e}");
    assert!(e.contains("expired"), "{e}");

    // The right state and cookie, but the answer names another issuer (a mix-up attack).
    let begun = s.start("dev").await;
    let mut back = s.at_provider(&begun, "alice").await;
    let pairs: Vec<(String, String)> = back
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "iss" {
                (k, "http://issuer.invalid".into())
            } else {
                (k, v)
            }
        })
        .collect();
    back.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, _, e) = envelope(s.callback(&back, Some(&begun.cookie)).await).await;
    assert_eq!(status, 400, "{e}");
    assert!(e.contains("another issuer"), "{e}");
    assert_eq!(s.members().await, 0);

    // A browser that navigates there goes back to the web client with the message.
    let url = Url::parse(&format!("{}login/oauth/dev/callback?code={code}", s.web)).unwrap();
    let res = s
        .app
        .client
        .get(url)
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert!(Social::fragment(&res, "oauth_error").contains("no state"));
}

#[tokio::test]
async fn a_callback_in_another_browser_is_refused_login_csrf() {
    let s = spawn_social().await;
    // The attacker begins a login in their browser and stops at the callback URL...
    let attacker = s.start("dev").await;
    let back = s.at_provider(&attacker, "mallory").await;
    // ...which the victim's browser opens: with no cookie of ours, or with its own.
    let victim = s.start("dev").await;
    assert_ne!(victim.cookie, attacker.cookie);
    for cookie in [None, Some(victim.cookie.as_str())] {
        let (status, _, e) = envelope(s.callback(&back, cookie).await).await;
        assert_eq!(status, 400, "{e}");
    }
    assert_eq!(s.members().await, 0);
    // Nor can the attacker's own browser finish it now: a flow is tried once.
    let (status, _, _) = envelope(s.callback(&back, Some(&attacker.cookie)).await).await;
    assert_eq!(status, 400);
    assert_eq!(s.members().await, 0);
}

#[tokio::test]
async fn a_replayed_callback_or_one_time_code_is_refused() {
    let s = spawn_social().await;
    let begun = s.start("dev").await;
    let back = s.at_provider(&begun, "alice").await;
    let res = s.callback(&back, Some(&begun.cookie)).await;
    let code = Social::fragment(&res, "oauth_code");
    let (status, _, _) = envelope(s.callback(&back, Some(&begun.cookie)).await).await;
    assert_eq!(status, 400, "the same callback twice");

    // The provider's code itself, replayed in a flow of its own: the provider refuses a code
    // it exchanged already (and this flow's PKCE verifier is not the one it was issued for).
    let spent_code = param(back.as_str(), "code");
    let other = s.start("dev").await;
    let other_state = param(&other.authorize_url, "state");
    let replay = Url::parse(&format!(
        "{}login/oauth/dev/callback?code={spent_code}&state={other_state}",
        s.web
    ))
    .unwrap();
    let (status, _, e) = envelope(s.callback(&replay, Some(&other.cookie)).await).await;
    assert_eq!(status, 401, "{e}");
    assert!(e.contains("invalid_grant"), "{e}");

    assert_eq!(s.exchange(&code).await.status(), 200);
    let (status, code_name, e) = envelope(s.exchange(&code).await).await;
    assert_eq!((status, code_name.as_str()), (401, "UNAUTHORIZED"), "{e}");
    let (status, _, _) = envelope(s.exchange("made-up").await).await;
    assert_eq!(status, 401);
    assert_eq!(s.members().await, 1);
}

#[tokio::test]
async fn forged_id_tokens_are_refused_and_create_nothing() {
    let s = spawn_social().await;
    for (mode, why) in [
        ("nonce", "nonce"),
        ("aud", "audience"),
        ("iss", "issuer"),
        ("expired", "expired"),
        ("unknown-key", "signature"),
        ("signature", "signature"),
        ("none", ""),
    ] {
        s.provider.tamper(mode).await.unwrap();
        let begun = s.start("dev").await;
        let back = s.at_provider(&begun, "alice").await;
        let (status, code, e) = envelope(s.callback(&back, Some(&begun.cookie)).await).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "UNAUTHORIZED"),
            "{mode}: {e}"
        );
        let message = e.to_lowercase();
        assert!(
            message.contains("refused") && message.contains(why),
            "{mode}: {message}"
        );
    }
    assert_eq!(s.members().await, 0);
    // The same provider, untampered, logs in.
    s.log_in("dev", "alice").await;
    assert_eq!(s.members().await, 1);
}

#[tokio::test]
async fn a_pkce_verifier_that_does_not_match_is_refused_by_the_provider() {
    let s = spawn_social().await;
    let begun = s.start("dev").await;
    // What the callback will send as the verifier is not what the challenge was made from.
    sqlx::query("UPDATE oauth_flow SET pkce_verifier = repeat('x', 43)")
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    let back = s.at_provider(&begun, "alice").await;
    let (status, _, e) = envelope(s.callback(&back, Some(&begun.cookie)).await).await;
    assert_eq!(status, 401, "{e}");
    assert!(e.contains("invalid_grant"), "{e}");
    assert_eq!(s.members().await, 0);
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_503_at_once_not_at_the_timeout() {
    let mut s = spawn_social_with(|c| c.social.oauth_timeout = Duration::from_secs(30)).await;
    // Down before a flow starts (nothing discovered yet).
    s.provider.stop().await;
    let t = Instant::now();
    let res = s
        .app
        .client
        .get(s.app.url("/login/oauth/dev/start"))
        .send()
        .await
        .unwrap();
    let (status, code, e) = envelope(res).await;
    assert_eq!((status, code.as_str()), (503, "SERVICE_UNAVAILABLE"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(e.contains("dev cannot be reached"), "{e}");

    // Down between the provider's login page and the callback.
    let mut s = spawn_social().await;
    let begun = s.start("dev").await;
    let back = s.at_provider(&begun, "alice").await;
    s.provider.stop().await;
    let (status, _, _) = envelope(s.callback(&back, Some(&begun.cookie)).await).await;
    assert_eq!(status, 503);
    assert_eq!(s.members().await, 0);
}

#[tokio::test]
async fn a_key_rotation_at_the_provider_is_picked_up() {
    let mut s = spawn_social().await;
    let first = s.log_in("dev", "alice").await;
    // The provider signs with a new key from now on; login has only the old one.
    s.provider.rotate_keys().await.unwrap();
    let again = s.log_in("dev", "alice").await;
    assert_eq!(again["member"]["member_id"], first["member"]["member_id"]);
}

#[tokio::test]
async fn naver_logs_in_with_its_profile_api_and_no_id_token() {
    let s = spawn_social().await;
    let begun = s.start("naver").await;
    let authorize = Url::parse(&begun.authorize_url).unwrap();
    let q: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    let has = |k: &str| q.iter().any(|(n, _)| n == k);
    assert!(
        has("state") && has("client_id") && has("redirect_uri"),
        "{authorize}"
    );
    assert!(
        !has("code_challenge") && !has("nonce"),
        "Naver knows neither: {authorize}"
    );
    let back = s.at_provider(&begun, "minji").await;
    let res = s.callback(&back, Some(&begun.cookie)).await;
    let code = Social::fragment(&res, "oauth_code");
    let first: Value = s.exchange(&code).await.json().await.unwrap();
    assert!(
        first["member"]["member_id"]
            .as_str()
            .unwrap()
            .starts_with("naver_")
    );
    assert_eq!(first["member"]["member_nm"], "Minji");
    let again = s.log_in("naver", "minji").await;
    assert_eq!(again["member"]["member_id"], first["member"]["member_id"]);

    // A code Naver does not know (its token endpoint answers 200 with an error).
    let begun = s.start("naver").await;
    let state = param(&begun.authorize_url, "state");
    let url = Url::parse(&format!(
        "{}login/oauth/naver/callback?code=made-up&state={state}",
        s.web
    ))
    .unwrap();
    let (status, _, e) = envelope(s.callback(&url, Some(&begun.cookie)).await).await;
    assert_eq!(status, 401, "{e}");
    assert!(e.contains("no valid data"), "{e}");
    assert_eq!(s.members().await, 1);
}

#[tokio::test]
async fn a_member_links_and_unlinks_providers_but_keeps_a_way_to_log_in() {
    let s = spawn_social().await;
    assert_eq!(s.app.register("kim").await.status(), 201);
    let token = harness_token(&s, "kim").await;

    // Link: a URL to go to, with the binding cookie; the provider's callback links.
    let s = &s;
    let begun = s.link("dev", &token).await;
    let back = s.at_provider(&begun, "kimdev").await;
    let res = s.callback(&back, Some(&begun.cookie)).await;
    assert_eq!(Social::fragment(&res, "oauth_linked"), "dev");
    let me: Value = s
        .app
        .get_auth("/login/me/", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["linked"][0]["provider"], "dev");
    assert_eq!(me["has_password"], true);
    // Logging in with it is logging in as kim; no member was made.
    let social = s.log_in("dev", "kimdev").await;
    assert_eq!(social["member"]["member_id"], "kim");
    assert_eq!(s.members().await, 1);

    // Another member cannot link the same provider account.
    let bob = s.log_in("dev", "bob").await;
    let bob_token = bob["token"].as_str().unwrap().to_owned();
    let begun = s.link("dev", &bob_token).await;
    let back = s.at_provider(&begun, "kimdev").await;
    let (status, _, e) = envelope(s.callback(&back, Some(&begun.cookie)).await).await;
    assert_eq!(status, 409, "{e}");

    // bob's only way in is dev: unlinking it is refused.
    let unlink = |token: String| {
        s.app
            .client
            .delete(s.app.url("/login/oauth/dev/"))
            .bearer_auth(token)
            .send()
    };
    let (status, _, e) = envelope(unlink(bob_token.clone()).await.unwrap()).await;
    assert_eq!(status, 409, "{e}");
    // kim has a password: dev goes, and then logging in with kimdev is somebody new.
    assert_eq!(unlink(token.clone()).await.unwrap().status(), 204);
    let (status, _, _) = envelope(unlink(token.clone()).await.unwrap()).await;
    assert_eq!(status, 404);
    let fresh = s.log_in("dev", "kimdev").await;
    assert_ne!(fresh["member"]["member_id"], "kim");
}

#[tokio::test]
async fn providers_that_are_off_are_404_and_the_list_names_those_that_are_on() {
    let s = spawn_social().await;
    let list: Value = s
        .app
        .client
        .get(s.app.url("/login/oauth/providers/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list,
        json!({"providers": [{"id": "naver", "name": "Naver"}, {"id": "dev", "name": "dev"}]})
    );
    for path in [
        "/login/oauth/google/start",
        "/login/oauth/kakao/callback?code=x&state=y",
    ] {
        let (status, _, _) =
            envelope(s.app.client.get(s.app.url(path)).send().await.unwrap()).await;
        assert_eq!(status, 404, "{path}");
    }
}

async fn harness_token(s: &Social, member_id: &str) -> String {
    let res: Value = s.app.login(member_id, PASSWORD).await.json().await.unwrap();
    res["token"].as_str().unwrap().to_owned()
}
