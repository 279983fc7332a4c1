//! Named job keys: the use cases behind the server's `/api/jobs/:jobKey`
//! routes (the AppKit jobs seed). A key names one Polysync job, or a task
//! (`task:NAME`, whose runs are DAG runs the dispatcher carries out), how
//! a web app's `params` object maps to the Databricks request (the seed's
//! task types), an optional JSON Schema the params must satisfy, and
//! whether the run is started with the caller's own token
//! (on-behalf-of-user).
//!
//! Everything a handler needs is here, so the server only parses and
//! renders: validation lists every violation before anything is stored or
//! sent, and reads come from the store (kept fresh by tracking), never from
//! a cache that can go stale.

use std::collections::BTreeMap;
use std::time::Duration;

use polysync_core::{Hint, Job, JobType, Run};
use polysync_databricks::{Config, DatabricksClient};
use polysync_providers::Connection;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{DagRunView, Engine, Error, RunFilter};

/// The seed's task types: which Databricks request field a key's `params`
/// fill, and in which shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedTaskType {
    /// `notebook_params`: string values.
    Notebook,
    /// `python_named_params`: string values.
    PythonWheel,
    /// `python_params`: `{ "args": [...] }`, positional.
    PythonScript,
    /// `jar_params`: `{ "args": [...] }`, positional.
    SparkJar,
    /// `sql_params`: string values.
    Sql,
    /// No parameters accepted.
    Dbt,
}

impl SeedTaskType {
    /// The `run-now` field the parameters go to (`None` for dbt).
    pub fn field(self) -> Option<&'static str> {
        match self {
            Self::Notebook => Some("notebook_params"),
            Self::PythonWheel => Some("python_named_params"),
            Self::PythonScript => Some("python_params"),
            Self::SparkJar => Some("jar_params"),
            Self::Sql => Some("sql_params"),
            Self::Dbt => None,
        }
    }
}

/// One named job key, as configured (environment and/or config file).
#[derive(Debug, Clone, PartialEq)]
pub struct JobKey {
    /// The key in the URL (lowercase).
    pub key: String,
    /// Any Polysync job reference (name, `PLATFORM:EXTERNAL_ID`, a bare
    /// Databricks job id).
    pub job: String,
    /// How `params` map to the request; `None` = job-level parameters
    /// (`job_parameters`).
    pub task_type: Option<SeedTaskType>,
    /// JSON Schema (2020-12) the `params` object must satisfy.
    pub params_schema: Option<Value>,
    /// How long a streamed run is followed before the stream gives up (the
    /// run keeps going).
    pub wait_timeout: Duration,
    /// Start runs with the caller's forwarded token instead of the
    /// platform's own credentials.
    pub on_behalf_of_user: bool,
}

impl JobKey {
    /// A key with the seed's defaults (no task type, no schema, 10 min wait,
    /// platform identity).
    pub fn new(key: impl Into<String>, job: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            job: job.into(),
            task_type: None,
            params_schema: None,
            wait_timeout: Duration::from_secs(600),
            on_behalf_of_user: false,
        }
    }
}

/// The keys the seed discovers in the environment: `DATABRICKS_JOB_<NAME>`
/// → key `<name>` (lowercased), and `DATABRICKS_JOB_ID` → `default` when
/// no named key was found (as AppKit). Empty values are ignored. `vars` is
/// passed in (never read from the process here) so callers and tests
/// decide what the environment is.
pub fn discover_job_keys(
    vars: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, JobKey> {
    let mut keys = BTreeMap::new();
    let mut default = None;
    for (name, value) in vars {
        let value = value.trim().to_owned();
        if value.is_empty() {
            continue;
        }
        let Some(suffix) = name.strip_prefix("DATABRICKS_JOB_") else {
            continue;
        };
        if suffix == "ID" {
            default = Some(value);
        } else if !suffix.is_empty() {
            let key = suffix.to_lowercase();
            keys.insert(key.clone(), JobKey::new(key, value));
        }
    }
    if keys.is_empty()
        && let Some(job) = default
    {
        keys.insert("default".into(), JobKey::new("default", job));
    }
    keys
}

/// One reason a request was refused: where (JSON pointer into the request
/// body) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// JSON pointer into the request body (`/params/startDate`).
    pub pointer: String,
    /// What is wrong there.
    pub reason: String,
}

