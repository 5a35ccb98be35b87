//! The trace chain key's file: read it, or create it (random, mode 0600) on first start.

use std::io::Write as _;
use std::path::Path;

pub use mlops_domain::chain_key::ChainKey;
use mlops_domain::chain_key::KEY_BYTES;

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

/// Reads the key at `path`, or creates one there (random, mode 0600) if there is no file.
pub fn load_or_create(path: &Path) -> Result<ChainKey, ChainKeyError> {
    let io = |cause| ChainKeyError::Io {
        path: path.display().to_string(),
        cause,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return parse(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let (key, text) = ChainKey::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            writeln!(file, "{text}").map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            parse(&std::fs::read_to_string(path).map_err(io)?, path)
        }
        Err(e) => Err(io(e)),
    }
}

fn parse(text: &str, path: &Path) -> Result<ChainKey, ChainKeyError> {
    ChainKey::from_hex(text).ok_or_else(|| ChainKeyError::Malformed(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_read_back_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.mac_hex(b"x"), b.mac_hex(b"x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(ChainKeyError::Malformed(_))
        ));
    }
}
