-- Polysync schema v1 (SQLite). Kept column-for-column identical to
-- ../postgres/0001_init.sql: ids TEXT, timestamps BIGINT epoch ms, JSON TEXT.
-- Credentials are never stored: only a profile name or an env-var NAME.

CREATE TABLE platforms (
    name                   TEXT PRIMARY KEY NOT NULL,
    workspace_url          TEXT NOT NULL,
    auth_kind              TEXT NOT NULL,
    auth_profile           TEXT,
    auth_config_file       TEXT,
    auth_token_env         TEXT,
    default_notebook_path  TEXT NOT NULL,
    jobs_api_version       TEXT NOT NULL,
    compute_type           TEXT NOT NULL,
    cluster_version        TEXT,
    node_type              TEXT,
    num_workers            BIGINT,
    existing_cluster_id    TEXT,
    existing_instance_pool TEXT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL UNIQUE,
    job_type          TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    platform          TEXT NOT NULL REFERENCES platforms (name) ON DELETE RESTRICT,
    parameter_mapping TEXT,
    origin            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    removed_at        BIGINT,
    UNIQUE (platform, external_id, job_type)
);

CREATE TABLE parameters (
    job_id        TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position      BIGINT NOT NULL,
    name          TEXT NOT NULL,
    data_type     TEXT NOT NULL,
    direction     TEXT NOT NULL,
    default_value TEXT,
    current_value TEXT,
    forwarded     BOOLEAN NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE TABLE runs (
    id                  TEXT PRIMARY KEY NOT NULL,
    job_id              TEXT REFERENCES jobs (id) ON DELETE SET NULL,
    job_name            TEXT NOT NULL,
    job_type            TEXT NOT NULL,
    job_external_id     TEXT NOT NULL,
    platform            TEXT NOT NULL,
    databricks_run_id   TEXT,
    status              TEXT NOT NULL,
    life_cycle_state    TEXT,
    result_state        TEXT,
    update_state        TEXT,
    state_message       TEXT,
    parameters          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    ended_at            BIGINT,
    monitor_url         TEXT,
    error_message       TEXT,
    notebook_exit_value TEXT
);
CREATE INDEX runs_created_at ON runs (created_at);
CREATE INDEX runs_job_name ON runs (job_name);

CREATE TABLE run_status_history (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id           TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at               BIGINT NOT NULL,
    status           TEXT NOT NULL,
    life_cycle_state TEXT,
    result_state     TEXT,
    update_state     TEXT,
    state_message    TEXT
);
CREATE INDEX run_status_history_run ON run_status_history (run_id, id);
