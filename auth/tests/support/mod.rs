//! Test keys and JWK helpers shared by the auth crate's tests and the server's attack suite.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "shared test helpers, each binary uses part of them: a failure stops the test where it happened"
)]

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};

pub const RSA_A: &[u8] = include_bytes!("../keys/rsa-a.pem");
pub const RSA_B: &[u8] = include_bytes!("../keys/rsa-b.pem");
pub const EC_A: &[u8] = include_bytes!("../keys/ec-a.pem");

/// The signing key of a PEM file (EC for ES256, RSA otherwise; HS256 takes the bytes as secret).
pub fn encoding_key(pem: &[u8], alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem).unwrap(),
        Algorithm::HS256 => EncodingKey::from_secret(pem),
        _ => EncodingKey::from_rsa_pem(pem).unwrap(),
    }
}

/// The public JWK of a PEM key, published under `kid`.
pub fn jwk(pem: &[u8], alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(&encoding_key(pem, alg), alg).unwrap();
    jwk.common.key_id = Some(kid.into());
    jwk
}
