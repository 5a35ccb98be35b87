-- A trainer may measure both versions per category of the holdout's categorical features
-- (with the champion's baseline); kept with the version as JSON, listed by validation.
ALTER TABLE model_versions ADD COLUMN baseline_segments TEXT;
