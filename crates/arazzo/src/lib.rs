//! A general Arazzo 1.0.x workflow runner for any OpenAPI-described API.
//!
//! Load a document with [`load::load`], check it with [`validate::validate`], run a
//! workflow with [`run`]. Nothing here knows about Databricks: the server URL comes
//! from the OpenAPI description or a per-source override, credentials from inputs
//! or [`RunOptions::authorization`].

pub mod criteria;
pub mod document;
pub mod error;
pub mod expr;
pub mod http;
pub mod inputs;
pub mod load;
pub mod openapi;
pub mod runner;
pub mod trace;
pub mod validate;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

pub use error::{ArazzoError, Result};
pub use http::{HttpRequest, HttpResponse, ReqwestSender, Sender};
pub use load::{Bundle, load, load_recorded, load_snapshot};
pub use runner::{EndStatus, Runner, WorkflowRun};
pub use trace::Trace;
pub use validate::{Diagnostic, Severity, validate};

/// How closely to follow the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Run real-world documents as their authors meant them; tolerances become warnings.
    #[default]
    Compatible,
    /// The spec to the letter; tolerances become errors.
    Strict,
}

/// Default minimum delay between two executions of the same step (A7).
pub const DEFAULT_MIN_REVISIT_DELAY: Duration = Duration::from_secs(1);
/// Default global step limit (A8): at 1 s per poll, close to three hours of polling.
pub const DEFAULT_MAX_STEPS: u64 = 10_000;
/// Default wall-clock limit for one run (A8): long enough for slow batch jobs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// Default nesting limit for workflow steps, goto-workflow and dependsOn.
pub const DEFAULT_MAX_DEPTH: usize = 16;

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Compatible or strict.
    pub mode: Mode,
    /// Base URL per source description name (`--server NAME=URL`).
    pub servers: BTreeMap<String, String>,
    /// Minimum delay between two executions of the same step (goto loops, retries).
    pub min_revisit_delay: Duration,
    /// Global step limit across nested workflows.
    pub max_steps: u64,
    /// Wall-clock limit.
    pub timeout: Duration,
    /// Nesting limit.
    pub max_depth: usize,
    /// Platform-injected `Authorization` value, sent when a step sets none.
    pub authorization: Option<String>,
    /// Platform-supplied token used for a missing required secret-named string input
    /// (e.g. the seed's `token`).
    pub credential: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Compatible,
            servers: BTreeMap::new(),
            min_revisit_delay: DEFAULT_MIN_REVISIT_DELAY,
            max_steps: DEFAULT_MAX_STEPS,
            timeout: DEFAULT_TIMEOUT,
            max_depth: DEFAULT_MAX_DEPTH,
            authorization: None,
            credential: None,
        }
    }
}

/// The result of [`run`].
#[derive(Debug)]
pub struct RunReport {
    /// Workflow that ran.
    pub workflow_id: String,
    /// Its outputs (null where they reach nothing).
    pub outputs: Value,
    /// How it ended; `None` when a limit or runtime error stopped it.
    pub status: Option<EndStatus>,
    /// The error that made the run fail, if any.
    pub error: Option<ArazzoError>,
    /// Step-by-step trace (unredacted; use [`RunReport::trace_json`] / [`RunReport::report`]).
    pub trace: Trace,
    /// Secret values to redact.
    pub secrets: Vec<String>,
    /// Validation warnings.
    pub diagnostics: Vec<Diagnostic>,
}

impl RunReport {
    /// True when the workflow ended normally (last step, `end` action or goto-workflow).
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// The redacted trace as JSON.
    pub fn trace_json(&self) -> Value {
        self.trace.to_json(&self.secrets)
    }

    /// The redacted readable report.
    pub fn report(&self) -> String {
        self.trace.report(&self.secrets)
    }
}

