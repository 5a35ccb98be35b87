-- Ingested rows are kept in columnar blocks (Parquet, zstd), one per ingest request; this is
-- their catalog, which windows prune by. `location` is `db` (the bytes are in `data`) or
-- `file:NAME` (a file under the server's block directory, written and synced before its entry).
-- Rows stored before blocks (`records`) are converted at start-up, a batch at a time.
CREATE TABLE record_blocks (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    model       TEXT NOT NULL REFERENCES models(name),
    batch       TEXT NOT NULL,
    min_ts_us   INTEGER NOT NULL,
    max_ts_us   INTEGER NOT NULL,
    rows        INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    columns     TEXT NOT NULL,
    location    TEXT NOT NULL,
    data        BLOB,
    ingested_at TEXT NOT NULL
);
CREATE INDEX record_blocks_window ON record_blocks(model, max_ts_us, min_ts_us);

-- The ids of ingested rows that carry one (late labels are accepted for these only).
CREATE TABLE record_ids (
    model  TEXT NOT NULL,
    row_id TEXT NOT NULL,
    block  TEXT NOT NULL,
    ts_us  INTEGER NOT NULL
);
CREATE INDEX record_ids_row ON record_ids(model, row_id);
CREATE INDEX record_ids_block ON record_ids(block);
