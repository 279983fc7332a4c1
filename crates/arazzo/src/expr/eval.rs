//! Evaluating runtime expressions and value trees against a run's state.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::parse::{Expr, Part, Source, StrValue, WorkflowField, classify};
use crate::http::{HttpRequest, HttpResponse};

/// Inputs and outputs of a workflow that already ran (for `$workflows.<id>.*`).
#[derive(Debug, Clone, Default)]
pub struct WorkflowValues {
    /// Its inputs.
    pub inputs: Value,
    /// Its outputs.
    pub outputs: Value,
}

/// Everything an expression can read at one point of a run.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `$inputs`.
    pub inputs: &'a Value,
    /// Step outputs of the current workflow run.
    pub steps: &'a BTreeMap<String, Map<String, Value>>,
    /// Finished workflows.
    pub workflows: &'a BTreeMap<String, WorkflowValues>,
    /// `$outputs` (the workflow's, or a nested workflow's for a workflow step).
    pub outputs: &'a Value,
    /// The current request.
    pub request: Option<&'a HttpRequest>,
    /// The current response.
    pub response: Option<&'a HttpResponse>,
    /// `$sourceDescriptions.<name>` → `{url, type, <operationId>: ...}`.
    pub sources: &'a BTreeMap<String, Value>,
    /// The document's raw `components`.
    pub components: &'a Value,
}

/// Looks `name` up in an object; when no key matches exactly and the name has dots,
/// walks the dotted path instead (`$inputs.user.name`).
pub fn lookup(obj: &Value, name: &str) -> Option<Value> {
    if let Some(v) = obj.get(name) {
        return Some(v.clone());
    }
    if !name.contains('.') {
        return None;
    }
    let mut cur = obj;
    for seg in name.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur.clone())
}

/// Applies an optional JSON Pointer (empty pointer = whole value).
pub fn pointer(v: Value, ptr: &Option<String>) -> Option<Value> {
    match ptr.as_deref() {
        None | Some("") => Some(v),
        Some(p) => v.pointer(p).cloned(),
    }
}

fn pairs(p: &[(String, String)], name: &str) -> Option<Value> {
    p.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| Value::String(v.clone()))
}

impl Scope<'_> {
    /// Evaluates an expression; `None` means it reaches nothing (unrun step,
    /// absent header, JSON Pointer with no target, no response yet).
    pub fn eval(&self, e: &Expr) -> Option<Value> {
        match e {
            Expr::Url => self.request.map(|r| Value::String(r.url.clone())),
            Expr::Method => self.request.map(|r| Value::String(r.method.clone())),
            Expr::StatusCode => self.response.map(|r| Value::from(r.status)),
            Expr::Request(src) => {
                let r = self.request?;
                match src {
                    Source::Header(h) => r.header(h).map(|v| Value::String(v.to_string())),
                    Source::Query(q) => pairs(&r.query, q),
                    Source::Path(p) => pairs(&r.path, p),
                    Source::Body(ptr) => {
                        let body = r
                            .body_value
                            .clone()
                            .or_else(|| r.body.as_ref().map(|b| crate::http::body_value(b)))?;
                        pointer(body, ptr)
                    }
                }
            }
            Expr::Response(src) => {
                let r = self.response?;
                match src {
                    Source::Header(h) => r.header(h).map(|v| Value::String(v.to_string())),
                    Source::Query(_) | Source::Path(_) => None,
                    Source::Body(ptr) => pointer(r.body.clone(), ptr),
                }
            }
            Expr::Inputs { name, ptr } => pointer(lookup(self.inputs, name)?, ptr),
            Expr::Outputs { name, ptr } => pointer(lookup(self.outputs, name)?, ptr),
            Expr::Steps { step, name, ptr } => {
                let outs = Value::Object(self.steps.get(step)?.clone());
                pointer(lookup(&outs, name)?, ptr)
            }
            Expr::Workflows {
                workflow,
                field,
                name,
                ptr,
            } => {
                let w = self.workflows.get(workflow)?;
                let src = match field {
                    WorkflowField::Inputs => &w.inputs,
                    WorkflowField::Outputs => &w.outputs,
                };
                pointer(lookup(src, name)?, ptr)
            }
            Expr::SourceDescriptions { name, field } => lookup(self.sources.get(name)?, field),
            Expr::Components { kind, name } => self.components.get(kind)?.get(name).cloned(),
        }
    }
}

