-- The format of a stored drift report's document, so the store's record can outlive the shape
-- of the tool's output: 1 is the check_drift output as it was when this column was added.
ALTER TABLE drift_reports ADD COLUMN format BIGINT NOT NULL DEFAULT 1;
