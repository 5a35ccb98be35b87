-- Circuit-breaker resets: failures of jobs created before a model's last reset no longer count.
CREATE TABLE retrain_breaker_resets (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    model    TEXT NOT NULL REFERENCES models(name),
    reset_by TEXT NOT NULL,
    reset_at TEXT NOT NULL
);
CREATE INDEX retrain_breaker_resets_model ON retrain_breaker_resets(model, reset_at);
