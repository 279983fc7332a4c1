//! Criteria: `simple` conditions, `regex`, `jsonpath` (RFC 9535 and the comparison
//! form real documents use) and the refusal of `xpath`.

use serde_json::Value;
use serde_json_path::JsonPath;

use crate::document::Criterion;
use crate::expr::Scope;
use crate::expr::eval::{pointer, to_text};
use crate::expr::parse::{Expr, Part, scan, template};

/// Off-spec constructs the compatible mode accepts (each is an error with `--strict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tolerance {
    /// A1: a `jsonpath` condition that is a comparison of JSONPath queries, not an RFC 9535 query.
    JsonPathComparison,
    /// A2: an RFC 9535 query that selected nothing on the context but something on `[context]`.
    WrappedRoot,
    /// A10: a string literal in double quotes.
    DoubleQuoted,
    /// A10: an unquoted word used as a string literal.
    BareWord,
    /// A13: the whole condition wrapped in `{…}`.
    WrappedBraces,
}

impl Tolerance {
    /// Human-readable explanation used in warnings and strict-mode errors.
    pub fn describe(self) -> &'static str {
        match self {
            Tolerance::JsonPathComparison => {
                "jsonpath condition is a comparison of JSONPath queries, not an RFC 9535 query (evaluated with simple-condition semantics on the context)"
            }
            Tolerance::WrappedRoot => {
                "RFC 9535 query selected nothing on the context; it matched with the context wrapped in an array (Redocly's root model)"
            }
            Tolerance::DoubleQuoted => {
                "string literal in double quotes (the spec uses single quotes)"
            }
            Tolerance::BareWord => "unquoted word used as a string literal",
            Tolerance::WrappedBraces => "whole condition wrapped in `{…}`",
        }
    }
}

/// The criterion type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `simple` (the default).
    Simple,
    /// `regex`.
    Regex,
    /// `jsonpath`; `goessner` when the draft-goessner version was asked for.
    JsonPath {
        /// The expression-type object named `draft-goessner-dispatch-jsonpath-00`.
        goessner: bool,
    },
    /// `xpath` with its version (unsupported).
    XPath(String),
}

/// Reads the criterion's `type` (string or Criterion Expression Type object).
pub fn kind_of(c: &Criterion) -> Result<Kind, String> {
    match &c.kind {
        None => Ok(Kind::Simple),
        Some(Value::String(s)) => match s.as_str() {
            "simple" => Ok(Kind::Simple),
            "regex" => Ok(Kind::Regex),
            "jsonpath" => Ok(Kind::JsonPath { goessner: false }),
            "xpath" => Ok(Kind::XPath("xpath-31".into())),
            other => Err(format!(
                "unknown criterion type `{other}` (simple, regex, jsonpath, xpath)"
            )),
        },
        Some(Value::Object(o)) => {
            let t = o.get("type").and_then(Value::as_str).unwrap_or_default();
            let v = o.get("version").and_then(Value::as_str);
            match (t, v) {
                ("jsonpath", Some("draft-goessner-dispatch-jsonpath-00")) => {
                    Ok(Kind::JsonPath { goessner: true })
                }
                ("jsonpath", v) => Err(format!(
                    "unknown jsonpath version `{}` (draft-goessner-dispatch-jsonpath-00)",
                    v.unwrap_or("")
                )),
                ("xpath", Some(v)) if ["xpath-30", "xpath-20", "xpath-10"].contains(&v) => {
                    Ok(Kind::XPath(v.to_string()))
                }
                ("xpath", v) => Err(format!(
                    "unknown xpath version `{}` (xpath-30, xpath-20, xpath-10)",
                    v.unwrap_or("")
                )),
                _ => Err(format!(
                    "criterion expression type needs type jsonpath or xpath, got `{t}`"
                )),
            }
        }
        Some(other) => Err(format!(
            "criterion type must be a string or object, got {other}"
        )),
    }
}

fn xpath_refusal(v: &str) -> String {
    format!(
        "xpath criteria ({v}) are not supported by this runner; use a jsonpath or simple criterion"
    )
}

