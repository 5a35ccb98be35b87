//! The block directory: one file per block, named by the block's id. A block is written to a
//! temporary name, synced, renamed and the directory synced, all before its catalog entry is
//! committed, so an acknowledged block survives a crash; a file whose entry never committed is
//! an orphan that [`BlockDir::sweep`] removes once it is old enough not to be in flight.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Block files name their id and end so.
const SUFFIX: &str = ".parquet";

/// How old a file without a catalog entry must be before it is removed (an ingest request
/// writes its file before it commits the entry).
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct BlockDir {
    dir: PathBuf,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl BlockDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file name of block `id`.
    pub fn name(id: &str) -> String {
        format!("{id}{SUFFIX}")
    }

    /// Writes `bytes` as `name`, durably.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, self.dir.join(name))?;
        sync_dir(&self.dir)
    }

    pub fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.dir.join(name))
    }

    /// Removes `name`; a file already gone is fine (another replica, or an earlier sweep).
    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes block files (and unfinished writes) older than an hour that `catalogued` does
    /// not name; how many.
    pub fn sweep(&self, catalogued: &HashSet<String>) -> std::io::Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            other => other?,
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.ends_with(SUFFIX) || name.ends_with(&format!("{SUFFIX}.tmp"));
            if !ours || catalogued.contains(&name) {
                continue;
            }
            let age = entry
                .metadata()?
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age >= ORPHAN_AGE {
                self.remove(&name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_blocks_read_back_and_young_orphans_stay() {
        let dir = tempfile::tempdir().unwrap();
        let blocks = BlockDir::new(dir.path().join("blocks"));
        blocks.write("a.parquet", b"one").unwrap();
        blocks.write("b.parquet", b"two").unwrap();
        assert_eq!(blocks.read("a.parquet").unwrap(), b"one");
        // b is not catalogued, but too young to be an orphan.
        let known: HashSet<String> = ["a.parquet".to_owned()].into();
        assert_eq!(blocks.sweep(&known).unwrap(), 0);
        assert!(blocks.read("b.parquet").is_ok());
        blocks.remove("b.parquet").unwrap();
        blocks.remove("b.parquet").unwrap();
        assert!(blocks.read("b.parquet").is_err());
    }
}
