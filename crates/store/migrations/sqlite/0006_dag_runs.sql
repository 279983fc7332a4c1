-- Polysync schema v6 (SQLite); ../postgres/0006_dag_runs.sql differs only in the identity column.
-- DAG runs, the task runs they hold (the dispatcher's queue: status, priority, FIFO
-- sequence, earliest start, lease), each attempt (one Polysync run = one Databricks run with
-- its own idempotency token), the contention-limit slots held, the status history of DAG and
-- task runs, and the live dispatcher instances.

CREATE TABLE dag_runs (
    id           TEXT PRIMARY KEY NOT NULL,
    root_task    TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    logical_date BIGINT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX dag_runs_created_at ON dag_runs (created_at);
CREATE INDEX dag_runs_status ON dag_runs (status);

CREATE TABLE task_runs (
    id               TEXT PRIMARY KEY NOT NULL,
    dag_run_id       TEXT NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
    task             TEXT NOT NULL,
    definition       TEXT NOT NULL,
    params           TEXT NOT NULL,
    limit_keys       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempt          BIGINT NOT NULL,
    run_id           TEXT,
    priority         BIGINT NOT NULL,
    seq              BIGINT NOT NULL,
    not_before       BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    cancel_requested BOOLEAN NOT NULL,
    timed_out        BOOLEAN NOT NULL,
    message          TEXT,
    started_at       BIGINT,
    ended_at         BIGINT,
    version          BIGINT NOT NULL DEFAULT 1,
    UNIQUE (dag_run_id, task)
);
CREATE INDEX task_runs_queue ON task_runs (status, priority, seq);
CREATE INDEX task_runs_dag ON task_runs (dag_run_id);

CREATE TABLE task_attempts (
    task_run_id TEXT NOT NULL REFERENCES task_runs (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    run_id      TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    message     TEXT,
    PRIMARY KEY (task_run_id, attempt)
);

CREATE TABLE limit_slots (
    limit_key   TEXT NOT NULL,
    task_run_id TEXT NOT NULL REFERENCES task_runs (id) ON DELETE CASCADE,
    PRIMARY KEY (limit_key, task_run_id)
);

CREATE TABLE dag_status_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    at        BIGINT NOT NULL,
    status    TEXT NOT NULL,
    message   TEXT
);
CREATE INDEX dag_status_history_entity ON dag_status_history (entity_id, id);

CREATE TABLE dispatchers (
    id           TEXT PRIMARY KEY NOT NULL,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
