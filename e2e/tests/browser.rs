//! The web client (web/) in a real browser: starts the stack behind nginx (which serves the
//! client at `/`) with the payment provider's sandbox (its checkout page is where a card order
//! goes), then runs e2e/browser/browser.mjs — playwright-core driving Debian's chromium
//! headless — against it. Also checks CORS at the HTTP level: the allowed second origin gets
//! its preflight answered, an origin not in the list does not.
//!
//! `make test` installs chromium and playwright-core (scripts/deps.sh browser) and sets
//! `CHROMIUM` and `PLAYWRIGHT_DIR`; screenshots go to docs/screenshots/ (or `SHOTS`).

use std::process::Command;

use e2e::{PASSWORD, Stack, root};
use testkit::{
    free_port,
    oidc::{self, OidcProvider},
};

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `make test`, which installs the browser")
    })
}

#[tokio::test]
async fn a_customer_orders_and_watches_staff_accept_and_ready_it_in_a_real_browser() {
    let chromium = required("CHROMIUM");
    let playwright = required("PLAYWRIGHT_DIR");
    let (second, third) = (free_port(), free_port());
    let allowed = format!("http://127.0.0.1:{second}");
    // Social login with the local OpenID provider ("dev", as `make up` runs it), which sends
    // the browser back to the ingress.
    let ingress = free_port();
    let web = format!("http://127.0.0.1:{ingress}/");
    let provider = OidcProvider::start(&[format!("{web}login/oauth/dev/callback")])
        .await
        .expect("the local OpenID provider (scripts/deps.sh installs it)");
    let issuer = provider.issuer();
    let stack = Stack::start_with_env_at(
        ingress,
        e2e::replicas(),
        // Short-lived access tokens, so the page's silent refresh happens during the test.
        // One address stands for every person of the test: the per-address login limit is
        // lifted (the limits are tested elsewhere).
        &[
            ("ACCESS_TOKEN_TTL", "12s"),
            ("AUTH_RATE_LIMIT_BURST", "1000"),
            ("AUTH_RATE_LIMIT_PERIOD", "1ms"),
            ("PUBLIC_WEB_URL", &web),
            ("OAUTH_DEV_CLIENT_ID", oidc::CLIENT_ID),
            ("OAUTH_DEV_CLIENT_SECRET", oidc::CLIENT_SECRET),
            ("OAUTH_DEV_ISSUER", &issuer),
        ],
        &[("CORS_ALLOWED_ORIGINS", &allowed)],
    )
    .await;
    let staff = stack.member("web_staff", "STAFF", Some("gangnam")).await;
    stack.member("web_admin", "ADMIN", None).await;

    // Table 7 at gangnam, and the URL its QR code opens, read back from the SVG as a phone
    // would (the browser goes there; it scans nothing).
    let http = testkit::http();
    let table: serde_json::Value = http
        .post(stack.url("/order/branch/gangnam/table/"))
        .bearer_auth(&staff)
        .json(&serde_json::json!({"label": "7"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let svg = http
        .get(stack.url(table["qr_svg"].as_str().expect("a table")))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let table_url = testkit::qr::from_svg(&svg).expect("the QR code reads");
    assert_eq!(table_url, table["url"].as_str().unwrap());
    assert!(table_url.starts_with(&stack.url("/?table=")), "{table_url}");

    // CORS as the browser will ask: a preflight for a JSON POST with a token.
    for (origin, allowed_here) in [
        (allowed.clone(), true),
        (format!("http://127.0.0.1:{third}"), false),
    ] {
        for path in ["/login/", "/menu/", "/order/"] {
            let res = http
                .request(reqwest::Method::OPTIONS, stack.url(path))
                .header("origin", &origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type,idempotency-key",
                )
                .send()
                .await
                .unwrap();
            let allow = res
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned());
            if allowed_here {
                assert_eq!(
                    allow.as_deref(),
                    Some(origin.as_str()),
                    "{path} from {origin}"
                );
            } else {
                assert_eq!(allow, None, "{path} must not allow {origin}");
            }
        }
    }

    // The page itself, as nginx serves it.
    let page = http.get(stack.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert!(page.text().await.unwrap().contains("app.js"));
    let js = http.get(stack.url("/app.js")).send().await.unwrap();
    assert_eq!(js.headers()["content-type"], "text/javascript");
    // A path that is neither a file nor an API is still the JSON envelope.
    let missing = http.get(stack.url("/no-such-file")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/json");

    let shots = std::env::var("SHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root().join("docs/screenshots"));
    let out = Command::new("node")
        .arg(root().join("e2e/browser/browser.mjs"))
        .env("BASE", stack.url(""))
        .env("SECOND_PORT", second.to_string())
        .env("THIRD_PORT", third.to_string())
        .env("STAFF_ID", "web_staff")
        .env("TABLE_URL", &table_url)
        .env("ADMIN_ID", "web_admin")
        .env("PASSWORD", PASSWORD)
        .env("CHROMIUM", chromium)
        .env("PLAYWRIGHT_DIR", playwright)
        .env("SHOTS", &shots)
        .output()
        .expect("run node (make test installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "the browser test failed");
    assert!(stdout.contains("browser: all passed"));
    for shot in [
        "customer.png",
        "customer-phone.png",
        "staff-board.png",
        "customer-pay.png",
        "customer-paid.png",
        "staff-board-paid.png",
        "visitor-menu-phone.png",
        "table-order-phone.png",
        "staff-console.png",
        "staff-console-ko-phone.png",
        "qr-sheet.png",
        "social-login-phone.png",
    ] {
        assert!(shots.join(shot).exists(), "{shot} saved");
    }
}