/// A problem met while evaluating a value tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// A bare `$expr` inside text was interpolated (off-spec).
    BareExpression(String),
    /// An expression reached nothing and became `null`.
    Unresolved(String),
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Issue::BareExpression(e) => write!(
                f,
                "bare runtime expression `{e}` inside a string interpolated as `{{{e}}}` (the spec requires braces)"
            ),
            Issue::Unresolved(e) => write!(f, "`{e}` reaches no value; using null"),
        }
    }
}

/// Text form of an embedded value: strings as-is, others as JSON text.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Evaluates a value tree from the document: whole-string expressions keep their
/// JSON type, `{$expr}` (and, tolerated, bare `$expr`) are interpolated as text,
/// objects and arrays are walked. Problems are pushed to `issues`; the caller
/// decides whether they are warnings (compatible mode) or errors (`--strict`).
pub fn eval_value(v: &Value, scope: &Scope<'_>, issues: &mut Vec<Issue>) -> Value {
    eval_depth(v, scope, issues, 0)
}

fn eval_depth(v: &Value, scope: &Scope<'_>, issues: &mut Vec<Issue>, depth: usize) -> Value {
    if depth > 64 {
        return v.clone();
    }
    match v {
        Value::String(s) => eval_str(s, scope, issues),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| eval_depth(x, scope, issues, depth + 1))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), eval_depth(x, scope, issues, depth + 1)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Evaluates one string (see [`eval_value`]).
