//! Executes workflows: requests, criteria, actions, limits, nested workflows.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

use crate::criteria;
use crate::document::{Action, Criterion, Parameter, Step, Workflow};
use crate::error::{ArazzoError, Result};
use crate::expr::eval::{Issue, eval_value, to_text};
use crate::expr::{Scope, WorkflowValues};
use crate::http::{HttpRequest, HttpResponse, Sender};
use crate::load::Bundle;
use crate::trace::{ActionTrace, CriterionTrace, ResponseTrace, StepTrace, Trace};
use crate::{Mode, RunOptions};

/// How a workflow run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum EndStatus {
    /// Its last step succeeded and no action redirected it.
    Completed,
    /// An `end` action (success or failure path) ended it.
    Ended {
        /// Step whose action ended it.
        step: String,
        /// Action name.
        action: String,
        /// True when the `end` was a failure action (the step had failed).
        after_failure: bool,
    },
    /// A `goto` to another workflow handed control over (A-decision: one-way).
    Handed {
        /// The workflow that took over.
        workflow: String,
    },
    /// A step failed and no failure action handled it.
    Failed {
        /// The step.
        step: String,
        /// Why.
        reason: String,
    },
}

/// Result of one workflow run.
#[derive(Debug, Clone)]
pub struct WorkflowRun {
    /// The workflow id.
    pub workflow_id: String,
    /// Evaluated outputs (null where they reach nothing).
    pub outputs: Map<String, Value>,
    /// How it ended.
    pub status: EndStatus,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct WfState {
    inputs: Value,
    steps: BTreeMap<String, Map<String, Value>>,
}

struct Exec {
    request: Option<HttpRequest>,
    response: Option<HttpResponse>,
    child_outputs: Value,
    error: Option<String>,
    warnings: Vec<String>,
    duration: Duration,
}

/// Runs workflows of one bundle.
pub struct Runner<'a> {
    bundle: &'a Bundle,
    opts: RunOptions,
    sender: &'a dyn Sender,
    started: Instant,
    steps_run: u64,
    workflows: BTreeMap<String, WorkflowValues>,
    sources: Vec<BTreeMap<String, Value>>,
    components: Vec<Value>,
    /// The trace being built.
    pub trace: Trace,
    /// Secret values to redact.
    pub secrets: Vec<String>,
    /// Receives every step in full as it ends (`--trace FILE`); `trace` keeps a bounded summary.
    pub sink: Option<Box<dyn crate::trace::StepSink + 'a>>,
}

fn issue_strings(issues: &[Issue]) -> Vec<String> {
    issues.iter().map(|i| i.to_string()).collect()
}

impl<'a> Runner<'a> {
    /// Prepares a runner.
    pub fn new(bundle: &'a Bundle, opts: RunOptions, sender: &'a dyn Sender) -> Self {
        let sources = bundle
            .docs
            .iter()
            .map(|d| {
                d.doc
                    .source_descriptions
                    .iter()
                    .filter_map(|s| {
                        let name = s.name.clone()?;
                        let url = match d.sources.get(&name) {
                            Some(crate::load::Source::OpenApi { url, .. })
                            | Some(crate::load::Source::Arazzo { url, .. }) => url.to_string(),
                            _ => s.url.clone().unwrap_or_default(),
                        };
                        let kind = s.kind.clone().unwrap_or_else(|| "openapi".into());
                        Some((name, serde_json::json!({"url": url, "type": kind})))
                    })
                    .collect()
            })
            .collect();
        let components = bundle
            .docs
            .iter()
            .map(|d| serde_json::to_value(&d.doc.components).unwrap_or(Value::Null))
            .collect();
        Self {
            bundle,
            opts,
            sender,
            started: Instant::now(),
            steps_run: 0,
            workflows: BTreeMap::new(),
            sources,
            components,
            trace: Trace::default(),
            secrets: Vec::new(),
            sink: None,
        }
    }

