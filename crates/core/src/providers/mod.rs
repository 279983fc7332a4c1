//! One provider per job type behind one trait: discover (import), build the
//! request body (pure), submit, decode status, cancel, monitor URL.
//!
//! Providers call the Databricks client and feed its JSON through the pure
//! rules of this crate; they never touch the store, so the engine decides
//! what is persisted and when. Raw JSON (`request_json`-style calls) is used
//! on purpose: the seeds' rules are written against the wire shapes, and the
//! exact bodies we send are asserted in tests.

pub mod job;
pub mod notebook;
pub mod pipeline;
pub mod workflow;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use polysync_databricks::{DatabricksClient, Idempotency, Method};
use serde_json::Value;

use crate::job::{Job, JobType};
use crate::platform::Platform;
use crate::run::Run;
use crate::status::StateObservation;

/// A boxed, sendable future: keeps the trait object-safe without a macro
/// crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Provider result.
pub type Result<T> = std::result::Result<T, ProviderError>;

/// What the provider was doing when Databricks answered with an error; the
/// engine's troubleshooting translation keys on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Listing objects during import.
    Discover,
    /// Reading one object's definition (import detail, sync-params).
    Describe,
    /// Starting a run / update.
    Submit,
    /// Reading a run's state.
    Poll,
    /// Reading a finished run's output.
    Output,
    /// Cancelling / stopping.
    Cancel,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Discover => "discovering",
            Operation::Describe => "reading",
            Operation::Submit => "starting",
            Operation::Poll => "polling",
            Operation::Output => "reading the output of",
            Operation::Cancel => "cancelling",
        })
    }
}

/// Why a provider call failed. Kept separate from the domain error because
/// it carries the client error (not `Clone`/`Eq`) and the context the
/// engine needs to translate it into a cause and a fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// A domain rule refused the job or its values (nothing was sent).
    #[error(transparent)]
    Domain(#[from] crate::Error),
    /// Databricks answered with an error or could not be reached.
    #[error("{operation} {job_type} {target}: {source}")]
    Api {
        /// What we were doing.
        operation: Operation,
        /// Which provider.
        job_type: JobType,
        /// The External Id / run id addressed.
        target: String,
        /// The client error (status, `error_code`, message).
        #[source]
        source: Box<polysync_databricks::Error>,
    },
    /// The provider refused to act because it would affect something the
    /// run does not own (e.g. stopping another pipeline update).
    #[error("{message}")]
    Refused {
        /// The External Id / run id addressed.
        target: String,
        /// Why, and what to do instead.
        message: String,
    },
    /// Databricks answered 2xx with a body we cannot use.
    #[error("unexpected response while {operation} {target}: {message}")]
    Unexpected {
        /// What we were doing.
        operation: Operation,
        /// The External Id / run id addressed.
        target: String,
        /// What was missing.
        message: String,
    },
}

