//! The trace chain's key. Each event's hash is an HMAC-SHA256 under a key kept outside the
//! database, so whoever can write the database but not read the key cannot re-hash an edited
//! chain into one that verifies. Where the key lives is the engine's business
//! (`mlops_engine::chain_key_file`).

use std::sync::Arc;

use hmac::Mac as _;

use crate::mac::hmac_sha256;

/// Bytes of key material.
pub const KEY_BYTES: usize = 32;

/// An HMAC-SHA256 key for the trace chain and its checkpoints. Cheap to clone; its `Debug`
/// shows nothing of the key.
#[derive(Clone)]
pub struct ChainKey(Arc<[u8; KEY_BYTES]>);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(..)")
    }
}

impl ChainKey {
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self(Arc::new(bytes))
    }

    /// The key written as hex (how the key file holds it); `None` unless exactly
    /// [`KEY_BYTES`] bytes.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().ok()?;
        Some(Self::from_bytes(bytes))
    }

    /// A fresh random key, and its hex to store.
    pub fn random() -> (Self, String) {
        let mut bytes = [0u8; KEY_BYTES];
        rand::fill(&mut bytes);
        (Self::from_bytes(bytes), hex::encode(bytes))
    }

    /// HMAC-SHA256 of `data`, in hex.
    pub fn mac_hex(&self, data: &[u8]) -> String {
        let mut mac = hmac_sha256(self.0.as_slice());
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_debug_shows_nothing() {
        let (key, text) = ChainKey::random();
        let back = ChainKey::from_hex(&format!("{text}\n")).unwrap();
        assert_eq!(key.mac_hex(b"x"), back.mac_hex(b"x"));
        assert_ne!(
            key.mac_hex(b"x"),
            ChainKey::from_bytes([0; KEY_BYTES]).mac_hex(b"x")
        );
        assert!(ChainKey::from_hex("not hex").is_none());
        assert!(ChainKey::from_hex(&text[..62]).is_none());
        assert_eq!(format!("{key:?}"), "ChainKey(..)");
    }
}
