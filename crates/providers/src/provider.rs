//! The provider of each job type, as one enum: the set of job types is
//! closed, so a `match` replaces trait objects and boxed futures, and every
//! future stays `Send` for the engine's spawned tasks.

use polysync_core::status::{StateObservation, observe_job_run, observe_pipeline_update};
use polysync_core::{Job, JobType, Platform, Run};
use serde_json::Value;

use crate::connection::Connection;
use crate::error::Result;
use crate::job_run::TaskRun;
use crate::progress::{Discovery, ImportProgress, Skipped};
use crate::request::ApiRequest;
use crate::{job, job_run, notebook, pipeline};

/// What the submit call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Databricks run id, or `{pipeline_id}:{update_id}`.
    pub databricks_run_id: String,
    /// `run_page_url` when the response carried one.
    pub run_page_url: Option<String>,
}

/// What one poll saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    /// Decoded states.
    pub observation: StateObservation,
    /// `dbutils.notebook.exit()` value, fetched once the run ended.
    pub exit_value: Option<String>,
    /// The failure message Databricks gave (run output `error`, state
    /// message), raw; the engine translates it.
    pub error: Option<String>,
}

/// One job type's behaviour: discover (import), describe (sync-params),
/// build the request (pure), submit, poll, cancel, monitor URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Databricks Notebook: `runs/submit` of a one-task run.
    Notebook,
    /// Databricks Job: `run-now`, parameters mapped by the task type.
    Job,
    /// Databricks Workflow: `run-now` with `job_parameters` only.
    Workflow,
    /// Databricks Pipeline (DLT): updates, stop.
    Pipeline,
    /// Arazzo Workflow: nothing to send to Databricks — the engine runs it
    /// in process, so every wire operation here is refused (the engine
    /// never routes such a run to a provider).
    Arazzo,
}

/// The refusal of a Databricks operation on a run the engine executes itself.
fn in_process(target: &str) -> crate::ProviderError {
    crate::ProviderError::Refused {
        target: target.to_owned(),
        message: format!(
            "{target} is an Arazzo Workflow: Polysync runs it in process, there is no Databricks run or job behind it (to refresh its parameters, re-import the file: polysync arazzo import FILE --platform NAME)"
        ),
    }
}

impl From<JobType> for Provider {
    fn from(job_type: JobType) -> Self {
        match job_type {
            JobType::DatabricksNotebook => Provider::Notebook,
            JobType::DatabricksJob => Provider::Job,
            JobType::DatabricksWorkflow => Provider::Workflow,
            JobType::DatabricksPipeline => Provider::Pipeline,
            JobType::ArazzoWorkflow => Provider::Arazzo,
        }
    }
}

/// The provider of a job type.
pub fn provider_for(job_type: JobType) -> Provider {
    Provider::from(job_type)
}

impl Provider {
    /// The job type served.
    pub fn job_type(self) -> JobType {
        match self {
            Provider::Notebook => JobType::DatabricksNotebook,
            Provider::Job => JobType::DatabricksJob,
            Provider::Workflow => JobType::DatabricksWorkflow,
            Provider::Pipeline => JobType::DatabricksPipeline,
            Provider::Arazzo => JobType::ArazzoWorkflow,
        }
    }

    /// Every job of this type on the platform.
    pub async fn discover(
        self,
        conn: &Connection,
        progress: &dyn ImportProgress,
    ) -> Result<Discovery> {
        match self {
            Provider::Notebook => notebook::discover(conn, progress).await,
            Provider::Job | Provider::Workflow => {
                job::discover(conn, progress, Some(self.job_type())).await
            }
            Provider::Pipeline => pipeline::discover(conn, progress).await,
            Provider::Arazzo => Err(in_process("an Arazzo Workflow")),
        }
    }

    /// One job's current definition (parameter schema) from Databricks,
    /// for sync-params.
    pub async fn describe(self, conn: &Connection, external_id: &str) -> Result<Job> {
        match self {
            Provider::Notebook => notebook::describe(conn, external_id).await,
            Provider::Job | Provider::Workflow => {
                job::describe(conn, self.job_type(), external_id).await
            }
            Provider::Pipeline => pipeline::describe(conn, external_id).await,
            Provider::Arazzo => Err(in_process(external_id)),
        }
    }