    fn strict(&self) -> bool {
        self.opts.mode == Mode::Strict
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Runs a workflow (after its `dependsOn`), validating inputs first.
    pub fn run_workflow(
        &mut self,
        doc: usize,
        wf: usize,
        mut inputs: Value,
        depth: usize,
    ) -> Boxed<'_, Result<WorkflowRun>> {
        Box::pin(async move {
            if depth > self.opts.max_depth {
                return Err(ArazzoError::Depth(self.opts.max_depth));
            }
            let bundle = self.bundle;
            let w: &Workflow = &bundle.docs[doc].doc.workflows[wf];
            let id = w.id().to_string();
            if let Some(schema) = &w.inputs {
                let schema = crate::inputs::resolve_schema(schema, &bundle.docs[doc].raw);
                crate::inputs::apply_defaults(&schema, &mut inputs);
                self.secrets
                    .extend(crate::inputs::secret_values(&schema, &inputs));
                let problems = crate::inputs::validate(&schema, &inputs);
                if !problems.is_empty() {
                    return Err(ArazzoError::Inputs {
                        workflow: id,
                        problems,
                    });
                }
            } else {
                self.secrets
                    .extend(crate::inputs::secret_values(&Value::Null, &inputs));
            }
            for dep in &w.depends_on {
                let (dd, dw) = bundle
                    .resolve_workflow(doc, dep)
                    .map_err(|e| ArazzoError::UnknownWorkflow(format!("{dep} ({e})")))?;
                let dep_id = bundle.docs[dd].doc.workflows[dw].id().to_string();
                if self.workflows.contains_key(&dep_id) {
                    continue;
                }
                let r = self.run_workflow(dd, dw, inputs.clone(), depth + 1).await?;
                if let EndStatus::Failed { step, reason } = r.status {
                    return Ok(WorkflowRun {
                        workflow_id: id,
                        outputs: Map::new(),
                        status: EndStatus::Failed {
                            step: format!("dependsOn {dep_id}"),
                            reason: format!("dependency failed at step `{step}`: {reason}"),
                        },
                    });
                }
            }
            let mut st = WfState {
                inputs: inputs.clone(),
                steps: BTreeMap::new(),
            };
            let status = self.run_steps(doc, w, &mut st, depth).await?;
            let outputs = self.workflow_outputs(doc, w, &st);
            self.workflows.insert(
                id.clone(),
                WorkflowValues {
                    inputs,
                    outputs: Value::Object(outputs.clone()),
                },
            );
            Ok(WorkflowRun {
                workflow_id: id,
                outputs,
                status,
            })
        })
    }

    fn workflow_outputs(&mut self, doc: usize, w: &Workflow, st: &WfState) -> Map<String, Value> {
        let mut outs = Map::new();
        for (k, expr) in &w.outputs {
            let mut issues = vec![];
            let partial = Value::Object(outs.clone());
            let scope = Scope {
                inputs: &st.inputs,
                steps: &st.steps,
                workflows: &self.workflows,
                outputs: &partial,
                request: None,
                response: None,
                sources: &self.sources[doc],
                components: &self.components[doc],
            };
            let v = eval_value(expr, &scope, &mut issues);
            for i in issues {
                self.trace
                    .warnings
                    .push(format!("workflow `{}` output `{k}`: {i}", w.id()));
            }
            outs.insert(k.clone(), v);
        }
        outs
    }

    fn check_limits(&self, w: &Workflow, step: &Step) -> Result<()> {
        if self.steps_run >= self.opts.max_steps {
            return Err(ArazzoError::StepLimit {
                limit: self.opts.max_steps,
                workflow: w.id().into(),
                step: step.id().into(),
            });
        }
        if self.started.elapsed() >= self.opts.timeout {
            return Err(ArazzoError::Timeout {
                limit_secs: self.opts.timeout.as_secs(),
                workflow: w.id().into(),
                step: step.id().into(),
            });
        }
        Ok(())
    }

    async fn sleep_within_budget(&self, d: Duration) {
        let left = self.opts.timeout.saturating_sub(self.started.elapsed());
        tokio::time::sleep(d.min(left)).await;
    }

    fn merged_actions(
        &self,
        doc: usize,
        step: &[Action],
        wf: &[Action],
        success: bool,
    ) -> Vec<Action> {
        // A4: step actions first, then workflow actions whose name the step does not override.
        let resolve = |a: &Action| self.bundle.resolve_action(doc, a, success).ok();
        let mut out: Vec<Action> = step.iter().filter_map(resolve).collect();
        for a in wf.iter().filter_map(resolve) {
            if !out.iter().any(|s| s.name.is_some() && s.name == a.name) {
                out.push(a);
            }
        }
        out
    }

