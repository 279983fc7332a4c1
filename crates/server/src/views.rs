//! How runs are rendered on the seed's routes: Polysync's run with the
//! Databricks `Run` fields an AppKit front end reads (`run_id`, `job_id`,
//! `state.life_cycle_state`, ...), so it can switch backends unchanged.

use polysync_engine::{DagRunStatus, DagRunView, KeyDagRun, KeyRun, Run};
use serde_json::{Value, json};

/// A Databricks id as the seed shows it: a number when it is one
/// (`run_id`, `job_id`), else the string (pipeline updates, paths).
pub fn seed_id(id: &str) -> Value {
    id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n))
}

/// The seed's `runId` of a run: its Databricks run id, else (not sent
/// yet) Polysync's own id.
pub fn run_id(run: &Run) -> Value {
    run.databricks_run_id
        .as_deref()
        .map_or_else(|| json!(run.id), seed_id)
}

/// The status string of the seed's `{status}`: the Databricks life-cycle
/// state when there is one, else Polysync's status (QUEUED before it was
/// sent).
pub fn status(run: &Run) -> Value {
    match &run.life_cycle_state {
        Some(s) => json!(s),
        None => json!(run.status.to_string().to_uppercase()),
    }
}

/// A run as JSON: Polysync's fields plus the Databricks `Run` ones.
pub fn run(run: &Run) -> Value {
    let mut v = serde_json::to_value(run).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("run_id".into(), run_id(run));
        m.insert("job_id".into(), seed_id(&run.job_external_id));
        m.insert(
            "state".into(),
            json!({
                "life_cycle_state": run.life_cycle_state,
                "result_state": run.result_state,
                "state_message": run.state_message,
            }),
        );
        m.insert("run_page_url".into(), json!(run.monitor_url));
        m.insert("start_time".into(), json!(run.started_at));
        m.insert("end_time".into(), json!(run.ended_at));
    }
    v
}

/// A DAG run (a task key's run) as the seed's routes show it: the DAG run
/// JSON of `dag-runs show --json` plus the `Run` fields a front end reads,
/// so code written for job runs follows it unchanged: `run_id` is the DAG
/// run id, `job_id` `task:<root task>`, `state.life_cycle_state` RUNNING
/// until it ends, then TERMINATED with `result_state` SUCCESS, FAILED or
/// CANCELED.
pub fn dag_run(dag: &KeyDagRun) -> Value {
    let view = &dag.view;
    let mut v = serde_json::to_value(view).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("run_id".into(), json!(view.id));
        // What the key runs, as its `job` says it: `task:<root task>`.
        m.insert(
            "job_id".into(),
            json!(format!(
                "{}{}",
                polysync_engine::TASK_PREFIX,
                view.root_task
            )),
        );
        m.insert(
            "state".into(),
            json!({
                "life_cycle_state": dag_status(view),
                "result_state": dag_result(view.status),
                "state_message": null,
            }),
        );
        m.insert("start_time".into(), json!(view.started_at));
        m.insert("end_time".into(), json!(view.ended_at));
    }
    v
}

/// The seed's `status` of a DAG run: `RUNNING`, then `TERMINATED`.
pub fn dag_status(view: &DagRunView) -> Value {
    if view.status.is_terminal() {
        json!("TERMINATED")
    } else {
        json!("RUNNING")
    }
}

fn dag_result(status: DagRunStatus) -> Value {
    match status {
        DagRunStatus::Running => Value::Null,
        DagRunStatus::Success => json!("SUCCESS"),
        DagRunStatus::Failed => json!("FAILED"),
        DagRunStatus::Cancelled => json!("CANCELED"),
    }
}

/// A key's run: [`run`] or [`dag_run`].
pub fn key_run(run: &KeyRun) -> Value {
    match run {
        KeyRun::Job(r) => self::run(r),
        KeyRun::Dag(d) => dag_run(d),
    }
}

/// A key's run's `runId`: [`run_id`], or the DAG run id.
pub fn key_run_id(run: &KeyRun) -> Value {
    match run {
        KeyRun::Job(r) => run_id(r),
        KeyRun::Dag(d) => json!(d.view.id),
    }
}

/// A key's run's `status`: [`status`] or [`dag_status`].
pub fn key_status(run: &KeyRun) -> Value {
    match run {
        KeyRun::Job(r) => status(r),
        KeyRun::Dag(d) => dag_status(&d.view),
    }
}
