-- Polysync schema v5 (PostgreSQL), identical to ../sqlite/0005_tasks.sql.
-- Tasks as applied from a tasks file (the definition kept as JSON, compared
-- as a whole for idempotent re-applies), the contention limits they name,
-- and each scheduled task's next fire time for the dispatcher.

CREATE TABLE task_limits (
    name       TEXT PRIMARY KEY NOT NULL,
    capacity   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE tasks (
    name         TEXT PRIMARY KEY NOT NULL,
    definition   TEXT NOT NULL,
    next_fire_at BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX tasks_next_fire_at ON tasks (next_fire_at);
