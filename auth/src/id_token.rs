//! OpenID Connect ID tokens, for a page that signs people in with the identity provider: the
//! signature by the provider's JWKS (the key decides the algorithm, as for access tokens),
//! `iss`, `aud` = the client, `exp` (with leeway) and `sub`. The caller checks the nonce.

use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};

use crate::TokenError;
use crate::jwks::JwksCache;
use crate::token::{check_size, decode_header};

/// The claims of a verified ID token.
pub async fn verify(
    token: &str,
    keys: &JwksCache,
    issuer: &str,
    client_id: &str,
    leeway_secs: u64,
) -> Result<Map<String, Value>, TokenError> {
    check_size(token)?;
    let header = decode_header(token)?;
    let key = keys.key(header.kid.as_deref(), header.alg).await?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = leeway_secs;
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::InvalidIssuer => TokenError::BadIssuer,
            ErrorKind::InvalidAudience => TokenError::BadAudience,
            other => TokenError::Malformed(format!("{other:?}")),
        })
}
