//! The one run-based implementation shared by the notebook, job and
//! workflow providers: they differ only in how the run starts
//! (`runs/submit` or `run-now`); from then on a run is a Databricks job run,
//! polled with `runs/get`, read with `runs/get-output`, cancelled with
//! `runs/cancel`, watched at its `run_page_url`.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use polysync_core::status::{RunStatus, observe_job_run};
use polysync_core::{Job, JobType, Platform, Run};
use polysync_databricks::models::{ListRunsRequest, Run as DbRun};
use serde::Serialize;
use serde_json::Value;

use crate::connection::{Connection, to_json};
use crate::error::{Operation, ProviderError, Result};
use crate::provider::{Polled, Submitted};
use crate::request::ApiRequest;

/// Sends the start request (raw, so the body is exactly the one built) and
/// reads `run_id` / `run_page_url`.
pub(crate) async fn submit(
    conn: &Connection,
    job: &Job,
    request: &ApiRequest,
) -> Result<Submitted> {
    let response = conn
        .call(request, Operation::Submit, job.job_type, &job.external_id)
        .await?;
    let run_id = response
        .get("run_id")
        .and_then(|v| {
            v.as_i64()
                .map(|n| n.to_string())
                .or_else(|| v.as_str().map(str::to_owned))
        })
        .ok_or_else(|| ProviderError::Unexpected {
            operation: Operation::Submit,
            target: job.external_id.clone(),
            message: "the response has no run_id".into(),
        })?;
    Ok(Submitted {
        databricks_run_id: run_id,
        run_page_url: response
            .get("run_page_url")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    })
}

/// One `runs/get`, plus the exit value and error of the single task once
/// the run is terminal.
pub(crate) async fn poll(conn: &Connection, job_type: JobType, run: &Run) -> Result<Polled> {
    let run_id = databricks_run_id(run)?;
    let target = run_id.to_string();
    let response = conn
        .client
        .jobs()
        .get_run(run_id)
        .await
        .map_err(ProviderError::api(Operation::Poll, job_type, &target))?;
    completed(conn, &response, Operation::Poll).await
}

/// `runs/cancel` (asynchronous in Databricks; the next poll sees the end).
pub(crate) async fn cancel(conn: &Connection, job_type: JobType, run: &Run) -> Result<()> {
    let run_id = databricks_run_id(run)?;
    conn.client
        .jobs()
        .cancel_run(run_id)
        .await
        .map_err(ProviderError::api(
            Operation::Cancel,
            job_type,
            run_id.to_string(),
        ))
}

/// The seed's job-run monitor URL rule: `run_page_url` verbatim, else
/// `{workspace}/#job/{run_id}/run/1`.
pub(crate) fn monitor_url(platform: &Platform, run: &Run, run_page_url: Option<&str>) -> String {
    polysync_core::monitor_url::job_run_url(
        platform.base_url(),
        run_page_url,
        run.databricks_run_id.as_deref().unwrap_or(""),
    )
}

fn databricks_run_id(run: &Run) -> Result<i64> {
    run.databricks_run_id
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or_else(|| ProviderError::Unexpected {
            operation: Operation::Poll,
            target: run.id.clone(),
            message: "the run has no numeric Databricks run id (it was never submitted)".into(),
        })
}

/// How far back, before the oldest run asked about, a batched listing
/// looks: Databricks' clock may lag Polysync's, and a run starts after it
/// was created in Polysync.
const LIST_SKEW_MS: i64 = 60_000;

/// The state of many job runs of one workspace from `jobs/runs/list`
/// (newest first, `expand_tasks` for the single task's run id), paging back
/// only until every wanted run was seen or the listing reaches runs started
/// before `since_ms`: one call for a screenful of runs instead of one
/// `runs/get` each. A run that ended is completed like a poll (exit value
/// and error of its single task from `runs/get-output`). Runs missing from
/// the listing (deleted, older than the window) are absent from the map.
pub(crate) async fn list_runs(
    conn: &Connection,
    wanted: &[&Run],
    since_ms: i64,
) -> Result<HashMap<String, Polled>> {
    let mut missing: HashSet<i64> = wanted
        .iter()
        .filter_map(|r| databricks_run_id(r).ok())
        .collect();
    let mut out = HashMap::new();
    if missing.is_empty() {
        return Ok(out);
    }
    let target = "runs/list".to_owned();
    let op = Operation::Poll;
    let mut stream = std::pin::pin!(conn.client.jobs().list_runs(ListRunsRequest {
        start_time_from: Some(since_ms - LIST_SKEW_MS),
        expand_tasks: true,
        limit: Some(25),
        ..ListRunsRequest::default()
    }));
    while !missing.is_empty() {
        let Some(item) = stream.try_next().await.map_err(ProviderError::api(
            op,
            JobType::DatabricksJob,
            &target,
        ))?
        else {
            break;
        };
        if !missing.remove(&item.run_id) {
            continue;
        }
        let polled = completed(conn, &item, op).await?;
        out.insert(item.run_id.to_string(), polled);
    }
    Ok(out)
}