    /// The submit request for `job` (pure): its current/default parameter
    /// values, the platform's compute, the idempotency token. Built before
    /// anything is sent, so a refused value never reaches Databricks.
    pub fn build_request(
        self,
        platform: &Platform,
        job: &Job,
        idempotency_token: &str,
    ) -> polysync_core::Result<ApiRequest> {
        match self {
            Provider::Notebook => notebook::build_request(platform, job, idempotency_token),
            Provider::Job | Provider::Workflow => {
                job::build_request(platform, job, idempotency_token)
            }
            Provider::Pipeline => pipeline::build_request(job),
            Provider::Arazzo => Err(polysync_core::Error::InvalidJob {
                field: "job_type",
                message: format!(
                    "{} is an Arazzo Workflow, run in process: it has no Databricks request",
                    job.name
                ),
            }),
        }
    }

    /// Sends a request built by [`Provider::build_request`].
    pub async fn submit(
        self,
        conn: &Connection,
        job: &Job,
        request: &ApiRequest,
    ) -> Result<Submitted> {
        match self {
            Provider::Pipeline => pipeline::submit(conn, job, request).await,
            Provider::Arazzo => Err(in_process(&job.name)),
            _ => job_run::submit(conn, job, request).await,
        }
    }

    /// After a start whose answer was lost (`attempted_ms` = when it was
    /// sent), the run it created, for job types whose start carries no
    /// idempotency token (pipelines); `None` for the run-based types, whose
    /// re-send under the same token is itself the recovery.
    pub async fn find_started(
        self,
        conn: &Connection,
        job: &Job,
        attempted_ms: i64,
    ) -> Result<Option<Submitted>> {
        match self {
            Provider::Pipeline => pipeline::find_started(conn, job, attempted_ms).await,
            _ => Ok(None),
        }
    }

    /// Decodes a status response (pure).
    pub fn decode_status(self, response: &Value) -> StateObservation {
        match self {
            Provider::Pipeline => observe_pipeline_update(response),
            _ => observe_job_run(response),
        }
    }

    /// One status poll (plus the exit value once terminal).
    pub async fn poll(self, conn: &Connection, run: &Run) -> Result<Polled> {
        match self {
            Provider::Pipeline => pipeline::poll(conn, run).await,
            Provider::Arazzo => Err(in_process(&run.id)),
            _ => job_run::poll(conn, self.job_type(), run).await,
        }
    }

    /// Cancels the run in Databricks.
    pub async fn cancel(self, conn: &Connection, run: &Run) -> Result<()> {
        match self {
            Provider::Pipeline => pipeline::cancel(conn, run).await,
            Provider::Arazzo => Err(in_process(&run.id)),
            _ => job_run::cancel(conn, self.job_type(), run).await,
        }
    }

    /// The task runs of a multi-task run, with the error and trace of
    /// failed tasks (and every ended task's exit value when `outputs`);
    /// empty for pipelines and single-task runs.
    pub async fn task_runs(
        self,
        conn: &Connection,
        run: &Run,
        outputs: bool,
        now_ms: i64,
    ) -> Result<Vec<TaskRun>> {
        match self {
            Provider::Pipeline | Provider::Arazzo => Ok(Vec::new()),
            _ => job_run::task_runs(conn, self.job_type(), run, outputs, now_ms).await,
        }
    }

    /// Where to watch the run: `run_page_url` verbatim, else the seed's
    /// fallback.
    pub fn monitor_url(self, platform: &Platform, run: &Run, run_page_url: Option<&str>) -> String {
        match self {
            Provider::Pipeline => pipeline::monitor_url(platform, run),
            _ => job_run::monitor_url(platform, run, run_page_url),
        }
    }
}

