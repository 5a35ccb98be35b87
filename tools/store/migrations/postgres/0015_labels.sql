-- Late labels: an ingested row may carry an `id` (kept in `row_id`), and labels sent later
-- (POST /v1/models/{model}/labels) are kept per model and id, joined to the rows at each check.
ALTER TABLE records ADD COLUMN row_id TEXT;
CREATE INDEX records_row_id ON records(model, row_id);

CREATE TABLE labels (
    model       TEXT NOT NULL REFERENCES models(name),
    row_id      TEXT NOT NULL,
    label       TEXT NOT NULL,
    labelled_at TEXT,
    received_at TEXT NOT NULL,
    PRIMARY KEY (model, row_id)
);