// ---------------------------------------------------------------- simple conditions

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Navigation after an operand (`.member`, `[n]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Nav {
    /// `.name` or `['name']`
    Key(String),
    /// `[n]`
    Index(usize),
}

/// An operand of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A runtime expression with navigation.
    Expr(Expr, Vec<Nav>),
    /// A JSONPath query on the criterion context (comparison form).
    Path(String),
    /// A literal.
    Lit(Value),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `a || b`
    Or(Box<Cond>, Box<Cond>),
    /// `a && b`
    And(Box<Cond>, Box<Cond>),
    /// `!a`
    Not(Box<Cond>),
    /// `a op b`
    Cmp(Operand, CmpOp, Operand),
    /// A lone operand: passes only when it is boolean `true` (decision A18 in the README).
    Truthy(Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Not,
    And,
    Or,
    Cmp(CmpOp),
    Opnd(Operand),
}

const MAX_DEPTH: usize = 64;

fn tokenize(s: &str, paths: bool, tol: &mut Vec<Tolerance>) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let two = s.get(i..i + 2).unwrap_or("");
        match c {
            _ if c.is_ascii_whitespace() => i += 1,
            b'(' => {
                out.push(Tok::LParen);
                i += 1
            }
            b')' => {
                out.push(Tok::RParen);
                i += 1
            }
            _ if two == "&&" => {
                out.push(Tok::And);
                i += 2
            }
            _ if two == "||" => {
                out.push(Tok::Or);
                i += 2
            }
            _ if two == "==" => {
                out.push(Tok::Cmp(CmpOp::Eq));
                i += 2
            }
            _ if two == "!=" => {
                out.push(Tok::Cmp(CmpOp::Ne));
                i += 2
            }
            _ if two == "<=" => {
                out.push(Tok::Cmp(CmpOp::Le));
                i += 2
            }
            _ if two == ">=" => {
                out.push(Tok::Cmp(CmpOp::Ge));
                i += 2
            }
            b'<' => {
                out.push(Tok::Cmp(CmpOp::Lt));
                i += 1
            }
            b'>' => {
                out.push(Tok::Cmp(CmpOp::Gt));
                i += 1
            }
            b'!' => {
                out.push(Tok::Not);
                i += 1
            }
            b'\'' | b'"' => {
                if c == b'"' {
                    tol.push(Tolerance::DoubleQuoted);
                }
                let mut lit = String::new();
                let mut j = i + 1;
                loop {
                    let Some(ch) = s[j..].chars().next() else {
                        return Err(format!("unterminated string starting at offset {i}"));
                    };
                    if ch as u32 == c as u32 {
                        if b.get(j + 1) == Some(&c) {
                            lit.push(ch);
                            j += 2;
                            continue;
                        }
                        j += 1;
                        break;
                    }
                    lit.push(ch);
                    j += ch.len_utf8();
                }
                out.push(Tok::Opnd(Operand::Lit(Value::String(lit))));
                i = j;
            }
            b'{' if b.get(i + 1) == Some(&b'$') => {
                let (e, n) = scan(&s[i + 1..])?;
                if b.get(i + 1 + n) != Some(&b'}') {
                    return Err(format!("missing `}}` after `{e}`"));
                }
                out.push(Tok::Opnd(Operand::Expr(e, vec![])));
                i += n + 2;
            }
            b'$' if paths && matches!(b.get(i + 1), None | Some(b'.') | Some(b'[')) => {
                let mut j = i + 1;
                let mut depth = 0usize;
                let mut quote: Option<u8> = None;
                while j < b.len() {
                    let d = b[j];
                    if let Some(q) = quote {
                        if d == q {
                            quote = None;
                        }
                    } else if d == b'\'' || d == b'"' {
                        quote = Some(d);
                    } else if d == b'[' {
                        depth += 1;
                    } else if d == b']' {
                        depth = depth.saturating_sub(1);
                    } else if depth == 0 && (d.is_ascii_whitespace() || b"=!<>&|)".contains(&d)) {
                        break;
                    }
                    j += 1;
                }
                out.push(Tok::Opnd(Operand::Path(s[i..j].to_string())));
                i = j;
            }
            b'$' => {
                let (e, n) = scan(&s[i..])?;
                i += n;
                let mut navs = Vec::new();
                loop {
                    if b.get(i) == Some(&b'.')
                        && b.get(i + 1)
                            .is_some_and(|x| x.is_ascii_alphabetic() || *x == b'_')
                    {
                        let start = i + 1;
                        let mut j = start;
                        while j < b.len()
                            && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-')
                        {
                            j += 1;
                        }
                        navs.push(Nav::Key(s[start..j].to_string()));
                        i = j;
                    } else if b.get(i) == Some(&b'[') {
                        let Some(end) = s[i..].find(']') else {
                            return Err(format!("missing `]` at offset {i}"));
                        };
                        let inner = s[i + 1..i + end].trim();
                        if let Ok(n) = inner.parse::<usize>() {
                            navs.push(Nav::Index(n));
                        } else if inner.len() >= 2
                            && inner.starts_with('\'')
                            && inner.ends_with('\'')
                        {
                            navs.push(Nav::Key(inner[1..inner.len() - 1].to_string()));
                        } else {
                            return Err(format!("bad index `[{inner}]`"));
                        }
                        i += end + 1;
                    } else {
                        break;
                    }
                }
                out.push(Tok::Opnd(Operand::Expr(e, navs)));
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_digit() || b".eE+-".contains(&b[j])) {
                    j += 1;
                }
                let n: serde_json::Number = s[i..j]
                    .parse()
                    .map_err(|_| format!("bad number `{}`", &s[i..j]))?;
                out.push(Tok::Opnd(Operand::Lit(Value::Number(n))));
                i = j;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b"_./+-".contains(&b[j])) {
                    j += 1;
                }
                let w = &s[i..j];
                let v = match w {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => {
                        tol.push(Tolerance::BareWord);
                        Value::String(w.to_string())
                    }
                };
                out.push(Tok::Opnd(Operand::Lit(v)));
                i = j;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(format!("unexpected `{ch}` at offset {i}"));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn or(&mut self, d: usize) -> Result<Cond, String> {
        if d > MAX_DEPTH {
            return Err("condition nested too deeply".into());
        }
        let mut l = self.and(d + 1)?;
        while self.peek() == Some(&Tok::Or) {
            self.i += 1;
            let r = self.and(d + 1)?;
            l = Cond::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self, d: usize) -> Result<Cond, String> {
        let mut l = self.unary(d + 1)?;
        while self.peek() == Some(&Tok::And) {
            self.i += 1;
            let r = self.unary(d + 1)?;
            l = Cond::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn unary(&mut self, d: usize) -> Result<Cond, String> {
        if d > MAX_DEPTH {
            return Err("condition nested too deeply".into());
        }
        match self.peek() {
            Some(Tok::Not) => {
                self.i += 1;
                Ok(Cond::Not(Box::new(self.unary(d + 1)?)))
            }
            Some(Tok::LParen) => {
                self.i += 1;
                let c = self.or(d + 1)?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err("missing `)`".into());
                }
                self.i += 1;
                Ok(c)
            }
            Some(Tok::Opnd(_)) => {
                let Some(Tok::Opnd(a)) = self.toks.get(self.i).cloned() else {
                    return Err("expected an operand".into());
                };
                self.i += 1;
                if let Some(Tok::Cmp(op)) = self.peek().cloned() {
                    self.i += 1;
                    match self.toks.get(self.i).cloned() {
                        Some(Tok::Opnd(b)) => {
                            self.i += 1;
                            Ok(Cond::Cmp(a, op, b))
                        }
                        _ => Err("expected an operand after the comparison operator".into()),
                    }
                } else {
                    Ok(Cond::Truthy(a))
                }
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("unexpected end of condition".into()),
        }
    }
}

/// Parses a simple condition. With `paths`, operands starting `$.`/`$[` are JSONPath
/// queries on the criterion context (the comparison form of `jsonpath` criteria).
pub fn parse_condition(s: &str, paths: bool) -> Result<(Cond, Vec<Tolerance>), String> {
    let mut tol = Vec::new();
    let mut text = s.trim();
    if text.len() >= 2 && text.starts_with('{') && text.ends_with('}') {
        let inner = &text[1..text.len() - 1];
        // `{$a} == 1` is two operands, not a wrapped condition.
        if !inner.contains('}') && !inner.contains('{') {
            tol.push(Tolerance::WrappedBraces);
            text = inner.trim();
        }
    }
    let toks = tokenize(text, paths, &mut tol)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser { toks, i: 0 };
    let c = p.or(0)?;
    if p.i != p.toks.len() {
        return Err(format!("unexpected {:?} after the condition", p.toks[p.i]));
    }
    tol.sort();
    tol.dedup();
    Ok((c, tol))
}

fn navigate(mut v: Value, navs: &[Nav]) -> Option<Value> {
    for n in navs {
        v = match (n, v) {
            (Nav::Key(k), Value::Object(mut m)) => m.remove(k)?,
            (Nav::Index(i), Value::Array(mut a)) if *i < a.len() => a.swap_remove(*i),
            _ => return None,
        };
    }
    Some(v)
}

fn operand(o: &Operand, scope: &Scope<'_>, ctx: Option<&Value>) -> Option<Value> {
    match o {
        Operand::Lit(v) => Some(v.clone()),
        Operand::Expr(e, navs) => navigate(scope.eval(e)?, navs),
        Operand::Path(p) => {
            let ctx = ctx?;
            let path = JsonPath::parse(p).ok()?;
            let nodes = path.query(ctx).all();
            match nodes.len() {
                0 => None,
                1 => Some(nodes[0].clone()),
                _ => Some(Value::Array(nodes.into_iter().cloned().collect())),
            }
        }
    }
}

fn as_num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Compares two operand values (A12: strings case-insensitively; numeric strings
/// coerce when the other side is a number; a missing operand counts as `null`;
/// `null` equals only `null`; ordering needs two numbers or two strings).
pub fn compare(a: Option<&Value>, op: CmpOp, b: Option<&Value>) -> bool {
    let null = Value::Null;
    let a = a.unwrap_or(&null);
    let b = b.unwrap_or(&null);
    let ord = match (a, b) {
        (Value::Number(_), _) | (_, Value::Number(_)) => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Value::Bool(x), Value::Bool(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
        (x, y) if matches!(op, CmpOp::Eq | CmpOp::Ne) && x == y => Some(std::cmp::Ordering::Equal),
        _ => None,
    };
    use std::cmp::Ordering::*;
    match (op, ord) {
        (CmpOp::Eq, o) => o == Some(Equal),
        (CmpOp::Ne, o) => o != Some(Equal),
        (CmpOp::Lt, o) => o == Some(Less),
        (CmpOp::Le, o) => matches!(o, Some(Less | Equal)),
        (CmpOp::Gt, o) => o == Some(Greater),
        (CmpOp::Ge, o) => matches!(o, Some(Greater | Equal)),
    }
}

/// Evaluates a parsed condition.
pub fn eval_cond(c: &Cond, scope: &Scope<'_>, ctx: Option<&Value>) -> bool {
    match c {
        Cond::Or(a, b) => eval_cond(a, scope, ctx) || eval_cond(b, scope, ctx),
        Cond::And(a, b) => eval_cond(a, scope, ctx) && eval_cond(b, scope, ctx),
        Cond::Not(a) => !eval_cond(a, scope, ctx),
        Cond::Cmp(a, op, b) => compare(
            operand(a, scope, ctx).as_ref(),
            *op,
            operand(b, scope, ctx).as_ref(),
        ),
        Cond::Truthy(a) => operand(a, scope, ctx) == Some(Value::Bool(true)),
    }
}

// ---------------------------------------------------------------- static check

/// Checks a criterion without running it; returns the tolerances it needs.
pub fn check(c: &Criterion) -> Result<Vec<Tolerance>, String> {
    let cond = c
        .condition
        .as_deref()
        .ok_or("criterion has no `condition`")?;
    let kind = kind_of(c)?;
    if !matches!(kind, Kind::Simple) && c.context.is_none() {
        return Err("a criterion with a `type` needs a `context`".into());
    }
    if let Some(ctx) = &c.context {
        crate::expr::parse::parse(ctx).map_err(|e| format!("bad context `{ctx}`: {e}"))?;
    }
    match kind {
        Kind::Simple => parse_condition(cond, false).map(|(_, t)| t),
        Kind::Regex => regex::RegexBuilder::new(cond)
            .size_limit(1 << 20)
            .build()
            .map(|_| vec![])
            .map_err(|e| format!("bad regex: {e}")),
        Kind::JsonPath { .. } => {
            if cond.contains("{$") {
                return Ok(vec![]);
            }
            match JsonPath::parse(cond) {
                Ok(_) => Ok(vec![]),
                Err(rfc) => match parse_condition(cond, true) {
                    Ok((_, mut t)) => {
                        t.insert(0, Tolerance::JsonPathComparison);
                        Ok(t)
                    }
                    Err(_) => Err(format!("not an RFC 9535 JSONPath query: {rfc}")),
                },
            }
        }
        Kind::XPath(v) => Err(xpath_refusal(&v)),
    }
}

// ---------------------------------------------------------------- evaluation

/// Result of evaluating one criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Whether it passed.
    pub passed: bool,
    /// Off-spec constructs that were tolerated.
    pub tolerated: Vec<Tolerance>,
    /// Why it failed when it could not be evaluated (logged in the trace).
    pub error: Option<String>,
}

impl Outcome {
    fn err(e: String) -> Self {
        Self {
            passed: false,
            tolerated: vec![],
            error: Some(e),
        }
    }
}

fn substitute(cond: &str, scope: &Scope<'_>) -> String {
    template(cond)
        .into_iter()
        .map(|p| match p {
            Part::Lit(t) => t,
            Part::Embedded(e) => scope.eval(&e).map(|v| to_text(&v)).unwrap_or_default(),
            Part::Bare(e) => e.to_string(),
        })
        .collect()
}

/// Evaluates a criterion. In `strict` mode a tolerance makes it fail with an error;
/// evaluation problems (bad regex, null context) fail the criterion, never panic.
pub fn evaluate(c: &Criterion, scope: &Scope<'_>, strict: bool) -> Outcome {
    let Some(cond) = c.condition.as_deref() else {
        return Outcome::err("criterion has no `condition`".into());
    };
    let kind = match kind_of(c) {
        Ok(k) => k,
        Err(e) => return Outcome::err(e),
    };
    let ctx = match &c.context {
        None => None,
        Some(t) => match crate::expr::parse::parse(t) {
            Ok(e) => scope.eval(&e),
            Err(e) => return Outcome::err(format!("bad context `{t}`: {e}")),
        },
    };
    let finish = |passed: bool, tolerated: Vec<Tolerance>| {
        if strict && !tolerated.is_empty() {
            let msgs: Vec<_> = tolerated.iter().map(|t| t.describe()).collect();
            Outcome {
                passed: false,
                tolerated,
                error: Some(format!("--strict: {}", msgs.join("; "))),
            }
        } else {
            Outcome {
                passed,
                tolerated,
                error: None,
            }
        }
    };
    match kind {
        Kind::Simple => match parse_condition(cond, false) {
            Ok((c, t)) => finish(eval_cond(&c, scope, ctx.as_ref()), t),
            Err(e) => Outcome::err(format!("bad condition: {e}")),
        },
        Kind::Regex => {
            let Some(v) = ctx.filter(|v| !v.is_null()) else {
                return Outcome::err("regex context is null or reaches nothing".into());
            };
            match regex::RegexBuilder::new(cond).size_limit(1 << 20).build() {
                Ok(re) => finish(re.is_match(&to_text(&v)), vec![]),
                Err(e) => Outcome::err(format!("bad regex: {e}")),
            }
        }
        Kind::JsonPath { .. } => {
            let Some(v) = ctx.filter(|v| !v.is_null()) else {
                return Outcome::err("jsonpath context is null or reaches nothing".into());
            };
            let text = substitute(cond, scope);
            match JsonPath::parse(&text) {
                Ok(path) => {
                    if !path.query(&v).is_empty() {
                        return finish(true, vec![]);
                    }
                    let wrapped = Value::Array(vec![v]);
                    if !strict && !path.query(&wrapped).is_empty() {
                        return finish(true, vec![Tolerance::WrappedRoot]);
                    }
                    finish(false, vec![])
                }
                Err(rfc) => match parse_condition(&text, true) {
                    Ok((c, mut t)) => {
                        t.insert(0, Tolerance::JsonPathComparison);
                        finish(eval_cond(&c, scope, Some(&v)), t)
                    }
                    Err(_) => Outcome::err(format!("not an RFC 9535 JSONPath query: {rfc}")),
                },
            }
        }
        Kind::XPath(v) => Outcome::err(xpath_refusal(&v)),
    }
}

/// Reads a value by JSON Pointer; re-exported for the runner's replacements.
pub fn read_pointer(v: &Value, p: &str) -> Option<Value> {
    pointer(v.clone(), &Some(p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::eval::tests::Fixture;
    use serde_json::json;

    fn crit(cond: &str, ctx: Option<&str>, kind: Option<Value>) -> Criterion {
        Criterion {
            context: ctx.map(str::to_string),
            condition: Some(cond.to_string()),
            kind,
        }
    }

    fn simple(f: &Fixture, cond: &str) -> bool {
        let o = evaluate(&crit(cond, None, None), &f.scope(), false);
        assert!(o.error.is_none(), "{cond}: {:?}", o.error);
        o.passed
    }

    #[test]
    fn simple_operators_and_literals() {
        let f = Fixture::new();
        assert!(simple(&f, "$statusCode == 200"));
        assert!(!simple(&f, "$statusCode != 200"));
        assert!(simple(&f, "$statusCode < 300 && $statusCode >= 200"));
        assert!(simple(&f, "$statusCode > 199 && $statusCode <= 200"));
        assert!(simple(
            &f,
            "$statusCode == 404 || ($inputs.n == 5 && !($inputs.n == 6))"
        ));
        assert!(simple(
            &f,
            "$response.body#/state/life_cycle_state == 'running'"
        ));
        assert!(simple(
            &f,
            "$response.body.state.life_cycle_state == 'RUNNING'"
        ));
        assert!(simple(&f, "$steps.s1.outputs.pets[0].id == 7"));
        assert!(simple(&f, "$inputs.n == '5'"));
        assert!(simple(&f, "$response.body#/missing == null"));
        assert!(!simple(&f, "$response.body#/missing == 'x'"));
        assert!(simple(&f, "'it''s' == 'IT''S'"));
        assert!(simple(&f, "true"));
        assert!(!simple(&f, "$inputs.n"));
        assert!(simple(&f, "$inputs.n == {$inputs.n}"));
        assert!(simple(&f, "-1.5 < 0"));
    }

    #[test]
    fn tolerances_in_simple_conditions() {
        let f = Fixture::new();
        let o = evaluate(
            &crit(
                "$response.body#/state/life_cycle_state == \"RUNNING\"",
                None,
                None,
            ),
            &f.scope(),
            false,
        );
        assert!(o.passed);
        assert_eq!(o.tolerated, vec![Tolerance::DoubleQuoted]);
        let o = evaluate(&crit("{$statusCode == 200}", None, None), &f.scope(), false);
        assert!(o.passed);
        assert_eq!(o.tolerated, vec![Tolerance::WrappedBraces]);
        let o = evaluate(
            &crit("$response.header.Server == emu", None, None),
            &f.scope(),
            false,
        );
        assert!(o.passed);
        assert_eq!(o.tolerated, vec![Tolerance::BareWord]);
        let o = evaluate(&crit("{$statusCode == 200}", None, None), &f.scope(), true);
        assert!(!o.passed && o.error.is_some());
    }

    #[test]
    fn bad_simple_conditions_are_errors() {
        for bad in [
            "",
            "$statusCode ==",
            "(1 == 1",
            "$nope == 1",
            "1 == 1 1",
            "'open",
            "#",
        ] {
            assert!(parse_condition(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn regex_criteria() {
        let f = Fixture::new();
        let c = crit("^2\\d\\d$", Some("$statusCode"), Some(json!("regex")));
        assert!(evaluate(&c, &f.scope(), true).passed);
        let c = crit("^4", Some("$statusCode"), Some(json!("regex")));
        assert!(!evaluate(&c, &f.scope(), true).passed);
        let c = crit("x", Some("$response.body#/nope"), Some(json!("regex")));
        assert!(evaluate(&c, &f.scope(), true).error.is_some());
        assert!(check(&crit("(", Some("$statusCode"), Some(json!("regex")))).is_err());
    }

    #[test]
    fn jsonpath_rfc9535_and_comparison_form() {
        let f = Fixture::new();
        let jp = Some(json!("jsonpath"));
        let c = crit(
            "$.state[?@ == 'RUNNING']",
            Some("$response.body"),
            jp.clone(),
        );
        assert!(evaluate(&c, &f.scope(), true).passed);
        let c = crit("$.nothing", Some("$response.body"), jp.clone());
        assert!(!evaluate(&c, &f.scope(), true).passed);
        // A2: wrapped root fallback in compatible mode only.
        let c = crit(
            "$[?@.state.life_cycle_state == 'RUNNING']",
            Some("$response.body"),
            jp.clone(),
        );
        let o = evaluate(&c, &f.scope(), false);
        assert!(o.passed);
        assert_eq!(o.tolerated, vec![Tolerance::WrappedRoot]);
        assert!(!evaluate(&c, &f.scope(), true).passed);
        // A1: comparison form.
        let c = crit(
            "$.state.life_cycle_state == \"PENDING\" || $.state.life_cycle_state == \"RUNNING\"",
            Some("$response.body"),
            jp.clone(),
        );
        let o = evaluate(&c, &f.scope(), false);
        assert!(o.passed);
        assert_eq!(
            o.tolerated,
            vec![Tolerance::JsonPathComparison, Tolerance::DoubleQuoted]
        );
        let o = evaluate(&c, &f.scope(), true);
        assert!(!o.passed && o.error.is_some());
        let c = crit(
            "$.state.life_cycle_state == \"TERMINATED\" && $.state.result_state == \"SUCCESS\"",
            Some("$response.body"),
            jp.clone(),
        );
        assert!(!evaluate(&c, &f.scope(), false).passed);
        // goessner version uses the same engine.
        let c = crit(
            "$.job_id",
            Some("$response.body"),
            Some(json!({"type": "jsonpath", "version": "draft-goessner-dispatch-jsonpath-00"})),
        );
        assert!(evaluate(&c, &f.scope(), true).passed);
        // Embedded expressions are substituted as text first.
        let c = crit(
            "$.state[?@ == '{$response.body#/state/life_cycle_state}']",
            Some("$response.body"),
            jp,
        );
        assert!(evaluate(&c, &f.scope(), true).passed);
    }

    #[test]
    fn xpath_is_refused_clearly() {
        let f = Fixture::new();
        for k in [
            json!("xpath"),
            json!({"type": "xpath", "version": "xpath-30"}),
        ] {
            let c = crit("/a", Some("$response.body"), Some(k));
            let o = evaluate(&c, &f.scope(), false);
            assert!(!o.passed);
            assert!(
                o.error
                    .as_deref()
                    .is_some_and(|e| e.contains("not supported"))
            );
            assert!(check(&c).is_err_and(|e| e.contains("not supported")));
        }
        let c = crit(
            "$",
            Some("$response.body"),
            Some(json!({"type": "jsonpath", "version": "v9"})),
        );
        assert!(check(&c).is_err());
        assert!(check(&crit("$.a", None, Some(json!("jsonpath")))).is_err());
    }
}