impl ProviderError {
    /// The Databricks client error, when this is an API failure.
    pub fn api_error(&self) -> Option<&polysync_databricks::Error> {
        match self {
            ProviderError::Api { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// A platform plus an authenticated client for it: everything a provider
/// needs to talk to one workspace.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The platform (compute, default path, Jobs API version, URL).
    pub platform: Platform,
    /// The client built from the platform's own credentials.
    pub client: DatabricksClient,
}

impl Connection {
    /// `/api/{2.1|2.2}/jobs/{op}`: the Jobs API version comes from the
    /// platform so a 2.2-only workspace is usable.
    pub fn jobs_path(&self, op: &str) -> String {
        jobs_path(&self.platform, op)
    }

    /// One JSON call with the right idempotency class, the error wrapped
    /// with its context.
    pub(crate) async fn call(
        &self,
        req: &ApiRequest,
        operation: Operation,
        job_type: JobType,
        target: &str,
    ) -> Result<Value> {
        let query: Vec<(&str, String)> = req
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let idem = if req.idempotent {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        self.client
            .request::<Value, Value>(
                req.method.clone(),
                &req.path,
                &query,
                req.body.as_ref(),
                idem,
            )
            .await
            .map_err(|source| ProviderError::Api {
                operation,
                job_type,
                target: target.to_owned(),
                source: Box::new(source),
            })
    }
}

/// `/api/{version}/jobs/{op}` for a platform.
pub fn jobs_path(platform: &Platform, op: &str) -> String {
    format!("/api/{}/jobs/{op}", platform.jobs_api_version.as_str())
}

/// A request a provider will send: built purely (unit-testable), sent by
/// [`Provider::submit`].
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path under the workspace URL.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Value>,
    /// Safe to retry after a lost response (GETs, and run submissions that
    /// carry an `idempotency_token`).
    pub idempotent: bool,
}

impl ApiRequest {
    fn get(path: String, query: Vec<(String, String)>) -> Self {
        Self {
            method: Method::GET,
            path,
            query,
            body: None,
            idempotent: true,
        }
    }

    fn post(path: String, body: Value, idempotent: bool) -> Self {
        Self {
            method: Method::POST,
            path,
            query: Vec::new(),
            body: Some(body),
            idempotent,
        }
    }
}

/// Receives discovery progress (the CLI's progress bar); every method has a
/// no-op default. The engine re-exports it as `ImportProgress`.
pub trait ImportProgress: Send + Sync {
    /// A new phase started, e.g. "listing notebooks under /".
    fn phase(&self, _message: &str) {}
    /// One job was discovered.
    fn discovered(&self, _job_type: JobType, _name: &str) {}
    /// The number of jobs to discover, when known.
    fn total(&self, _n: u64) {}
}

/// An [`ImportProgress`] that ignores everything (scripts, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ImportProgress for NoProgress {}

/// What discovery found: the jobs, and warnings a user can act on (e.g.
/// widgets declared where the importer cannot see them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Jobs found, with their parameter schemas.
    pub jobs: Vec<Job>,
    /// Human-readable warnings naming the object and the fix.
    pub warnings: Vec<String>,
}

impl Discovery {
    fn extend(&mut self, other: Discovery) {
        self.jobs.extend(other.jobs);
        self.warnings.extend(other.warnings);
    }
}

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

/// One job type's behaviour.
pub trait Provider: Send + Sync {
    /// The job type served.
    fn job_type(&self) -> JobType;

    /// Every job of this type on the platform.
    fn discover<'a>(
        &'a self,
        conn: &'a Connection,
        progress: &'a dyn ImportProgress,
    ) -> BoxFuture<'a, Result<Discovery>>;

    /// One job's current definition (parameter schema) from Databricks,
    /// for sync-params.
    fn describe<'a>(
        &'a self,
        conn: &'a Connection,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Job>>;

    /// The submit request for `job` (pure): its current/default parameter
    /// values, the platform's compute, the idempotency token.
    fn build_request(
        &self,
        platform: &Platform,
        job: &Job,
        idempotency_token: &str,
    ) -> crate::Result<ApiRequest>;

    /// Sends a request built by [`Provider::build_request`].
    fn submit<'a>(
        &'a self,
        conn: &'a Connection,
        job: &'a Job,
        request: &'a ApiRequest,
    ) -> BoxFuture<'a, Result<Submitted>>;

    /// Decodes a status response (pure).
    fn decode_status(&self, response: &Value) -> StateObservation;

    /// One status poll (plus the exit value once terminal).
    fn poll<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<Polled>>;

    /// Cancels the run in Databricks.
    fn cancel<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<()>>;

    /// Where to watch the run: `run_page_url` verbatim, else the seed's
    /// fallback.
    fn monitor_url(&self, platform: &Platform, run: &Run, run_page_url: Option<&str>) -> String;
}

static NOTEBOOK: notebook::NotebookProvider = notebook::NotebookProvider;
static JOB: job::JobProvider = job::JobProvider;
static WORKFLOW: workflow::WorkflowProvider = workflow::WorkflowProvider;
static PIPELINE: pipeline::PipelineProvider = pipeline::PipelineProvider;

