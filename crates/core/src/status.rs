//! Status decoding: Databricks states → Polysync [`RunStatus`].
//!
//! Pure functions over the strings the API returns, so every row of the
//! seeds' tables is a one-line unit test. The README's status table links
//! each row to its test in this module.
//!
//! Decisions beyond the seeds (documented in the crate README):
//! * `BLOCKED` (waiting on an upstream dependency) decodes as Queued — the
//!   run has not started doing work; `WAITING_FOR_RETRY` decodes as Running —
//!   the run started and Databricks will try again by itself.
//! * Result states that mean "skipped" (`MAXIMUM_CONCURRENT_RUNS_REACHED`,
//!   `EXCLUDED`, `UPSTREAM_CANCELED`, `DISABLED`) decode as Cancelled, like
//!   the seed's `SKIPPED`; `UPSTREAM_FAILED` decodes as Failed;
//!   `SUCCESS_WITH_FAILURES` as Success because Databricks reports the leaf
//!   tasks as succeeded.
//! * `TERMINATED` without a result state is Unknown (not terminal): the
//!   poller keeps asking until the result appears.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Polysync's run status, common to all job types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunStatus {
    /// Accepted but not started.
    Queued,
    /// Started and not finished (includes cluster start-up and stopping).
    Running,
    /// Finished successfully.
    Success,
    /// Finished with an error.
    Failed,
    /// Stopped by a user, or skipped by Databricks.
    Cancelled,
    /// A state Polysync does not know (or none); keep polling.
    Unknown,
}

impl RunStatus {
    /// Every variant.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Unknown,
    ];

    /// Whether polling can stop. Unknown is deliberately not terminal.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    /// Stable spelling for storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Running => "Running",
            RunStatus::Success => "Success",
            RunStatus::Failed => "Failed",
            RunStatus::Cancelled => "Cancelled",
            RunStatus::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        RunStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownVariant {
                what: "run status",
                value: s.to_owned(),
                expected: "Queued, Running, Success, Failed, Cancelled, Unknown",
            })
    }
}

fn norm(s: Option<&str>) -> Option<String> {
    s.map(|v| v.trim().to_ascii_uppercase())
        .filter(|v| !v.is_empty())
}

/// Decodes a `result_state` (notebook/job/workflow runs).
fn decode_result_state(result: &str) -> RunStatus {
    match result {
        "SUCCESS" | "SUCCESS_WITH_FAILURES" => RunStatus::Success,
        "FAILED" | "TIMEDOUT" | "UPSTREAM_FAILED" => RunStatus::Failed,
        "CANCELED"
        | "CANCELLED"
        | "MAXIMUM_CONCURRENT_RUNS_REACHED"
        | "EXCLUDED"
        | "UPSTREAM_CANCELED"
        | "DISABLED" => RunStatus::Cancelled,
        _ => RunStatus::Unknown,
    }
}

/// Decodes the deprecated-but-returned `state` object of `runs/get`.
///
/// Precedence (issue 3, "Decisions"): `INTERNAL_ERROR` → Failed and
/// `SKIPPED` → Cancelled whatever the result; when a `result_state` is
/// present on `TERMINATED` (or with no life cycle state at all) it decides;
/// otherwise the life cycle state does.
pub fn decode_run_state(life_cycle_state: Option<&str>, result_state: Option<&str>) -> RunStatus {
    let life = norm(life_cycle_state);
    let result = norm(result_state);
    match life.as_deref() {
        Some("INTERNAL_ERROR") => return RunStatus::Failed,
        Some("SKIPPED") => return RunStatus::Cancelled,
        _ => {}
    }
    if let Some(result) = result.as_deref()
        && matches!(life.as_deref(), None | Some("TERMINATED"))
    {
        return decode_result_state(result);
    }
    match life.as_deref() {
        Some("QUEUED" | "BLOCKED") => RunStatus::Queued,
        Some("PENDING" | "RUNNING" | "TERMINATING" | "WAITING_FOR_RETRY") => RunStatus::Running,
        // TERMINATED without a result yet, unknown states, nothing at all.
        _ => RunStatus::Unknown,
    }
}

