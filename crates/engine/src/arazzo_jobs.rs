//! Arazzo Workflow jobs: importing an Arazzo file as jobs (workflow inputs
//! become Input parameters, outputs Output parameters) and executing their
//! runs in process. A run is started by [`Engine::submit_run`] like any
//! other; here it becomes a task of this process that calls the API the
//! workflow describes (against the job's platform URL and credentials),
//! heartbeats the run row every [`HEARTBEAT`], and stores the outcome and
//! outputs. A run found Running whose heartbeat expired (its process died)
//! ends Failed with a message: an API call sequence is not idempotent, so it
//! is never silently run again.

use std::time::Duration;

use polysync_core::{DataType, Direction, Job, JobType, Parameter, Run, RunStatus};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Engine, Error, Result};

/// How often an in-process run writes its heartbeat on the run row.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A Running in-process run whose heartbeat is older than this is dead.
pub const HEARTBEAT_EXPIRY: Duration = Duration::from_secs(30);

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What `arazzo import` did, by job name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArazzoImport {
    /// The document's location as stored (absolute `file://` URL or http URL).
    pub location: String,
    /// The platform whose URL and credentials the workflows run against.
    pub platform: String,
    /// Jobs created.
    pub added: Vec<String>,
    /// Jobs whose parameters changed.
    pub updated: Vec<String>,
    /// Jobs found as imported before.
    pub unchanged: Vec<String>,
}

/// An invalid or unreadable Arazzo document, naming the file.
fn invalid(file: &str, message: impl std::fmt::Display) -> Error {
    Error::Conflict(format!("cannot import Arazzo file {file}: {message}"))
}

/// The stored location of `file`: an http(s) URL as given, a local path
/// made absolute and canonical (so `./a.yaml` and `/x/a.yaml` are one job).
pub fn arazzo_location(file: &str) -> Result<String> {
    if file.starts_with("http://") || file.starts_with("https://") || file.starts_with("file://") {
        return Ok(file.to_owned());
    }
    let path = std::fs::canonicalize(file).map_err(|e| invalid(file, e))?;
    url::Url::from_file_path(&path)
        .map(|u| u.to_string())
        .map_err(|()| invalid(file, "not a valid path"))
}

/// Splits an Arazzo job's External Id into (location, workflowId).
fn split_external(external_id: &str) -> Option<(&str, &str)> {
    external_id.rsplit_once('#')
}

/// The Polysync data type of a JSON-schema property.
fn data_type_of(schema: &Value) -> DataType {
    let ty = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        Some(Value::String(t)) => t.as_str(),
        _ => "string",
    };
    match (ty, schema.get("format").and_then(Value::as_str)) {
        ("string", Some("date")) => DataType::Date,
        ("string", Some("date-time")) => DataType::DateTime,
        ("number" | "integer", _) => DataType::Number,
        ("boolean", _) => DataType::Bool,
        ("object" | "array", _) => DataType::Json,
        _ => DataType::String,
    }
}

/// A JSON default as a parameter value.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The job for one workflow of a loaded document.
fn workflow_job(
    bundle: &polysync_arazzo::Bundle,
    index: usize,
    location: &str,
    platform: &str,
) -> Job {
    let wf = &bundle.root().doc.workflows[index];
    let id = wf.id().to_owned();
    let mut job = Job::new(
        id.clone(),
        JobType::ArazzoWorkflow,
        format!("{location}#{id}"),
        platform,
    );
    let schema = wf
        .inputs
        .as_ref()
        .map(|s| polysync_arazzo::inputs::resolve_schema(s, &bundle.root().raw))
        .unwrap_or(Value::Null);
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            // Secrets (token, password, ...) are never stored: the run fills
            // them from the platform's credentials.
            if polysync_arazzo::inputs::is_secret_name(name) {
                continue;
            }
            let mut p = Parameter::input(name.clone(), prop.get("default").and_then(value_text));
            p.data_type = data_type_of(prop);
            p.choices = prop
                .get("enum")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().filter_map(value_text).collect())
                .unwrap_or_default();
            job.parameters.push(p);
        }
    }
    for name in wf.outputs.keys() {
        let mut p = Parameter::input(name.clone(), None);
        p.direction = Direction::Output;
        job.parameters.push(p);
    }
    job
}

