pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use mlops_domain::subject::normalise_subject;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::Principal;
use crate::claims::ClaimMapping;

/// Shortest HS256 secret accepted (RFC 7518 §3.2: a key of at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Largest bearer token accepted, so a huge header cannot make verification expensive.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Longest token lifetime (`exp - iat`) accepted unless configured otherwise: 24 hours.
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 24 * 3600;

/// The claims this server reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Space-separated OAuth scopes.
    #[serde(default)]
    pub scope: String,
    /// Optional model-name globs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
}

/// Why a bearer token was refused. The message is safe to show the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token's algorithm is not accepted (this server accepts {0})")]
    BadAlgorithm(String),
    #[error("the token's issuer is not accepted")]
    BadIssuer,
    #[error("the token's audience is not this server")]
    BadAudience,
    #[error("the token is too large")]
    TooLarge,
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("the token names key `{0}`, which the identity provider's key set does not have")]
    UnknownKey(String),
    #[error("the token has no `kid` and the key set has several keys")]
    AmbiguousKey,
    #[error("the key `{0}` cannot verify {1:?} tokens")]
    KeyMismatch(String, Algorithm),
    #[error("the identity provider's keys cannot be fetched right now")]
    KeysUnavailable,
    #[error(
        "the token's header marks {0:?} critical, an extension this server does not understand"
    )]
    CriticalExtension(Vec<String>),
    #[error("the token lives {0} s (exp - iat), more than the {1} s this server accepts")]
    LifetimeTooLong(i64, u64),
    #[error("the token was issued in the future (iat)")]
    IssuedInFuture,
}

/// HS256 signing and verification with one shared secret.
pub struct Hs256Keys {
    secret: SecretString,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    max_lifetime_secs: u64,
}

impl std::fmt::Debug for Hs256Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hs256Keys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Hs256Keys {
    pub fn new(secret: SecretString, issuer: &str, audience: &str, leeway_secs: u64) -> Self {
        Self {
            secret,
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs,
            max_lifetime_secs: DEFAULT_MAX_LIFETIME_SECS,
        }
    }

    /// Accepts tokens living at most `secs` (`exp - iat`) instead of [`DEFAULT_MAX_LIFETIME_SECS`].
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime_secs = secs;
        self
    }

    /// The longest lifetime a token may have.
    pub fn max_lifetime_secs(&self) -> u64 {
        self.max_lifetime_secs
    }

    /// Signs a token for `sub` with `scopes`, valid from now for `ttl_secs`.
    pub fn issue(
        &self,
        sub: &str,
        scopes: &[String],
        ttl_secs: i64,
        now: i64,
    ) -> Result<String, TokenError> {
        let claims = Claims {
            sub: sub.into(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now.saturating_add(ttl_secs),
            iat: now,
            nbf: Some(now),
            scope: scopes.join(" "),
            models: None,
        };
        self.sign(&claims)
    }

    /// Verifies an HS256 token signed with this secret.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        check_size(token)?;
        let header = decode_header(token)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::BadAlgorithm("HS256".into()));
        }
        let key = DecodingKey::from_secret(self.secret.expose_secret().as_bytes());
        // This server's own tokens carry `scope` and `models` only.
        let mapping = ClaimMapping::default();
        let rules = Rules {
            issuer: &self.issuer,
            audience: &self.audience,
            leeway_secs: self.leeway_secs,
            max_lifetime_secs: self.max_lifetime_secs,
            mapping: &mapping,
        };
        decode_principal(token, &key, Algorithm::HS256, &rules)
    }

    /// Signs arbitrary claims (tests use this for expired or odd tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(self.secret.expose_secret().as_bytes()),
        )
        .map_err(|e| TokenError::Malformed(e.to_string()))
    }
}

/// What every accepted token must satisfy besides its signature, and how its claims grant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub leeway_secs: u64,
    pub max_lifetime_secs: u64,
    pub mapping: &'a ClaimMapping,
}