/// The current state of many runs of one platform, batched: one
/// `jobs/runs/list` listing for every notebook, job and workflow run, and
/// one updates listing per pipeline, instead of a `runs/get` per run.
/// Keyed by the run's Databricks run id; runs the listings did not show
/// (deleted, or too old for the window) are absent, for the caller to poll
/// one by one.
pub async fn observe_runs(
    conn: &Connection,
    runs: &[&Run],
) -> Result<std::collections::HashMap<String, Polled>> {
    let since = |rs: &[&Run]| rs.iter().map(|r| r.created_at).min().unwrap_or(0);
    let (pipelines, job_runs): (Vec<&Run>, Vec<&Run>) = runs
        .iter()
        .copied()
        .filter(|r| r.databricks_run_id.is_some() && !r.job_type.runs_in_process())
        .partition(|r| r.job_type == JobType::DatabricksPipeline);
    let mut out = job_run::list_runs(conn, &job_runs, since(&job_runs)).await?;
    let mut by_pipeline: std::collections::BTreeMap<&str, Vec<&Run>> =
        std::collections::BTreeMap::new();
    for r in pipelines {
        by_pipeline
            .entry(r.job_external_id.as_str())
            .or_default()
            .push(r);
    }
    for (pipeline_id, rs) in by_pipeline {
        out.extend(pipeline::list_updates(conn, pipeline_id, &rs, since(&rs)).await?);
    }
    Ok(out)
}

/// The listings an import walks, each of which may fail on its own.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Notebooks,
    Jobs,
    Pipelines,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Notebooks, Kind::Jobs, Kind::Pipelines];

    fn job_types(self) -> &'static [JobType] {
        match self {
            Kind::Notebooks => &[JobType::DatabricksNotebook],
            Kind::Jobs => &[JobType::DatabricksJob, JobType::DatabricksWorkflow],
            Kind::Pipelines => &[JobType::DatabricksPipeline],
        }
    }

    fn listing(self) -> &'static str {
        match self {
            Kind::Notebooks => "notebooks",
            Kind::Jobs => "jobs",
            Kind::Pipelines => "pipelines",
        }
    }
}

/// Discovers every job on a platform: notebooks, then jobs and workflows
/// (one `jobs/list` shared by both types), then pipelines.
pub async fn discover_platform(
    conn: &Connection,
    progress: &dyn ImportProgress,
) -> Result<Discovery> {
    let mut all = Discovery::default();
    let mut failures = Vec::new();
    for kind in Kind::ALL {
        let found = match kind {
            Kind::Notebooks => notebook::discover(conn, progress).await,
            Kind::Jobs => job::discover(conn, progress, None).await,
            Kind::Pipelines => pipeline::discover(conn, progress).await,
        };
        match found {
            Ok(d) => all.extend(d),
            Err(e) => {
                // A kind the workspace refuses (DLT not enabled: 404/501;
                // no permission: 403) is skipped, the others imported.
                for t in kind.job_types() {
                    all.skipped.push(Skipped {
                        job_type: *t,
                        object: kind.listing().to_owned(),
                        reason: e.to_string(),
                        whole_kind: true,
                    });
                }
                failures.push(e);
            }
        }
    }
    if failures.len() == Kind::ALL.len() {
        // Nothing could be listed at all (bad credentials, host down): that
        // is a failed import, not a partial one.
        return Err(failures.remove(0));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    fn assert_send<T: Send>(_: &T) {}

    /// Compile-time check: the engine awaits these futures inside
    /// `tokio::spawn`ed tasks (and later axum handlers), so they must be
    /// `Send`. Never called; type-checking it is the test.
    #[allow(dead_code)]
    fn engine_facing_futures_are_send(p: Provider, conn: &Connection, job: &Job, run: &Run) {
        let req = ApiRequest::get(String::new(), Vec::new());
        assert_send(&discover_platform(conn, &NoProgress));
        assert_send(&p.discover(conn, &NoProgress));
        assert_send(&p.describe(conn, "x"));
        assert_send(&p.submit(conn, job, &req));
        assert_send(&p.poll(conn, run));
        assert_send(&p.cancel(conn, run));
    }

    #[test]
    fn provider_round_trips_job_type() {
        for t in [
            JobType::DatabricksNotebook,
            JobType::DatabricksJob,
            JobType::DatabricksWorkflow,
            JobType::DatabricksPipeline,
        ] {
            assert_eq!(provider_for(t).job_type(), t);
        }
    }
}