    fn eval_criteria(&self, cs: &[Criterion], scope: &Scope<'_>) -> (bool, Vec<CriterionTrace>) {
        let mut all = true;
        let mut traces = Vec::new();
        for c in cs {
            let o = criteria::evaluate(c, scope, self.strict());
            all &= o.passed;
            traces.push(CriterionTrace {
                condition: c.condition.clone().unwrap_or_default(),
                passed: o.passed,
                tolerated: o
                    .tolerated
                    .iter()
                    .map(|t| t.describe().to_string())
                    .collect(),
                error: o.error,
            });
        }
        (all, traces)
    }

    async fn run_steps(
        &mut self,
        doc: usize,
        w: &Workflow,
        st: &mut WfState,
        depth: usize,
    ) -> Result<EndStatus> {
        let mut idx = 0usize;
        let mut last_start: HashMap<usize, Instant> = HashMap::new();
        let mut retries: HashMap<String, u64> = HashMap::new();
        let mut extra_wait = Duration::ZERO;
        while idx < w.steps.len() {
            let step = &w.steps[idx];
            self.check_limits(w, step)?;
            // A7: a minimum delay between two visits of the same step.
            let mut wait = extra_wait;
            if let Some(prev) = last_start.get(&idx) {
                wait = wait.max(self.opts.min_revisit_delay.saturating_sub(prev.elapsed()));
            }
            extra_wait = Duration::ZERO;
            if !wait.is_zero() {
                self.sleep_within_budget(wait).await;
                self.check_limits(w, step)?;
            }
            last_start.insert(idx, Instant::now());
            self.steps_run += 1;
            let started_ms = self.elapsed_ms();
            let exec = self.execute(doc, w, step, st, depth).await?;
            let sid = step.id().to_string();
            let mut warnings = exec.warnings;
            // Outputs and criteria see this step's request/response.
            let (success, crit_traces, outputs) = {
                let scope = Scope {
                    inputs: &st.inputs,
                    steps: &st.steps,
                    workflows: &self.workflows,
                    outputs: &exec.child_outputs,
                    request: exec.request.as_ref(),
                    response: exec.response.as_ref(),
                    sources: &self.sources[doc],
                    components: &self.components[doc],
                };
                let (mut ok, traces) = if exec.error.is_some() {
                    (false, vec![])
                } else if step.success_criteria.is_empty() {
                    // A5: no successCriteria ⇒ any 2xx (workflow steps: the child did not fail).
                    (
                        exec.response
                            .as_ref()
                            .is_none_or(|r| (200..300).contains(&r.status)),
                        vec![],
                    )
                } else {
                    self.eval_criteria(&step.success_criteria, &scope)
                };
                let mut outs = Map::new();
                for (k, e) in &step.outputs {
                    let mut issues = vec![];
                    let v = eval_value(e, &scope, &mut issues);
                    for i in &issues {
                        let strict_fail = self.strict() && ok;
                        warnings.push(format!("output `{k}`: {i}"));
                        if strict_fail {
                            ok = false;
                            warnings.push("--strict: an unresolvable output fails the step".into());
                        }
                    }
                    outs.insert(k.clone(), v);
                }
                (ok, traces, outs)
            };
            // A re-run step overwrites its outputs.
            st.steps.insert(sid.clone(), outputs.clone());
            let mut action_trace = ActionTrace {
                kind: "next".into(),
                name: None,
                target: None,
                criteria: vec![],
            };
            let mut next: Option<usize> = Some(idx + 1);
            let mut end: Option<EndStatus> = None;
            {
                let scope = Scope {
                    inputs: &st.inputs,
                    steps: &st.steps,
                    workflows: &self.workflows,
                    outputs: &exec.child_outputs,
                    request: exec.request.as_ref(),
                    response: exec.response.as_ref(),
                    sources: &self.sources[doc],
                    components: &self.components[doc],
                };
                let actions = if success {
                    self.merged_actions(doc, &step.on_success, &w.success_actions, true)
                } else {
                    self.merged_actions(doc, &step.on_failure, &w.failure_actions, false)
                };
                let mut chosen: Option<Action> = None;
                for a in actions {
                    let name = a.name.clone().unwrap_or_default();
                    if a.kind.as_deref() == Some("retry") {
                        // A9: retryLimit counts retries; absent ⇒ 1.
                        let used = retries.get(&name).copied().unwrap_or(0);
                        if used >= a.retry_limit.unwrap_or(1) {
                            continue;
                        }
                    }
                    let (ok, traces) = self.eval_criteria(&a.criteria, &scope);
                    action_trace.criteria.extend(traces);
                    if ok {
                        chosen = Some(a);
                        break;
                    }
                }
                match chosen {
                    None if success => {
                        if idx + 1 >= w.steps.len() {
                            action_trace.kind = "complete".into();
                        }
                    }
                    None => {
                        action_trace.kind = "fail".into();
                        let reason = exec.error.clone().unwrap_or_else(|| {
                            let status = exec
                                .response
                                .as_ref()
                                .map(|r| match crate::trace::api_message(&r.body) {
                                    Some(m) => format!("HTTP {} ({m})", r.status),
                                    None => format!("HTTP {}", r.status),
                                })
                                .unwrap_or_default();
                            let failed: Vec<_> = crit_traces
                                .iter()
                                .filter(|c| !c.passed)
                                .map(|c| {
                                    format!(
                                        "`{}`{}",
                                        c.condition,
                                        c.error
                                            .as_ref()
                                            .map(|e| format!(" ({e})"))
                                            .unwrap_or_default()
                                    )
                                })
                                .collect();
                            if failed.is_empty() {
                                format!("{status} is not a success status")
                            } else {
                                format!("{status}; success criteria not met: {}", failed.join(", "))
                            }
                        });
                        end = Some(EndStatus::Failed {
                            step: sid.clone(),
                            reason,
                        });
                    }
                    Some(a) => {
                        let name = a.name.clone().unwrap_or_default();
                        action_trace.name = Some(name.clone());
                        match a.kind.as_deref() {
                            Some("end") => {
                                action_trace.kind = "end".into();
                                end = Some(EndStatus::Ended {
                                    step: sid.clone(),
                                    action: name,
                                    after_failure: !success,
                                });
                            }
                            Some("goto") => {
                                action_trace.kind = "goto".into();
                                if let Some(t) = &a.step_id {
                                    action_trace.target = Some(t.clone());
                                    next = w.step_index(t);
                                } else if let Some(t) = &a.workflow_id {
                                    action_trace.target = Some(t.clone());
                                    next = None;
                                    end = Some(EndStatus::Handed {
                                        workflow: t.clone(),
                                    });
                                }
                            }
                            Some("retry") => {
                                action_trace.kind = "retry".into();
                                *retries.entry(name).or_insert(0) += 1;
                                next = Some(idx);
                                // The Retry-After header overrules retryAfter.
                                let header = exec
                                    .response
                                    .as_ref()
                                    .and_then(|r| r.header("retry-after"))
                                    .and_then(|h| retry_after_secs(h, SystemTime::now()));
                                let secs =
                                    header.or(a.retry_after).unwrap_or(0.0).clamp(0.0, 86_400.0);
                                extra_wait = Duration::from_secs_f64(secs);
                                action_trace.target = a.step_id.clone().or(a.workflow_id.clone());
                            }
                            _ => {}
                        }
                    }
                }
            }
            let step_trace = StepTrace {
                workflow_id: w.id().into(),
                step_id: sid.clone(),
                depth,
                started_ms,
                waited_ms: wait.as_millis() as u64,
                duration_ms: exec.duration.as_millis() as u64,
                request: exec.request.clone(),
                response: exec.response.as_ref().map(|r| ResponseTrace {
                    status: r.status,
                    body: r.body.clone(),
                }),
                error: exec.error.clone(),
                success,
                criteria: crit_traces,
                outputs,
                action: Some(action_trace.clone()),
                warnings,
            };
            tracing::debug!(workflow = w.id(), step = %sid, success, action = %action_trace.kind, "step done");
            self.trace
                .record(step_trace, self.sink.as_deref_mut(), &self.secrets);
            if action_trace.kind != "retry" {
                retries.clear();
            }
            // retry with a target: run that step or workflow first, then retry this step.
            if action_trace.kind == "retry"
                && let Some(t) = &action_trace.target
            {
                if let Some(ti) = w.step_index(t) {
                    self.check_limits(w, &w.steps[ti])?;
                    self.steps_run += 1;
                    let e = self.execute(doc, w, &w.steps[ti], st, depth).await?;
                    let _ = e;
                } else if let Ok((d, wi)) = self.bundle.resolve_workflow(doc, t) {
                    let r = self
                        .run_workflow(d, wi, st.inputs.clone(), depth + 1)
                        .await?;
                    if let EndStatus::Failed { step, reason } = r.status {
                        return Ok(EndStatus::Failed {
                            step: sid,
                            reason: format!(
                                "retry target workflow `{t}` failed at `{step}`: {reason}"
                            ),
                        });
                    }
                }
            }
            if let Some(EndStatus::Handed { workflow }) = &end {
                let (d, wi) = self
                    .bundle
                    .resolve_workflow(doc, workflow)
                    .map_err(|e| ArazzoError::UnknownWorkflow(format!("{workflow} ({e})")))?;
                let r = self
                    .run_workflow(d, wi, st.inputs.clone(), depth + 1)
                    .await?;
                if let EndStatus::Failed { step, reason } = r.status {
                    return Ok(EndStatus::Failed {
                        step: sid,
                        reason: format!("goto workflow `{workflow}` failed at `{step}`: {reason}"),
                    });
                }
                return Ok(EndStatus::Handed {
                    workflow: workflow.clone(),
                });
            }
            if let Some(e) = end {
                return Ok(e);
            }
            match next {
                Some(n) => idx = n,
                None => {
                    return Ok(EndStatus::Failed {
                        step: sid,
                        reason: "goto target not found".into(),
                    });
                }
            }
        }
        Ok(EndStatus::Completed)
    }

