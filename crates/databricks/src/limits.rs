//! The workspace's published resource limits (Databricks "Resource limits" page,
//! `../shared/reference/databricks-api.md` §5), in one table.
//!
//! Both sides of the wire read it: the client's request budget stays under these figures and
//! the emulator enforces them, so a change to a published figure is made once and the two can
//! never drift apart. It carries no client code, so it is available without the `client`
//! feature.

/// Published per-workspace request limits (requests per second) by endpoint key
/// (`METHOD path-after-/api/<version>/`). Endpoints absent here have no published limit.
pub const PUBLISHED_LIMITS: &[(&str, f64)] = &[
    ("POST jobs/create", 20.0),
    ("GET jobs/get", 20.0),
    ("GET jobs/list", 20.0),
    ("POST jobs/reset", 20.0),
    ("POST jobs/run-now", 20.0),
    ("POST jobs/delete", 10.0),
    ("POST jobs/update", 10.0),
    ("GET jobs/runs/get", 100.0),
    ("GET workspace/list", 50.0),
    ("GET workspace/export", 60.0),
    ("POST workspace/import", 30.0),
    ("POST workspace/delete", 2.0),
];

/// Task runs a workspace lets run at once (a multi-task run counts each of its tasks); a
/// `run-now` or `runs/submit` beyond it is answered 429.
pub const MAX_CONCURRENT_TASK_RUNS: u32 = 2_000;
