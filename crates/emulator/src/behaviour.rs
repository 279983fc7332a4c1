//! Behaviour directives: how a notebook or task tells the emulator what its simulated run does.
//!
//! Syntax (documented in README): a line whose text after the language's comment token is
//! `emulator: key=value key="quoted value" …`. Keys: `outcome`, `duration`, `pending`, `message`,
//! `exit`. Task types without a notebook carry the same directive in their `description`.
//! Real code is honoured where unambiguous: top-level `dbutils.notebook.exit(...)` and
//! `raise`/`throw`/`stop(...)`.

use std::sync::LazyLock;

use regex::Regex;

use crate::notebook_format::Language;

/// Terminal outcome a notebook or task can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// TERMINATED / SUCCESS.
    Success,
    /// TERMINATED / FAILED.
    Failed,
    /// TERMINATED / TIMEDOUT.
    TimedOut,
    /// TERMINATED / CANCELED.
    Canceled,
    /// SKIPPED life cycle state.
    Skipped,
    /// INTERNAL_ERROR life cycle state.
    InternalError,
}

impl Outcome {
    /// Parse the directive spelling (case-insensitive; `TIMED_OUT` and `CANCELLED` tolerated).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "SUCCESS" => Self::Success,
            "FAILED" | "FAILURE" => Self::Failed,
            "TIMEDOUT" | "TIMED_OUT" => Self::TimedOut,
            "CANCELED" | "CANCELLED" => Self::Canceled,
            "SKIPPED" => Self::Skipped,
            "INTERNAL_ERROR" => Self::InternalError,
            _ => return None,
        })
    }
}

/// The parsed `emulator:` directive (all keys optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directive {
    /// `outcome=`.
    pub outcome: Option<Outcome>,
    /// `duration=` in simulated ms (RUNNING time).
    pub duration_ms: Option<u64>,
    /// `pending=` in simulated ms (PENDING time).
    pub pending_ms: Option<u64>,
    /// `message=`.
    pub message: Option<String>,
    /// `exit=`.
    pub exit: Option<String>,
    /// `fail_first=N`: the notebook's first N runs fail, later ones follow
    /// the other keys (for retry tests).
    pub fail_first: Option<u32>,
}

impl Directive {
    fn merge(&mut self, other: Directive) {
        if other.outcome.is_some() {
            self.outcome = other.outcome;
        }
        if other.duration_ms.is_some() {
            self.duration_ms = other.duration_ms;
        }
        if other.pending_ms.is_some() {
            self.pending_ms = other.pending_ms;
        }
        if other.message.is_some() {
            self.message = other.message;
        }
        if other.exit.is_some() {
            self.exit = other.exit;
        }
        if other.fail_first.is_some() {
            self.fail_first = other.fail_first;
        }
    }
}

/// Parse a duration: `250ms`, `30s`, `1.5m`, `2h`; a bare number means seconds.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        (s, 1_000.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v * mult) as u64)
}

/// Split `key=value key="quoted \" value"` into pairs.
fn pairs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            break;
        }
        if chars.peek() != Some(&'=') {
            if chars.peek().is_none() {
                break;
            }
            continue;
        }
        chars.next();
        let mut value = String::new();
        if matches!(chars.peek(), Some('"') | Some('\'')) {
            let quote = chars.next().unwrap_or('"');
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else if c == quote {
                    break;
                } else {
                    value.push(c);
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.to_ascii_lowercase(), value));
    }
    out
}

/// Parse the text after `emulator:`.
pub fn parse_directive_body(body: &str) -> Directive {
    let mut d = Directive::default();
    for (k, v) in pairs(body) {
        match k.as_str() {
            "outcome" | "result" => d.outcome = Outcome::parse(&v),
            "duration" => d.duration_ms = parse_duration_ms(&v),
            "pending" => d.pending_ms = parse_duration_ms(&v),
            "message" => d.message = Some(v),
            "exit" => d.exit = Some(v),
            "fail_first" => d.fail_first = v.trim().parse().ok(),
            _ => {}
        }
    }
    d
}

/// Collect every `<comment> emulator: …` line of a notebook (later lines win per key).
pub fn notebook_directive(source: &str, language: Language) -> Directive {
    let token = language.comment();
    let mut d = Directive::default();
    for line in source.lines() {
        let Some(rest) = line.trim_start().strip_prefix(token) else {
            continue;
        };
        if let Some(body) = rest.trim_start().strip_prefix("emulator:") {
            d.merge(parse_directive_body(body));
        }
    }
    d
}

