//! Keys of an identity provider, from its JWKS document: cached, refreshed when a token names an
//! unknown `kid` (at most once per `min_refresh`), kept when the endpoint is down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

use crate::TokenError;

/// Where the key set comes from. The HTTP source is the real one; tests may plug in their own.
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn fetch(&self) -> Result<JwkSet, String>;
}

/// Fetches a JWKS document over HTTP(S). Never sends the caller's token anywhere.
#[derive(Debug, Clone)]
pub struct HttpKeySource {
    url: String,
    client: reqwest::Client,
}

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

impl HttpKeySource {
    pub fn new(url: impl Into<String>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url: url.into(),
            client,
        })
    }
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<JwkSet, String> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("JWKS endpoint answered {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!(
                "JWKS document is larger than {MAX_JWKS_BYTES} bytes"
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("JWKS document is not valid: {e}"))
    }
}

struct Cached {
    set: JwkSet,
    fetched_at: Option<Instant>,
}

/// The cached key set of one identity provider.
pub struct JwksCache {
    source: Arc<dyn KeySource>,
    cached: RwLock<Cached>,
    last_attempt: Mutex<Option<Instant>>,
    min_refresh: Duration,
    max_age: Duration,
}

impl JwksCache {
    /// `min_refresh` bounds how often the source is asked (unknown `kid`s cannot force a fetch
    /// storm); `max_age` is how long a fetched set is used before it is refreshed.
    pub fn new(source: Arc<dyn KeySource>, min_refresh: Duration, max_age: Duration) -> Self {
        Self {
            source,
            cached: RwLock::new(Cached {
                set: JwkSet { keys: Vec::new() },
                fetched_at: None,
            }),
            last_attempt: Mutex::new(None),
            min_refresh,
            max_age,
        }
    }

    /// Fetches the key set unless the last attempt was less than `min_refresh` ago. Returns
    /// whether a fetch succeeded. A failure keeps the cached keys.
    pub async fn refresh(&self) -> bool {
        {
            let mut last = self.last_attempt.lock().await;
            if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.source.fetch().await {
            Ok(set) => {
                *self.cached.write().await = Cached {
                    set,
                    fetched_at: Some(Instant::now()),
                };
                true
            }
            Err(error) => {
                tracing::warn!(%error, "JWKS refresh failed; keeping the cached keys");
                false
            }
        }
    }

    async fn lookup(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Option<DecodingKey>, TokenError> {
        let cached = self.cached.read().await;
        let jwk = match kid {
            Some(kid) => cached.set.find(kid),
            None => {
                let usable: Vec<&Jwk> = cached
                    .set
                    .keys
                    .iter()
                    .filter(|k| family_matches(k, alg))
                    .collect();
                match usable.as_slice() {
                    [] => None,
                    [one] => Some(*one),
                    _ => return Err(TokenError::AmbiguousKey),
                }
            }
        };
        let Some(jwk) = jwk else { return Ok(None) };
        let name = kid.unwrap_or("(no kid)").to_owned();
        // The key decides the algorithm, not the token: refuse an RSA key for ES256, a key
        // published for RS256 used with another algorithm, and symmetric keys altogether.
        if !family_matches(jwk, alg)
            || jwk
                .common
                .key_algorithm
                .is_some_and(|a| a != jsonwebtoken::jwk::KeyAlgorithm::from(alg))
        {
            return Err(TokenError::KeyMismatch(name, alg));
        }
        DecodingKey::from_jwk(jwk)
            .map(Some)
            .map_err(|e| TokenError::Malformed(format!("key `{name}`: {e}")))
    }

    /// The key to verify a token with `kid` and `alg`.
    pub async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, TokenError> {
        let stale = self
            .cached
            .read()
            .await
            .fetched_at
            .is_none_or(|t| t.elapsed() > self.max_age);
        if stale {
            self.refresh().await;
        }
        if let Some(key) = self.lookup(kid, alg).await? {
            return Ok(key);
        }
        // An unknown kid may be a freshly rotated key.
        if self.refresh().await
            && let Some(key) = self.lookup(kid, alg).await?
        {
            return Ok(key);
        }
        if self.cached.read().await.fetched_at.is_none() {
            return Err(TokenError::KeysUnavailable);
        }
        Err(TokenError::UnknownKey(kid.unwrap_or("(no kid)").to_owned()))
    }
}

fn family_matches(jwk: &Jwk, alg: Algorithm) -> bool {
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => {
            p.curve == jsonwebtoken::jwk::EllipticCurve::P256
        }
        _ => false,
    }
}
