//! schemathesis (PyPI) against each service's OpenAPI document, through the ingress,
//! authenticated, with its default checks: no server errors, every response as documented,
//! schema-valid requests accepted and schema-invalid ones refused. What business rules refuse
//! on purpose (an unknown id: 422, a foreign cursor: 400) is declared in
//! deploy/checks/schemathesis.toml. NUL is left out of generated strings: the services refuse it
//! by design (e2e/tests/abuse.rs proves that).
//!
//! Before that, each document is checked to be valid OpenAPI by openapi-spec-validator (PyPI,
//! the reference validator of the specification's JSON Schema).
//!
//! `make test` installs both and sets SCHEMATHESIS and OPENAPI_SPEC_VALIDATOR to them.

use std::process::Command;

use e2e::{Stack, root};

fn schemathesis(stack: &Stack, service: &str, token: &str) {
    let bin = std::env::var("SCHEMATHESIS").expect(
        "SCHEMATHESIS names the schemathesis executable; `make test` installs it and sets it",
    );
    let out = Command::new(bin)
        .arg("--config-file")
        .arg(root().join("deploy/checks/schemathesis.toml"))
        .arg("run")
        .arg(stack.url(&format!("/{service}/openapi.json")))
        .args(["--url", &stack.url("")])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--generation-allow-x00", "false", "--max-examples", "30"])
        .args(["--seed", "20261123", "--no-color"])
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures in the {service} document:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("passed"), "{text}");
    eprintln!(
        "{service}: {}",
        text.lines()
            .find(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())
                && l.contains("generated"))
            .unwrap_or_default()
            .trim()
    );
}

#[tokio::test]
async fn every_document_holds_against_schemathesis() {
    // One client address stands for many: lift the per-address login limit (429 would be a
    // documented answer, but it would hide the rest).
    let stack = Stack::start(&[
        ("AUTH_RATE_LIMIT_BURST", "1000000"),
        ("AUTH_RATE_LIMIT_PERIOD", "1ms"),
    ])
    .await;
    let admin = stack.member("st_admin", "ADMIN", None).await;
    schemathesis(&stack, "menu", &admin);
    let customer = stack.customer("st_customer").await;
    schemathesis(&stack, "order", &customer);
    // And as ADMIN: the staff queue and the tables (created, renamed, retired, drawn).
    schemathesis(&stack, "order", &admin);
    // An ADMIN reaches the staff routes too; the customer's routes answer 404 for orders
    // that are not theirs.
    schemathesis(&stack, "payment", &admin);
    // Last: its run logs the session out and changes the password.
    let other = stack.customer("st_login").await;
    schemathesis(&stack, "login", &other);
}

#[tokio::test]
async fn every_document_is_valid_openapi() {
    let bin = std::env::var("OPENAPI_SPEC_VALIDATOR").expect(
        "OPENAPI_SPEC_VALIDATOR names openapi-spec-validator; `make test` installs it and sets it",
    );
    let stack = Stack::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    for service in ["login", "menu", "order", "payment"] {
        let doc = testkit::http()
            .get(stack.url(&format!("/{service}/openapi.json")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let file = dir.path().join(format!("{service}.json"));
        std::fs::write(&file, doc).unwrap();
        let out = Command::new(&bin)
            .arg(&file)
            .output()
            .expect("run openapi-spec-validator");
        assert!(
            out.status.success(),
            "the {service} document is not valid OpenAPI:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
