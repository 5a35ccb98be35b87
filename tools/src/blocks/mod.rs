//! Ingested rows kept as columnar blocks: one Parquet block per ingest request, catalogued in
//! the store (time range, rows, columns, where the bytes are). A window reads only the blocks
//! whose time range meets it, one block after another (the next fetched while the last is
//! decoded), each column on its own core.
//!
//! Blocks live either in the database (`[store] blocks = "database"`: replicas on PostgreSQL
//! share them with everything else) or in a directory (the default beside a SQLite file; for
//! replicas it must be a directory they all mount).

pub(crate) mod decode;
mod encode;
mod files;

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::drift::source::{Schema, Table, TableBuilder};
use crate::records::{self, Rows, Window};
use crate::store::{Store, StoreError};

pub use files::BlockDir;
pub use mlops_domain::record::{
    BlockEntry, BlockPlace, Held, NewBlock, NewRecord, Pruned, WindowRow,
};

/// The name of a block's timestamp column (column 0).
const TIMESTAMP_COLUMN: &str = "timestamp";

/// Block metadata key listing the columns whose values are JSON texts.
const JSON_COLUMNS: &str = "mlops.json_columns";

/// Rows per legacy batch converted at once.
const LEGACY_ROWS: usize = 100_000;

/// Blocks of fewer rows are merged by [`Blocks::compact`]...
const SMALL_BLOCK_ROWS: u64 = 10_000;

/// ...into blocks of at most this many rows.
const COMPACTED_ROWS: u64 = 100_000;

/// Small blocks looked at per model and sweep.
const COMPACT_AT_ONCE: u32 = 2_000;

/// Why blocks could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The block directory failed (the message names the operation, not the data).
    #[error("the block directory: {0}")]
    Io(String),
    /// A block could not be encoded or read back.
    #[error("a block of ingested rows: {0}")]
    Data(String),
    /// A catalogued block was gone when read (compacted or deleted meanwhile).
    #[error("block {0} was replaced while it was read; try again")]
    Gone(String),
}

impl BlockError {
    /// As a store failure (a block that cannot be read is the store failing, not the caller's
    /// input).
    pub fn into_store(self) -> StoreError {
        match self {
            BlockError::Store(e) => e,
            other => StoreError::Corrupt(other.to_string()),
        }
    }
}

/// Where new blocks go.
#[derive(Debug, Clone)]
pub enum Placement {
    Database,
    Dir(BlockDir),
}

/// The block store of one server.
#[derive(Debug, Clone)]
pub struct Blocks {
    placement: Placement,
}

/// What a window holds.
pub struct WindowTable {
    pub table: Table,
    pub blocks: usize,
}

impl Blocks {
    pub fn new(placement: Placement) -> Arc<Self> {
        Arc::new(Self { placement })
    }

    /// Rows held in the window's blocks (blocks at its edges counted whole): what reading it
    /// would cost, known before reading.
    pub async fn rows_in(
        &self,
        store: &dyn Store,
        model: &str,
        window: Window,
    ) -> Result<u64, BlockError> {
        let entries = store.blocks(model, window.from, window.to).await?;
        Ok(entries.iter().map(|e| e.rows).sum())
    }

    /// Stores `rows` (at least one) of `model` as one block, within `max_rows` held.
    pub async fn put(
        &self,
        store: &dyn Store,
        model: &str,
        batch: &str,
        rows: Rows,
        max_rows: u64,
    ) -> Result<u64, BlockError> {
        let block = self.write(batch, rows).await?;
        match store.insert_block(model, &block, max_rows).await {
            Ok(n) => Ok(n),
            Err(e) => {
                // Refused before anything was written: the file is nobody's. After any other
                // failure the commit may have happened; the sweep decides by the catalog.
                let refused = matches!(
                    e,
                    StoreError::OverBudget { .. } | StoreError::UnknownModel(_)
                );
                if let (true, BlockPlace::File(name)) = (refused, &block.place) {
                    self.remove_files(std::slice::from_ref(name)).await;
                }
                Err(e.into())
            }
        }
    }

    /// Encodes `rows` and, for a directory, writes the file durably.
    async fn write(&self, batch: &str, rows: Rows) -> Result<NewBlock, BlockError> {
        let placement = self.placement.clone();
        let batch = batch.to_owned();
        tokio::task::spawn_blocking(move || {
            let (Some(min_ts), Some(max_ts)) = (
                rows.timestamps.iter().min().copied(),
                rows.timestamps.iter().max().copied(),
            ) else {
                return Err(BlockError::Data("no rows".into()));
            };
            let encoded = encode::encode(&rows).map_err(BlockError::Data)?;
            let bytes = encoded.bytes.len() as u64;
            let id = uuid::Uuid::new_v4().simple().to_string();
            let ids = rows
                .ids
                .iter()
                .zip(&rows.timestamps)
                .filter_map(|(id, t)| id.clone().map(|id| (id, *t)))
                .collect();
            let (place, data) = match &placement {
                Placement::Database => (BlockPlace::Database, Some(encoded.bytes)),
                Placement::Dir(dir) => {
                    let name = BlockDir::name(&id);
                    dir.write(&name, &encoded.bytes)
                        .map_err(|e| BlockError::Io(format!("writing a block: {e}")))?;
                    (BlockPlace::File(name), None)
                }
            };
            Ok(NewBlock {
                id,
                batch,
                rows: rows.len() as u64,
                min_ts,
                max_ts,
                columns: encoded.columns,
                bytes,
                place,
                data,
                ids,
            })
        })
        .await
        .map_err(|e| BlockError::Data(format!("the encoder stopped: {e}")))?
    }