/// Decodes the newer `status` object (`status.state` plus
/// `status.termination_details.{code,type}`), used when `state` is absent.
pub fn decode_run_status_v2(
    state: Option<&str>,
    termination_code: Option<&str>,
    termination_type: Option<&str>,
) -> RunStatus {
    match norm(state).as_deref() {
        Some("QUEUED" | "BLOCKED") => RunStatus::Queued,
        Some("PENDING" | "RUNNING" | "TERMINATING" | "WAITING") => RunStatus::Running,
        Some("TERMINATED") => {
            match (
                norm(termination_code).as_deref(),
                norm(termination_type).as_deref(),
            ) {
                (Some("SUCCESS" | "SUCCESS_WITH_FAILURES"), _) => RunStatus::Success,
                (
                    Some(
                        "USER_CANCELED"
                        | "CANCELED"
                        | "SKIPPED"
                        | "DISABLED"
                        | "MAX_CONCURRENT_RUNS_EXCEEDED",
                    ),
                    _,
                ) => RunStatus::Cancelled,
                // Every other termination code names an error.
                (Some(_), _) => RunStatus::Failed,
                (None, Some("SUCCESS")) => RunStatus::Success,
                (None, Some(_)) => RunStatus::Failed,
                (None, None) => RunStatus::Unknown,
            }
        }
        _ => RunStatus::Unknown,
    }
}

/// Decodes a pipeline update's `state` (seed table plus the pre-RUNNING
/// states, which read as Running like a notebook's PENDING).
pub fn decode_update_state(state: Option<&str>) -> RunStatus {
    match norm(state).as_deref() {
        Some(
            "RUNNING"
            | "STOPPING"
            | "QUEUED"
            | "CREATED"
            | "WAITING_FOR_RESOURCES"
            | "INITIALIZING"
            | "RESETTING"
            | "SETTING_UP_TABLES",
        ) => RunStatus::Running,
        Some("COMPLETED") => RunStatus::Success,
        Some("FAILED") => RunStatus::Failed,
        Some("CANCELED" | "CANCELLED") => RunStatus::Cancelled,
        _ => RunStatus::Unknown,
    }
}

/// What one poll saw: the decoded status plus the raw states, kept on the
/// run so users can see exactly what Databricks said.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StateObservation {
    /// Decoded status (`None` only in `Default`).
    pub status: Option<RunStatus>,
    /// `state.life_cycle_state`, or `status.state` when `state` is absent.
    pub life_cycle_state: Option<String>,
    /// `state.result_state`, or the termination code when `state` is absent.
    pub result_state: Option<String>,
    /// Pipeline `update.state`.
    pub update_state: Option<String>,
    /// `state.state_message` / termination message / pipeline cause.
    pub state_message: Option<String>,
    /// `run_page_url` when the response has one.
    pub run_page_url: Option<String>,
    /// When Databricks started the run (`start_time`, or a pipeline
    /// update's `creation_time`), epoch ms: the start the user sees in the
    /// Databricks UI, which can be much later than the Polysync submit.
    pub start_time: Option<i64>,
}

