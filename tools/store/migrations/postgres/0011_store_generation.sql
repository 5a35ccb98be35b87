-- A counter that every committed change to what `list_models` shows moves forward: models,
-- versions, aliases, drift reports, a job's state and start, promotions. A reader that cached
-- those rows checks this one number instead of reading them again. Triggers keep it, so writers
-- in any process (the server, the CLI, another replica) move it in the transaction that writes.
-- The triggers are deferred to commit: the counter's row lock is then the last lock a
-- transaction takes, so two writers can never hold a row each and wait for the other's.
CREATE TABLE store_generation (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO store_generation (id, n) VALUES (1, 0);

CREATE FUNCTION bump_store_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE store_generation SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER models_generation AFTER INSERT OR UPDATE OR DELETE ON models
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
CREATE CONSTRAINT TRIGGER model_versions_generation AFTER INSERT OR UPDATE OR DELETE ON model_versions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
CREATE CONSTRAINT TRIGGER model_aliases_generation AFTER INSERT OR UPDATE OR DELETE ON model_aliases
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
CREATE CONSTRAINT TRIGGER drift_reports_generation AFTER INSERT OR UPDATE OR DELETE ON drift_reports
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
-- A job's progress, messages and heartbeat are not shown in the overview; they do not count.
-- (Every job update sets `state` and `started_at`, so `UPDATE OF` would not tell.)
CREATE CONSTRAINT TRIGGER jobs_generation AFTER INSERT OR DELETE ON jobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
CREATE CONSTRAINT TRIGGER jobs_generation_update AFTER UPDATE ON jobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.started_at IS DISTINCT FROM NEW.started_at)
    EXECUTE FUNCTION bump_store_generation();
CREATE CONSTRAINT TRIGGER promotions_generation AFTER INSERT OR UPDATE OR DELETE ON promotions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
