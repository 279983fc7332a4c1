//! Validation with located diagnostics: every problem is collected (never stop at
//! the first), each with the workflow id / step id / field path where it is.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::Mode;
use crate::criteria;
use crate::document::{Action, Criterion, Parameter, Workflow};
use crate::expr::parse::{Expr, Part, StrValue, classify};
use crate::load::{Bundle, Source};

/// Severity of a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the run.
    Error,
    /// Tolerated (compatible mode), shown to the author.
    Warning,
}

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// `file: workflows[<id>].steps[<id>].field...`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{s}: {}: {}", self.location, self.message)
    }
}

/// The state of validating one document of a bundle: where diagnostics are located and
/// collected, and how strictly tolerances are judged.
struct DocValidator<'a> {
    bundle: &'a Bundle,
    doc_index: usize,
    mode: Mode,
    file: String,
    out: Vec<Diagnostic>,
}

impl DocValidator<'_> {
    fn err(&mut self, loc: &str, msg: impl Into<String>) {
        self.out.push(Diagnostic {
            severity: Severity::Error,
            location: format!("{}: {loc}", self.file),
            message: msg.into(),
        });
    }

    fn tolerate(&mut self, loc: &str, msg: impl Into<String>) {
        let severity = match self.mode {
            Mode::Strict => Severity::Error,
            Mode::Compatible => Severity::Warning,
        };
        self.out.push(Diagnostic {
            severity,
            location: format!("{}: {loc}", self.file),
            message: msg.into(),
        });
    }

    fn warn(&mut self, loc: &str, msg: impl Into<String>) {
        self.out.push(Diagnostic {
            severity: Severity::Warning,
            location: format!("{}: {loc}", self.file),
            message: msg.into(),
        });
    }
}