/// The provider of a job type.
pub fn provider_for(job_type: JobType) -> &'static dyn Provider {
    match job_type {
        JobType::DatabricksNotebook => &NOTEBOOK,
        JobType::DatabricksJob => &JOB,
        JobType::DatabricksWorkflow => &WORKFLOW,
        JobType::DatabricksPipeline => &PIPELINE,
    }
}

/// Discovers every job on a platform: notebooks, then jobs and workflows
/// (one `jobs/list` shared by both types), then pipelines.
pub async fn discover_platform(
    conn: &Connection,
    progress: &dyn ImportProgress,
) -> Result<Discovery> {
    let mut all = NOTEBOOK.discover(conn, progress).await?;
    all.extend(job::discover_jobs(conn, progress, None).await?);
    all.extend(PIPELINE.discover(conn, progress).await?);
    Ok(all)
}

/// Shared run-now/runs-submit status poll for the three run-based types.
pub(crate) async fn poll_job_run(
    conn: &Connection,
    job_type: JobType,
    run: &Run,
) -> Result<Polled> {
    let run_id = databricks_job_run_id(run)?;
    let req = ApiRequest::get(
        conn.jobs_path("runs/get"),
        vec![("run_id".into(), run_id.to_string())],
    );
    let response = conn
        .call(&req, Operation::Poll, job_type, &run_id.to_string())
        .await?;
    let observation = crate::status::observe_job_run(&response);
    let mut polled = Polled {
        observation,
        exit_value: None,
        error: None,
    };
    let terminal = polled
        .observation
        .status
        .is_some_and(crate::status::RunStatus::is_terminal);
    if !terminal {
        return Ok(polled);
    }
    // The exit value and the error live on the task run: a single-task
    // run's output is read by its task's run id (a multi-task parent is
    // refused by get-output, so workflows only keep the state message).
    let tasks = response
        .get("tasks")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if tasks.len() == 1
        && let Some(task_run_id) = tasks[0].get("run_id").and_then(Value::as_i64)
    {
        let req = ApiRequest::get(
            conn.jobs_path("runs/get-output"),
            vec![("run_id".into(), task_run_id.to_string())],
        );
        if let Ok(out) = conn
            .call(&req, Operation::Output, job_type, &task_run_id.to_string())
            .await
        {
            polled.exit_value = out
                .pointer("/notebook_output/result")
                .and_then(Value::as_str)
                .map(str::to_owned);
            polled.error = out
                .get("error")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
        }
    }
    if polled.error.is_none()
        && matches!(
            polled.observation.status,
            Some(crate::status::RunStatus::Failed | crate::status::RunStatus::Cancelled)
        )
    {
        polled.error.clone_from(&polled.observation.state_message);
    }
    Ok(polled)
}

/// Shared `runs/cancel` for the three run-based types.
pub(crate) async fn cancel_job_run(conn: &Connection, job_type: JobType, run: &Run) -> Result<()> {
    let run_id = databricks_job_run_id(run)?;
    let req = ApiRequest::post(
        conn.jobs_path("runs/cancel"),
        serde_json::json!({ "run_id": run_id }),
        true,
    );
    conn.call(&req, Operation::Cancel, job_type, &run_id.to_string())
        .await?;
    Ok(())
}

/// Shared submit: send and read `run_id` / `run_page_url`.
pub(crate) async fn submit_job_run(
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

fn databricks_job_run_id(run: &Run) -> Result<i64> {
    run.databricks_run_id
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or_else(|| ProviderError::Unexpected {
            operation: Operation::Poll,
            target: run.id.clone(),
            message: "the run has no numeric Databricks run id (it was never submitted)".into(),
        })
}

/// The seed's job-run monitor URL rule, shared by notebook/job/workflow.
pub(crate) fn job_monitor_url(
    platform: &Platform,
    run: &Run,
    run_page_url: Option<&str>,
) -> String {
    crate::monitor_url::job_run_url(
        platform.base_url(),
        run_page_url,
        run.databricks_run_id.as_deref().unwrap_or(""),
    )
}
