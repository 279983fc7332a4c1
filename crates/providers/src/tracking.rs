//! The wire part of batched status tracking: what one workspace's job runs
//! look like through `runs/list`, read so that the cost of a tracking round
//! grows with the runs that *ended* since the last round, not with the runs
//! still active.
//!
//! - [`list_completed`]: `completed_only=true` is ordered by end time,
//!   newest first; it is paged only back to a watermark (the newest end time
//!   seen by the previous round).
//! - [`active_runs`]: `active_only=true`, every page, streamed: the slower
//!   sweep that sees state changes in between (PENDING → RUNNING).
//! - [`get_run`]: `runs/get`, only for a run neither listing showed.
//! - [`failure_detail`]: `runs/get-output` of the single task, only for a
//!   run that ended Failed / Cancelled (its error message).

use std::collections::HashMap;

use futures_util::TryStreamExt;
use polysync_core::JobType;
use polysync_core::status::{RunStatus, StateObservation, observe_job_run};
use polysync_databricks::models::{ListRunsRequest, Run as DbRun};

use crate::connection::{Connection, to_json};
use crate::error::{Operation, ProviderError, Result};

/// The page size `runs/list` allows at most (Jobs API 2.1).
const PAGE: u32 = 25;

/// One job run as a listing (or `runs/get`) showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Decoded state.
    pub observation: StateObservation,
    /// When the run ended (epoch ms), once it has.
    pub end_time: Option<i64>,
    /// The single task's run id (what `runs/get-output` takes), when the
    /// run has exactly one task.
    pub task_run_id: Option<i64>,
}

/// What a [`list_completed`] round saw.
#[derive(Debug, Clone, Default)]
pub struct Completed {
    /// Ended runs by Databricks run id.
    pub runs: HashMap<String, Listed>,
    /// The watermark for the next round: the newest end time seen (or the
    /// previous one when nothing ended).
    pub watermark: Option<i64>,
    /// Pages read.
    pub pages: usize,
}

fn listed(run: &DbRun, op: Operation) -> Result<Listed> {
    let target = run.run_id.to_string();
    // Only what `observe_job_run` reads goes through JSON, not each run's
    // tasks, clusters and parameters.
    let observed = DbRun {
        state: run.state.clone(),
        status: run.status.clone(),
        run_page_url: run.run_page_url.clone(),
        start_time: run.start_time,
        ..DbRun::default()
    };
    Ok(Listed {
        observation: observe_job_run(&to_json(&observed, op, &target)?),
        end_time: run.end_time.filter(|t| *t > 0),
        task_run_id: match run.tasks.as_slice() {
            [task] if task.run_id != 0 => Some(task.run_id),
            _ => None,
        },
    })
}

fn list_error(e: polysync_databricks::Error) -> ProviderError {
    ProviderError::api(Operation::Poll, JobType::DatabricksJob, "runs/list")(e)
}

/// Runs that ended at or after `watermark`, newest first, reading pages
/// only until the listing reaches an end time older than the watermark.
/// Without a watermark (the first round) only the first page is read: it
/// sets the watermark, and runs that ended before it are found by the
/// caller's `runs/get` of what no listing showed.
pub async fn list_completed(conn: &Connection, watermark: Option<i64>) -> Result<Completed> {
    let max_pages = if watermark.is_some() { usize::MAX } else { 1 };
    read_completed(conn, watermark, max_pages).await
}

/// The first round's listing when the runs to track are known: runs that
/// ended at or after `floor` (none of them can have ended before the
/// oldest was created), at most `max_pages` pages. A page shows 25 ended
/// runs for one request, where finding each by `runs/get` costs one
/// request per run under that endpoint's budget; with `max_pages` at most
/// the runs still to find, it never costs more requests than the reads it
/// saves.
pub async fn list_completed_since(
    conn: &Connection,
    floor: i64,
    max_pages: usize,
) -> Result<Completed> {
    read_completed(conn, Some(floor), max_pages.max(1)).await
}

async fn read_completed(
    conn: &Connection,
    watermark: Option<i64>,
    max_pages: usize,
) -> Result<Completed> {
    let mut out = Completed {
        watermark,
        ..Completed::default()
    };
    let mut stream = std::pin::pin!(conn.client.jobs().list_runs(ListRunsRequest {
        completed_only: true,
        expand_tasks: true,
        limit: Some(PAGE),
        ..ListRunsRequest::default()
    }));
    let mut seen = 0usize;
    loop {
        if seen.is_multiple_of(PAGE as usize) && out.pages >= max_pages {
            break;
        }
        let Some(item) = stream.try_next().await.map_err(list_error)? else {
            break;
        };
        if seen.is_multiple_of(PAGE as usize) {
            out.pages += 1;
        }
        seen += 1;
        let l = listed(&item, Operation::Poll)?;
        let end = l.end_time.unwrap_or(0);
        if watermark.is_some_and(|w| end < w) {
            break;
        }
        out.watermark = Some(out.watermark.map_or(end, |w| w.max(end)));
        out.runs.insert(item.run_id.to_string(), l);
    }
    Ok(out)
}

/// Every active run of the workspace (all pages of `active_only=true`),
/// as a stream: the caller handles each run as its page arrives instead of
/// holding the whole listing (10,000 runs are 400 pages), and can do other
/// work between pages (look for ends while a long sweep is read).
pub fn active_runs(
    conn: &Connection,
) -> impl futures_util::Stream<Item = Result<(String, Listed)>> + Send + 'static {
    conn.client
        .jobs()
        .list_runs(ListRunsRequest {
            active_only: true,
            expand_tasks: true,
            limit: Some(PAGE),
            ..ListRunsRequest::default()
        })
        .map_err(list_error)
        .and_then(
            |item| async move { Ok((item.run_id.to_string(), listed(&item, Operation::Poll)?)) },
        )
}

/// One `runs/get`: for a run neither listing showed (ended before the
/// watermark window, or a listing lagging behind).
pub async fn get_run(conn: &Connection, databricks_run_id: &str) -> Result<Listed> {
    let id = databricks_run_id
        .trim()
        .parse::<i64>()
        .map_err(|_| ProviderError::Unexpected {
            operation: Operation::Poll,
            target: databricks_run_id.to_owned(),
            message: "not a numeric Databricks run id".into(),
        })?;
    let run = conn
        .client
        .jobs()
        .get_run(id)
        .await
        .map_err(ProviderError::api(
            Operation::Poll,
            JobType::DatabricksJob,
            databricks_run_id,
        ))?;
    listed(&run, Operation::Poll)
}

/// Whether a run that ended this way needs a detail read for its message.
pub fn needs_detail(listed: &Listed) -> bool {
    matches!(
        listed.observation.status,
        Some(RunStatus::Failed | RunStatus::Cancelled)
    )
}

/// The failure message of an ended run: its single task's output `error`
/// (one `runs/get-output`), else the state message. A failed read falls
/// back to the state message rather than failing the round.
pub async fn failure_detail(conn: &Connection, listed: &Listed) -> Option<String> {
    if let Some(task) = listed.task_run_id
        && let Ok(out) = conn.client.jobs().get_run_output(task).await
        && let Some(e) = out.error.filter(|s| !s.is_empty())
    {
        return Some(e);
    }
    listed.observation.state_message.clone()
}