fn time_at(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64).filter(|t| *t > 0)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// Reads a `runs/get` response: `state` first, falling back to `status`.
pub fn observe_job_run(run: &Value) -> StateObservation {
    let life = str_at(run, &["state", "life_cycle_state"]);
    let result = str_at(run, &["state", "result_state"]);
    let page = str_at(run, &["run_page_url"]).map(str::to_owned);
    if life.is_some() || result.is_some() {
        return StateObservation {
            status: Some(decode_run_state(life, result)),
            life_cycle_state: life.map(str::to_owned),
            result_state: result.map(str::to_owned),
            update_state: None,
            state_message: str_at(run, &["state", "state_message"]).map(str::to_owned),
            run_page_url: page,
            start_time: time_at(run, "start_time"),
        };
    }
    let state = str_at(run, &["status", "state"]);
    let code = str_at(run, &["status", "termination_details", "code"]);
    let kind = str_at(run, &["status", "termination_details", "type"]);
    StateObservation {
        status: Some(decode_run_status_v2(state, code, kind)),
        life_cycle_state: state.map(str::to_owned),
        result_state: code.map(str::to_owned),
        update_state: None,
        state_message: str_at(run, &["status", "termination_details", "message"])
            .map(str::to_owned),
        run_page_url: page,
        start_time: time_at(run, "start_time"),
    }
}

