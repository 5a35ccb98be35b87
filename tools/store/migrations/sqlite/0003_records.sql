-- Rows ingested over HTTP (POST /v1/models/{model}/records), for drift checks over a time window.
-- `ts_us` is the row's own timestamp in microseconds since the Unix epoch; `data` is the row
-- without its timestamp, as a JSON object.
CREATE TABLE records (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    model       TEXT NOT NULL REFERENCES models(name),
    ts_us       INTEGER NOT NULL,
    data        TEXT NOT NULL,
    batch       TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE INDEX records_model_ts ON records(model, ts_us);
