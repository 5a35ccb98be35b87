-- Models declared in configuration (the spec as JSON, refreshed at every start-up).
CREATE TABLE models (
    name       TEXT PRIMARY KEY NOT NULL,
    spec       TEXT NOT NULL,
    synced_at  TEXT NOT NULL
);

-- The embedded registry: versions with their metrics and artifact digests.
CREATE TABLE model_versions (
    model           TEXT NOT NULL REFERENCES models(name),
    version         TEXT NOT NULL,
    metrics         TEXT NOT NULL,
    artifact_uri    TEXT NOT NULL,
    artifact_digest TEXT NOT NULL,
    training_job    TEXT,
    data_snapshot   TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (model, version)
);

-- Current alias targets (`champion`, ...).
CREATE TABLE model_aliases (
    model    TEXT NOT NULL,
    alias    TEXT NOT NULL,
    version  TEXT NOT NULL,
    set_by   TEXT NOT NULL,
    set_at   TEXT NOT NULL,
    PRIMARY KEY (model, alias),
    FOREIGN KEY (model, version) REFERENCES model_versions(model, version)
);

-- Every move of an alias, never deleted.
CREATE TABLE alias_history (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    model            TEXT NOT NULL,
    alias            TEXT NOT NULL,
    version          TEXT NOT NULL,
    previous_version TEXT,
    set_by           TEXT NOT NULL,
    reason           TEXT NOT NULL,
    set_at           TEXT NOT NULL
);
CREATE INDEX alias_history_model ON alias_history(model, id);

-- Decision traces, hash-chained in `seq` order.
CREATE TABLE trace_events (
    seq         INTEGER PRIMARY KEY NOT NULL,
    trace_id    TEXT NOT NULL,
    at          TEXT NOT NULL,
    principal   TEXT NOT NULL,
    action      TEXT NOT NULL,
    arguments   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    rationale   TEXT NOT NULL,
    duration_us INTEGER NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX trace_events_trace ON trace_events(trace_id, seq);