/// Reads a pipeline `GET .../updates/{id}` response (`{"update": {...}}` or
/// the bare update object).
pub fn observe_pipeline_update(response: &Value) -> StateObservation {
    let update = response.get("update").unwrap_or(response);
    let state = str_at(update, &["state"]);
    StateObservation {
        status: Some(decode_update_state(state)),
        life_cycle_state: None,
        result_state: None,
        update_state: state.map(str::to_owned),
        // `cause` (API_CALL, USER_ACTION, ...) says who started the update,
        // not what happened to it: showing it as the run's message read as
        // an error code. Failure details come from the pipeline's events.
        state_message: None,
        run_page_url: None,
        start_time: time_at(update, "creation_time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Issue 8 item 20: pipeline runs showed the update cause `API_CALL` as their message.
    #[test]
    fn pipeline_update_cause_is_not_a_message() {
        let obs = observe_pipeline_update(
            &json!({"update": {"update_id": "u", "state": "RUNNING", "cause": "API_CALL"}}),
        );
        assert_eq!(obs.state_message, None);
        assert_eq!(obs.update_state.as_deref(), Some("RUNNING"));
    }

    fn run(life: &str, result: Option<&str>) -> RunStatus {
        decode_run_state(Some(life), result)
    }

    // ---- databricks-notebook-job.txt, "Execution flow" table, one test per row.
    // The workflow seed says it uses "the same life_cycle_state + result_state
    // decoding as Databricks Notebook", so these rows cover both.

    #[test]
    fn notebook_status_row_life_cycle_pending_running_terminating_is_running() {
        assert_eq!(run("PENDING", None), RunStatus::Running);
        assert_eq!(run("RUNNING", None), RunStatus::Running);
        assert_eq!(run("TERMINATING", None), RunStatus::Running);
    }

    #[test]
    fn notebook_status_row_life_cycle_skipped_is_cancelled() {
        assert_eq!(run("SKIPPED", None), RunStatus::Cancelled);
        assert_eq!(run("SKIPPED", Some("SUCCESS")), RunStatus::Cancelled);
    }

    #[test]
    fn notebook_status_row_life_cycle_internal_error_is_failed() {
        assert_eq!(run("INTERNAL_ERROR", None), RunStatus::Failed);
        assert_eq!(run("INTERNAL_ERROR", Some("SUCCESS")), RunStatus::Failed);
    }

    #[test]
    fn notebook_status_row_result_success_is_success() {
        assert_eq!(run("TERMINATED", Some("SUCCESS")), RunStatus::Success);
        assert_eq!(decode_run_state(None, Some("SUCCESS")), RunStatus::Success);
    }

    #[test]
    fn notebook_status_row_result_failed_timedout_is_failed() {
        assert_eq!(run("TERMINATED", Some("FAILED")), RunStatus::Failed);
        assert_eq!(run("TERMINATED", Some("TIMEDOUT")), RunStatus::Failed);
    }

    #[test]
    fn notebook_status_row_result_canceled_is_cancelled() {
        assert_eq!(run("TERMINATED", Some("CANCELED")), RunStatus::Cancelled);
    }

    #[test]
    fn workflow_status_uses_notebook_decoding() {
        // Multi-task failure as reported by Databricks: INTERNAL_ERROR + FAILED.
        let obs = observe_job_run(&json!({
            "state": {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED",
                      "state_message": "Task a failed with message: boom."},
            "status": {"state": "TERMINATED", "termination_details": {"code": "RUN_EXECUTION_ERROR"}}
        }));
        assert_eq!(obs.status, Some(RunStatus::Failed));
        assert_eq!(
            obs.state_message.as_deref(),
            Some("Task a failed with message: boom.")
        );
    }

    // ---- databricks-pipeline-job.txt, update state table, one test per row.

    #[test]
    fn pipeline_status_row_running_stopping_is_running() {
        assert_eq!(decode_update_state(Some("RUNNING")), RunStatus::Running);
        assert_eq!(decode_update_state(Some("STOPPING")), RunStatus::Running);
    }

    #[test]
    fn pipeline_status_row_completed_is_success() {
        assert_eq!(decode_update_state(Some("COMPLETED")), RunStatus::Success);
    }

    #[test]
    fn pipeline_status_row_failed_is_failed() {
        assert_eq!(decode_update_state(Some("FAILED")), RunStatus::Failed);
    }

    #[test]
    fn pipeline_status_row_canceled_is_cancelled() {
        assert_eq!(decode_update_state(Some("CANCELED")), RunStatus::Cancelled);
    }

    #[test]
    fn pipeline_status_row_other_or_missing_is_unknown() {
        assert_eq!(
            decode_update_state(Some("SOMETHING_NEW")),
            RunStatus::Unknown
        );
        assert_eq!(decode_update_state(None), RunStatus::Unknown);
        assert_eq!(decode_update_state(Some("")), RunStatus::Unknown);
        assert!(!RunStatus::Unknown.is_terminal());
    }

    // ---- States the seeds do not list (README "extra states").

    #[test]
    fn extra_life_cycle_queued_is_queued() {
        assert_eq!(run("QUEUED", None), RunStatus::Queued);
    }

    #[test]
    fn extra_life_cycle_blocked_is_queued() {
        assert_eq!(run("BLOCKED", None), RunStatus::Queued);
    }

    #[test]
    fn extra_life_cycle_waiting_for_retry_is_running() {
        assert_eq!(run("WAITING_FOR_RETRY", None), RunStatus::Running);
    }

    #[test]
    fn extra_life_cycle_terminated_without_result_is_unknown() {
        assert_eq!(run("TERMINATED", None), RunStatus::Unknown);
    }

    #[test]
    fn extra_life_cycle_unknown_or_missing_is_unknown() {
        assert_eq!(run("NEW_STATE", None), RunStatus::Unknown);
        assert_eq!(decode_run_state(None, None), RunStatus::Unknown);
    }

    #[test]
    fn extra_result_success_with_failures_is_success() {
        assert_eq!(
            run("TERMINATED", Some("SUCCESS_WITH_FAILURES")),
            RunStatus::Success
        );
    }

    #[test]
    fn extra_result_maximum_concurrent_runs_reached_is_cancelled() {
        assert_eq!(
            run("TERMINATED", Some("MAXIMUM_CONCURRENT_RUNS_REACHED")),
            RunStatus::Cancelled
        );
    }

    #[test]
    fn extra_result_excluded_is_cancelled() {
        assert_eq!(run("TERMINATED", Some("EXCLUDED")), RunStatus::Cancelled);
    }

    #[test]
    fn extra_result_upstream_failed_is_failed() {
        assert_eq!(
            run("TERMINATED", Some("UPSTREAM_FAILED")),
            RunStatus::Failed
        );
    }

    #[test]
    fn extra_result_upstream_canceled_is_cancelled() {
        assert_eq!(
            run("TERMINATED", Some("UPSTREAM_CANCELED")),
            RunStatus::Cancelled
        );
    }

    #[test]
    fn extra_result_disabled_is_cancelled() {
        assert_eq!(run("TERMINATED", Some("DISABLED")), RunStatus::Cancelled);
    }

    #[test]
    fn extra_result_unknown_is_unknown() {
        assert_eq!(run("TERMINATED", Some("NEW_RESULT")), RunStatus::Unknown);
    }

    #[test]
    fn extra_result_ignored_while_not_terminated() {
        assert_eq!(run("TERMINATING", Some("SUCCESS")), RunStatus::Running);
    }

    #[test]
    fn extra_status_v2_fallback_when_state_absent() {
        let d = |s, c| decode_run_status_v2(Some(s), c, None);
        assert_eq!(d("QUEUED", None), RunStatus::Queued);
        assert_eq!(d("BLOCKED", None), RunStatus::Queued);
        assert_eq!(d("PENDING", None), RunStatus::Running);
        assert_eq!(d("RUNNING", None), RunStatus::Running);
        assert_eq!(d("TERMINATING", None), RunStatus::Running);
        assert_eq!(d("WAITING", None), RunStatus::Running);
        assert_eq!(d("TERMINATED", Some("SUCCESS")), RunStatus::Success);
        assert_eq!(
            d("TERMINATED", Some("SUCCESS_WITH_FAILURES")),
            RunStatus::Success
        );
        assert_eq!(d("TERMINATED", Some("USER_CANCELED")), RunStatus::Cancelled);
        assert_eq!(d("TERMINATED", Some("CANCELED")), RunStatus::Cancelled);
        assert_eq!(d("TERMINATED", Some("SKIPPED")), RunStatus::Cancelled);
        assert_eq!(d("TERMINATED", Some("DISABLED")), RunStatus::Cancelled);
        assert_eq!(
            d("TERMINATED", Some("MAX_CONCURRENT_RUNS_EXCEEDED")),
            RunStatus::Cancelled
        );
        assert_eq!(
            d("TERMINATED", Some("RUN_EXECUTION_ERROR")),
            RunStatus::Failed
        );
        assert_eq!(d("TERMINATED", Some("DRIVER_ERROR")), RunStatus::Failed);
        assert_eq!(d("TERMINATED", Some("INTERNAL_ERROR")), RunStatus::Failed);
        assert_eq!(d("TERMINATED", None), RunStatus::Unknown);
        assert_eq!(
            decode_run_status_v2(Some("TERMINATED"), None, Some("CLIENT_ERROR")),
            RunStatus::Failed
        );
        assert_eq!(d("SOMETHING", None), RunStatus::Unknown);
        assert_eq!(decode_run_status_v2(None, None, None), RunStatus::Unknown);
        let obs = observe_job_run(&json!({
            "status": {"state": "TERMINATED", "termination_details": {"code": "USER_CANCELED", "message": "by alice"}},
            "run_page_url": "https://x/#job/1/run/2"
        }));
        assert_eq!(obs.status, Some(RunStatus::Cancelled));
        assert_eq!(obs.result_state.as_deref(), Some("USER_CANCELED"));
        assert_eq!(obs.run_page_url.as_deref(), Some("https://x/#job/1/run/2"));
    }

    #[test]
    fn extra_pipeline_states_before_running_are_running() {
        for s in [
            "QUEUED",
            "CREATED",
            "WAITING_FOR_RESOURCES",
            "INITIALIZING",
            "RESETTING",
            "SETTING_UP_TABLES",
        ] {
            assert_eq!(decode_update_state(Some(s)), RunStatus::Running, "{s}");
        }
        let obs = observe_pipeline_update(&json!({"update": {"state": "COMPLETED"}}));
        assert_eq!(obs.status, Some(RunStatus::Success));
        assert_eq!(obs.update_state.as_deref(), Some("COMPLETED"));
    }

    #[test]
    fn terminal_statuses() {
        let terminal: Vec<_> = RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            vec![RunStatus::Success, RunStatus::Failed, RunStatus::Cancelled]
        );
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), s);
        }
    }
}