impl Violation {
    /// A violation at `pointer`.
    pub fn new(pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

/// Why a key's run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum KeyRunError {
    /// The request was refused before anything was stored or sent: every
    /// violation found.
    #[error("invalid request for job key {key:?}: {}", .violations.iter().map(|v| format!("{} {}", v.pointer, v.reason)).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The key.
        key: String,
        /// Every violation.
        violations: Vec<Violation>,
    },
    /// The key runs on behalf of the user and no forwarded token came.
    #[error(
        "job key {key:?} runs on behalf of the user: the request carries no X-Forwarded-Access-Token"
    )]
    MissingUserToken {
        /// The key.
        key: String,
    },
    /// Any other engine failure (job not found, Databricks refused, ...).
    #[error(transparent)]
    Engine(#[from] Error),
}

/// The prefix of a key's `job` that names a task instead of a job.
pub const TASK_PREFIX: &str = "task:";

impl JobKey {
    /// The task a `task:NAME` key runs (its DAG run), `None` for a job key.
    pub fn task(&self) -> Option<&str> {
        self.job.strip_prefix(TASK_PREFIX).map(str::trim)
    }
}

/// A DAG run as a task key serves it: the view `dag-runs show --json`
/// prints, and its revision (grows with every stored change of the DAG run
/// or one of its task runs: what a stream's event ids and resume use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDagRun {
    /// The DAG run.
    pub view: DagRunView,
    /// The sum of the row versions of the DAG run and its task runs.
    pub revision: i64,
}

/// A run of a key: a Polysync run of its job, or a DAG run of its task.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyRun {
    /// A job key's run (boxed: a run is several times a DAG run's size).
    Job(Box<Run>),
    /// A task key's DAG run.
    Dag(KeyDagRun),
}

impl KeyRun {
    /// Whether it has ended (a stream stops there).
    pub fn is_terminal(&self) -> bool {
        match self {
            Self::Job(r) => r.status.is_terminal(),
            Self::Dag(d) => d.view.status.is_terminal(),
        }
    }

    /// Polysync's id of the run or DAG run.
    pub fn id(&self) -> &str {
        match self {
            Self::Job(r) => &r.id,
            Self::Dag(d) => &d.view.id,
        }
    }
}

/// How many DAG runs a task key's listing reads at most.
const DAG_LIST_MAX: u32 = 100;