impl Engine {
    /// Imports the workflows of an Arazzo document (all, or `workflow`) as
    /// Arazzo Workflow jobs on `platform`, and stores a snapshot of the
    /// document and its sources, which runs execute. Re-importing the same
    /// file and workflow updates the job's parameters (user values kept);
    /// an unreadable or invalid document is refused before anything is
    /// stored.
    pub async fn import_arazzo(
        &self,
        file: &str,
        platform: &str,
        workflow: Option<&str>,
    ) -> Result<ArazzoImport> {
        let platform = self.get_platform(platform).await?.name;
        let location = arazzo_location(file)?;
        let (bundle, files) = polysync_arazzo::load_recorded(&location)
            .await
            .map_err(|e| invalid(file, e))?;
        let problems: Vec<String> =
            polysync_arazzo::validate(&bundle, polysync_arazzo::Mode::Compatible)
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect();
        if !problems.is_empty() {
            return Err(invalid(file, problems.join("; ")));
        }
        let indexes: Vec<usize> = match workflow {
            Some(id) => vec![
                polysync_arazzo::pick_workflow(&bundle, Some(id)).map_err(|e| invalid(file, e))?,
            ],
            None => (0..bundle.root().doc.workflows.len()).collect(),
        };
        if indexes.is_empty() {
            return Err(invalid(file, "the document declares no workflow"));
        }
        let jobs: Vec<Job> = indexes
            .iter()
            .map(|i| workflow_job(&bundle, *i, &location, &platform))
            .collect();
        // Every refusal before the first write: nothing half-imported.
        let mut existing = Vec::with_capacity(jobs.len());
        for job in &jobs {
            job.validate()?;
            let same = self
                .inner
                .store
                .find_job_by_external(&platform, &job.external_id)
                .await?
                .filter(|j| j.job_type == JobType::ArazzoWorkflow);
            if same.is_none()
                && let Some(other) = self.inner.store.find_job(&job.name).await?
            {
                return Err(Error::Conflict(format!(
                    "cannot import workflow {:?} of {file}: the job name {:?} is taken by {} {}:{}; remove or rename that job first",
                    job.name, job.name, other.job_type, other.platform, other.external_id
                )));
            }
            existing.push(same);
        }
        self.inner
            .store
            .save_arazzo_document(&location, &files)
            .await?;
        let mut report = ArazzoImport {
            location,
            platform,
            ..ArazzoImport::default()
        };
        for (job, same) in jobs.into_iter().zip(existing) {
            match same {
                None => {
                    let added = self.inner.store.add_job(&job).await?;
                    report.added.push(added.name);
                }
                Some(old) => {
                    let schema = |ps: &[Parameter]| {
                        ps.iter()
                            .map(|p| {
                                (
                                    p.name.clone(),
                                    p.data_type,
                                    p.direction,
                                    p.default_value.clone(),
                                    p.choices.clone(),
                                )
                            })
                            .collect::<Vec<_>>()
                    };
                    if schema(&old.parameters) == schema(&job.parameters) {
                        report.unchanged.push(old.name);
                    } else {
                        self.inner
                            .store
                            .update_job_parameters(&old.name, job.parameters, None)
                            .await?;
                        report.updated.push(old.name);
                    }
                }
            }
        }
        Ok(report)
    }

    /// Sync Parameters of an Arazzo job: re-imports its file (a new
    /// snapshot) and reports the parameters added and removed.
    pub(crate) async fn sync_arazzo_params(&self, job: &Job) -> Result<crate::SyncReport> {
        let (location, workflow) = split_external(&job.external_id).ok_or_else(|| {
            Error::Conflict(format!(
                "{:?} is not an Arazzo workflow reference",
                job.external_id
            ))
        })?;
        self.import_arazzo(location, &job.platform, Some(workflow))
            .await?;
        let fresh = self.inner.store.get_job(&job.name).await?;
        let names = |j: &Job| {
            j.parameters
                .iter()
                .map(|p| p.name.clone())
                .collect::<std::collections::BTreeSet<_>>()
        };
        let (before, after) = (names(job), names(&fresh));
        Ok(crate::SyncReport {
            job: job.name.clone(),
            added: after.difference(&before).cloned().collect(),
            removed: before.difference(&after).cloned().collect(),
            kept_values: fresh
                .parameters
                .iter()
                .filter(|p| p.current_value.is_some())
                .map(|p| p.name.clone())
                .collect(),
        })
    }

