//! The demo workspace: four notebooks (one per language), a single-task job, a three-task
//! workflow and two pipelines over them. It lives here, next to the emulator it runs on, so
//! that `polysync quickstart`, `polysync emulator --demo` and tests all tour the same thing.

use std::path::Path;

use serde_json::{Value, json};

use crate::EmulatorHandle;
use crate::error::Error;
use crate::routes::{jobs, pipelines};
use crate::state::AppState;

/// The demo notebooks, embedded in the binary: (path relative to the workspace root, source).
/// Written under an emulator's `workspace_dir` they appear as `/Demo/<name>` notebooks.
pub const DEMO_NOTEBOOKS: [(&str, &str); 4] = [
    (
        "Demo/sales_report.py",
        include_str!("../demo/workspace/Demo/sales_report.py"),
    ),
    (
        "Demo/customer_scoring.scala",
        include_str!("../demo/workspace/Demo/customer_scoring.scala"),
    ),
    (
        "Demo/daily_kpis.sql",
        include_str!("../demo/workspace/Demo/daily_kpis.sql"),
    ),
    (
        "Demo/forecast.r",
        include_str!("../demo/workspace/Demo/forecast.r"),
    ),
];

/// What [`EmulatorHandle::seed_demo`] created, so a caller can find (and run) each piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoWorkspace {
    /// The single-task job `Demo: daily KPIs`.
    pub job_id: i64,
    /// The three-task workflow `Demo: sales workflow` (report → score → forecast).
    pub workflow_id: i64,
    /// The triggered pipeline `Demo: sales DLT`.
    pub pipeline_id: String,
    /// The continuous pipeline `Demo: clickstream DLT (continuous)`.
    pub continuous_pipeline_id: String,
}

/// Writes the demo notebooks under `dir` (creating directories), ready to be an emulator's
/// `workspace_dir`.
pub fn write_notebooks(dir: &Path) -> Result<(), Error> {
    for (rel, text) in DEMO_NOTEBOOKS {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Demo {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| Error::Demo { path, source })?;
    }
    Ok(())
}

impl EmulatorHandle {
    /// Creates the demo job, workflow and pipelines directly in this emulator's state, exactly
    /// as `jobs/create` (API 2.1) and `POST pipelines` would, without an HTTP round trip. The
    /// notebooks they run are not imported: start the emulator on a `workspace_dir` holding
    /// [`write_notebooks`]'s output.
    pub fn seed_demo(&self) -> Result<DemoWorkspace, Error> {
        seed(&self.state)
    }
}

fn seed(s: &std::sync::Arc<AppState>) -> Result<DemoWorkspace, Error> {
    let job = |what: &'static str, settings: Value| {
        // Jobs API 2.1 semantics (queueing off by default), as the typed client speaks.
        jobs::create_job(s, settings, false).map_err(|e| Error::DemoRejected {
            what,
            message: e.message,
        })
    };
    let job_id = job(
        "job",
        json!({
            "name": "Demo: daily KPIs",
            "max_concurrent_runs": 1,
            "tasks": [{
                "task_key": "kpis",
                "notebook_task": {
                    "notebook_path": "/Demo/daily_kpis",
                    "base_parameters": {"kpi_date": "2025-01-31", "granularity": "day"}
                }
            }]
        }),
    )?;
    let workflow_id = job(
        "workflow",
        json!({
            "name": "Demo: sales workflow",
            "max_concurrent_runs": 1,
            "parameters": [
                {"name": "env", "default": "dev"},
                {"name": "batch_size", "default": "500"},
                {"name": "full_load", "default": "false"}
            ],
            "tasks": [
                {
                    "task_key": "report",
                    "notebook_task": {"notebook_path": "/Demo/sales_report", "base_parameters": {"region": "EMEA"}}
                },
                {
                    "task_key": "score",
                    "depends_on": [{"task_key": "report"}],
                    "notebook_task": {"notebook_path": "/Demo/customer_scoring"}
                },
                {
                    "task_key": "forecast",
                    "depends_on": [{"task_key": "score"}],
                    "notebook_task": {"notebook_path": "/Demo/forecast", "base_parameters": {"horizon_days": "7"}}
                }
            ]
        }),
    )?;
    let pipeline_id = pipelines::create_pipeline(
        s,
        json!({
            "name": "Demo: sales DLT",
            "development": true,
            "photon": false,
            "continuous": false,
            "configuration": {"spark.sql.shuffle.partitions": "8", "custom.region": "EMEA"},
            "libraries": [{"notebook": {"path": "/Demo/daily_kpis"}}]
        }),
    );
    let continuous_pipeline_id = pipelines::create_pipeline(
        s,
        json!({
            "name": "Demo: clickstream DLT (continuous)",
            "development": false,
            "photon": true,
            "continuous": true,
            "configuration": {"custom.source": "kafka", "spark.databricks.delta.optimizeWrite.enabled": "true"},
            "libraries": [{"notebook": {"path": "/Demo/sales_report"}}]
        }),
    );
    Ok(DemoWorkspace {
        job_id,
        workflow_id,
        pipeline_id,
        continuous_pipeline_id,
    })
}

/// The file name `polysync up` writes [`tasks_file`] under.
pub const DEMO_TASKS_FILE: &str = "demo-tasks.yaml";

/// The demo tasks file (Polysync's tasks format) over the demo workspace
/// registered as `platform`: a small DAG whose root `nightly` runs the
/// daily KPIs job on a weekday-morning schedule in Amsterdam time, the
/// sales workflow after it on success and the forecast notebook after
/// that, and an `alert` that runs only when `nightly` fails (otherwise
/// Skipped). So `polysync up` has tasks, a schedule and DAG runs to show
/// from the first second.
pub fn tasks_file(platform: &str, demo: &DemoWorkspace) -> String {
    format!(
        r#"# The demo DAG of `polysync up` (re-applied at each start).
# `polysync tasks run nightly` or `POST /api/jobs/nightly/run` starts it.
limits:
  demo-warehouse: 2
tasks:
  - name: nightly
    job: {platform}:{job}
    retry: {{ attempts: 2, backoff: 5s }}
    limits: [demo-warehouse]
    schedule: {{ cron: "0 6 * * 1-5", timezone: Europe/Amsterdam }}
  - name: sales
    job: {platform}:{workflow}
    params: {{ env: demo }}
    after: [nightly]
    limits: [demo-warehouse]
  - name: forecast
    job: {platform}:/Demo/forecast
    after: [{{ task: sales, on: success }}]
  - name: alert
    job: {platform}:/Demo/sales_report
    after: [{{ task: nightly, on: failure }}]
"#,
        job = demo.job_id,
        workflow = demo.workflow_id,
    )
}
