//! Identity-provider tokens against a local JWKS endpoint (loopback axum server): RS256 and
//! ES256, key rotation, the endpoint going down, a bounded refresh rate, and the classic
//! attacks (alg none, HS/RS confusion, missing kid, key/algorithm mismatch, bad claims).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] functions: a failure stops the test where it happened"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, Header};
use mlops_auth::jwks::{HttpKeySource, JwksCache};
use mlops_auth::{Claims, Hs256Keys, TokenError, Verifier};
use secrecy::SecretString;
use tokio::sync::RwLock;

mod support;

use support::{EC_A, RSA_A, RSA_B, encoding_key, jwk};

const ISS: &str = "https://idp.test";
const AUD: &str = "http://127.0.0.1:8080/mcp";

#[derive(Clone)]
struct Idp {
    keys: Arc<RwLock<JwkSet>>,
    down: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

async fn serve_jwks(State(idp): State<Idp>) -> Response {
    idp.fetches.fetch_add(1, Ordering::SeqCst);
    if idp.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(idp.keys.read().await.clone()).into_response()
}

async fn start_idp(keys: Vec<Jwk>) -> (Idp, String) {
    let idp = Idp {
        keys: Arc::new(RwLock::new(JwkSet { keys })),
        down: Arc::new(AtomicBool::new(false)),
        fetches: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .route("/jwks.json", axum::routing::get(serve_jwks))
        .with_state(idp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (idp, url)
}

fn claims(sub: &str) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.into(),
        iss: ISS.into(),
        aud: AUD.into(),
        exp: now + 600,
        iat: now,
        nbf: Some(now),
        scope: "models:read".into(),
        models: Some(vec!["fraud-*".into()]),
    }
}

fn sign(pem: &[u8], alg: Algorithm, kid: Option<&str>, claims: &Claims) -> String {
    let key = encoding_key(pem, alg);
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn verifier(url: &str, min_refresh: Duration) -> Verifier {
    let source = Arc::new(HttpKeySource::new(url).unwrap());
    Verifier::new(ISS, AUD, 0).with_jwks(JwksCache::new(
        source,
        min_refresh,
        Duration::from_secs(3600),
    ))
}

#[tokio::test]
async fn rs256_and_es256_tokens_are_accepted_with_their_claims() {
    let (_idp, url) = start_idp(vec![
        jwk(RSA_A, Algorithm::RS256, "a"),
        jwk(EC_A, Algorithm::ES256, "e"),
    ])
    .await;
    let v = verifier(&url, Duration::ZERO);
    let p = v
        .verify(&sign(RSA_A, Algorithm::RS256, Some("a"), &claims("alice")))
        .await
        .unwrap();
    assert_eq!(p.subject, "alice");
    assert_eq!(p.models, Some(vec!["fraud-*".to_owned()]));
    assert!(p.may_access_model("fraud-detector") && !p.may_access_model("churn"));
    let p = v
        .verify(&sign(EC_A, Algorithm::ES256, Some("e"), &claims("bob")))
        .await
        .unwrap();
    assert_eq!(p.subject, "bob");
}

#[tokio::test]
async fn rotation_and_outage() {
    let (idp, url) = start_idp(vec![jwk(RSA_A, Algorithm::RS256, "a")]).await;
    let v = verifier(&url, Duration::ZERO);
    let old = sign(RSA_A, Algorithm::RS256, Some("a"), &claims("svc"));
    let new = sign(RSA_B, Algorithm::RS256, Some("b"), &claims("svc"));
    assert!(v.verify(&old).await.is_ok());
    assert_eq!(
        v.verify(&new).await.err(),
        Some(TokenError::UnknownKey("b".into()))
    );

    // The provider rotates: b is added and a removed.
    *idp.keys.write().await = JwkSet {
        keys: vec![jwk(RSA_B, Algorithm::RS256, "b")],
    };
    assert!(
        v.verify(&new).await.is_ok(),
        "new kid accepted after refresh"
    );
    assert_eq!(
        v.verify(&old).await.err(),
        Some(TokenError::UnknownKey("a".into())),
        "removed kid refused"
    );

    // The endpoint goes down: cached keys keep working, unknown ones are refused.
    idp.down.store(true, Ordering::SeqCst);
    assert!(v.verify(&new).await.is_ok());
    let unknown = sign(RSA_A, Algorithm::RS256, Some("c"), &claims("svc"));
    assert_eq!(
        v.verify(&unknown).await.err(),
        Some(TokenError::UnknownKey("c".into()))
    );
}

#[tokio::test]
async fn unknown_kids_cannot_force_a_fetch_storm() {
    let (idp, url) = start_idp(vec![jwk(RSA_A, Algorithm::RS256, "a")]).await;
    let v = verifier(&url, Duration::from_secs(3600));
    assert!(
        v.verify(&sign(RSA_A, Algorithm::RS256, Some("a"), &claims("x")))
            .await
            .is_ok()
    );
    for i in 0..50 {
        let t = sign(
            RSA_A,
            Algorithm::RS256,
            Some(&format!("k{i}")),
            &claims("x"),
        );
        assert!(matches!(v.verify(&t).await, Err(TokenError::UnknownKey(_))));
    }
    assert_eq!(
        idp.fetches.load(Ordering::SeqCst),
        1,
        "one fetch, then the refresh interval holds"
    );
}

#[tokio::test]
async fn endpoint_down_from_the_start_refuses_everything() {
    let (idp, url) = start_idp(vec![jwk(RSA_A, Algorithm::RS256, "a")]).await;
    idp.down.store(true, Ordering::SeqCst);
    let v = verifier(&url, Duration::ZERO);
    let t = sign(RSA_A, Algorithm::RS256, Some("a"), &claims("x"));
    assert_eq!(v.verify(&t).await.err(), Some(TokenError::KeysUnavailable));
}

#[tokio::test]
async fn attacks_are_refused() {
    let rsa_public_pem = {
        // The public half, as an attacker would find it, used as an HMAC secret.
        let jwk = jwk(RSA_A, Algorithm::RS256, "a");
        serde_json::to_vec(&jwk).unwrap()
    };
    let (_idp, url) = start_idp(vec![
        jwk(RSA_A, Algorithm::RS256, "a"),
        jwk(RSA_B, Algorithm::RS256, "b"),
    ])
    .await;
    let jwks_only = verifier(&url, Duration::ZERO);
    let secret = "0123456789abcdef0123456789abcdef";
    let both = verifier(&url, Duration::ZERO).with_hs256(Hs256Keys::new(
        SecretString::from(secret.to_owned()),
        ISS,
        AUD,
        0,
    ));

    // HS/RS confusion: an HS256 token keyed with public key material.
    let confused = sign(&rsa_public_pem, Algorithm::HS256, Some("a"), &claims("eve"));
    assert!(matches!(
        jwks_only.verify(&confused).await,
        Err(TokenError::BadAlgorithm(_))
    ));
    assert_eq!(
        both.verify(&confused).await.err(),
        Some(TokenError::BadSignature)
    );

    // Missing kid while the set has two keys.
    let no_kid = sign(RSA_A, Algorithm::RS256, None, &claims("eve"));
    assert_eq!(
        jwks_only.verify(&no_kid).await.err(),
        Some(TokenError::AmbiguousKey)
    );

    // An RSA key named in an ES256 token.
    let mismatch = sign(EC_A, Algorithm::ES256, Some("a"), &claims("eve"));
    assert!(matches!(
        jwks_only.verify(&mismatch).await,
        Err(TokenError::KeyMismatch(_, Algorithm::ES256))
    ));

    // Signed by a key the provider does not publish under that kid.
    let forged = sign(RSA_B, Algorithm::RS256, Some("a"), &claims("eve"));
    assert_eq!(
        jwks_only.verify(&forged).await.err(),
        Some(TokenError::BadSignature)
    );

    // Claims.
    let mut c = claims("eve");
    c.iss = "https://evil.test".into();
    assert_eq!(
        jwks_only
            .verify(&sign(RSA_A, Algorithm::RS256, Some("a"), &c))
            .await
            .err(),
        Some(TokenError::BadIssuer)
    );
    let mut c = claims("eve");
    c.aud = "http://other/mcp".into();
    assert_eq!(
        jwks_only
            .verify(&sign(RSA_A, Algorithm::RS256, Some("a"), &c))
            .await
            .err(),
        Some(TokenError::BadAudience)
    );
    let mut c = claims("eve");
    c.nbf = Some(chrono::Utc::now().timestamp() + 600);
    assert_eq!(
        jwks_only
            .verify(&sign(RSA_A, Algorithm::RS256, Some("a"), &c))
            .await
            .err(),
        Some(TokenError::NotYetValid)
    );
    let mut c = claims("eve");
    c.exp = chrono::Utc::now().timestamp() - 600;
    assert_eq!(
        jwks_only
            .verify(&sign(RSA_A, Algorithm::RS256, Some("a"), &c))
            .await
            .err(),
        Some(TokenError::Expired)
    );

    // alg none and oversized tokens.
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"a"}"#),
        b64(&serde_json::to_vec(&claims("eve")).unwrap())
    );
    assert!(matches!(
        both.verify(&none).await,
        Err(TokenError::BadAlgorithm(_))
    ));
    assert_eq!(
        both.verify(&"x".repeat(10_000)).await.err(),
        Some(TokenError::TooLarge)
    );
}

#[tokio::test]
async fn clock_skew_is_configurable() {
    let (_idp, url) = start_idp(vec![jwk(RSA_A, Algorithm::RS256, "a")]).await;
    let source = Arc::new(HttpKeySource::new(&url).unwrap());
    let lenient = Verifier::new(ISS, AUD, 120).with_jwks(JwksCache::new(
        source,
        Duration::ZERO,
        Duration::from_secs(3600),
    ));
    let mut c = claims("skewed");
    c.exp = chrono::Utc::now().timestamp() - 30;
    assert!(
        lenient
            .verify(&sign(RSA_A, Algorithm::RS256, Some("a"), &c))
            .await
            .is_ok()
    );
}
