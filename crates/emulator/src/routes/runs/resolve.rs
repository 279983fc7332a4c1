//! What each task of a new run will do: notebook source directives and code, the description
//! directive, compute-dependent PENDING time, injected faults.

use std::collections::HashMap;

use serde_json::Value;

use crate::behaviour::{Effect, ExitExpr, Outcome, description_directive};
use crate::faults::roll;
use crate::lifecycle::TaskBehaviour;
use crate::state::{AppState, ObjectKind, lock, read_lock};

pub(super) fn str_map(v: Option<&Value>) -> HashMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Resolve what a task will do: notebook source directives and code, description directive,
/// compute-dependent PENDING time, injected INTERNAL_ERROR.
pub(super) fn resolve(
    s: &AppState,
    task: &Value,
    params: &HashMap<String, String>,
    git: bool,
) -> (TaskBehaviour, bool) {
    let d = &s.config.durations;
    let new_cluster = task.get("new_cluster").is_some() || task.get("job_cluster_key").is_some();
    let pending = if new_cluster {
        d.pending_new_cluster_ms
    } else {
        d.pending_warm_ms
    };
    let mut b = TaskBehaviour {
        outcome: Outcome::Success,
        pending_ms: pending,
        running_ms: d.running_ms,
        message: None,
        exit: None,
        error_trace: None,
    };
    let mut directive = crate::behaviour::Directive::default();
    let nb = task.get("notebook_task");
    if let Some(nb) = nb {
        let path = nb
            .get("notebook_path")
            .and_then(Value::as_str)
            .unwrap_or("");
        let from_git = git || nb.get("source").and_then(Value::as_str) == Some("GIT");
        let info = if from_git {
            None
        } else {
            match read_lock(&s.workspace)
                .get(&crate::routes::workspace::normalise(path))
                .map(|o| o.kind.clone())
            {
                Some(ObjectKind::Notebook(info)) => Some(info),
                _ => {
                    b.outcome = Outcome::Failed;
                    b.running_ms = 0;
                    b.message = Some(format!(
                        "Unable to access the notebook \"{path}\". Either it does not exist, or the identity used to run this job, {}, lacks the required permissions.",
                        s.config.user_name
                    ));
                    b.error_trace = Some(format!(
                        "com.databricks.WorkflowException: com.databricks.common.client.DatabricksServiceHttpClientException: RESOURCE_DOES_NOT_EXIST: Notebook not found: {path}"
                    ));
                    return (b, true);
                }
            }
        };
        if let Some(info) = info {
            directive = info.directive.clone();
            let mut values: HashMap<String, String> = info
                .widgets
                .iter()
                .map(|w| (w.name.clone(), w.default.clone()))
                .collect();
            values.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
            match &info.effect {
                Some(Effect::Exit(ExitExpr::Literal(v))) => b.exit = Some(v.clone()),
                Some(Effect::Exit(ExitExpr::Widget(name))) => match values.get(name) {
                    Some(v) => b.exit = Some(v.clone()),
                    None => {
                        b.outcome = Outcome::Failed;
                        b.message = Some(format!(
                            "com.databricks.dbutils_v1.InputWidgetNotDefined: No input widget named {name} is defined"
                        ));
                    }
                },
                Some(Effect::Raise(msg)) => {
                    b.outcome = Outcome::Failed;
                    b.message = Some(msg.clone());
                    b.error_trace = Some(format!(
                        "---------------------------------------------------------------------------\n{msg}"
                    ));
                }
                None => {}
            }
        }
    }
    if let Some(desc) = task.get("description").and_then(Value::as_str) {
        let dd = description_directive(desc);
        if dd != Default::default() {
            directive = dd;
        }
    }
    if let Some(o) = directive.outcome {
        b.outcome = o;
        if o == Outcome::Success {
            b.message = None;
        }
    }
    if let Some(ms) = directive.duration_ms {
        b.running_ms = ms;
    }
    if let Some(ms) = directive.pending_ms {
        b.pending_ms = ms;
    }
    if directive.message.is_some() {
        b.message = directive.message.clone();
    }
    if directive.exit.is_some() {
        b.exit = directive.exit.clone();
    }
    if let (Some(n), Some(path)) = (
        directive.fail_first,
        nb.and_then(|nb| nb.get("notebook_path"))
            .and_then(Value::as_str),
    ) {
        let mut starts = lock(&s.notebook_starts);
        let count = starts
            .entry(crate::routes::workspace::normalise(path))
            .or_insert(0);
        *count += 1;
        if *count <= n {
            b.outcome = Outcome::Failed;
            b.exit = None;
            b.message = Some(format!(
                "failing on purpose: run {count} of the first {n} (emulator fail_first={n})"
            ));
        }
    }
    let rate = s.faults().internal_error_rate;
    if rate > 0.0 && roll() < rate {
        b.outcome = Outcome::InternalError;
        b.message = Some("Run encountered an unexpected internal error (injected).".to_owned());
    }
    if b.outcome == Outcome::Failed && b.error_trace.is_none() {
        b.error_trace = b.message.clone();
    }
    (b, nb.is_some())
}