    async fn execute(
        &mut self,
        doc: usize,
        w: &Workflow,
        step: &Step,
        st: &WfState,
        depth: usize,
    ) -> Result<Exec> {
        let t0 = Instant::now();
        let mut warnings = Vec::new();
        if let Some(target) = &step.workflow_id {
            // Nested workflow: parameters (no `in`) become its inputs.
            let mut inputs = Map::new();
            let params = self.merged_params(doc, &w.parameters, &step.parameters, false);
            for p in params.into_iter().filter(|p| p.location.is_none()) {
                let (Some(name), Some(val)) = (p.name.clone(), p.value.clone()) else {
                    continue;
                };
                let mut issues = vec![];
                let v = {
                    let scope = self.scope_no_http(doc, st);
                    eval_value(&val, &scope, &mut issues)
                };
                if let Some(err) = self.issues_fail(&issues, &mut warnings) {
                    return Ok(Exec {
                        request: None,
                        response: None,
                        child_outputs: Value::Null,
                        error: Some(err),
                        warnings,
                        duration: t0.elapsed(),
                    });
                }
                inputs.insert(name, v);
            }
            let (d, wi) = match self.bundle.resolve_workflow(doc, target) {
                Ok(x) => x,
                Err(e) => {
                    return Ok(Exec {
                        request: None,
                        response: None,
                        child_outputs: Value::Null,
                        error: Some(e),
                        warnings,
                        duration: t0.elapsed(),
                    });
                }
            };
            let r = match self
                .run_workflow(d, wi, Value::Object(inputs), depth + 1)
                .await
            {
                Ok(r) => r,
                Err(ArazzoError::Inputs { problems, .. }) => {
                    return Ok(Exec {
                        request: None,
                        response: None,
                        child_outputs: Value::Null,
                        error: Some(format!(
                            "invalid inputs for `{target}`: {}",
                            problems.join("; ")
                        )),
                        warnings,
                        duration: t0.elapsed(),
                    });
                }
                Err(e) => return Err(e),
            };
            let error = match &r.status {
                EndStatus::Failed { step, reason } => Some(format!(
                    "workflow `{target}` failed at step `{step}`: {reason}"
                )),
                _ => None,
            };
            return Ok(Exec {
                request: None,
                response: None,
                child_outputs: Value::Object(r.outputs),
                error,
                warnings,
                duration: t0.elapsed(),
            });
        }
        let req = match self.build_request(doc, w, step, st, &mut warnings) {
            Ok(r) => r,
            Err(e) => {
                if self.strict() {
                    return Err(ArazzoError::Runtime {
                        location: format!("workflows[{}].steps[{}]", w.id(), step.id()),
                        message: e,
                    });
                }
                return Ok(Exec {
                    request: None,
                    response: None,
                    child_outputs: Value::Null,
                    error: Some(e),
                    warnings,
                    duration: t0.elapsed(),
                });
            }
        };
        tracing::info!(workflow = w.id(), step = step.id(), method = %req.method, url = %crate::trace::redact_text(&req.url, &self.secrets), "request");
        let res = self.sender.send(&req).await;
        let (response, error) = match res {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("transport error: {e}"))),
        };
        Ok(Exec {
            request: Some(req),
            response,
            child_outputs: Value::Null,
            error,
            warnings,
            duration: t0.elapsed(),
        })
    }

    fn scope_no_http<'s>(&'s self, doc: usize, st: &'s WfState) -> Scope<'s> {
        Scope {
            inputs: &st.inputs,
            steps: &st.steps,
            workflows: &self.workflows,
            outputs: &Value::Null,
            request: None,
            response: None,
            sources: &self.sources[doc],
            components: &self.components[doc],
        }
    }

    /// Strict mode: any issue fails; compatible: warnings.
    fn issues_fail(&self, issues: &[Issue], warnings: &mut Vec<String>) -> Option<String> {
        warnings.extend(issue_strings(issues));
        if self.strict() && !issues.is_empty() {
            Some(format!("--strict: {}", issue_strings(issues).join("; ")))
        } else {
            None
        }
    }

    fn merged_params(
        &self,
        doc: usize,
        wf: &[Parameter],
        step: &[Parameter],
        _op: bool,
    ) -> Vec<Parameter> {
        let key = |p: &Parameter| {
            let n = p.name.clone().unwrap_or_default();
            match p.location.as_deref() {
                Some("header") => (n.to_ascii_lowercase(), p.location.clone()),
                _ => (n, p.location.clone()),
            }
        };
        let mut out: Vec<Parameter> = Vec::new();
        for p in wf.iter().chain(step.iter()) {
            let Ok(p) = self.bundle.resolve_parameter(doc, p) else {
                continue;
            };
            if let Some(pos) = out.iter().position(|q| key(q) == key(&p)) {
                out[pos] = p;
            } else {
                out.push(p);
            }
        }
        out
    }

    fn build_request(
        &self,
        doc: usize,
        w: &Workflow,
        step: &Step,
        st: &WfState,
        warnings: &mut Vec<String>,
    ) -> std::result::Result<HttpRequest, String> {
        let r = if let Some(id) = &step.operation_id {
            self.bundle.resolve_operation_id(doc, id)?
        } else if let Some(p) = &step.operation_path {
            self.bundle.resolve_operation_path(doc, p)?
        } else {
            return Err("step has no target".into());
        };
        let base = match self.opts.servers.get(&r.source) {
            Some(s) => s.clone(),
            None => {
                let s = r.op.servers.first().cloned().unwrap_or_default();
                if s.starts_with("http://") || s.starts_with("https://") {
                    s
                } else if r.source_url.scheme().starts_with("http") {
                    r.source_url
                        .join(if s.is_empty() { "/" } else { &s })
                        .map_err(|e| e.to_string())?
                        .to_string()
                } else {
                    return Err(format!(
                        "source `{}` has no absolute server URL; pass --server {}=URL",
                        r.source, r.source
                    ));
                }
            }
        };
        let scope = self.scope_no_http(doc, st);
        let mut issues = vec![];
        let mut path = r.op.path.clone();
        let mut req = HttpRequest {
            method: r.op.method.clone(),
            ..Default::default()
        };
        let mut cookies = Vec::new();
        for p in self.merged_params(doc, &w.parameters, &step.parameters, true) {
            let (Some(name), Some(val)) = (p.name.clone(), p.value.clone()) else {
                continue;
            };
            let v = eval_value(&val, &scope, &mut issues);
            match p.location.as_deref() {
                Some("path") => {
                    let text = to_text(&v);
                    let enc = percent_encoding::utf8_percent_encode(
                        &text,
                        percent_encoding::NON_ALPHANUMERIC,
                    )
                    .to_string();
                    path = path.replace(&format!("{{{name}}}"), &enc);
                    req.path.push((name, text));
                }
                Some("query") => match &v {
                    Value::Array(items) => {
                        for i in items {
                            req.query.push((name.clone(), to_text(i)));
                        }
                    }
                    Value::Null => {}
                    other => req.query.push((name, to_text(other))),
                },
                Some("header") => req.headers.push((name, to_text(&v))),
                Some("cookie") => cookies.push(format!("{name}={}", to_text(&v))),
                _ => warnings.push(format!("parameter `{name}` has no `in`; ignored")),
            }
        }
        if path.contains('{') {
            warnings.push(format!(
                "path `{path}` still has unfilled template parameters"
            ));
        }
        if !cookies.is_empty() {
            req.headers.push(("Cookie".into(), cookies.join("; ")));
        }
        let mut url = url::Url::parse(&format!("{}{}", base.trim_end_matches('/'), path))
            .map_err(|e| format!("bad URL: {e}"))?;
        if !req.query.is_empty() {
            let mut qp = url.query_pairs_mut();
            for (k, v) in &req.query {
                qp.append_pair(k, v);
            }
        }
        req.url = url.to_string();
        if let Some(rb) = &step.request_body {
            let mut body = rb
                .payload
                .as_ref()
                .map(|p| eval_value(p, &scope, &mut issues))
                .unwrap_or(Value::Null);
            for rep in &rb.replacements {
                let (Some(t), Some(val)) = (&rep.target, &rep.value) else {
                    continue;
                };
                let v = eval_value(val, &scope, &mut issues);
                set_pointer(&mut body, t, v).map_err(|e| format!("replacement `{t}`: {e}"))?;
            }
            let ct = rb
                .content_type
                .clone()
                .or_else(|| r.op.content_types.first().cloned())
                .unwrap_or_else(|| "application/json".into());
            let text = if ct.contains("json") {
                serde_json::to_string(&body).map_err(|e| e.to_string())?
            } else if ct.contains("x-www-form-urlencoded") {
                match &body {
                    Value::Object(m) => {
                        let mut s = url::form_urlencoded::Serializer::new(String::new());
                        for (k, v) in m {
                            s.append_pair(k, &to_text(v));
                        }
                        s.finish()
                    }
                    other => to_text(other),
                }
            } else {
                to_text(&body)
            };
            if req.header("content-type").is_none() {
                req.headers.push(("Content-Type".into(), ct));
            }
            req.body = Some(text);
            req.body_value = Some(body);
        }
        if let Some(auth) = &self.opts.authorization
            && req.header("authorization").is_none()
        {
            req.headers.push(("Authorization".into(), auth.clone()));
        }
        if let Some(err) = self.issues_fail(&issues, warnings) {
            return Err(err);
        }
        Ok(req)
    }
}

