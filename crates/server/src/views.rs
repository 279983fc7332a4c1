//! How runs are rendered on the seed's routes: Polysync's run with the
//! Databricks `Run` fields an AppKit front end reads (`run_id`, `job_id`,
//! `state.life_cycle_state`, ...), so it can switch backends unchanged.

use polysync_engine::Run;
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
