-- A counter that every committed change to what `list_models` shows moves forward: models,
-- versions, aliases, drift reports, a job's state and start, promotions. A reader that cached
-- those rows checks this one number instead of reading them again. Triggers keep it, so writers
-- in any process (the server, the CLI, another replica) move it in the transaction that writes.
CREATE TABLE store_generation (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO store_generation (id, n) VALUES (1, 0);

CREATE TRIGGER models_generation_insert AFTER INSERT ON models
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER models_generation_update AFTER UPDATE ON models
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER models_generation_delete AFTER DELETE ON models
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER model_versions_generation_insert AFTER INSERT ON model_versions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER model_versions_generation_update AFTER UPDATE ON model_versions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER model_versions_generation_delete AFTER DELETE ON model_versions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER model_aliases_generation_insert AFTER INSERT ON model_aliases
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER model_aliases_generation_update AFTER UPDATE ON model_aliases
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER model_aliases_generation_delete AFTER DELETE ON model_aliases
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER drift_reports_generation_insert AFTER INSERT ON drift_reports
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER drift_reports_generation_update AFTER UPDATE ON drift_reports
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER drift_reports_generation_delete AFTER DELETE ON drift_reports
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;

-- A job's progress, messages and heartbeat are not shown in the overview; they do not count.
-- (Every job update sets `state` and `started_at`, so `UPDATE OF` would not tell.)
CREATE TRIGGER jobs_generation_insert AFTER INSERT ON jobs
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER jobs_generation_update AFTER UPDATE ON jobs
WHEN OLD.state IS NOT NEW.state OR OLD.started_at IS NOT NEW.started_at
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER jobs_generation_delete AFTER DELETE ON jobs
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER promotions_generation_insert AFTER INSERT ON promotions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER promotions_generation_update AFTER UPDATE ON promotions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER promotions_generation_delete AFTER DELETE ON promotions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
