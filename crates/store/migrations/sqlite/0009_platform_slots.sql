-- A multi-task workflow counts its tasks against its platform's limit
-- (the workspace's concurrent task-run limit): the job's task count, read
-- at import; the slots a task run takes of its platform's limit; and the
-- slots each held limit row stands for.
ALTER TABLE jobs ADD COLUMN task_count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE task_runs ADD COLUMN platform_slots BIGINT NOT NULL DEFAULT 1;
ALTER TABLE limit_slots ADD COLUMN slots BIGINT NOT NULL DEFAULT 1;
