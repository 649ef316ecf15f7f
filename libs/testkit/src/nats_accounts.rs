//! [`OperatorMode`]: NATS's decentralized authentication for a test's own server: an
//! operator, an account with JetStream, and a user of it as the `.creds` file `nsc generate
//! creds` writes (the user's JWT and NKey seed). The JWTs are made here the way `nsc` makes
//! them: claims signed with ed25519 by the issuer's NKey.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use nkeys::KeyPair;
use serde_json::{Value, json};

/// What a server in operator mode and one of its users need.
pub struct OperatorMode {
    /// nats-server configuration: the operator, and the accounts (the platform's, the
    /// system's) preloaded in memory.
    pub config: String,
    /// The user's credentials file.
    pub creds: String,
}

impl OperatorMode {
    pub fn new(user_name: &str) -> Self {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        // JetStream needs the server's own account to be there.
        let system = KeyPair::new_account();
        let user = KeyPair::new_user();
        let unlimited = json!({
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
        });
        let operator_jwt = jwt(
            &operator,
            &operator.public_key(),
            "pizza-test",
            json!({"type": "operator", "version": 2}),
        );
        let account_jwt = jwt(
            &operator,
            &account.public_key(),
            "PIZZA",
            json!({"limits": unlimited, "type": "account", "version": 2}),
        );
        let system_jwt = jwt(
            &operator,
            &system.public_key(),
            "SYS",
            json!({"type": "account", "version": 2}),
        );
        let user_jwt = jwt(
            &account,
            &user.public_key(),
            user_name,
            json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                   "type": "user", "version": 2}),
        );
        let config = format!(
            "operator: {operator_jwt}\nsystem_account: {sys}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {}: {account_jwt}\n  {sys}: {system_jwt}\n}}\n",
            account.public_key(),
            sys = system.public_key(),
        );
        let creds = format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n",
            user.seed().expect("a user seed")
        );
        Self { config, creds }
    }
}

/// A NATS JWT: `subject`'s claims (`nats`), issued and signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = json!({
        "jti": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        "iat": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{body}");
    let signature = issuer
        .sign(signing_input.as_bytes())
        .expect("sign with an NKey");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}