    /// The bytes of a catalogued block.
    async fn bytes(&self, store: &dyn Store, entry: &BlockEntry) -> Result<Bytes, BlockError> {
        match &entry.place {
            BlockPlace::Database => store
                .block_data(&entry.id)
                .await?
                .map(Bytes::from)
                .ok_or_else(|| BlockError::Gone(entry.id.clone())),
            BlockPlace::File(name) => {
                let Placement::Dir(dir) = &self.placement else {
                    return Err(BlockError::Io(format!(
                        "block {} is a file, but this server keeps blocks in the database (store.blocks)",
                        entry.id
                    )));
                };
                let (dir, name) = (dir.clone(), name.clone());
                tokio::task::spawn_blocking(move || dir.read(&name))
                    .await
                    .map_err(|e| BlockError::Io(e.to_string()))?
                    .map(Bytes::from)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => BlockError::Gone(entry.id.clone()),
                        _ => BlockError::Io(format!("reading block {}: {e}", entry.id)),
                    })
            }
        }
    }

    /// `model`'s rows in `window` as a drift table (`None` when there are none). A block
    /// compacted away while it was read makes the window read again, once.
    pub async fn table(
        &self,
        store: &dyn Store,
        model: &str,
        window: Window,
        schema: &Schema,
    ) -> Result<Option<WindowTable>, BlockError> {
        match self.table_once(store, model, window, schema).await {
            Err(BlockError::Gone(_)) => self.table_once(store, model, window, schema).await,
            other => other,
        }
    }

    async fn table_once(
        &self,
        store: &dyn Store,
        model: &str,
        window: Window,
        schema: &Schema,
    ) -> Result<Option<WindowTable>, BlockError> {
        let entries = store.blocks(model, window.from, window.to).await?;
        let mut builder = TableBuilder::new(schema);
        let mut next = match entries.first() {
            Some(e) => Some(self.bytes(store, e).await?),
            None => return Ok(None),
        };
        for (i, entry) in entries.iter().enumerate() {
            let Some(bytes) = next.take() else { break };
            let inside = entry.min_ts >= window.from && entry.max_ts < window.to;
            let decode = tokio::task::spawn_blocking(move || {
                let block = decode::Block::open(bytes)?;
                let mask = if inside {
                    None
                } else {
                    Some(block.mask(window)?)
                };
                block.push_into(&mut builder, mask.as_deref())?;
                Ok::<_, String>(builder)
            });
            let fetch = async {
                match entries.get(i + 1) {
                    Some(e) => self.bytes(store, e).await.map(Some),
                    None => Ok(None),
                }
            };
            let (decoded, fetched) = tokio::join!(decode, fetch);
            builder = decoded
                .map_err(|e| BlockError::Data(format!("the reader stopped: {e}")))?
                .map_err(|e| BlockError::Data(format!("block {}: {e}", entry.id)))?;
            next = fetched?;
        }
        if builder.rows == 0 {
            return Ok(None);
        }
        let blocks = entries.len();
        let table = tokio::task::spawn_blocking(move || builder.finish())
            .await
            .map_err(|e| BlockError::Data(format!("the reader stopped: {e}")))?;
        Ok(Some(WindowTable { table, blocks }))
    }

    /// The rows of `entries` in `window`, block after block.
    async fn objects(
        &self,
        store: &dyn Store,
        entries: &[BlockEntry],
        window: Window,
    ) -> Result<Vec<decode::TimedRow>, BlockError> {
        let mut rows = Vec::new();
        for entry in entries {
            let bytes = self.bytes(store, entry).await?;
            let objects =
                tokio::task::spawn_blocking(move || decode::Block::open(bytes)?.objects(window))
                    .await
                    .map_err(|e| BlockError::Data(format!("the reader stopped: {e}")))?
                    .map_err(|e| BlockError::Data(format!("block {}: {e}", entry.id)))?;
            rows.extend(objects);
        }
        Ok(rows)
    }

    /// `model`'s rows in `window`, oldest first (rows of one time in the order they were
    /// stored), each with the label sent for it later. A block compacted away while it was
    /// read makes the window read again, once.
    pub async fn rows(
        &self,
        store: &dyn Store,
        model: &str,
        window: Window,
    ) -> Result<Vec<WindowRow>, BlockError> {
        let entries = store.blocks(model, window.from, window.to).await?;
        let mut rows = match self.objects(store, &entries, window).await {
            Err(BlockError::Gone(_)) => {
                let entries = store.blocks(model, window.from, window.to).await?;
                self.objects(store, &entries, window).await?
            }
            other => other?,
        };
        rows.sort_by_key(|(t, _)| *t);
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|(_, o)| records::row_id_of(o))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let labels: std::collections::HashMap<String, (String, DateTime<Utc>)> = store
            .labels_of(model, &ids)
            .await?
            .into_iter()
            .map(|(id, label, at)| (id, (label, at)))
            .collect();
        Ok(rows
            .into_iter()
            .map(|(timestamp, data)| WindowRow {
                late_label: records::row_id_of(&data).and_then(|id| labels.get(&id).cloned()),
                timestamp,
                data,
            })
            .collect())
    }

    /// Deletes `model`'s blocks whose rows are all older than `before`, then their files.
    pub async fn prune(
        &self,
        store: &dyn Store,
        model: &str,
        before: DateTime<Utc>,
    ) -> Result<Pruned, BlockError> {
        let pruned = store.prune_records(model, before).await?;
        self.remove_files(&pruned.files).await;
        Ok(pruned)
    }

    async fn remove_files(&self, names: &[String]) {
        let Placement::Dir(dir) = &self.placement else {
            return;
        };
        for name in names {
            let (dir, name) = (dir.clone(), name.clone());
            let removed = tokio::task::spawn_blocking(move || dir.remove(&name)).await;
            if let Ok(Err(e)) = removed {
                // Left for the sweep.
                tracing::warn!(error = %e, "a block file could not be removed");
            }
        }
    }

    /// Removes block files no catalog entry names (left by a crash between the write and the
    /// commit); how many.
    pub async fn sweep(&self, store: &dyn Store) -> Result<usize, BlockError> {
        let Placement::Dir(dir) = &self.placement else {
            return Ok(0);
        };
        let known: HashSet<String> = store.block_files().await?.into_iter().collect();
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || dir.sweep(&known))
            .await
            .map_err(|e| BlockError::Io(e.to_string()))?
            .map_err(|e| BlockError::Io(format!("sweeping: {e}")))
    }

    /// Merges `model`'s small blocks (fewer than 10,000 rows: many small requests) into blocks
    /// of up to 100,000 rows, a group at a time, each in one transaction; how many blocks went
    /// and how many came. A group another replica compacted first is left to it.
    pub async fn compact(
        &self,
        store: &dyn Store,
        model: &str,
    ) -> Result<(usize, usize), BlockError> {
        let small = store
            .small_blocks(model, SMALL_BLOCK_ROWS, COMPACT_AT_ONCE)
            .await?;
        let mut groups: Vec<Vec<BlockEntry>> = Vec::new();
        let mut rows = 0;
        for entry in small {
            match groups.last_mut() {
                Some(group) if rows + entry.rows <= COMPACTED_ROWS => {
                    rows += entry.rows;
                    group.push(entry);
                }
                _ => {
                    rows = entry.rows;
                    groups.push(vec![entry]);
                }
            }
        }
        let (mut merged, mut written) = (0, 0);
        let all = Window {
            from: DateTime::<Utc>::MIN_UTC,
            to: DateTime::<Utc>::MAX_UTC,
        };
        for group in groups.into_iter().filter(|g| g.len() > 1) {
            let objects = match self.objects(store, &group, all).await {
                Err(BlockError::Gone(_)) => continue,
                other => other?,
            };
            let rows = Rows::from_records(objects.into_iter().map(|(timestamp, data)| NewRecord {
                timestamp,
                id: records::row_id_of(&data),
                data,
            }));
            let block = self.write("compacted", rows).await?;
            let old: Vec<String> = group.iter().map(|e| e.id.clone()).collect();
            if store.replace_blocks(model, &old, &block).await? {
                let files: Vec<String> = group
                    .iter()
                    .filter_map(|e| match &e.place {
                        BlockPlace::File(name) => Some(name.clone()),
                        BlockPlace::Database => None,
                    })
                    .collect();
                self.remove_files(&files).await;
                merged += group.len();
                written += 1;
            } else if let BlockPlace::File(name) = &block.place {
                self.remove_files(std::slice::from_ref(name)).await;
            }
        }
        Ok((merged, written))
    }

    /// Converts rows stored before blocks (one JSON text each) into blocks, a batch at a time;
    /// how many rows. Safe to run on several replicas at once.
    pub async fn convert_legacy(&self, store: &dyn Store) -> Result<u64, BlockError> {
        let mut converted = 0;
        while let Some(legacy) = store.legacy_batch(LEGACY_ROWS).await? {
            let rows = legacy
                .rows
                .iter()
                .enumerate()
                .map(|(i, (timestamp, data))| {
                    let data: Map<String, Value> = serde_json::from_str(data).map_err(|e| {
                        BlockError::Data(format!("stored row {} is not a JSON object: {e}", i + 1))
                    })?;
                    Ok(NewRecord {
                        timestamp: *timestamp,
                        id: records::row_id_of(&data),
                        data,
                    })
                })
                .collect::<Result<Vec<_>, BlockError>>()?;
            let block = self.write(&legacy.batch, Rows::from_records(rows)).await?;
            store.convert_legacy(&legacy, &block).await?;
            converted += legacy.rows.len() as u64;
        }
        Ok(converted)
    }
}

#[cfg(test)]
mod tests;
