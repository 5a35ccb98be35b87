//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): headers `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`. The secret is `whsec_<base64 key>`, or any other string, whose
//! bytes are then the key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;
use mlops_domain::mac::{HmacSha256, hmac_sha256};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a timestamp may be from now when verifying, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

fn key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

fn mac(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = hmac_sha256(&key(secret));
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

/// The `webhook-signature` value for a delivery.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Why a delivery's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp is more than {TOLERANCE_SECS} s from now")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Checks `signatures` (space-separated `v1,<base64>` entries, as sent) in constant time.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
    signatures: &str,
    now: i64,
) -> Result<(), VerifyError> {
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(VerifyError::Stale);
    }
    let ok = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|tag| mac(secret, id, timestamp, body).verify_slice(&tag).is_ok());
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks specification's examples (and its reference libraries'
        // tests): secret, id, timestamp and payload give this signature.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = 1_614_265_330;
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, ts, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let sig = sign(secret, id, ts, body);
        assert_eq!(
            verify(secret, id, ts, body, &format!("v1,bad {sig}"), ts + 10),
            Ok(())
        );
        assert_eq!(
            verify(secret, id, ts, b"{}", &sig, ts),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(secret, id, ts, body, &sig, ts + 301),
            Err(VerifyError::Stale)
        );
    }
}
