//! Reference profiles (sorted numeric columns, category counts) kept in memory so a repeated
//! drift check does not read the reference file again. An entry is keyed by the file's path,
//! size and modification time and by the schema it was read with, so a changed file is read
//! afresh; the least recently used entries are dropped past a size budget.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::source::{self, ReadError, Schema, Table};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    schema: Schema,
}

/// The cache. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct ProfileCache {
    entries: Mutex<Vec<(Key, Arc<Table>)>>,
    max_bytes: usize,
}

/// Where a profile came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Cached,
    Read,
}

impl ProfileCache {
    /// A cache holding at most about `max_bytes` of profiles (one larger profile is still
    /// kept, alone).
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            max_bytes,
        }
    }

    fn key(path: &Path, schema: &Schema) -> Result<Key, ReadError> {
        let meta = std::fs::metadata(path).map_err(|e| {
            ReadError::new(
                path.display().to_string(),
                format!("cannot read the file: {e}"),
            )
        })?;
        Ok(Key {
            path: path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
            len: meta.len(),
            modified: meta.modified().ok(),
            schema: schema.clone(),
        })
    }

    /// The profile of `path` read with `schema`, from the cache or from the file.
    pub fn get_or_read(
        &self,
        path: &Path,
        schema: &Schema,
    ) -> Result<(Arc<Table>, Lookup), ReadError> {
        let key = Self::key(path, schema)?;
        if let Ok(mut entries) = self.entries.lock()
            && let Some(i) = entries.iter().position(|(k, _)| *k == key)
        {
            let entry = entries.remove(i);
            let table = entry.1.clone();
            entries.push(entry);
            return Ok((table, Lookup::Cached));
        }
        let table = Arc::new(source::read(path, schema)?);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(k, _)| k.path != key.path || k.schema != key.schema);
            entries.push((key, table.clone()));
            let mut total: usize = entries.iter().map(|(_, t)| t.heap_bytes()).sum();
            while total > self.max_bytes && entries.len() > 1 {
                total -= entries.remove(0).1.heap_bytes();
            }
        }
        Ok((table, Lookup::Read))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lookup_is_cached_and_a_changed_file_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        std::fs::write(&p, "x\n1.5\n2.5\n").unwrap();
        let cache = ProfileCache::new(1 << 20);
        let schema = Schema::new();
        assert_eq!(cache.get_or_read(&p, &schema).unwrap().1, Lookup::Read);
        assert_eq!(cache.get_or_read(&p, &schema).unwrap().1, Lookup::Cached);
        std::fs::write(&p, "x\n1.5\n2.5\n3.5\n").unwrap();
        let (t, how) = cache.get_or_read(&p, &schema).unwrap();
        assert_eq!((how, t.rows), (Lookup::Read, 3));
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
    }
}
