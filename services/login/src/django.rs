//! pizza_back's password hashes, as Django wrote them, verified until each member's first
//! successful login replaces its hash with argon2id (what Django itself does when its
//! preferred hasher changes).
//!
//! Every hasher of Django's default `PASSWORD_HASHERS` is understood, in Django's own
//! encodings (`django/contrib/auth/hashers.py`):
//!
//! | prefix | encoded | check |
//! |---|---|---|
//! | `pbkdf2_sha256` | `pbkdf2_sha256$<iterations>$<salt>$<b64 dk>` | PBKDF2-HMAC-SHA256, dk 32 bytes |
//! | `pbkdf2_sha1` | `pbkdf2_sha1$<iterations>$<salt>$<b64 dk>` | PBKDF2-HMAC-SHA1, dk 20 bytes |
//! | `argon2` | `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` | the PHC string after `argon2` |
//! | `bcrypt_sha256` | `bcrypt_sha256$$2b$<cost>$<salt+hash>` | bcrypt of the hex SHA-256 of the password |
//! | `scrypt` | `scrypt$<n>$<salt>$<r>$<p>$<b64 dk>` | scrypt, dk 64 bytes |
//!
//! Outputs are compared in constant time. Anything else (Django's unusable `!…`, a plaintext
//! left by an old system, a hasher outside the defaults) never verifies: that member gets the
//! same 401 as for a wrong password, and `import-legacy` reports it.

use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// More work than any Django default ever asked (1,000,000 PBKDF2 rounds in Django 5.2, 2^14
/// for scrypt); a stored value past these is refused rather than left to stall a thread.
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
const MAX_SCRYPT_LOG_N: u8 = 20;

/// Whether `stored` is a Django hash this module can check.
pub fn recognised(stored: &str) -> bool {
    let Some((prefix, rest)) = stored.split_once('$') else {
        return false;
    };
    match prefix {
        "pbkdf2_sha256" | "pbkdf2_sha1" => pbkdf2_parts(rest).is_some(),
        "argon2" => rest.starts_with("argon2"),
        "bcrypt_sha256" => rest.starts_with("$2"),
        "scrypt" => scrypt_parts(rest).is_some(),
        _ => false,
    }
}

/// Checks `password` against a Django hash; `None` when `stored` is not one.
pub fn verify(password: &[u8], stored: &str) -> Option<bool> {
    let (prefix, rest) = stored.split_once('$')?;
    Some(match prefix {
        "pbkdf2_sha256" => pbkdf2_parts(rest).is_some_and(|(rounds, salt, expected)| {
            let mut out = [0u8; 32];
            kdf::pbkdf2_sha256(password, salt.as_bytes(), rounds, &mut out);
            equal(&out, &expected)
        }),
        "pbkdf2_sha1" => pbkdf2_parts(rest).is_some_and(|(rounds, salt, expected)| {
            let mut out = [0u8; 20];
            kdf::pbkdf2_sha1(password, salt.as_bytes(), rounds, &mut out);
            equal(&out, &expected)
        }),
        // Django strips the leading `$` of argon2-cffi's PHC string.
        "argon2" => crate::passwords::verify_blocking(password, &format!("${rest}")),
        "bcrypt_sha256" => {
            let prehashed = hex::encode(Sha256::digest(password));
            bcrypt::verify(prehashed.as_bytes(), rest).unwrap_or(false)
        }
        "scrypt" => scrypt_parts(rest).is_some_and(|(salt, params, expected)| {
            let mut out = vec![0u8; expected.len()];
            scrypt::scrypt(password, salt.as_bytes(), &params, &mut out).is_ok()
                && equal(&out, &expected)
        }),
        _ => return None,
    })
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `<iterations>$<salt>$<b64 dk>`.
fn pbkdf2_parts(rest: &str) -> Option<(u32, &str, Vec<u8>)> {
    let mut parts = rest.splitn(3, '$');
    let rounds: u32 = parts.next()?.parse().ok()?;
    let salt = parts.next()?;
    let expected = STANDARD.decode(parts.next()?).ok()?;
    (1..=MAX_PBKDF2_ROUNDS)
        .contains(&rounds)
        .then_some((rounds, salt, expected))
}

/// `<n>$<salt>$<r>$<p>$<b64 dk>`.
fn scrypt_parts(rest: &str) -> Option<(&str, scrypt::Params, Vec<u8>)> {
    let mut parts = rest.splitn(5, '$');
    let n: u64 = parts.next()?.parse().ok()?;
    let salt = parts.next()?;
    let r: u32 = parts.next()?.parse().ok()?;
    let p: u32 = parts.next()?.parse().ok()?;
    let expected = STANDARD.decode(parts.next()?).ok()?;
    if !n.is_power_of_two() {
        return None;
    }
    let log_n = u8::try_from(n.trailing_zeros()).ok()?;
    if log_n > MAX_SCRYPT_LOG_N {
        return None;
    }
    let params = scrypt::Params::new(log_n, r, p, expected.len()).ok()?;
    Some((salt, params, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with Python's hashlib (pbkdf2_hmac, scrypt) in Django's encodings; hashes made by
    // Django itself, every default hasher, are checked by the import test (e2e).
    const PBKDF2_SHA256: &str =
        "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
    const PBKDF2_SHA1: &str = "pbkdf2_sha1$1000$seasalt$ljleU4wBmTtz/MoG5YTwxpM0d7I=";
    const SCRYPT: &str = "scrypt$1024$seasalt$8$1$+qO2jTkVUbPNlniTkHY96ldSJKs4U0WQif8UbWlfO3wJDNhKOg+pPtDckiT6Zw0qkEvKIQ1MdONfGxsWrpoiNg==";

    #[test]
    fn each_default_django_hasher_verifies_the_right_password_only() {
        for stored in [PBKDF2_SHA256, PBKDF2_SHA1, SCRYPT] {
            assert!(recognised(stored), "{stored}");
            assert_eq!(verify("lètmein".as_bytes(), stored), Some(true), "{stored}");
            assert_eq!(verify(b"letmein", stored), Some(false), "{stored}");
            assert_eq!(verify(b"", stored), Some(false), "{stored}");
        }
    }

    #[test]
    fn anything_else_never_verifies_and_never_panics() {
        for stored in [
            "!unusable",
            "hashed_password_123",
            "md5$seasalt$0123",
            "pbkdf2_sha256$0$salt$AAAA",
            "pbkdf2_sha256$99999999999$salt$AAAA",
            "pbkdf2_sha256$1000$salt$not base64!",
            "scrypt$1000$salt$8$1$AAAA",
            "scrypt$1099511627776$salt$8$1$AAAA",
            "bcrypt_sha256$$2b$12$short",
            "argon2$argon2id$garbage",
            "",
            "$",
        ] {
            assert_ne!(
                verify(b"hashed_password_123", stored),
                Some(true),
                "{stored}"
            );
        }
        assert!(!recognised("hashed_password_123"));
        assert!(!recognised("!unusable"));
        assert!(!recognised("pbkdf2_sha256$0$salt$AAAA"));
    }
}
