//! The one run-based implementation shared by the notebook, job and
//! workflow providers: they differ only in how the run starts
//! (`runs/submit` or `run-now`); from then on a run is a Databricks job run,
//! polled with `runs/get`, read with `runs/get-output`, cancelled with
//! `runs/cancel`, watched at its `run_page_url`.

use polysync_core::status::{RunStatus, observe_job_run};
use polysync_core::{Job, JobType, Platform, Run};
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
    let observation = observe_job_run(&to_json(&response, Operation::Poll, &target)?);
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