pub fn eval_str(s: &str, scope: &Scope<'_>, issues: &mut Vec<Issue>) -> Value {
    match classify(s) {
        StrValue::Literal => Value::String(s.to_string()),
        StrValue::Whole(e) => scope.eval(&e).unwrap_or_else(|| {
            issues.push(Issue::Unresolved(e.to_string()));
            Value::Null
        }),
        StrValue::Template(parts) => {
            let mut out = String::new();
            for p in parts {
                let bare = matches!(p, Part::Bare(_));
                match p {
                    Part::Lit(t) => out.push_str(&t),
                    Part::Embedded(e) | Part::Bare(e) => {
                        if bare {
                            issues.push(Issue::BareExpression(e.to_string()));
                        }
                        match scope.eval(&e) {
                            Some(v) => out.push_str(&to_text(&v)),
                            None => issues.push(Issue::Unresolved(e.to_string())),
                        }
                    }
                }
            }
            Value::String(out)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::expr::parse::parse;
    use serde_json::json;

    pub(crate) struct Fixture {
        pub inputs: Value,
        pub steps: BTreeMap<String, Map<String, Value>>,
        pub workflows: BTreeMap<String, WorkflowValues>,
        pub outputs: Value,
        pub request: HttpRequest,
        pub response: HttpResponse,
        pub sources: BTreeMap<String, Value>,
        pub components: Value,
    }

    impl Fixture {
        pub fn new() -> Self {
            let mut steps = BTreeMap::new();
            let mut o = Map::new();
            o.insert("pets".into(), json!([{"id": 7}]));
            o.insert("jobId".into(), json!(42));
            steps.insert("s1".into(), o);
            let mut workflows = BTreeMap::new();
            workflows.insert(
                "w".into(),
                WorkflowValues {
                    inputs: json!({"user": "ann"}),
                    outputs: json!({"o": {"name": "x"}}),
                },
            );
            let mut sources = BTreeMap::new();
            sources.insert(
                "api".into(),
                json!({"url": "file:///x/openapi.yml", "type": "openapi"}),
            );
            Fixture {
                inputs: json!({"token": "tok", "n": 5, "user": {"name": "bob"}, "x-api-key": "k"}),
                steps,
                workflows,
                outputs: json!({"bar": [1, 2]}),
                request: HttpRequest {
                    method: "POST".into(),
                    url: "http://h/items/3?page=2".into(),
                    headers: vec![("Authorization".into(), "Bearer tok".into())],
                    query: vec![("page".into(), "2".into())],
                    path: vec![("id".into(), "3".into())],
                    body: Some("{\"user\":{\"uuid\":\"u1\"}}".into()),
                    body_value: None,
                },
                response: HttpResponse {
                    status: 200,
                    headers: vec![("Server".into(), "emu".into())],
                    body: json!({"state": {"life_cycle_state": "RUNNING"}, "job_id": 42}),
                },
                sources,
                components: json!({"parameters": {"page": {"name": "page", "in": "query", "value": 1}}}),
            }
        }

        pub fn scope(&self) -> Scope<'_> {
            Scope {
                inputs: &self.inputs,
                steps: &self.steps,
                workflows: &self.workflows,
                outputs: &self.outputs,
                request: Some(&self.request),
                response: Some(&self.response),
                sources: &self.sources,
                components: &self.components,
            }
        }
    }

    fn ev(f: &Fixture, s: &str) -> Option<Value> {
        f.scope()
            .eval(&parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    #[test]
    fn evaluates_every_form() {
        let f = Fixture::new();
        assert_eq!(ev(&f, "$url"), Some(json!("http://h/items/3?page=2")));
        assert_eq!(ev(&f, "$method"), Some(json!("POST")));
        assert_eq!(ev(&f, "$statusCode"), Some(json!(200)));
        assert_eq!(
            ev(&f, "$request.header.authorization"),
            Some(json!("Bearer tok"))
        );
        assert_eq!(ev(&f, "$request.query.page"), Some(json!("2")));
        assert_eq!(ev(&f, "$request.path.id"), Some(json!("3")));
        assert_eq!(ev(&f, "$request.body#/user/uuid"), Some(json!("u1")));
        assert_eq!(ev(&f, "$response.header.server"), Some(json!("emu")));
        assert_eq!(ev(&f, "$response.body#/job_id"), Some(json!(42)));
        assert_eq!(
            ev(&f, "$response.body#/state/life_cycle_state"),
            Some(json!("RUNNING"))
        );
        assert_eq!(ev(&f, "$response.body#/state/result_state"), None);
        assert_eq!(ev(&f, "$inputs.n"), Some(json!(5)));
        assert_eq!(ev(&f, "$inputs.x-api-key"), Some(json!("k")));
        assert_eq!(ev(&f, "$inputs.user#/name"), Some(json!("bob")));
        assert_eq!(ev(&f, "$inputs.user.name"), Some(json!("bob")));
        assert_eq!(ev(&f, "$outputs.bar#/1"), Some(json!(2)));
        assert_eq!(ev(&f, "$steps.s1.outputs.pets#/0/id"), Some(json!(7)));
        assert_eq!(ev(&f, "$steps.s1.outputs.jobId"), Some(json!(42)));
        assert_eq!(ev(&f, "$steps.nope.outputs.jobId"), None);
        assert_eq!(ev(&f, "$workflows.w.inputs.user"), Some(json!("ann")));
        assert_eq!(ev(&f, "$workflows.w.outputs.o#/name"), Some(json!("x")));
        assert_eq!(
            ev(&f, "$sourceDescriptions.api.type"),
            Some(json!("openapi"))
        );
        assert_eq!(
            ev(&f, "$components.parameters.page"),
            Some(json!({"name": "page", "in": "query", "value": 1}))
        );
    }

    #[test]
    fn value_trees_keep_types_and_interpolate() {
        let f = Fixture::new();
        let mut issues = vec![];
        let v = eval_value(
            &json!({"job_id": "$steps.s1.outputs.jobId", "auth": "Bearer {$inputs.token}",
                    "list": ["$inputs.n", 3], "obj": "x={$inputs.user}"}),
            &f.scope(),
            &mut issues,
        );
        assert_eq!(
            v,
            json!({"job_id": 42, "auth": "Bearer tok", "list": [5, 3], "obj": "x={\"name\":\"bob\"}"})
        );
        assert!(issues.is_empty());
        let v = eval_str("Bearer $inputs.token", &f.scope(), &mut issues);
        assert_eq!(v, json!("Bearer tok"));
        assert_eq!(issues, vec![Issue::BareExpression("$inputs.token".into())]);
        issues.clear();
        let v = eval_str(
            "$response.body#/state/result_state",
            &f.scope(),
            &mut issues,
        );
        assert_eq!(v, Value::Null);
        assert!(matches!(issues[0], Issue::Unresolved(_)));
    }
}
