//! The step-by-step trace: JSON for machines, a readable report for people, and
//! secret redaction for both.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::http::HttpRequest;

/// One criterion's result.
#[derive(Debug, Clone, Serialize)]
pub struct CriterionTrace {
    /// The condition text.
    pub condition: String,
    /// Whether it passed.
    pub passed: bool,
    /// Tolerances that were needed (compatible mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerated: Vec<String>,
    /// Why it could not be evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The action taken after a step.
#[derive(Debug, Clone, Serialize)]
pub struct ActionTrace {
    /// `next`, `end`, `goto`, `retry`, `fail` or `complete`.
    pub kind: String,
    /// The action's name when one matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// goto/retry target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Results of the action criteria that were evaluated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriterionTrace>,
}

/// The response part of a step trace.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseTrace {
    /// Status code.
    pub status: u16,
    /// Body (JSON or text).
    pub body: Value,
}

/// One executed step.
#[derive(Debug, Clone, Serialize)]
pub struct StepTrace {
    /// Workflow the step belongs to.
    pub workflow_id: String,
    /// Step id.
    pub step_id: String,
    /// Nesting depth (0 = the workflow that was asked for).
    pub depth: usize,
    /// Milliseconds since the run started.
    pub started_ms: u64,
    /// Time spent waiting before the step (revisit delay, retryAfter).
    pub waited_ms: u64,
    /// Duration of the request (or nested workflow).
    pub duration_ms: u64,
    /// The request sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// The response received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseTrace>,
    /// Transport error or nested-workflow failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the step succeeded.
    pub success: bool,
    /// Success criteria results.
    pub criteria: Vec<CriterionTrace>,
    /// Outputs after the step.
    pub outputs: Map<String, Value>,
    /// What happened next.
    pub action: Option<ActionTrace>,
    /// Tolerated oddities and unresolved values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trace {
    /// Workflow that was asked for.
    pub workflow_id: String,
    /// `completed`, `ended`, `failed`.
    pub status: String,
    /// Error message when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Total duration.
    pub duration_ms: u64,
    /// The workflow's outputs.
    pub outputs: Value,
    /// Run-level warnings (validation tolerances, unresolved outputs).
    pub warnings: Vec<String>,
    /// Executed steps in order: the last [`RETAINED_STEPS`], with response bodies over
    /// [`RETAINED_BODY_BYTES`] replaced by their size, so memory follows the live state and not
    /// the step count. A [`StepSink`] (`--trace FILE`) receives every step in full.
    pub steps: Vec<StepTrace>,
    /// Steps executed but no longer retained in `steps` (oldest first).
    #[serde(skip_serializing_if = "is_zero")]
    pub steps_omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Steps kept in memory for the report (see [`Trace::steps`]).
pub const RETAINED_STEPS: usize = 100;
/// Largest response body kept in memory per retained step (JSON bytes).
pub const RETAINED_BODY_BYTES: usize = 4096;

/// Receives every step as it completes, in full, e.g. to stream `--trace FILE`.
pub trait StepSink: Send + Sync {
    /// One finished step; `secrets` are the values to redact.
    fn step(&mut self, step: &StepTrace, secrets: &[String]);
}

impl Trace {
    /// Hands `step` to `sink` (in full), then retains a bounded summary of it.
    pub fn record(
        &mut self,
        step: StepTrace,
        sink: Option<&mut (dyn StepSink + '_)>,
        secrets: &[String],
    ) {
        if let Some(sink) = sink {
            sink.step(&step, secrets);
        }
        let mut step = step;
        if let Some(r) = step.response.as_mut() {
            let size = serde_json::to_string(&r.body).map_or(0, |t| t.len());
            if size > RETAINED_BODY_BYTES {
                r.body = Value::String(format!("({size} bytes, not retained; see --trace)"));
            }
        }
        self.steps.push(step);
        if self.steps.len() > RETAINED_STEPS {
            let extra = self.steps.len() - RETAINED_STEPS;
            self.steps.drain(..extra);
            self.steps_omitted += extra as u64;
        }
    }
}

impl<T: StepSink + ?Sized> StepSink for &mut T {
    fn step(&mut self, step: &StepTrace, secrets: &[String]) {
        (**self).step(step, secrets);
    }
}

/// Streams a trace as one JSON document: `{"steps": [...every step...], <the rest of the
/// trace>}`, each step written (redacted) as soon as it ends.
pub struct JsonTraceWriter<W: std::io::Write + Send + Sync> {
    out: W,
    steps: u64,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write + Send + Sync> JsonTraceWriter<W> {
    /// Starts the document.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(b"{\"steps\": [\n")?;
        Ok(Self {
            out,
            steps: 0,
            error: None,
        })
    }