/// What `params` became: either the request field(s) of a `run-now`, or
/// string overrides for job types started otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedParams {
    /// `run-now` field → value (`notebook_params`, `job_parameters`,
    /// `python_params`, ...); empty when no parameters were given.
    pub fields: Map<String, Value>,
    /// The same parameters as name → wire string, for the run's record and
    /// for job types that take overrides.
    pub strings: Vec<(String, String)>,
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A scalar as the wire string Databricks expects; `None` for null,
/// objects and arrays (reported by the caller).
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether `schema` is a usable JSON Schema (checked at start-up, so a
/// broken schema is a configuration error, not a 400 on every request).
pub fn check_params_schema(schema: &Value) -> Result<(), String> {
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Validates `params` (the request body's `params`, `None` when absent)
/// against the key's schema and task type, and maps them to the request.
/// Pure: every violation is listed, nothing is sent.
pub fn map_params(key: &JobKey, params: Option<&Value>) -> Result<MappedParams, Vec<Violation>> {
    let empty = Value::Object(Map::new());
    let params = match params {
        None | Some(Value::Null) => &empty,
        Some(p) => p,
    };
    let Value::Object(obj) = params else {
        return Err(vec![Violation::new(
            "/params",
            format!("must be an object, got {}", kind_of(params)),
        )]);
    };
    let mut violations = Vec::new();
    if let Some(schema) = &key.params_schema {
        match jsonschema::validator_for(schema) {
            Ok(validator) => {
                for e in validator.iter_errors(params) {
                    violations.push(Violation::new(
                        format!("/params{}", e.instance_path()),
                        e.to_string(),
                    ));
                }
            }
            Err(e) => violations.push(Violation::new(
                "/params",
                format!("the key's parameter schema is invalid: {e}"),
            )),
        }
    }
    let mut fields = Map::new();
    let mut strings = Vec::new();
    match key.task_type {
        Some(SeedTaskType::Dbt) => {
            for k in obj.keys() {
                violations.push(Violation::new(
                    format!("/params/{}", pointer_escape(k)),
                    "dbt tasks do not accept parameters",
                ));
            }
        }
        Some(t @ (SeedTaskType::PythonScript | SeedTaskType::SparkJar)) => {
            for k in obj.keys().filter(|k| *k != "args") {
                violations.push(Violation::new(
                    format!("/params/{}", pointer_escape(k)),
                    "this task type takes positional arguments only: { \"args\": [...] }",
                ));
            }
            let mut args = Vec::new();
            match obj.get("args") {
                None => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        match scalar_string(item) {
                            Some(s) => args.push(s),
                            None => violations.push(Violation::new(
                                format!("/params/args/{i}"),
                                format!(
                                    "must be a string, number or boolean, got {}",
                                    kind_of(item)
                                ),
                            )),
                        }
                    }
                }
                Some(other) => violations.push(Violation::new(
                    "/params/args",
                    format!("must be an array, got {}", kind_of(other)),
                )),
            }
            if obj.contains_key("args")
                && let Some(field) = t.field()
            {
                strings = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (format!("arg{}", i + 1), a.clone()))
                    .collect();
                fields.insert(field.into(), Value::from(args));
            }
        }
        named => {
            let mut map = Map::new();
            for (k, v) in obj {
                match scalar_string(v) {
                    Some(s) => {
                        strings.push((k.clone(), s.clone()));
                        map.insert(k.clone(), Value::String(s));
                    }
                    None => violations.push(Violation::new(
                        format!("/params/{}", pointer_escape(k)),
                        format!(
                            "must be a string, number or boolean (parameters are sent as strings), got {}",
                            kind_of(v)
                        ),
                    )),
                }
            }
            if !map.is_empty() {
                let field = named
                    .and_then(SeedTaskType::field)
                    .unwrap_or("job_parameters");
                fields.insert(field.into(), Value::Object(map));
            }
        }
    }
    if violations.is_empty() {
        Ok(MappedParams { fields, strings })
    } else {
        Err(violations)
    }
}

/// Every `run-now` field that carries parameters: replaced as a whole by
/// a key's mapped parameters, so no default of the job's own leaks in
/// beside them in another field.
const PARAM_FIELDS: [&str; 8] = [
    "job_parameters",
    "notebook_params",
    "python_named_params",
    "python_params",
    "jar_params",
    "sql_params",
    "spark_submit_params",
    "pipeline_params",
];

fn key_not_found(key: &JobKey) -> Error {
    Error::NotFound {
        entity: "job",
        key: key.job.clone(),
    }
}

/// Whether `run` is a run of `job` (same platform and Databricks object).
fn run_of(job: &Job, run: &Run) -> bool {
    run.platform == job.platform && run.job_external_id == job.external_id
}

impl Engine {
    /// Starts a run of `key` with `params` (the request's `params`), as
    /// the platform, or with `user_token` when the key opts in to
    /// on-behalf-of-user (a forwarded token is never used otherwise).
    /// Every violation is reported before anything is stored or sent.
    ///
    /// A task key starts a DAG run of its task (as `polysync tasks run`):
    /// the parameters are the root task's extra values; the dispatcher
    /// starts its runs, as the platform.
    pub async fn start_key_run(
        &self,
        key: &JobKey,
        params: Option<&Value>,
        user_token: Option<&SecretString>,
    ) -> Result<KeyRun, KeyRunError> {
        let mapped = map_params(key, params).map_err(|violations| KeyRunError::Invalid {
            key: key.key.clone(),
            violations,
        })?;
        if let Some(task) = key.task() {
            let dag = self
                .start_dag_run(task, &mapped.strings, "manual", None)
                .await?;
            return Ok(KeyRun::Dag(self.key_dag_run(&dag.id).await?));
        }
        Ok(KeyRun::Job(Box::new(
            self.start_job_key_run(key, params, &mapped, user_token)
                .await?,
        )))
    }