/// A poll result from a run object (`runs/get` or a `runs/list` item),
/// with the single task's exit value and error once the run is terminal.
async fn completed(conn: &Connection, response: &DbRun, op: Operation) -> Result<Polled> {
    let target = response.run_id.to_string();
    let observation = observe_job_run(&to_json(response, op, &target)?);
    let mut polled = Polled {
        observation,
        exit_value: None,
        error: None,
    };
    if !polled
        .observation
        .status
        .is_some_and(RunStatus::is_terminal)
    {
        return Ok(polled);
    }
    // The exit value and the error live on the task run: a single-task
    // run's output is read by its task's run id (a multi-task parent is
    // refused by get-output, so workflows only keep the state message).
    if let [task] = response.tasks.as_slice()
        && task.run_id != 0
        && let Ok(out) = conn.client.jobs().get_run_output(task.run_id).await
    {
        polled.exit_value = out.notebook_output.and_then(|o| o.result);
        polled.error = out.error.filter(|s| !s.is_empty());
    }
    if polled.error.is_none()
        && matches!(
            polled.observation.status,
            Some(RunStatus::Failed | RunStatus::Cancelled)
        )
    {
        polled.error.clone_from(&polled.observation.state_message);
    }
    Ok(polled)
}

/// One task run of a multi-task (workflow) run, as `runs show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRun {
    /// The task's key in the job.
    pub task_key: String,
    /// The task run's own Databricks run id (what `runs/get-output` takes).
    pub run_id: String,
    /// Decoded status.
    pub status: RunStatus,
    /// `life_cycle_state` seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub life_cycle_state: Option<String>,
    /// `result_state` seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_state: Option<String>,
    /// The task's state message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
    /// Start, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// End, epoch ms (absent while running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// How long it ran (so far), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// The error `runs/get-output` gives for a failed task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error trace (stack trace) of a failed task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_trace: Option<String>,
    /// The task's `dbutils.notebook.exit()` value, when outputs were asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook_exit_value: Option<String>,
}

/// The task runs of a multi-task run (empty for a single-task run, whose
/// state is the run's own): `runs/get`, then `runs/get-output` of each
/// failed task for its error and trace, and of every ended task when
/// `outputs` (their notebook exit values). `now_ms` measures running tasks.
pub(crate) async fn task_runs(
    conn: &Connection,
    job_type: JobType,
    run: &Run,
    outputs: bool,
    now_ms: i64,
) -> Result<Vec<TaskRun>> {
    let run_id = databricks_run_id(run)?;
    let target = run_id.to_string();
    let response = conn
        .client
        .jobs()
        .get_run(run_id)
        .await
        .map_err(ProviderError::api(Operation::Output, job_type, &target))?;
    if response.tasks.len() < 2 {
        return Ok(Vec::new());
    }
    let mut tasks = Vec::with_capacity(response.tasks.len());
    for t in &response.tasks {
        let obs = observe_job_run(&to_json(t, Operation::Output, &target)?);
        let status = obs.status.unwrap_or(RunStatus::Unknown);
        let start = t.start_time.filter(|s| *s > 0);
        let end = t.end_time.filter(|e| *e > 0);
        let mut task = TaskRun {
            task_key: t.task_key.clone(),
            run_id: t.run_id.to_string(),
            status,
            life_cycle_state: obs.life_cycle_state,
            result_state: obs.result_state,
            state_message: obs.state_message,
            start_time: start,
            end_time: end,
            duration_ms: start.map(|s| (end.unwrap_or(now_ms) - s).max(0)),
            error: None,
            error_trace: None,
            notebook_exit_value: None,
        };
        let failed = status == RunStatus::Failed;
        if t.run_id != 0
            && (failed || (outputs && status.is_terminal()))
            && let Ok(out) = conn.client.jobs().get_run_output(t.run_id).await
        {
            task.error = out.error.filter(|s| !s.is_empty());
            task.error_trace = out.error_trace.filter(|s| !s.is_empty());
            task.notebook_exit_value = out.notebook_output.and_then(|o| o.result);
        }
        tasks.push(task);
    }
    Ok(tasks)
}