    /// Closes the step list and writes the rest of `trace` (its retained `steps` left out).
    pub fn finish(mut self, trace: &Trace, secrets: &[String]) -> std::io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut rest = trace.to_json(secrets);
        if let Value::Object(m) = &mut rest {
            m.remove("steps");
            m.remove("steps_omitted");
        }
        let rest = serde_json::to_string_pretty(&rest).map_err(std::io::Error::other)?;
        let rest = rest.trim_start().trim_start_matches('{').trim_start();
        self.out.write_all(b"\n]")?;
        if rest != "}" {
            self.out.write_all(b",\n")?;
        }
        self.out.write_all(rest.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: std::io::Write + Send + Sync> StepSink for JsonTraceWriter<W> {
    fn step(&mut self, step: &StepTrace, secrets: &[String]) {
        if self.error.is_some() {
            return;
        }
        let v = redact(&serde_json::to_value(step).unwrap_or(Value::Null), secrets);
        let sep: &[u8] = if self.steps == 0 { b"" } else { b",\n" };
        let res = self
            .out
            .write_all(sep)
            .and_then(|()| serde_json::to_writer(&mut self.out, &v).map_err(std::io::Error::other));
        self.steps += 1;
        if let Err(e) = res {
            self.error = Some(e);
        }
    }
}

/// The API's own explanation in an error response body, so a failed step says *why*
/// ("Job 42 does not exist.") and not only its status: `message` (Databricks, most JSON APIs),
/// `error.message` / `error` (OAuth, Google), `detail` / `title` (RFC 9457), or a short text body.
pub fn api_message(body: &Value) -> Option<String> {
    const MAX: usize = 300;
    let text = match body {
        Value::Object(m) => ["message", "error_description", "detail", "title", "error"]
            .iter()
            .find_map(|k| match m.get(*k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(Value::Object(inner)) => inner
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            })?,
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        _ => return None,
    };
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(if one_line.chars().count() > MAX {
        format!("{}…", one_line.chars().take(MAX).collect::<String>())
    } else {
        one_line
    })
}

/// Placeholder for redacted values.
pub const REDACTED: &str = "***";

fn redact_value(v: &mut Value, secrets: &[String], key: Option<&str>) {
    match v {
        Value::String(s) => {
            if key.is_some_and(|k| k.eq_ignore_ascii_case("authorization")) {
                *s = REDACTED.into();
                return;
            }
            for sec in secrets {
                if sec.len() >= 3 && s.contains(sec.as_str()) {
                    *s = s.replace(sec.as_str(), REDACTED);
                }
            }
        }
        Value::Array(a) => {
            // Header pairs are serialised as [name, value].
            if a.len() == 2
                && let (Some(Value::String(k)), Some(Value::String(_))) = (a.first(), a.get(1))
                && (k.eq_ignore_ascii_case("authorization")
                    || crate::inputs::is_secret_name(k)
                    || k.eq_ignore_ascii_case("cookie"))
            {
                a[1] = Value::String(REDACTED.into());
                return;
            }
            for x in a {
                redact_value(x, secrets, None);
            }
        }
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                redact_value(x, secrets, Some(k));
            }
        }
        _ => {}
    }
}

/// Redacts the Authorization header, secret-named headers and every occurrence of a
/// secret value anywhere in a JSON tree.
pub fn redact(v: &Value, secrets: &[String]) -> Value {
    let mut v = v.clone();
    redact_value(&mut v, secrets, None);
    v
}

/// Redacts secret values in free text (log lines, error messages).
pub fn redact_text(s: &str, secrets: &[String]) -> String {
    let mut s = s.to_string();
    for sec in secrets {
        if sec.len() >= 3 {
            s = s.replace(sec.as_str(), REDACTED);
        }
    }
    s
}

impl Trace {
    /// The trace as redacted JSON.
    pub fn to_json(&self, secrets: &[String]) -> Value {
        redact(&serde_json::to_value(self).unwrap_or(Value::Null), secrets)
    }