/// Validates every document of the bundle. `Mode::Strict` turns tolerances into errors.
pub fn validate(bundle: &Bundle, mode: Mode) -> Vec<Diagnostic> {
    let mut all = Vec::new();
    for doc in 0..bundle.docs.len() {
        let mut v = DocValidator {
            bundle,
            doc_index: doc,
            mode,
            file: crate::load::display_url(&bundle.docs[doc].url),
            out: Vec::new(),
        };
        validate_doc(&mut v);
        all.extend(v.out);
    }
    all
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

fn validate_doc(v: &mut DocValidator<'_>) {
    let ld = &v.bundle.docs[v.doc_index];
    let d = &ld.doc;
    match &d.arazzo {
        None => v.err("arazzo", "missing required field `arazzo`"),
        Some(Value::String(s)) => {
            let ok = s.strip_prefix("1.0.").is_some_and(|r| {
                r.split('-')
                    .next()
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
            if !ok {
                v.err(
                    "arazzo",
                    format!("unsupported Arazzo version `{s}` (this runner reads 1.0.x)"),
                );
            }
        }
        Some(other) => v.err(
            "arazzo",
            format!("`arazzo` must be a string like \"1.0.1\", got {other}"),
        ),
    }
    match &d.info {
        None => v.err("info", "missing required field `info`"),
        Some(i) => {
            if i.title.is_none() {
                v.err("info.title", "missing required field `title`");
            }
            if i.version.is_none() {
                v.err("info.version", "missing required field `version`");
            }
        }
    }
    if d.source_descriptions.is_empty() {
        v.err(
            "sourceDescriptions",
            "at least one source description is required",
        );
    }
    let mut names = BTreeSet::new();
    for (i, s) in d.source_descriptions.iter().enumerate() {
        let loc = format!(
            "sourceDescriptions[{}]",
            s.name.clone().unwrap_or_else(|| i.to_string())
        );
        match &s.name {
            None => v.err(&loc, "missing required field `name`"),
            Some(n) => {
                if !names.insert(n.clone()) {
                    v.err(&loc, format!("duplicate source description name `{n}`"));
                } else if !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    v.warn(&loc, "name SHOULD match [A-Za-z0-9_-]+");
                }
            }
        }
        if s.url.is_none() {
            v.err(&loc, "missing required field `url`");
        }
        if let Some(k) = &s.kind
            && k != "openapi"
            && k != "arazzo"
        {
            v.err(
                &format!("{loc}.type"),
                format!("type must be `openapi` or `arazzo`, got `{k}`"),
            );
        }
        if let Some(n) = &s.name
            && let Some(Source::Missing { url, message }) = ld.sources.get(n)
        {
            v.err(
                &format!("{loc}.url"),
                format!("cannot load `{url}`: {message}"),
            );
        }
    }
    for (k, p) in &d.components.parameters {
        let loc = format!("components.parameters.{k}");
        if !is_key(k) {
            v.err(&loc, "component keys must match ^[a-zA-Z0-9.-_]+$");
        }
        if p.name.is_none() {
            v.err(&loc, "missing required field `name`");
        }
    }
    if d.workflows.is_empty() {
        v.err("workflows", "at least one workflow is required");
    }
    let mut ids = BTreeSet::new();
    for (i, w) in d.workflows.iter().enumerate() {
        let loc = format!(
            "workflows[{}]",
            w.workflow_id.clone().unwrap_or_else(|| i.to_string())
        );
        match &w.workflow_id {
            None => v.err(&loc, "missing required field `workflowId`"),
            Some(id) => {
                if !ids.insert(id.clone()) {
                    v.err(&loc, format!("duplicate workflowId `{id}`"));
                }
            }
        }
        validate_workflow(v, w, &loc);
    }
    check_cycles(v);
}

fn check_cycles(v: &mut DocValidator<'_>) {
    let d = &v.bundle.docs[v.doc_index].doc;
    let edges: BTreeMap<String, Vec<String>> = d
        .workflows
        .iter()
        .filter_map(|w| Some((w.workflow_id.clone()?, w.depends_on.clone())))
        .collect();
    let mut reported = BTreeSet::new();
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((cur, path)) = stack.pop() {
            for next in edges.get(&cur).into_iter().flatten() {
                if next == start {
                    if reported.insert(start.clone()) && path.iter().min() == Some(start) {
                        let mut cyc = path.clone();
                        cyc.push(start.clone());
                        v.err(
                            &format!("workflows[{start}].dependsOn"),
                            format!("dependsOn cycle: {}", cyc.join(" -> ")),
                        );
                    }
                } else if !path.contains(next) && path.len() < 64 {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
}

fn validate_workflow(v: &mut DocValidator<'_>, w: &Workflow, loc: &str) {
    let bundle = v.bundle;
    let doc = v.doc_index;
    for dep in &w.depends_on {
        if let Err(e) = bundle.resolve_workflow(doc, dep) {
            v.err(&format!("{loc}.dependsOn"), e);
        }
    }
    if let Some(schema) = &w.inputs {
        if !schema.is_object() {
            v.err(
                &format!("{loc}.inputs"),
                "inputs must be a JSON Schema object",
            );
        } else {
            let resolved = crate::inputs::resolve_schema(schema, &bundle.docs[doc].raw);
            if let Some(r) = find_dangling_ref(&resolved) {
                v.err(
                    &format!("{loc}.inputs"),
                    format!("`$ref: {r}` points to nothing"),
                );
            } else if let Err(e) = crate::inputs::check_schema(&resolved) {
                v.err(
                    &format!("{loc}.inputs"),
                    format!("invalid JSON Schema: {e}"),
                );
            }
        }
    }
    if w.steps.is_empty() {
        v.err(&format!("{loc}.steps"), "at least one step is required");
    }
    let step_ids: BTreeSet<String> = w.steps.iter().filter_map(|s| s.step_id.clone()).collect();
    check_params(
        v,
        &w.parameters,
        &format!("{loc}.parameters"),
        true,
        &step_ids,
    );
    check_actions(
        v,
        &w.success_actions,
        &format!("{loc}.successActions"),
        true,
        w,
        &step_ids,
    );
    check_actions(
        v,
        &w.failure_actions,
        &format!("{loc}.failureActions"),
        false,
        w,
        &step_ids,
    );
    for (k, o) in &w.outputs {
        let l = format!("{loc}.outputs.{k}");
        if !is_key(k) {
            v.err(&l, "output names must match ^[a-zA-Z0-9.-_]+$");
        }
        check_value(v, o, &l, &step_ids);
    }
    let mut seen = BTreeSet::new();
    for (i, s) in w.steps.iter().enumerate() {
        let sl = format!(
            "{loc}.steps[{}]",
            s.step_id.clone().unwrap_or_else(|| i.to_string())
        );
        match &s.step_id {
            None => v.err(&sl, "missing required field `stepId`"),
            Some(id) => {
                if !seen.insert(id.clone()) {
                    v.err(&sl, format!("duplicate stepId `{id}`"));
                }
            }
        }
        let targets = [
            s.operation_id.is_some(),
            s.operation_path.is_some(),
            s.workflow_id.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if targets != 1 {
            v.err(&sl, format!("a step needs exactly one of operationId, operationPath, workflowId (found {targets})"));
        } else if let Some(id) = &s.operation_id {
            match bundle.resolve_operation_id(doc, id) {
                Err(e) => v.err(&format!("{sl}.operationId"), e),
                Ok(r) if r.compat => v.tolerate(&format!("{sl}.operationId"), format!("`{id}`: source-prefixed operationId without `$sourceDescriptions.` (Redocly style)")),
                Ok(_) => {}
            }
        } else if let Some(p) = &s.operation_path {
            match bundle.resolve_operation_path(doc, p) {
                Err(e) => v.err(&format!("{sl}.operationPath"), e),
                Ok(r) if r.compat => v.tolerate(
                    &format!("{sl}.operationPath"),
                    "operationPath should be `{$sourceDescriptions.<name>.url}#/paths/...`",
                ),
                Ok(_) => {}
            }
        } else if let Some(wid) = &s.workflow_id
            && let Err(e) = bundle.resolve_workflow(doc, wid)
        {
            v.err(&format!("{sl}.workflowId"), e);
        }
        let is_op = s.workflow_id.is_none();
        check_params(
            v,
            &s.parameters,
            &format!("{sl}.parameters"),
            is_op,
            &step_ids,
        );
        if let Some(rb) = &s.request_body {
            if let Some(p) = &rb.payload {
                check_value(v, p, &format!("{sl}.requestBody.payload"), &step_ids);
            }
            for (j, r) in rb.replacements.iter().enumerate() {
                let rl = format!("{sl}.requestBody.replacements[{j}]");
                match &r.target {
                    None => v.err(&rl, "missing required field `target`"),
                    Some(t) if !t.is_empty() && !t.starts_with('/') => {
                        v.err(
                            &format!("{rl}.target"),
                            format!("`{t}` is not a JSON Pointer"),
                        );
                    }
                    Some(_) => {}
                }
                match &r.value {
                    None => v.err(&rl, "missing required field `value`"),
                    Some(x) => check_value(v, x, &format!("{rl}.value"), &step_ids),
                }
            }
        }
        for (j, c) in s.success_criteria.iter().enumerate() {
            check_criterion(v, c, &format!("{sl}.successCriteria[{j}]"), &step_ids);
        }
        check_actions(
            v,
            &s.on_success,
            &format!("{sl}.onSuccess"),
            true,
            w,
            &step_ids,
        );
        check_actions(
            v,
            &s.on_failure,
            &format!("{sl}.onFailure"),
            false,
            w,
            &step_ids,
        );
        for (k, o) in &s.outputs {
            let l = format!("{sl}.outputs.{k}");
            if !is_key(k) {
                v.err(&l, "output names must match ^[a-zA-Z0-9.-_]+$");
            }
            check_value(v, o, &l, &step_ids);
        }
    }
}

fn find_dangling_ref(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str)
                && r.starts_with("#/")
            {
                return Some(r.to_string());
            }
            m.values().find_map(find_dangling_ref)
        }
        Value::Array(a) => a.iter().find_map(find_dangling_ref),
        _ => None,
    }
}

fn check_params(
    v: &mut DocValidator<'_>,
    ps: &[Parameter],
    loc: &str,
    is_op: bool,
    steps: &BTreeSet<String>,
) {
    let mut seen = BTreeSet::new();
    for (i, p) in ps.iter().enumerate() {
        let pl = format!(
            "{loc}[{}]",
            p.name
                .clone()
                .or_else(|| p.reference.clone())
                .unwrap_or_else(|| i.to_string())
        );
        let p = match v.bundle.resolve_parameter(v.doc_index, p) {
            Ok(p) => p,
            Err(e) => {
                v.err(&format!("{pl}.reference"), e);
                continue;
            }
        };
        let Some(name) = &p.name else {
            v.err(&pl, "missing required field `name`");
            continue;
        };
        match p.location.as_deref() {
            None if is_op => v.err(
                &pl,
                "operation parameters need `in` (path, query, header or cookie)",
            ),
            Some(l) if !["path", "query", "header", "cookie"].contains(&l) => {
                v.err(
                    &format!("{pl}.in"),
                    format!("`in` must be path, query, header or cookie, got `{l}`"),
                );
            }
            _ => {}
        }
        let key = (
            if p.location.as_deref() == Some("header") {
                name.to_ascii_lowercase()
            } else {
                name.clone()
            },
            p.location.clone(),
        );
        if !seen.insert(key) {
            v.err(
                &pl,
                format!("duplicate parameter `{name}` in the same location"),
            );
        }
        match &p.value {
            None => v.err(&pl, "missing required field `value`"),
            Some(x) => check_value(v, x, &format!("{pl}.value"), steps),
        }
    }
}

fn check_actions(
    v: &mut DocValidator<'_>,
    actions: &[Action],
    loc: &str,
    success: bool,
    w: &Workflow,
    steps: &BTreeSet<String>,
) {
    let mut names = BTreeSet::new();
    for (i, a) in actions.iter().enumerate() {
        let al = format!(
            "{loc}[{}]",
            a.name
                .clone()
                .or_else(|| a.reference.clone())
                .unwrap_or_else(|| i.to_string())
        );
        let a = match v.bundle.resolve_action(v.doc_index, a, success) {
            Ok(a) => a,
            Err(e) => {
                v.err(&format!("{al}.reference"), e);
                continue;
            }
        };
        match &a.name {
            None => v.err(&al, "missing required field `name`"),
            Some(n) => {
                if !names.insert(n.clone()) {
                    v.err(&al, format!("duplicate action name `{n}`"));
                }
            }
        }
        let allowed: &[&str] = if success {
            &["end", "goto"]
        } else {
            &["end", "goto", "retry"]
        };
        match a.kind.as_deref() {
            None => v.err(&al, "missing required field `type`"),
            Some(t) if !allowed.contains(&t) => {
                v.err(
                    &format!("{al}.type"),
                    format!("type must be one of {}, got `{t}`", allowed.join(", ")),
                );
            }
            Some(t) => {
                let both = a.step_id.is_some() && a.workflow_id.is_some();
                if both {
                    v.err(&al, "stepId and workflowId are mutually exclusive");
                } else if t == "goto" && a.step_id.is_none() && a.workflow_id.is_none() {
                    v.err(&al, "goto needs a stepId or a workflowId");
                } else if t == "end" && (a.step_id.is_some() || a.workflow_id.is_some()) {
                    v.warn(&al, "stepId/workflowId are ignored on an `end` action");
                }
                if let Some(s) = &a.step_id
                    && t != "end"
                    && w.step_index(s).is_none()
                {
                    v.err(
                        &format!("{al}.stepId"),
                        format!(
                            "goto target step `{s}` does not exist in workflow `{}`",
                            w.id()
                        ),
                    );
                }
                if let Some(wid) = &a.workflow_id
                    && t != "end"
                    && let Err(e) = v.bundle.resolve_workflow(v.doc_index, wid)
                {
                    v.err(&format!("{al}.workflowId"), e);
                }
            }
        }
        if a.retry_after.is_some_and(|r| r < 0.0 || !r.is_finite()) {
            v.err(
                &format!("{al}.retryAfter"),
                "retryAfter must be a non-negative number",
            );
        }
        for (j, c) in a.criteria.iter().enumerate() {
            check_criterion(v, c, &format!("{al}.criteria[{j}]"), steps);
        }
    }
}

fn check_criterion(v: &mut DocValidator<'_>, c: &Criterion, loc: &str, steps: &BTreeSet<String>) {
    if c.condition.is_none() {
        v.err(loc, "missing required field `condition`");
        return;
    }
    match criteria::check(c) {
        Err(e) => v.err(&format!("{loc}.condition"), e),
        Ok(tols) => {
            for t in tols {
                v.tolerate(&format!("{loc}.condition"), t.describe());
            }
        }
    }
    let kind = criteria::kind_of(c).unwrap_or(criteria::Kind::Simple);
    if let Some(cond) = &c.condition {
        // Expressions in simple conditions, and `{$…}` in the others, must point somewhere.
        let mut exprs = Vec::new();
        if kind == criteria::Kind::Simple {
            collect_condition_exprs(cond, &mut exprs);
        } else {
            for p in crate::expr::parse::template(cond) {
                if let Part::Embedded(e) = p {
                    exprs.push(e);
                }
            }
        }
        for e in exprs {
            check_expr(v, &e, &format!("{loc}.condition"), steps);
        }
    }
    if let Some(ctx) = &c.context
        && let Ok(e) = crate::expr::parse::parse(ctx)
    {
        check_expr(v, &e, &format!("{loc}.context"), steps);
    }
}

fn collect_condition_exprs(cond: &str, out: &mut Vec<Expr>) {
    let b = cond.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == b'\'' || c == b'"' {
            quote = Some(c);
        } else if c == b'$'
            && let Ok((e, n)) = crate::expr::parse::scan(&cond[i..])
        {
            out.push(e);
            i += n;
            continue;
        }
        i += 1;
    }
}

fn check_value(v: &mut DocValidator<'_>, x: &Value, loc: &str, steps: &BTreeSet<String>) {
    match x {
        Value::String(s) => {
            match classify(s) {
                StrValue::Literal => {}
                StrValue::Whole(e) => check_expr(v, &e, loc, steps),
                StrValue::Template(parts) => {
                    for p in parts {
                        match p {
                            Part::Lit(_) => {}
                            Part::Embedded(e) => check_expr(v, &e, loc, steps),
                            Part::Bare(e) => {
                                v.tolerate(loc, format!("bare runtime expression `{e}` inside a string; write `{{{e}}}`"));
                                check_expr(v, &e, loc, steps);
                            }
                        }
                    }
                }
            }
        }
        Value::Array(a) => {
            for (i, y) in a.iter().enumerate() {
                check_value(v, y, &format!("{loc}[{i}]"), steps);
            }
        }
        Value::Object(m) => {
            for (k, y) in m {
                check_value(v, y, &format!("{loc}.{k}"), steps);
            }
        }
        _ => {}
    }
}

fn check_expr(v: &mut DocValidator<'_>, e: &Expr, loc: &str, steps: &BTreeSet<String>) {
    let d = &v.bundle.docs[v.doc_index];
    match e {
        Expr::Steps { step, .. } if !steps.contains(step) => {
            v.err(
                loc,
                format!("`{e}` refers to step `{step}`, which is not in this workflow"),
            );
        }
        Expr::Workflows { workflow, .. }
            if v.bundle.resolve_workflow(v.doc_index, workflow).is_err() =>
        {
            v.err(
                loc,
                format!("`{e}` refers to unknown workflow `{workflow}`"),
            );
        }
        Expr::SourceDescriptions { name, .. }
            if !d.sources.contains_key(name)
                && !d
                    .doc
                    .source_descriptions
                    .iter()
                    .any(|s| s.name.as_deref() == Some(name)) =>
        {
            v.err(
                loc,
                format!("`{e}` refers to unknown source description `{name}`"),
            );
        }
        Expr::Components { kind, name } => {
            let c = &d.doc.components;
            let exists = match kind.as_str() {
                "parameters" => c.parameters.contains_key(name),
                "successActions" => c.success_actions.contains_key(name),
                "failureActions" => c.failure_actions.contains_key(name),
                _ => c.inputs.contains_key(name),
            };
            if !exists {
                v.err(loc, format!("`{e}` does not exist"));
            }
        }
        _ => {}
    }
}
