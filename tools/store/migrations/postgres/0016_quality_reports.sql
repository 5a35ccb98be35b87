-- check_performance reports, kept as drift reports are: the whole report as the engine wrote
-- it, with the verdict in columns. A new one moves the overview's generation (list_models shows
-- the newest verdict).
CREATE TABLE quality_reports (
    id                 TEXT PRIMARY KEY NOT NULL,
    model              TEXT NOT NULL REFERENCES models(name),
    created_at         TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    recommended_action TEXT NOT NULL,
    document           TEXT NOT NULL
);
CREATE INDEX quality_reports_model ON quality_reports(model, created_at);
CREATE CONSTRAINT TRIGGER quality_reports_generation AFTER INSERT ON quality_reports
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
