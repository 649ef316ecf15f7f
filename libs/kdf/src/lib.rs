//! PBKDF2-HMAC-SHA256 and PBKDF2-HMAC-SHA1 (pizza_back's Django hashes) as plain functions.
//!
//! `pbkdf2::pbkdf2_hmac` is generic, and a generic function is compiled in the crate that
//! names its types: called from pizza-login, the million-round loop of a Django hash was built
//! at the dev profile's opt-level 0 and took 6 s (past the request timeout on a loaded test
//! machine). Named here, it is compiled with this crate, which the workspace's dev profile
//! optimises (Cargo.toml, `[profile.dev.package.kdf]`).

/// The derived key of `password` and `salt` after `rounds` of PBKDF2-HMAC-SHA256.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, out);
}

/// The derived key of `password` and `salt` after `rounds` of PBKDF2-HMAC-SHA1.
pub fn pbkdf2_sha1(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, out);
}

#[cfg(test)]
mod tests {
    /// RFC 6070's PBKDF2-HMAC-SHA1 vector and its SHA-256 counterpart (RFC 7914 §11).
    #[test]
    fn known_vectors() {
        let mut out = [0u8; 20];
        super::pbkdf2_sha1(b"password", b"salt", 2, &mut out);
        assert_eq!(
            out,
            [
                0xea, 0x6c, 0x01, 0x4d, 0xc7, 0x2d, 0x6f, 0x8c, 0xcd, 0x1e, 0xd9, 0x2a, 0xce, 0x1d,
                0x41, 0xf0, 0xd8, 0xde, 0x89, 0x57
            ]
        );
        let mut out = [0u8; 64];
        super::pbkdf2_sha256(b"passwd", b"salt", 1, &mut out);
        assert_eq!(out[..8], [0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]);
    }
}