/// Directive embedded anywhere in a free-text task `description` (`emulator: …` to end of line).
pub fn description_directive(description: &str) -> Directive {
    let mut d = Directive::default();
    for line in description.lines() {
        if let Some(pos) = line.find("emulator:") {
            d.merge(parse_directive_body(&line[pos + "emulator:".len()..]));
        }
    }
    d
}

/// Value passed to a top-level `dbutils.notebook.exit(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitExpr {
    /// A string literal.
    Literal(String),
    /// `dbutils.widgets.get("name")`: resolved from the run's parameters or the widget default.
    Widget(String),
}

/// The first top-level statement with a visible effect on the run's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `dbutils.notebook.exit(...)`.
    Exit(ExitExpr),
    /// `raise X("msg")` / `throw new X("msg")` / `stop("msg")`: the run fails with this message.
    Raise(String),
}

static PY_EXIT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"^dbutils\.notebook\.exit\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|dbutils\.widgets\.get(?:Argument)?\(\s*["']([^"']+)["']\s*\))\s*\)"#,
    )
    .ok()
});
static PY_RAISE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"^(?:raise|throw\s+new)\s+([A-Za-z_][\w.]*)\s*(?:\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')?[^)]*\))?"#).ok()
});
static R_STOP: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"^stop\(\s*["']([^"']*)["']"#).ok());

/// Find the first top-level (column 0, native-language) exit or raise.
pub fn first_effect(source: &str, language: Language) -> Option<Effect> {
    let magic = format!("{} MAGIC", language.comment());
    for line in source.lines() {
        if line.starts_with(&magic) || line.starts_with(char::is_whitespace) {
            continue;
        }
        let line = line.trim_end();
        if let Some(c) = PY_EXIT.as_ref().and_then(|re| re.captures(line)) {
            let expr = if let Some(w) = c.get(3) {
                ExitExpr::Widget(w.as_str().to_owned())
            } else {
                let lit = c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("");
                ExitExpr::Literal(unescape(lit))
            };
            return Some(Effect::Exit(expr));
        }
        if matches!(language, Language::Python | Language::Scala)
            && let Some(c) = PY_RAISE.as_ref().and_then(|re| re.captures(line))
        {
            let class = c.get(1).map(|m| m.as_str()).unwrap_or("Exception");
            let msg = c.get(2).or(c.get(3)).map(|m| unescape(m.as_str()));
            return Some(Effect::Raise(match msg {
                Some(m) if !m.is_empty() => format!("{class}: {m}"),
                _ => class.to_owned(),
            }));
        }
        if language == Language::R
            && let Some(c) = R_STOP.as_ref().and_then(|re| re.captures(line))
        {
            let msg = c.get(1).map(|m| m.as_str()).unwrap_or("");
            return Some(Effect::Raise(format!("Error: {msg}")));
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A widget declared in a notebook (parameter discovery, defaults, JUPYTER metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widget {
    /// `text`, `dropdown`, `combobox` or `multiselect`.
    pub kind: String,
    /// Widget name (the parameter key).
    pub name: String,
    /// `defaultValue`.
    pub default: String,
    /// Label, if any.
    pub label: Option<String>,
    /// Choices for dropdown/combobox/multiselect.
    pub choices: Vec<String>,
}

static WIDGET_CALL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"dbutils\.widgets\.(text|dropdown|combobox|multiselect)\s*\(").ok()
});
static SQL_WIDGET: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)CREATE\s+WIDGET\s+(TEXT|DROPDOWN|COMBOBOX|MULTISELECT)\s+`?(\w+)`?\s+DEFAULT\s+(?:"([^"]*)"|'([^']*)')(?:\s+CHOICES\s+([^;\n]*))?"#).ok()
});
static STRING_LIT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'"#).ok());

fn string_lits(s: &str) -> Vec<String> {
    STRING_LIT
        .as_ref()
        .map(|re| {
            re.captures_iter(s)
                .map(|c| unescape(c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("")))
                .collect()
        })
        .unwrap_or_default()
}

fn single_string(s: &str) -> Option<String> {
    let s = s.trim();
    let q = s.chars().next()?;
    if (q == '"' || q == '\'') && s.len() >= 2 && s.ends_with(q) {
        Some(unescape(&s[1..s.len() - 1]))
    } else {
        None
    }
}

/// Split a call's argument list (text right after `(`) at top-level commas.
fn call_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            cur.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' | '}' if depth == 0 => {
                if !cur.trim().is_empty() {
                    args.push(cur.trim().to_owned());
                }
                return args;
            }
            ')' | ']' | '}' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => {
                args.push(cur.trim().to_owned());
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    args
}

