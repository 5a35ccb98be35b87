//! Bearer-token verification for every configured issuer of keys: an HS256 shared secret and/or
//! an identity provider's JWKS (RS256, ES256).

use jsonwebtoken::Algorithm;

use crate::claims::ClaimMapping;
use crate::jwks::JwksCache;
use crate::token::{DEFAULT_MAX_LIFETIME_SECS, Rules, check_size, decode_header, decode_principal};
use crate::{Hs256Keys, Principal, TokenError};

/// Verifies tokens with whatever is configured. Tokens are never forwarded anywhere.
pub struct Verifier {
    hs256: Option<Hs256Keys>,
    jwks: Option<JwksCache>,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    max_lifetime_secs: u64,
    mapping: ClaimMapping,
}

impl Verifier {
    pub fn new(issuer: &str, audience: &str, leeway_secs: u64) -> Self {
        Self {
            hs256: None,
            jwks: None,
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs,
            max_lifetime_secs: DEFAULT_MAX_LIFETIME_SECS,
            mapping: ClaimMapping::default(),
        }
    }

    /// Reads the identity provider's tokens through `mapping` (roles and groups to scopes, the
    /// models claim). This server's own HS256 tokens carry `scope` and `models` only.
    pub fn with_claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Accepts tokens living at most `secs` (`exp - iat`); the HS256 keys get the same bound.
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime_secs = secs;
        self.hs256 = self.hs256.map(|k| k.with_max_lifetime(secs));
        self
    }

    pub fn with_hs256(mut self, keys: Hs256Keys) -> Self {
        self.hs256 = Some(keys.with_max_lifetime(self.max_lifetime_secs));
        self
    }

    pub fn with_jwks(mut self, jwks: JwksCache) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Whether any key material is configured.
    pub fn is_configured(&self) -> bool {
        self.hs256.is_some() || self.jwks.is_some()
    }

    fn accepted(&self) -> String {
        let mut algs = Vec::new();
        if self.hs256.is_some() {
            algs.push("HS256");
        }
        if self.jwks.is_some() {
            algs.extend(["RS256", "ES256"]);
        }
        if algs.is_empty() {
            "no algorithm (no keys configured)".into()
        } else {
            algs.join(", ")
        }
    }

    /// The principal a token names, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        check_size(token)?;
        let header = decode_header(token).map_err(|e| match e {
            TokenError::BadAlgorithm(_) => TokenError::BadAlgorithm(self.accepted()),
            other => other,
        })?;
        match (header.alg, &self.hs256, &self.jwks) {
            (Algorithm::HS256, Some(keys), _) => keys.verify(token),
            (alg @ (Algorithm::RS256 | Algorithm::ES256), _, Some(jwks)) => {
                let key = jwks.key(header.kid.as_deref(), alg).await?;
                let rules = Rules {
                    issuer: &self.issuer,
                    audience: &self.audience,
                    leeway_secs: self.leeway_secs,
                    max_lifetime_secs: self.max_lifetime_secs,
                    mapping: &self.mapping,
                };
                decode_principal(token, &key, alg, &rules)
            }
            _ => Err(TokenError::BadAlgorithm(self.accepted())),
        }
    }
}
