//! The trace chain's key. Each event's hash is an HMAC-SHA256 under a key kept outside the
//! database, so whoever can write the database but not read the key cannot re-hash an edited
//! chain into one that verifies.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// Bytes of key material.
const KEY_BYTES: usize = 32;

/// An HMAC-SHA256 key for the trace chain and its checkpoints. Cheap to clone; its `Debug`
/// shows nothing of the key.
#[derive(Clone)]
pub struct ChainKey(Arc<[u8; KEY_BYTES]>);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(..)")
    }
}

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ChainKeyError {
    #[error("trace key file {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error(
        "trace key file {0}: expected {len} hex characters (a key written by mlops-mcp); \
         restore the original file, or the chain cannot be verified",
        len = KEY_BYTES * 2
    )]
    Malformed(String),
}

impl ChainKey {
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self(Arc::new(bytes))
    }

    /// Reads the key at `path`, or creates one there (random, mode 0600) if there is no file.
    pub fn load_or_create(path: &Path) -> Result<Self, ChainKeyError> {
        let io = |cause| ChainKeyError::Io {
            path: path.display().to_string(),
            cause,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let mut bytes = [0u8; KEY_BYTES];
        rand::fill(&mut bytes);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                writeln!(file, "{}", hex::encode(bytes)).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(Self::from_bytes(bytes))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::parse(&std::fs::read_to_string(path).map_err(io)?, path)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<Self, ChainKeyError> {
        let malformed = || ChainKeyError::Malformed(path.display().to_string());
        let bytes = hex::decode(text.trim()).map_err(|_| malformed())?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| malformed())?;
        Ok(Self::from_bytes(bytes))
    }

    /// HMAC-SHA256 of `data`, in hex.
    pub fn mac_hex(&self, data: &[u8]) -> String {
        let mut mac = <Hmac<Sha256>>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_read_back_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.key");
        let a = ChainKey::load_or_create(&path).unwrap();
        let b = ChainKey::load_or_create(&path).unwrap();
        assert_eq!(a.mac_hex(b"x"), b.mac_hex(b"x"));
        assert_ne!(
            a.mac_hex(b"x"),
            ChainKey::from_bytes([0; KEY_BYTES]).mac_hex(b"x")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(
            ChainKey::load_or_create(&path),
            Err(ChainKeyError::Malformed(_))
        ));
        assert_eq!(format!("{a:?}"), "ChainKey(..)");
    }
}