/// Parse every widget declaration (Python/Scala/R calls, SQL `CREATE WIDGET`, also inside MAGIC
/// cells), first declaration of a name wins.
pub fn parse_widgets(source: &str, language: Language) -> Vec<Widget> {
    let magic = format!("{} MAGIC", language.comment());
    let text: String = source
        .lines()
        .map(|l| {
            l.strip_prefix(&magic)
                .map(|r| r.strip_prefix(' ').unwrap_or(r))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out: Vec<Widget> = Vec::new();
    let mut push = |w: Widget| {
        if !out.iter().any(|o| o.name == w.name) {
            out.push(w);
        }
    };
    if let Some(re) = WIDGET_CALL.as_ref() {
        for m in re.captures_iter(&text) {
            let (Some(all), Some(kind)) = (m.get(0), m.get(1)) else {
                continue;
            };
            let kind = kind.as_str().to_owned();
            let args = call_args(&text[all.end()..]);
            let mut positional = Vec::new();
            let (mut name, mut default, mut label, mut choices) = (None, None, None, Vec::new());
            for a in &args {
                let kw = a.split_once('=').filter(|(k, v)| {
                    k.trim().chars().all(|c| c.is_alphanumeric() || c == '_') && !v.starts_with('=')
                });
                match kw {
                    Some((k, v)) => match k.trim() {
                        "name" => name = single_string(v),
                        "defaultValue" | "default_value" | "default" => default = single_string(v),
                        "label" => label = single_string(v),
                        "choices" => choices = string_lits(v),
                        _ => {}
                    },
                    None => positional.push(a.clone()),
                }
            }
            let mut pos = positional.into_iter();
            if name.is_none() {
                name = pos.next().and_then(|a| single_string(&a));
            }
            if default.is_none() {
                default = pos.next().and_then(|a| single_string(&a));
            }
            if kind != "text" && choices.is_empty() {
                choices = pos.next().map(|a| string_lits(&a)).unwrap_or_default();
            }
            if label.is_none() {
                label = pos.next().and_then(|a| single_string(&a));
            }
            if let Some(name) = name {
                push(Widget {
                    kind,
                    name,
                    default: default.unwrap_or_default(),
                    label,
                    choices,
                });
            }
        }
    }
    if let Some(re) = SQL_WIDGET.as_ref() {
        for c in re.captures_iter(&text) {
            let kind = c
                .get(1)
                .map(|m| m.as_str().to_ascii_lowercase())
                .unwrap_or_default();
            let Some(name) = c.get(2).map(|m| m.as_str().to_owned()) else {
                continue;
            };
            let default = c
                .get(3)
                .or(c.get(4))
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default();
            let choices = c
                .get(5)
                .map(|m| string_lits(m.as_str()))
                .unwrap_or_default();
            push(Widget {
                kind,
                name,
                default,
                label: None,
                choices,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_with_quotes() {
        let d = notebook_directive(
            "# Databricks notebook source\n# emulator: outcome=FAILED duration=30s message=\"Division by zero\"\n",
            Language::Python,
        );
        assert_eq!(d.outcome, Some(Outcome::Failed));
        assert_eq!(d.duration_ms, Some(30_000));
        assert_eq!(d.message.as_deref(), Some("Division by zero"));
    }

    #[test]
    fn exit_and_raise() {
        let src = "x = 1\n  dbutils.notebook.exit('no')\nraise ValueError(\"bad\")\ndbutils.notebook.exit('x')";
        assert_eq!(
            first_effect(src, Language::Python),
            Some(Effect::Raise("ValueError: bad".into()))
        );
        let src = "dbutils.notebook.exit(dbutils.widgets.get(\"env\"))";
        assert_eq!(
            first_effect(src, Language::Python),
            Some(Effect::Exit(ExitExpr::Widget("env".into())))
        );
    }

    #[test]
    fn widgets_all_forms() {
        let src = "dbutils.widgets.text(name=\"schema\", label=\"S\", defaultValue=\"dev\")\ndbutils.widgets.dropdown(\"x\", \"a\", [\"a\",\"b\"], \"X\")\n";
        let w = parse_widgets(src, Language::Python);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].default, "dev");
        assert_eq!(w[1].choices, vec!["a", "b"]);
        assert_eq!(w[1].label.as_deref(), Some("X"));
        let w = parse_widgets(
            "CREATE WIDGET DROPDOWN env DEFAULT \"dev\" CHOICES (VALUES 'dev', 'prod');",
            Language::Sql,
        );
        assert_eq!(w[0].choices, vec!["dev", "prod"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("1.5m"), Some(90_000));
        assert_eq!(parse_duration_ms("2"), Some(2_000));
        assert_eq!(parse_duration_ms("x"), None);
    }
}
