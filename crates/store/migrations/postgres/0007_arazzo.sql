-- Polysync schema v7: Arazzo Workflow jobs.
-- arazzo_documents keeps the snapshot of an imported Arazzo document and every source it
-- names (JSON object: URL -> text), so a run executes what was imported, not whatever the
-- file holds now. runs.outputs holds a run's outputs (JSON object) for the job types that
-- return some (Arazzo workflows), read by downstream tasks' ${tasks.NAME.outputs.PARAM}.

CREATE TABLE arazzo_documents (
    location    TEXT PRIMARY KEY NOT NULL,
    files       TEXT NOT NULL,
    imported_at BIGINT NOT NULL
);

ALTER TABLE runs ADD COLUMN outputs TEXT;