/// Picks the workflow to run: the given id, or the only one.
pub fn pick_workflow(bundle: &Bundle, id: Option<&str>) -> Result<usize> {
    let wfs = &bundle.root().doc.workflows;
    match id {
        Some(id) => wfs
            .iter()
            .position(|w| w.workflow_id.as_deref() == Some(id))
            .ok_or_else(|| ArazzoError::UnknownWorkflow(id.to_string())),
        None if wfs.len() == 1 => Ok(0),
        None => Err(ArazzoError::AmbiguousWorkflow(
            wfs.iter()
                .map(|w| w.id().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// Validates, types the inputs, and runs one workflow of the entry document.
///
/// `Err` means nothing was sent (invalid document, unknown workflow, bad inputs);
/// a run that started always returns a report, failed or not.
pub async fn run(
    bundle: &Bundle,
    workflow: Option<&str>,
    typed_inputs: Map<String, Value>,
    raw_inputs: &[(String, String)],
    opts: RunOptions,
    sender: &dyn Sender,
) -> Result<RunReport> {
    run_with_sink(
        bundle,
        workflow,
        typed_inputs,
        raw_inputs,
        opts,
        sender,
        None,
    )
    .await
}

/// [`run`], handing every step in full to `sink` as it ends (e.g. a
/// [`trace::JsonTraceWriter`] streaming `--trace FILE`); the report's trace keeps only a
/// bounded summary either way.
pub async fn run_with_sink(
    bundle: &Bundle,
    workflow: Option<&str>,
    typed_inputs: Map<String, Value>,
    raw_inputs: &[(String, String)],
    opts: RunOptions,
    sender: &dyn Sender,
    sink: Option<Box<dyn trace::StepSink + '_>>,
) -> Result<RunReport> {
    let diagnostics = validate(bundle, opts.mode);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(ArazzoError::Invalid(diagnostics));
    }
    let wi = pick_workflow(bundle, workflow)?;
    let wf = &bundle.root().doc.workflows[wi];
    let schema = wf
        .inputs
        .as_ref()
        .map(|s| inputs::resolve_schema(s, &bundle.root().raw))
        .unwrap_or(Value::Null);
    let mut inputs_map = typed_inputs;
    let typed = inputs::type_pairs(&schema, raw_inputs).map_err(|e| ArazzoError::Inputs {
        workflow: wf.id().into(),
        problems: vec![e],
    })?;
    inputs_map.extend(typed);
    if let Some(cred) = &opts.credential {
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for name in required {
            if !inputs_map.contains_key(&name) && inputs::is_secret_name(&name) {
                inputs_map.insert(name, Value::String(cred.clone()));
            }
        }
    }
    let mut secrets: Vec<String> = opts.credential.iter().cloned().collect();
    if let Some(a) = &opts.authorization {
        secrets.push(a.clone());
    }
    let started = Instant::now();
    let mut runner = Runner::new(bundle, opts, sender);
    runner.secrets = secrets;
    runner.sink = sink;
    runner.trace.workflow_id = wf.id().into();
    runner.trace.warnings = diagnostics.iter().map(|d| d.to_string()).collect();
    let res = runner
        .run_workflow(0, wi, Value::Object(inputs_map), 0)
        .await;
    let (outputs, status, error) = match res {
        Err(e @ ArazzoError::Inputs { .. }) => return Err(e),
        Err(e) => (Value::Null, None, Some(e)),
        Ok(r) => {
            let err = match &r.status {
                EndStatus::Failed { step, reason } => Some(ArazzoError::StepFailed {
                    workflow: r.workflow_id.clone(),
                    step: step.clone(),
                    reason: reason.clone(),
                }),
                _ => None,
            };
            (Value::Object(r.outputs), Some(r.status), err)
        }
    };
    let mut trace = std::mem::take(&mut runner.trace);
    let secrets = std::mem::take(&mut runner.secrets);
    trace.duration_ms = started.elapsed().as_millis() as u64;
    trace.outputs = outputs.clone();
    trace.status = match (&status, &error) {
        (_, Some(_)) => "failed".into(),
        (Some(EndStatus::Completed), _) => "completed".into(),
        (Some(EndStatus::Ended { step, action, .. }), _) => {
            format!("ended by action `{action}` at step `{step}`")
        }
        (Some(EndStatus::Handed { workflow }), _) => {
            format!("handed over to workflow `{workflow}`")
        }
        _ => "failed".into(),
    };
    trace.error = error.as_ref().map(|e| e.to_string());
    Ok(RunReport {
        workflow_id: wf.id().into(),
        outputs,
        status,
        error,
        trace,
        secrets,
        diagnostics,
    })
}
