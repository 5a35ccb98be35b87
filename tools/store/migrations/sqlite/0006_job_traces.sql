-- The trace of the call that created a job: the runner's events (started, finished) join it.
ALTER TABLE jobs ADD COLUMN trace_id TEXT;
