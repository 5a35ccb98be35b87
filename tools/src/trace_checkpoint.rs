//! Signed checkpoints of the trace chain's head, kept in a file outside the database. The chain
//! alone cannot show that its newest events were deleted (what is left still verifies); a
//! checkpoint says "the chain reached event N with this hash", so verification can tell.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::chain_key::ChainKey;
use crate::store::{Store, StoreError};
use crate::trace::{BrokenLink, ChainReport, format_at, verify_chain};

/// The head of the chain as the server wrote it, signed with the chain key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    /// When it was written (RFC 3339, UTC).
    pub at: String,
    /// HMAC-SHA256 under the chain key of the fields above.
    pub mac: String,
}

impl Checkpoint {
    pub fn new(key: &ChainKey, seq: i64, hash: &str) -> Self {
        let at = format_at(&Utc::now());
        let mac = key.mac_hex(signed_text(seq, hash, &at).as_bytes());
        Self {
            seq,
            hash: hash.to_owned(),
            at,
            mac,
        }
    }

    /// Whether the checkpoint was signed with `key` and not changed since.
    pub fn verifies(&self, key: &ChainKey) -> bool {
        key.mac_hex(signed_text(self.seq, &self.hash, &self.at).as_bytes()) == self.mac
    }

    /// Reads the checkpoint at `path`; `None` if there is none yet.
    pub fn read(path: &Path) -> Result<Option<Self>, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("checkpoint {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("checkpoint {}: {e}", path.display())),
        }
    }

    /// Writes it to `path` whole or not at all (a temporary file renamed over the old one).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let text = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    /// What is wrong with a chain of `events` events whose event `self.seq` has `hash_there`
    /// (`None`: the chain is shorter), if anything.
    pub fn check(
        &self,
        key: &ChainKey,
        events: i64,
        hash_there: Option<&str>,
    ) -> Option<BrokenLink> {
        let broken = |reason: String| {
            Some(BrokenLink {
                seq: self.seq,
                reason,
            })
        };
        if !self.verifies(key) {
            return broken(
                "the checkpoint's signature does not verify (the file was edited)".into(),
            );
        }
        match hash_there {
            None => broken(format!(
                "the chain ends at event {events}, but the checkpoint of {} saw it reach event {}: \
                 its newest events were deleted",
                self.at, self.seq
            )),
            Some(h) if h != self.hash => broken(format!(
                "the event differs from the one the checkpoint of {} signed",
                self.at
            )),
            Some(_) => None,
        }
    }
}

/// Verifies the chain ([`verify_chain`]), then that it still reaches `checkpoint` unchanged.
pub async fn verify_with_checkpoint(
    store: &dyn Store,
    key: &ChainKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<ChainReport, StoreError> {
    let mut report = verify_chain(store, key).await?;
    if let (None, Some(cp)) = (&report.first_broken, checkpoint) {
        let there = if (1..=report.events).contains(&cp.seq) {
            store
                .trace_events_after(cp.seq - 1, 1)
                .await?
                .into_iter()
                .next()
                .map(|e| e.hash)
        } else {
            None
        };
        report.first_broken = cp.check(key, report.events, there.as_deref());
    }
    Ok(report)
}

fn signed_text(seq: i64, hash: &str, at: &str) -> String {
    format!("mlops-mcp trace checkpoint\n{seq}\n{hash}\n{at}")
}

/// Least time between two checkpoint writes: one write per group commit cost a fifth of the
/// throughput of a cheap tool call (BENCHMARKS.md).
const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// Writes a checkpoint after the chain advances, at most every [`MIN_INTERVAL`]; the writes in
/// between coalesce. The file always names a head the chain reached, at most that long behind.
#[derive(Debug, Clone)]
pub struct CheckpointWriter {
    tx: watch::Sender<Option<(i64, String)>>,
    /// The sequence number of the newest checkpoint written.
    written: watch::Receiver<i64>,
}

impl CheckpointWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(path: PathBuf, key: ChainKey) -> Self {
        let (tx, mut rx) = watch::channel(None::<(i64, String)>);
        let (written_tx, written) = watch::channel(0);
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let Some((seq, hash)) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let checkpoint = Checkpoint::new(&key, seq, &hash);
                let path = path.clone();
                let written = tokio::task::spawn_blocking(move || checkpoint.write(&path)).await;
                match written {
                    Ok(Ok(())) => {
                        tracing::debug!(seq, "trace checkpoint written");
                        written_tx.send_replace(seq);
                    }
                    Ok(Err(error)) => tracing::warn!(%error, "trace checkpoint not written"),
                    Err(error) => tracing::warn!(%error, "trace checkpoint writer stopped"),
                }
                tokio::time::sleep(MIN_INTERVAL).await;
            }
        });
        Self { tx, written }
    }

    /// Waits until a checkpoint of event `seq` or later is on disk.
    pub async fn written_through(&self, seq: i64) {
        let mut written = self.written.clone();
        let _ = written.wait_for(|w| *w >= seq).await;
    }

    /// The chain now reaches event `seq` with `hash`.
    pub fn advance(&self, seq: i64, hash: &str) {
        self.tx.send_if_modified(|head| {
            if head.as_ref().is_some_and(|(s, _)| *s >= seq) {
                return false;
            }
            *head = Some((seq, hash.to_owned()));
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_catches_a_short_chain_a_changed_head_and_an_edit() {
        let key = ChainKey::from_bytes([7; 32]);
        let cp = Checkpoint::new(&key, 10, "abc");
        assert_eq!(cp.check(&key, 12, Some("abc")), None);
        assert!(cp.check(&key, 7, None).unwrap().reason.contains("deleted"));
        assert!(
            cp.check(&key, 12, Some("abd"))
                .unwrap()
                .reason
                .contains("differs")
        );
        let mut forged = cp.clone();
        forged.seq = 5;
        assert!(
            forged
                .check(&key, 12, Some("abc"))
                .unwrap()
                .reason
                .contains("signature")
        );
        let other = ChainKey::from_bytes([8; 32]);
        assert!(!cp.verifies(&other));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        assert_eq!(Checkpoint::read(&path), Ok(None));
        cp.write(&path).unwrap();
        assert_eq!(Checkpoint::read(&path), Ok(Some(cp)));
    }
}