/// The claims every token must have; the rest (`scope`, `scp`, roles, groups, models, and an
/// `aud` that may be a string or an array, checked by the library) are read through the
/// [`ClaimMapping`].
#[derive(Debug, Deserialize)]
struct Incoming {
    sub: String,
    exp: i64,
    iat: i64,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

pub(crate) fn check_size(token: &str) -> Result<(), TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        Err(TokenError::TooLarge)
    } else {
        Ok(())
    }
}

/// The token's header. `alg: none` (or any algorithm the library does not know) fails here, and
/// so does a `crit` header: this server understands no extension (RFC 7515 §4.1.11).
pub(crate) fn decode_header(token: &str) -> Result<jsonwebtoken::Header, TokenError> {
    refuse_critical(token)?;
    jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        ErrorKind::InvalidAlgorithmName => TokenError::BadAlgorithm("a supported algorithm".into()),
        ErrorKind::Json(j) if j.to_string().contains("unknown variant") => {
            TokenError::BadAlgorithm("a supported algorithm".into())
        }
        _ => TokenError::Malformed(e.to_string()),
    })
}

/// Refuses a header with a `crit` member, which the library would otherwise ignore.
fn refuse_critical(token: &str) -> Result<(), TokenError> {
    use base64::Engine as _;
    let first = token.split('.').next().unwrap_or_default();
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(first) else {
        return Ok(()); // the library's own decoding reports it
    };
    let Ok(serde_json::Value::Object(header)) = serde_json::from_slice(&bytes) else {
        return Ok(());
    };
    match header.get("crit") {
        None => Ok(()),
        Some(crit) => Err(TokenError::CriticalExtension(
            crit.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        )),
    }
}