/// Sets a JSON Pointer target, creating the last member when its parent exists
/// (RFC 6902 `add` semantics; `-` appends to an array).
pub fn set_pointer(root: &mut Value, ptr: &str, v: Value) -> std::result::Result<(), String> {
    if ptr.is_empty() {
        *root = v;
        return Ok(());
    }
    let (parent, last) = ptr.rsplit_once('/').ok_or("not a JSON Pointer")?;
    let last = crate::openapi::unescape_pointer_token(last);
    let target = if parent.is_empty() {
        Some(root)
    } else {
        root.pointer_mut(parent)
    };
    match target {
        Some(Value::Object(m)) => {
            m.insert(last, v);
            Ok(())
        }
        Some(Value::Array(a)) => {
            if last == "-" {
                a.push(v);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("`{last}` is not an array index"))?;
            let len = a.len();
            if i < len {
                a[i] = v;
                Ok(())
            } else if i == len {
                a.push(v);
                Ok(())
            } else {
                Err(format!("index {i} out of bounds"))
            }
        }
        Some(_) => Err("parent is not an object or array".into()),
        None => Err("parent does not exist".into()),
    }
}

/// A `Retry-After` value in seconds: the delta-seconds form, or an HTTP-date (any of the three
/// RFC 9110 forms), which means "the time left until then" and zero once it has passed.
fn retry_after_secs(value: &str, now: SystemTime) -> Option<f64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return secs.is_finite().then_some(secs);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or_default().as_secs_f64())
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // 1994-11-06 08:49:30 GMT
        assert_eq!(retry_after_secs(" 3 ", now), Some(3.0));
        assert_eq!(retry_after_secs("0.5", now), Some(0.5));
        assert_eq!(
            retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(7.0)
        );
        assert_eq!(
            retry_after_secs("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(0.0)
        );
        assert_eq!(retry_after_secs("later", now), None);
    }
}
