-- Polysync schema v2 (SQLite), identical to ../postgres/0002_versions_and_intents.sql.
-- Every row the engine updates carries a version for compare-and-set writes;
-- a run stores the request that starts it (built once, when it is enqueued)
-- and when a submit was first attempted, so a worker resuming after a crash
-- re-sends the same call and knows the run may already exist in Databricks.

ALTER TABLE platforms ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN request TEXT;
ALTER TABLE runs ADD COLUMN submit_attempted_at BIGINT;
CREATE INDEX runs_active ON runs (status, platform);