/// Verifies signature and claims with `key` for exactly `alg`, and builds the principal.
pub(crate) fn decode_principal(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    rules: &Rules<'_>,
) -> Result<Principal, TokenError> {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[rules.issuer]);
    validation.set_audience(&[rules.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = rules.leeway_secs;
    let data =
        jsonwebtoken::decode::<Incoming>(token, key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                TokenError::BadAlgorithm(format!("{alg:?}"))
            }
            ErrorKind::InvalidIssuer => TokenError::BadIssuer,
            ErrorKind::InvalidAudience => TokenError::BadAudience,
            other => TokenError::Malformed(format!("{other:?}")),
        })?;
    let claims = data.claims;
    let subject = normalise_subject(&claims.sub);
    if subject.is_empty() {
        return Err(TokenError::Malformed("empty `sub` claim".into()));
    }
    let now = chrono::Utc::now().timestamp();
    let leeway = i64::try_from(rules.leeway_secs).unwrap_or(i64::MAX);
    if claims.iat > now.saturating_add(leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    let lifetime = claims.exp.saturating_sub(claims.iat);
    if u64::try_from(lifetime).is_ok_and(|l| l > rules.max_lifetime_secs) {
        return Err(TokenError::LifetimeTooLong(
            lifetime,
            rules.max_lifetime_secs,
        ));
    }
    let models = rules
        .mapping
        .models(&claims.rest)
        .map_err(TokenError::Malformed)?;
    Ok(Principal {
        subject,
        scopes: rules.mapping.scopes(&claims.rest),
        models,
        via: "jwt".into(),
        expires_at: Some(claims.exp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> Hs256Keys {
        Hs256Keys::new(
            SecretString::from(secret.to_owned()),
            "mlops-mcp",
            "mlops-mcp",
            0,
        )
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn issued_token_round_trips_to_a_principal() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let token = k.issue(
            "alice",
            &["models:read".into(), "drift:read".into()],
            60,
            now(),
        );
        let principal = token.and_then(|t| k.verify(&t));
        let principal = principal
            .as_ref()
            .map(|p| (p.subject.as_str(), p.scopes.len()));
        assert_eq!(principal, Ok(("alice", 2)));
    }

    #[test]
    fn refuses_other_secret_expired_and_wrong_audience() {
        let good = keys("0123456789abcdef0123456789abcdef");
        let other = keys("ffffffffffffffffffffffffffffffff");
        let t = other.issue("mallory", &[], 60, now()).unwrap_or_default();
        assert_eq!(good.verify(&t), Err(TokenError::BadSignature));

        let expired = good
            .issue("bob", &[], 60, now() - 100_000)
            .unwrap_or_default();
        assert_eq!(good.verify(&expired), Err(TokenError::Expired));

        let wrong_aud = Hs256Keys::new(
            SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
            "mlops-mcp",
            "someone-else",
            0,
        )
        .issue("carol", &[], 60, now())
        .unwrap_or_default();
        assert_eq!(good.verify(&wrong_aud), Err(TokenError::BadAudience));
    }

    fn signed_with_header(k: &Hs256Keys, header: &str, claims: &str) -> String {
        use base64::Engine as _;
        use hmac::Mac as _;
        let encode = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let input = format!(
            "{}.{}",
            encode(header.as_bytes()),
            encode(claims.as_bytes())
        );
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(k.secret.expose_secret().as_bytes())
                .unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", encode(&mac.finalize().into_bytes()))
    }

    fn claims_json(sub: &str, iat: i64, exp: i64) -> String {
        serde_json::json!({"sub": sub, "iss": "mlops-mcp", "aud": "mlops-mcp", "iat": iat, "exp": exp})
            .to_string()
    }

    #[test]
    fn refuses_critical_headers_long_lifetimes_and_future_iat() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let n = now();
        let fine = signed_with_header(
            &k,
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims_json("a", n, n + 60),
        );
        assert_eq!(k.verify(&fine).map(|p| p.subject), Ok("a".to_owned()));
        let crit = signed_with_header(
            &k,
            r#"{"alg":"HS256","crit":["exp-ext"],"exp-ext":1}"#,
            &claims_json("a", n, n + 60),
        );
        assert_eq!(
            k.verify(&crit),
            Err(TokenError::CriticalExtension(vec!["exp-ext".into()]))
        );
        let forever = signed_with_header(&k, r#"{"alg":"HS256"}"#, &claims_json("a", n, 1 << 62));
        assert!(matches!(
            k.verify(&forever),
            Err(TokenError::LifetimeTooLong(..))
        ));
        let day_and_a_second = claims_json("a", n, n + 24 * 3600 + 1);
        let long = signed_with_header(&k, r#"{"alg":"HS256"}"#, &day_and_a_second);
        assert!(matches!(
            k.verify(&long),
            Err(TokenError::LifetimeTooLong(..))
        ));
        let longer_allowed = keys("0123456789abcdef0123456789abcdef").with_max_lifetime(48 * 3600);
        assert!(longer_allowed.verify(&long).is_ok());
        let future = signed_with_header(
            &k,
            r#"{"alg":"HS256"}"#,
            &claims_json("a", n + 600, n + 900),
        );
        assert_eq!(k.verify(&future), Err(TokenError::IssuedInFuture));
    }

    #[test]
    fn subjects_are_normalised_and_compared_without_case() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let n = now();
        let padded = signed_with_header(
            &k,
            r#"{"alg":"HS256"}"#,
            &claims_json(" demo-agent\t", n, n + 60),
        );
        assert_eq!(
            k.verify(&padded).map(|p| p.subject),
            Ok("demo-agent".to_owned())
        );
        // "é" as one code point and as e + combining acute are one subject.
    }

    #[test]
    fn refuses_alg_none_and_oversized_tokens() {
        use base64::Engine as _;
        let encode = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let k = keys("0123456789abcdef0123456789abcdef");
        let header = encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = format!(
            r#"{{"sub":"eve","iss":"mlops-mcp","aud":"mlops-mcp","exp":{},"iat":0,"scope":"promotion:approve"}}"#,
            now() + 600
        );
        let token = format!("{header}.{}.", encode(body.as_bytes()));
        let refused = k.verify(&token);
        assert!(
            matches!(refused, Err(TokenError::BadAlgorithm(_))),
            "{refused:?}"
        );
        assert_eq!(
            k.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)),
            Err(TokenError::TooLarge)
        );
    }
}