    /// A readable report (redacted).
    pub fn report(&self, secrets: &[String]) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "workflow {}: {} in {:.1} s\n",
            self.workflow_id,
            self.status,
            self.duration_ms as f64 / 1000.0
        ));
        for (i, s) in self.steps.iter().enumerate() {
            let indent = "  ".repeat(s.depth + 1);
            let req = s
                .request
                .as_ref()
                .map(|r| format!("{} {}", r.method, r.url))
                .unwrap_or_else(|| "(workflow)".into());
            let status = s
                .response
                .as_ref()
                .map(|r| r.status.to_string())
                .or_else(|| s.error.clone())
                .unwrap_or_default();
            out.push_str(&format!(
                "{indent}{:>3}. {}/{} {req} -> {status} [{} ms{}] {}\n",
                i + 1,
                s.workflow_id,
                s.step_id,
                s.duration_ms,
                if s.waited_ms > 0 {
                    format!(", waited {} ms", s.waited_ms)
                } else {
                    String::new()
                },
                if s.success { "ok" } else { "FAILED" },
            ));
            for c in &s.criteria {
                out.push_str(&format!(
                    "{indent}       [{}] {}{}\n",
                    if c.passed { "x" } else { " " },
                    c.condition,
                    c.error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ));
            }
            if let Some(a) = &s.action {
                out.push_str(&format!(
                    "{indent}       -> {}{}{}\n",
                    a.kind,
                    a.name
                        .as_ref()
                        .map(|n| format!(" `{n}`"))
                        .unwrap_or_default(),
                    a.target
                        .as_ref()
                        .map(|t| format!(" to {t}"))
                        .unwrap_or_default()
                ));
            }
            for w in &s.warnings {
                out.push_str(&format!("{indent}       warning: {w}\n"));
            }
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("error: {e}\n"));
        }
        out.push_str(&format!("outputs: {}\n", self.outputs));
        redact_text(&out, secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_messages() {
        let db =
            json!({"error_code": "INVALID_PARAMETER_VALUE", "message": "Job 42 does not exist."});
        assert_eq!(api_message(&db).as_deref(), Some("Job 42 does not exist."));
        let nested = json!({"error": {"code": 7, "message": "nope"}});
        assert_eq!(api_message(&nested).as_deref(), Some("nope"));
        assert_eq!(api_message(&json!({"ok": true})), None);
        assert_eq!(
            api_message(&json!("Bad\n gateway")).as_deref(),
            Some("Bad gateway")
        );
    }

    #[test]
    fn redacts_headers_and_secret_values() {
        let v = json!({"headers": [["Authorization", "Bearer abc"], ["X-Api-Token", "zzz"], ["Accept", "json"]],
                       "url": "http://h/?token=s3cret", "body": {"password": "s3cret", "n": 1}});
        let r = redact(&v, &["s3cret".to_string()]);
        assert_eq!(r["headers"][0][1], "***");
        assert_eq!(r["headers"][1][1], "***");
        assert_eq!(r["headers"][2][1], "json");
        assert_eq!(r["url"], "http://h/?token=***");
        assert_eq!(r["body"]["password"], "***");
        assert_eq!(redact_text("tok s3cret", &["s3cret".into()]), "tok ***");
    }
}
