//! Access tokens (JWT) and refresh tokens (opaque).
//!
//! Access tokens are HS256 JWTs with `iss = "pizza-login"`, `aud = "pizza"`, and the claims
//! `sub`, `role`, `sid`, `jti`, `iat`, `exp` — every one required. The header's `kid` names
//! the key, so `JWT_SECRET` can be rotated while `JWT_SECRET_PREVIOUS` still verifies.
//! Leeway is 5 s. A valid signature is not enough: callers also check that the session is
//! still alive ([`crate::db::live_session`]).
//!
//! Refresh tokens are 256-bit random strings; only their SHA-256 is stored.

use std::time::Duration;

use authclient::Role;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const ISSUER: &str = "pizza-login";
pub const AUDIENCE: &str = "pizza";
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    pub sid: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bran_id: Option<String>,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        // The key id must not reveal the key: a truncated hash of a ≥ 32-byte secret.
        let digest = Sha256::digest([b"pizza-jwt-kid:".as_slice(), secret].concat());
        Self {
            kid: hex::encode(&digest[..8]),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// Signs with the current key; verifies with the current or the previous one.
pub struct Tokens {
    current: Key,
    previous: Option<Key>,
    validation: Validation,
    pub access_ttl: Duration,
}

impl Tokens {
    pub fn new(secret: &[u8], previous: Option<&[u8]>, access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            current: Key::new(secret),
            previous: previous.map(Key::new),
            validation,
            access_ttl,
        }
    }

    /// The key id new tokens carry in their header.
    pub fn kid(&self) -> &str {
        &self.current.kid
    }

    /// Issues an access token for a session.
    pub fn issue(
        &self,
        member_id: &str,
        role: Role,
        bran_id: Option<&str>,
        session_id: Uuid,
    ) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        self.issue_for(member_id, role, bran_id, session_id, self.access_ttl)
    }

    /// Issues an access token living `ttl` (a legacy login's, which is never refreshed).
    pub fn issue_for(
        &self,
        member_id: &str,
        role: Role,
        bran_id: Option<&str>,
        session_id: Uuid,
        ttl: Duration,
    ) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: member_id.into(),
            role,
            sid: session_id,
            jti: Uuid::new_v4(),
            iat: now,
            exp: now + ttl.as_secs() as i64,
            bran_id: bran_id.map(str::to_owned),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.current.encoding)?;
        Ok((token, claims))
    }

    /// Checks signature, algorithm, key id, expiry, issuer, audience and every claim's
    /// presence. Says nothing of the session; see [`crate::db::live_session`].
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::HS256 {
            return None;
        }
        let key = match header.kid.as_deref() {
            Some(kid) if kid == self.current.kid => &self.current,
            Some(kid) => self.previous.as_ref().filter(|k| k.kid == kid)?,
            None => return None,
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).ok()?;
        let now = chrono::Utc::now().timestamp();
        // Issued in the future (beyond the leeway)? Then it was not us.
        if data.claims.iat > now + LEEWAY_SECS as i64 {
            return None;
        }
        Some(data.claims)
    }
}

/// A new opaque token (a refresh or a device token) and the hash to store: 32 random bytes,
/// base64url. Only the hash is ever stored.
pub fn new_opaque_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_opaque_token(&token);
    (token, hash)
}

pub fn hash_opaque_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn tokens() -> Tokens {
        Tokens::new(SECRET, None, Duration::from_secs(900))
    }

    #[test]
    fn issued_tokens_verify_and_carry_every_claim() {
        let t = tokens();
        let sid = Uuid::new_v4();
        let (jwt, _) = t.issue("alice", Role::Customer, None, sid).unwrap();
        let c = t.verify(&jwt).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.role, c.sid),
            ("alice", Role::Customer, sid)
        );
        assert_eq!((c.iss.as_str(), c.aud.as_str()), (ISSUER, AUDIENCE));
        assert_eq!(c.exp - c.iat, 900);
    }

    #[test]
    fn previous_key_still_verifies_during_rotation() {
        let old = tokens();
        let (jwt, _) = old
            .issue("alice", Role::Customer, None, Uuid::new_v4())
            .unwrap();
        let rotated = Tokens::new(
            b"another-secret-that-is-32-bytes!!",
            Some(SECRET),
            Duration::from_secs(900),
        );
        assert!(rotated.verify(&jwt).is_some());
        let stranger = Tokens::new(
            b"another-secret-that-is-32-bytes!!",
            None,
            Duration::from_secs(900),
        );
        assert!(stranger.verify(&jwt).is_none());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_opaque_token();
        let (b, _) = new_opaque_token();
        assert_ne!(a, b);
        assert_eq!(ha, hash_opaque_token(&a));
        assert!(a.len() >= 43);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            /// Any change to a valid token — one byte anywhere, or cutting it short — makes it
            /// worthless; and no string at all makes the parser panic.
            #[test]
            fn a_changed_token_never_verifies(pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
                let t = tokens();
                let (jwt, _) = t.issue("alice", Role::Customer, None, Uuid::new_v4()).unwrap();
                let mut bytes = jwt.clone().into_bytes();
                let i = pos.index(bytes.len());
                prop_assume!(bytes[i] != byte);
                bytes[i] = byte;
                if let Ok(changed) = String::from_utf8(bytes) {
                    prop_assert!(t.verify(&changed).is_none(), "byte {} -> {}", i, byte);
                }
                let short = &jwt[..cut.index(jwt.len())];
                prop_assert!(t.verify(short).is_none());
            }

            #[test]
            fn arbitrary_strings_are_rejected_without_panic(s in "\\PC{0,300}") {
                prop_assert!(tokens().verify(&s).is_none());
            }
        }
    }
}
