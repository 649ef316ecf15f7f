//! `pizza-login import-legacy`: pizza_back's members, with the passwords Django hashed.

use std::process::Command;

use testkit::pizza_back::{PizzaBack, django_hashes};

use crate::helpers::{PASSWORD, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_pizza-login");

fn import(target_url: &str, source: &PizzaBack, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("import-legacy")
        .args(extra)
        .env("DATABASE_URL", target_url)
        .env("LEGACY_SOURCE_URL", source.url())
        .env("LOG_LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains(source.url().as_str()),
        "the source URL is never printed"
    );
    stdout
}

#[tokio::test]
async fn pizza_backs_members_come_over_with_their_django_passwords_once() {
    let app = spawn_app().await;
    app.register("existing").await;
    let source = PizzaBack::create().await.unwrap();
    // Every hasher of Django's default PASSWORD_HASHERS, by Django itself. pizza_back's
    // member_pwd is VARCHAR(100): argon2's (112) and scrypt's (128) could never have been
    // written there, so those two are checked on this side's TEXT column further down.
    let hashers = [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "bcrypt_sha256",
        "argon2",
        "scrypt",
    ];
    let pairs: Vec<(&str, &str)> = hashers.iter().map(|h| ("original pw 1", *h)).collect();
    let hashes = django_hashes(&pairs);
    assert_eq!(hashes.len(), hashers.len());
    let mut members: Vec<(String, String, String)> = hashers[..3]
        .iter()
        .zip(&hashes)
        .map(|(h, hash)| (format!("old_{h}"), hash.clone(), format!("{h} 손님")))
        .collect();
    members.extend([
        // A plaintext left by pizza_back's predecessor: never stored, never verifies.
        (
            "old_plain".into(),
            "hashed_password_123".into(),
            "평문".into(),
        ),
        ("bad id!".into(), hashes[0].clone(), "x".into()),
        ("EXISTING".into(), hashes[0].clone(), "dup".into()),
    ]);
    for (id, pwd, nm) in &members {
        sqlx::query("INSERT INTO member (member_id, member_pwd, member_nm) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(pwd)
            .bind(nm)
            .execute(&source.pool)
            .await
            .unwrap();
    }

    let url = app.db.url();
    let dry = import(&url, &source, &["--dry-run"]);
    assert!(dry.contains("would import 4"), "{dry}");
    assert_eq!(
        app.count("SELECT count(*) FROM member").await,
        1,
        "a dry run writes nothing"
    );

    let first = import(&url, &source, &[]);
    assert!(
        first.contains("read 6 members, imported 4, skipped 2 (0 already here, 1 with an id outside the rules, 1 with an id taken here in another case); 1 of the imported"),
        "{first}"
    );
    assert!(
        first.contains("old_plain") && first.contains("bad id!") && first.contains("EXISTING"),
        "{first}"
    );
    let again = import(&url, &source, &[]);
    assert!(
        again.contains("imported 0, skipped 6 (4 already here"),
        "{again}"
    );
    assert_eq!(app.count("SELECT count(*) FROM member").await, 5);
    assert_eq!(
        app.count("SELECT count(*) FROM member WHERE member_pwd = 'hashed_password_123'")
            .await,
        0,
        "a plaintext is never stored"
    );

    // Django's argon2 and scrypt hashes, as an import would keep them had they fit.
    for (h, hash) in hashers[3..].iter().zip(&hashes[3..]) {
        sqlx::query("INSERT INTO member (member_id, member_nm, member_pwd) VALUES ($1, 'x', $2)")
            .bind(format!("old_{h}"))
            .bind(hash)
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    // Each logs in with its pizza_back password; the Django hash is then argon2id.
    for h in hashers {
        let id = format!("old_{h}");
        assert_eq!(app.login(&id, "original pw 2").await.status(), 401, "{id}");
        assert_eq!(app.login(&id, "original pw 1").await.status(), 200, "{id}");
        let stored: String =
            sqlx::query_scalar("SELECT member_pwd FROM member WHERE member_id = $1")
                .bind(&id)
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{id}: {stored}");
        assert_eq!(
            app.login(&id, "original pw 1").await.status(),
            200,
            "{id} after the upgrade"
        );
    }
    assert_eq!(
        app.login("old_plain", "hashed_password_123").await.status(),
        401
    );
    // The account here that pizza_back's look-alike would have shadowed is untouched.
    assert_eq!(app.login("existing", PASSWORD).await.status(), 200);
}
