//! HMAC-SHA256 under keys of any length, built without a fallible constructor.

use hmac::Hmac;
use hmac::digest::KeyInit as _;
use sha2::{Digest as _, Sha256};

/// HMAC-SHA256, ready for `update` / `finalize` / `verify_slice` (`hmac::Mac`).
pub type HmacSha256 = Hmac<Sha256>;

/// Bytes in one SHA-256 block: HMAC's key length.
const BLOCK: usize = 64;

/// An HMAC-SHA256 keyed with `key`. As RFC 2104 says, a key longer than a block is hashed first
/// and a shorter one padded with zeros, so the MAC equals the one `Mac::new_from_slice` gives
/// and building it cannot fail.
pub fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        for (b, k) in block.iter_mut().zip(Sha256::digest(key)) {
            *b = k;
        }
    } else {
        for (b, k) in block.iter_mut().zip(key) {
            *b = *k;
        }
    }
    HmacSha256::new(&block.into())
}

#[cfg(test)]
mod tests {
    use hmac::Mac as _;

    use super::*;

    #[test]
    fn equals_the_fallible_constructor_for_every_key_length() {
        for len in [0, 1, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let mut ours = hmac_sha256(&key);
            let mut theirs = <HmacSha256 as hmac::Mac>::new_from_slice(&key).unwrap();
            ours.update(b"data");
            theirs.update(b"data");
            assert_eq!(
                ours.finalize().into_bytes(),
                theirs.finalize().into_bytes(),
                "key of {len} bytes"
            );
        }
    }

    #[test]
    fn rfc_4231_case_2() {
        let mut mac = hmac_sha256(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