    async fn start_job_key_run(
        &self,
        key: &JobKey,
        params: Option<&Value>,
        mapped: &MappedParams,
        user_token: Option<&SecretString>,
    ) -> Result<Run, KeyRunError> {
        let caller = if key.on_behalf_of_user {
            let token = user_token.ok_or_else(|| KeyRunError::MissingUserToken {
                key: key.key.clone(),
            })?;
            Some(token)
        } else {
            None
        };
        let mut job = self.get_job(&key.job).await?;
        let run_now = matches!(
            job.job_type,
            JobType::DatabricksJob | JobType::DatabricksWorkflow
        );
        if !run_now {
            // Job types not started by `run-now` take the parameters as
            // overrides of the job's own.
            job.apply_overrides(mapped.strings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(Error::from)?;
        }
        let platform = self.get_platform(&job.platform).await?;
        let conn = match caller {
            Some(token) => Some(self.user_connection(&job.platform, token).await?),
            None => None,
        };
        // The final request (mapped parameters in its body) is built before
        // anything is stored, so the run is stored once, with its submit
        // intent, and sent; an in-process run is marked when it starts.
        let attempted =
            (!job.job_type.runs_in_process()).then(|| jiff::Timestamp::now().as_millisecond());
        let mut run = self.prepare_run(
            &polysync_core::run::new_run_id(),
            &job,
            &platform,
            attempted,
        )?;
        if run_now && params.is_some() {
            put_params_in_body(&mut run, mapped);
        }
        Ok(self.start_prepared(&run, &platform, conn).await?)
    }

    async fn user_connection(
        &self,
        platform: &str,
        token: &SecretString,
    ) -> crate::Result<Connection> {
        let platform = self.get_platform(platform).await?;
        let cred = |message: String| Error::Credentials {
            platform: platform.name.clone(),
            message,
            hint: Hint::text("send the user's token in X-Forwarded-Access-Token"),
            source: None,
        };
        let config = Config::builder()
            .host(platform.workspace_url.clone())
            .jobs_api_version(platform.jobs_api_version)
            .token(token.expose_secret().to_owned())
            .build()
            .map_err(|e| cred(format!("cannot use the forwarded user token: {e}")))?;
        let client = DatabricksClient::new(config)
            .map_err(|e| cred(format!("cannot use the forwarded user token: {e}")))?;
        Ok(Connection { platform, client })
    }

    /// A DAG run with its revision, from the store (the dispatcher keeps
    /// it current; nothing is asked of Databricks).
    async fn key_dag_run(&self, id: &str) -> crate::Result<KeyDagRun> {
        // The revision is read before the view: the view is then at least
        // as new as its revision, so a change made in between shows again
        // (with a higher revision) at the next read, never hidden behind
        // an equal one.
        let store = &self.inner.store;
        let dag = store.find_dag_run(id).await?.map_or(0, |d| d.version);
        let tasks: i64 = store
            .task_runs_of(id)
            .await?
            .iter()
            .map(|t| t.version)
            .sum();
        let view = self.get_dag_run(id).await?;
        Ok(KeyDagRun {
            view,
            revision: dag + tasks,
        })
    }

    /// The key's latest runs, newest first (`limit` clamped to 1–100), as
    /// stored after refreshing those still active: never stale. A task
    /// key's are the DAG runs of its task.
    pub async fn key_runs(&self, key: &JobKey, limit: u32) -> crate::Result<Vec<KeyRun>> {
        let limit = limit.clamp(1, 100);
        if let Some(task) = key.task() {
            self.get_task(task).await?;
            let mut out = Vec::new();
            for dag in self
                .inner
                .store
                .list_dag_runs_of(task, limit.min(DAG_LIST_MAX))
                .await?
            {
                out.push(KeyRun::Dag(self.key_dag_run(&dag.id).await?));
            }
            return Ok(out);
        }
        Ok(self
            .job_key_runs(key, limit)
            .await?
            .into_iter()
            .map(|r| KeyRun::Job(Box::new(r)))
            .collect())
    }

    async fn job_key_runs(&self, key: &JobKey, limit: u32) -> crate::Result<Vec<Run>> {
        let job = self.get_job(&key.job).await?;
        let filter = RunFilter {
            job_name: Some(job.name.clone()),
            platform: Some(job.platform.clone()),
            status: None,
        };
        let refreshed = self.refresh_runs(&filter, limit).await?;
        for failure in &refreshed.failures {
            tracing::warn!(platform = %failure.platform, "refreshing: {}", failure.message);
        }
        Ok(refreshed
            .runs
            .into_iter()
            .filter(|r| run_of(&job, r))
            .collect())
    }

    /// One run of the key by `run_ref` (the Databricks run id the seed's
    /// `runId` is, or a Polysync run id; a task key's: the DAG run id); a
    /// run of another job (a DAG run of another task) is
    /// [`Error::NotFound`] naming it. An active run is refreshed first.
    pub async fn key_run(&self, key: &JobKey, run_ref: &str) -> crate::Result<KeyRun> {
        self.key_run_reading(key, run_ref, true).await
    }

    /// [`Engine::key_run`] as the store has it, with no call to Databricks:
    /// for live streams, which the tracker's change events keep current, so
    /// a thousand streams on one run cost one tracked run and not one
    /// `runs/get` each.
    pub async fn key_run_stored(&self, key: &JobKey, run_ref: &str) -> crate::Result<KeyRun> {
        self.key_run_reading(key, run_ref, false).await
    }

    async fn key_run_reading(
        &self,
        key: &JobKey,
        run_ref: &str,
        refresh: bool,
    ) -> crate::Result<KeyRun> {
        let not_found = || Error::NotFound {
            entity: "run of this job key",
            key: format!("{run_ref} (job key {:?})", key.key),
        };
        if let Some(task) = key.task() {
            let dag = self.inner.store.find_dag_run(run_ref).await?;
            if dag.is_none_or(|d| d.root_task != task) {
                return Err(not_found());
            }
            return Ok(KeyRun::Dag(self.key_dag_run(run_ref).await?));
        }
        Ok(KeyRun::Job(Box::new(
            self.job_key_run_reading(key, run_ref, refresh).await?,
        )))
    }

    /// A job key's run by `run_ref` ([`Engine::key_run`]).
    pub async fn job_key_run(&self, key: &JobKey, run_ref: &str) -> crate::Result<Run> {
        self.job_key_run_reading(key, run_ref, true).await
    }

    /// A job key's run, refreshed from Databricks while active when
    /// `refresh`, else as stored.
    async fn job_key_run_reading(
        &self,
        key: &JobKey,
        run_ref: &str,
        refresh: bool,
    ) -> crate::Result<Run> {
        let job = self.get_job(&key.job).await?;
        let not_found = || Error::NotFound {
            entity: "run of this job key",
            key: format!("{run_ref} (job key {:?})", key.key),
        };
        let id = match self.resolve_run_id(run_ref).await {
            Ok(id) => id,
            Err(Error::NotFound { .. } | Error::Ambiguous { .. }) => return Err(not_found()),
            Err(e) => return Err(e),
        };
        let run = self.inner.store.get_run(&id).await?;
        // An API names a run exactly (the seed's `runId` or Polysync's id);
        // the CLI's id-prefix convenience would let `runs/0` find a run.
        let exact = run.id == run_ref || run.databricks_run_id.as_deref() == Some(run_ref);
        if !exact || !run_of(&job, &run) {
            return Err(not_found());
        }
        if !refresh || run.status.is_terminal() {
            return Ok(run);
        }
        self.refresh_run(&id).await
    }

    /// The key's latest run (refreshed when active), `None` before any.
    pub async fn key_status(&self, key: &JobKey) -> crate::Result<Option<KeyRun>> {
        Ok(self.key_runs(key, 1).await?.into_iter().next())
    }

    /// Cancels a run of the key (a run of another job is
    /// [`Error::NotFound`]); returns it as stored after the request. A
    /// task key's DAG run is cancelled as `dag-runs cancel` does.
    pub async fn cancel_key_run(&self, key: &JobKey, run_ref: &str) -> crate::Result<KeyRun> {
        match self.key_run(key, run_ref).await? {
            KeyRun::Job(run) => Ok(KeyRun::Job(Box::new(self.cancel_run(&run.id).await?))),
            KeyRun::Dag(dag) => {
                self.cancel_dag_run(&dag.view.id).await?;
                Ok(KeyRun::Dag(self.key_dag_run(&dag.view.id).await?))
            }
        }
    }

    /// Checks that `key` resolves to a job, or its task exists (server
    /// start-up); returns the job it runs (a task key: its task's job).
    pub async fn check_job_key(&self, key: &JobKey) -> crate::Result<Job> {
        let job = match key.task() {
            Some(task) => self.get_task(task).await?.task.job,
            None => key.job.clone(),
        };
        self.find_job(&job).await?.ok_or_else(|| key_not_found(key))
    }
}

/// Replaces every parameter field of `run`'s stored `run-now` body by the
/// key's mapped parameters (no default of the job's own leaks in beside
/// them), and records them as the run's parameters.
fn put_params_in_body(run: &mut Run, mapped: &MappedParams) {
    let Some(body) = run
        .request
        .as_mut()
        .and_then(|req| req.get_mut("body"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for f in PARAM_FIELDS {
        body.remove(f);
    }
    body.extend(mapped.fields.clone());
    run.parameters = mapped.strings.iter().cloned().collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn env_single_and_multi() {
        let single = discover_job_keys(vars(&[("DATABRICKS_JOB_ID", "11"), ("HOME", "/x")]));
        assert_eq!(single.keys().collect::<Vec<_>>(), ["default"]);
        assert_eq!(single["default"].job, "11");
        let multi = discover_job_keys(vars(&[
            ("DATABRICKS_JOB_ETL", "11"),
            ("DATABRICKS_JOB_ML", "22"),
            ("DATABRICKS_JOB_EMPTY", ""),
            ("DATABRICKS_JOB_ID", "33"),
        ]));
        assert_eq!(multi.keys().collect::<Vec<_>>(), ["etl", "ml"]);
        assert_eq!(multi["ml"].job, "22");
    }

    #[test]
    fn notebook_coerces_and_rejects_nested_and_null() {
        let mut key = JobKey::new("k", "j");
        key.task_type = Some(SeedTaskType::Notebook);
        let ok = map_params(&key, Some(&json!({"flag": true, "n": 3.5, "s": "x"}))).expect("ok");
        assert_eq!(
            ok.fields["notebook_params"],
            json!({"flag": "true", "n": "3.5", "s": "x"})
        );
        let err =
            map_params(&key, Some(&json!({"a": {"b": 1}, "c": [1], "z": null}))).expect_err("bad");
        let pointers: Vec<_> = err.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(pointers, ["/params/a", "/params/c", "/params/z"]);
        assert!(map_params(&key, Some(&json!([1]))).is_err());
    }

    #[test]
    fn schema_without_task_type_goes_to_job_parameters() {
        let mut key = JobKey::new("k", "j");
        key.params_schema = Some(
            json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}),
        );
        let ok = map_params(&key, Some(&json!({"a": "7"}))).expect("ok");
        assert_eq!(ok.fields["job_parameters"], json!({"a": "7"}));
        let err = map_params(&key, Some(&json!({"b": 1}))).expect_err("missing a");
        assert_eq!(err.len(), 1);
    }

    #[test]
    fn positional_and_dbt() {
        let mut key = JobKey::new("k", "j");
        key.task_type = Some(SeedTaskType::PythonScript);
        let ok = map_params(&key, Some(&json!({"args": ["a", 2]}))).expect("ok");
        assert_eq!(ok.fields["python_params"], json!(["a", "2"]));
        key.task_type = Some(SeedTaskType::Dbt);
        assert_eq!(
            map_params(&key, Some(&json!({"x": "1"})))
                .expect_err("dbt")
                .len(),
            1
        );
    }
}
