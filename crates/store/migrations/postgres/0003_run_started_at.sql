-- Databricks' own start time of a run (runs/get start_time, a pipeline
-- update's creation_time), epoch ms: shown by `runs list` and used for durations.
ALTER TABLE runs ADD COLUMN started_at BIGINT;