    /// The job a tasks file's `arazzo:PATH[#workflowId]` means; `PATH` is
    /// relative to `base` (the tasks file's directory). Refused with the
    /// import command when the file or workflow was never imported.
    pub(crate) async fn resolve_arazzo_ref(
        &self,
        reference: &str,
        base: &std::path::Path,
    ) -> Result<Job> {
        let spec = reference.strip_prefix("arazzo:").unwrap_or(reference);
        let (path, workflow) = match spec.rsplit_once('#') {
            Some((p, w)) => (p, Some(w)),
            None => (spec, None),
        };
        let full = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            base.join(path).display().to_string()
        };
        let hint = format!(
            "import it first: polysync arazzo import {full} --platform NAME{}",
            workflow
                .map(|w| format!(" --workflow {w}"))
                .unwrap_or_default()
        );
        let location = arazzo_location(&full).map_err(|_| {
            Error::Conflict(format!("job {reference:?}: {full} cannot be read; {hint}"))
        })?;
        let jobs = self
            .inner
            .store
            .list_jobs(&polysync_store::JobFilter {
                job_type: Some(JobType::ArazzoWorkflow),
                ..Default::default()
            })
            .await?;
        let of_file: Vec<Job> = jobs
            .into_iter()
            .filter(|j| split_external(&j.external_id).is_some_and(|(l, _)| l == location))
            .collect();
        let found: Vec<&Job> = match workflow {
            Some(w) => of_file
                .iter()
                .filter(|j| split_external(&j.external_id).is_some_and(|(_, id)| id == w))
                .collect(),
            None => of_file.iter().collect(),
        };
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::Conflict(format!(
                "job {reference:?}: {} is not imported; {hint}",
                match workflow {
                    Some(w) => format!("workflow {w:?} of {full}"),
                    None => full.clone(),
                }
            ))),
            many => Err(Error::Conflict(format!(
                "job {reference:?}: {full} has several imported workflows ({}); name one as arazzo:{path}#WORKFLOW_ID",
                many.iter()
                    .map(|j| j.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Starts an in-process run (the Arazzo counterpart of sending the
    /// request): marks it Running and spawns its execution in this
    /// process. Exactly one caller wins the Queued → Running write, so the
    /// workflow runs once even when several workers resume the same run.
    pub(crate) async fn start_in_process(&self, run_id: &str) -> Result<Run> {
        let now = now_ms();
        let mut won = false;
        let run = self
            .modify_run(run_id, |r| {
                won = false;
                if r.status.is_terminal() || r.submit_attempted_at.is_some() {
                    return false;
                }
                r.submit_attempted_at = Some(now);
                r.status = RunStatus::Running;
                r.started_at = Some(now);
                r.updated_at = now;
                r.state_message = Some("running in process".into());
                won = true;
                true
            })
            .await?;
        if won {
            let engine = self.clone();
            let id = run_id.to_owned();
            // The task waits until its handle is registered, so its own
            // removal at the end can never come first and leave a stale entry.
            let (registered, ready) = tokio::sync::oneshot::channel::<()>();
            let handle = tokio::spawn(async move {
                let _ = ready.await;
                if let Err(e) = engine.execute_in_process(&id).await {
                    tracing::warn!(run = %id, "arazzo run: {e}");
                    let message = e.to_string();
                    let _ = engine
                        .end_in_process(&id, RunStatus::Failed, None, Some(message))
                        .await;
                }
                if let Ok(mut live) = engine.inner.in_process.lock() {
                    live.remove(&id);
                }
            });
            if let Ok(mut live) = self.inner.in_process.lock() {
                live.insert(run_id.to_owned(), handle.abort_handle());
            }
            let _ = registered.send(());
        }
        Ok(run)
    }

    /// Whether this process executes `run_id` right now.
    fn runs_here(&self, run_id: &str) -> bool {
        self.inner
            .in_process
            .lock()
            .map(|live| live.contains_key(run_id))
            .unwrap_or(false)
    }

    /// The in-process refresh: a run never started is returned as stored;
    /// a Running run that no process heartbeats any more ends Failed (never
    /// re-run).
    pub(crate) async fn refresh_in_process(&self, run: Run) -> Result<Run> {
        if run.status.is_terminal() {
            return Ok(run);
        }
        if run.submit_attempted_at.is_none() {
            // Never started: whoever sends runs (dispatcher, `run --wait`) starts it.
            return Ok(run);
        }
        let now = now_ms();
        if self.runs_here(&run.id) || now - run.updated_at <= ms(HEARTBEAT_EXPIRY) {
            return Ok(run);
        }
        let since = run.updated_at;
        self.modify_run(&run.id, |r| {
            if r.status.is_terminal() || now - r.updated_at <= ms(HEARTBEAT_EXPIRY) {
                return false;
            }
            r.status = RunStatus::Failed;
            r.error_message = Some(format!(
                "the process running this Arazzo workflow stopped (no heartbeat for {} s); its API calls may have been made in part, so it is not run again — check the API and start a new run",
                (now - since) / 1000
            ));
            r.updated_at = now;
            r.ended_at = Some(now);
            true
        })
        .await
    }

    /// Cancels an in-process run: ends it Cancelled (the executing process
    /// sees that at its next heartbeat and stops) and stops it at once when
    /// it runs here.
    pub(crate) async fn cancel_in_process(&self, run_id: &str) -> Result<Run> {
        let now = now_ms();
        let run = self
            .modify_run(run_id, |r| {
                if r.status.is_terminal() {
                    return false;
                }
                r.status = RunStatus::Cancelled;
                r.state_message = Some("cancelled".into());
                r.updated_at = now;
                r.ended_at = Some(now);
                true
            })
            .await?;
        let handle = self
            .inner
            .in_process
            .lock()
            .ok()
            .and_then(|mut live| live.remove(run_id));
        if let Some(h) = handle {
            h.abort();
        }
        Ok(run)
    }

    /// Stores how an in-process run ended (unless it ended already, e.g.
    /// cancelled meanwhile).
    async fn end_in_process(
        &self,
        run_id: &str,
        status: RunStatus,
        outputs: Option<Value>,
        error: Option<String>,
    ) -> Result<Run> {
        let now = now_ms();
        self.modify_run(run_id, |r| {
            if r.status.is_terminal() {
                return false;
            }
            r.status = status;
            r.outputs.clone_from(&outputs);
            r.error_message.clone_from(&error);
            r.state_message = None;
            r.updated_at = now;
            r.ended_at = Some(now);
            true
        })
        .await
    }

    /// Runs the workflow of `run_id` from the stored snapshot against the
    /// job's platform, heartbeating the run row, and stores the outcome.
    async fn execute_in_process(&self, run_id: &str) -> Result<()> {
        let run = self.inner.store.get_run(run_id).await?;
        let (location, workflow) = split_external(&run.job_external_id).ok_or_else(|| {
            Error::Conflict(format!(
                "{:?} is not an Arazzo workflow reference",
                run.job_external_id
            ))
        })?;
        let files = self
            .inner
            .store
            .find_arazzo_document(location)
            .await?
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "the Arazzo document {location} is not imported; import it first: polysync arazzo import FILE --platform {}",
                    run.platform
                ))
            })?;
        let bundle = polysync_arazzo::load_snapshot(location, &files)
            .await
            .map_err(|e| Error::Conflict(format!("the stored Arazzo document {location}: {e}")))?;
        let (base, authorization) = self.platform_authorization(&run.platform).await?;
        let authorization = secrecy::ExposeSecret::expose_secret(&authorization).to_owned();
        let opts = polysync_arazzo::RunOptions {
            servers: bundle.servers_rebased_on(&base),
            credential: authorization.strip_prefix("Bearer ").map(str::to_owned),
            authorization: Some(authorization),
            ..Default::default()
        };
        let sender = polysync_arazzo::ReqwestSender::new(Duration::from_secs(120))
            .map_err(|e| Error::Conflict(format!("cannot create the HTTP client: {e}")))?;
        let inputs: Vec<(String, String)> = run.parameters.clone().into_iter().collect();
        let work =
            polysync_arazzo::run(&bundle, Some(workflow), Map::new(), &inputs, opts, &sender);
        tokio::pin!(work);
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.tick().await;
        let report = loop {
            tokio::select! {
                rep = &mut work => break rep,
                _ = beat.tick() => {
                    let now = now_ms();
                    let stored = self.modify_run(run_id, |r| {
                        if r.status.is_terminal() {
                            return false;
                        }
                        r.updated_at = now;
                        true
                    }).await?;
                    if stored.status.is_terminal() {
                        // Cancelled (here or by another process): stop calling the API.
                        return Ok(());
                    }
                }
            }
        };
        match report {
            Err(e) => {
                self.end_in_process(run_id, RunStatus::Failed, None, Some(e.to_string()))
                    .await?;
            }
            Ok(rep) => {
                let error = rep
                    .error
                    .as_ref()
                    .map(|e| polysync_arazzo::trace::redact_text(&e.to_string(), &rep.secrets));
                let status = if error.is_none() {
                    RunStatus::Success
                } else {
                    RunStatus::Failed
                };
                let outputs = match &rep.outputs {
                    Value::Object(o) if !o.is_empty() => Some(rep.outputs.clone()),
                    _ => None,
                };
                self.end_in_process(run_id, status, outputs, error).await?;
            }
        }
        Ok(())
    }
}

/// The outputs of an upstream run as a parameter value: strings verbatim,
/// anything else as JSON. `None` when the run has no such output.
pub(crate) fn output_value(run: &Run, name: &str) -> Option<String> {
    run.outputs
        .as_ref()
        .and_then(|o| o.get(name))
        .and_then(value_text)
}

/// The output names an Arazzo job declares (its Output parameters).
pub(crate) fn output_names(job: &Job) -> Vec<String> {
    job.parameters
        .iter()
        .filter(|p| p.direction == Direction::Output)
        .map(|p| p.name.clone())
        .collect()
}
