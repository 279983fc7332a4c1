//! Runtime-expression parser (Arazzo 1.0.1 ABNF, with the 1.1.0 identifier rules
//! so an expression can be delimited inside strings and conditions).

use std::fmt;

/// Where `$request.` / `$response.` reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `header.<token>` (case-insensitive lookup).
    Header(String),
    /// `query.<name>`.
    Query(String),
    /// `path.<name>`.
    Path(String),
    /// `body` with an optional JSON Pointer.
    Body(Option<String>),
}

/// Which half of `$workflows.<id>.` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowField {
    /// `inputs`
    Inputs,
    /// `outputs`
    Outputs,
}

/// A parsed runtime expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `$url`
    Url,
    /// `$method`
    Method,
    /// `$statusCode`
    StatusCode,
    /// `$request.<source>`
    Request(Source),
    /// `$response.<source>`
    Response(Source),
    /// `$inputs.<name>[#ptr]`
    Inputs {
        /// Input name.
        name: String,
        /// JSON Pointer into it.
        ptr: Option<String>,
    },
    /// `$outputs.<name>[#ptr]`
    Outputs {
        /// Output name.
        name: String,
        /// JSON Pointer into it.
        ptr: Option<String>,
    },
    /// `$steps.<id>.outputs.<name>[#ptr]`
    Steps {
        /// Step id.
        step: String,
        /// Output name.
        name: String,
        /// JSON Pointer into it.
        ptr: Option<String>,
    },
    /// `$workflows.<id>.(inputs|outputs).<name>[#ptr]`
    Workflows {
        /// Workflow id.
        workflow: String,
        /// inputs or outputs.
        field: WorkflowField,
        /// Name.
        name: String,
        /// JSON Pointer into it.
        ptr: Option<String>,
    },
    /// `$sourceDescriptions.<name>.<field>` (`url`, `type`, an operationId or workflowId).
    SourceDescriptions {
        /// Source name.
        name: String,
        /// What is read.
        field: String,
    },
    /// `$components.<kind>.<name>`.
    Components {
        /// `parameters`, `successActions`, `failureActions` or `inputs`.
        kind: String,
        /// Component key.
        name: String,
    },
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = |p: &Option<String>| p.as_ref().map(|p| format!("#{p}")).unwrap_or_default();
        let src = |s: &Source| match s {
            Source::Header(h) => format!("header.{h}"),
            Source::Query(h) => format!("query.{h}"),
            Source::Path(h) => format!("path.{h}"),
            Source::Body(ptr) => format!("body{}", p(ptr)),
        };
        match self {
            Expr::Url => write!(f, "$url"),
            Expr::Method => write!(f, "$method"),
            Expr::StatusCode => write!(f, "$statusCode"),
            Expr::Request(s) => write!(f, "$request.{}", src(s)),
            Expr::Response(s) => write!(f, "$response.{}", src(s)),
            Expr::Inputs { name, ptr } => write!(f, "$inputs.{name}{}", p(ptr)),
            Expr::Outputs { name, ptr } => write!(f, "$outputs.{name}{}", p(ptr)),
            Expr::Steps { step, name, ptr } => {
                write!(f, "$steps.{step}.outputs.{name}{}", p(ptr))
            }
            Expr::Workflows {
                workflow,
                field,
                name,
                ptr,
            } => {
                let k = match field {
                    WorkflowField::Inputs => "inputs",
                    WorkflowField::Outputs => "outputs",
                };
                write!(f, "$workflows.{workflow}.{k}.{name}{}", p(ptr))
            }
            Expr::SourceDescriptions { name, field } => {
                write!(f, "$sourceDescriptions.{name}.{field}")
            }
            Expr::Components { kind, name } => write!(f, "$components.{kind}.{name}"),
        }
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

fn is_ident_strict(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ptr_stop(b: u8) -> bool {
    b.is_ascii_whitespace() || b"}),'\"=!<>&|".contains(&b)
}

struct Cur<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cur<'a> {
    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn take(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.i;
        let b = self.s.as_bytes();
        while self.i < b.len() && f(b[self.i]) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// A name that may contain dots; a trailing dot belongs to the surrounding text.
    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        let n = self.take(is_ident);
        let trimmed = n.trim_end_matches('.');
        self.i = start + trimmed.len();
        if trimmed.is_empty() {
            Err(format!("expected a name at offset {start}"))
        } else {
            Ok(trimmed.to_string())
        }
    }

    fn strict_name(&mut self) -> Result<String, String> {
        let start = self.i;
        let n = self.take(is_ident_strict);
        if n.is_empty() {
            Err(format!("expected an identifier at offset {start}"))
        } else {
            Ok(n.to_string())
        }
    }

    fn ptr(&mut self) -> Result<Option<String>, String> {
        if !self.eat("#") {
            return Ok(None);
        }
        let start = self.i;
        let p = self.take(|b| !is_ptr_stop(b));
        if !p.is_empty() && !p.starts_with('/') {
            return Err(format!(
                "JSON Pointer must start with `/` at offset {start}"
            ));
        }
        Ok(Some(p.to_string()))
    }

    fn source(&mut self) -> Result<Source, String> {
        if self.eat("header.") {
            let start = self.i;
            let t = self.take(is_tchar);
            let t = t.trim_end_matches('.');
            self.i = start + t.len();
            if t.is_empty() {
                return Err("expected a header name".into());
            }
            Ok(Source::Header(t.to_string()))
        } else if self.eat("query.") {
            Ok(Source::Query(self.name()?))
        } else if self.eat("path.") {
            Ok(Source::Path(self.name()?))
        } else if self.eat("body") {
            Ok(Source::Body(self.ptr()?))
        } else {
            Err("expected header., query., path. or body".into())
        }
    }
}

fn keyword(c: &mut Cur, k: &str) -> bool {
    c.i = 1;
    let hit = c.eat(k) && c.s.as_bytes().get(c.i).is_none_or(|b| !is_ident_strict(*b));
    if !hit {
        c.i = 1;
    }
    hit
}

/// Scans one expression at the start of `s` (which must start with `$`), returning it
/// and the number of bytes consumed. Stops where the expression grammar stops, so the
/// caller can continue with operators, `}` or plain text.
pub fn scan(s: &str) -> Result<(Expr, usize), String> {
    let mut c = Cur { s, i: 0 };
    if !c.eat("$") {
        return Err("a runtime expression starts with `$`".into());
    }
    let e = if keyword(&mut c, "url") {
        Expr::Url
    } else if keyword(&mut c, "method") {
        Expr::Method
    } else if keyword(&mut c, "statusCode") {
        Expr::StatusCode
    } else {
        c.i = 1;
        if c.eat("request.") {
            Expr::Request(c.source()?)
        } else if c.eat("response.") {
            Expr::Response(c.source()?)
        } else if c.eat("inputs.") {
            let name = c.name()?;
            Expr::Inputs {
                name,
                ptr: c.ptr()?,
            }
        } else if c.eat("outputs.") {
            let name = c.name()?;
            Expr::Outputs {
                name,
                ptr: c.ptr()?,
            }
        } else if c.eat("steps.") {
            let step = c.strict_name()?;
            if !c.eat(".outputs.") {
                return Err(format!("expected `.outputs.` after `$steps.{step}`"));
            }
            let name = c.name()?;
            Expr::Steps {
                step,
                name,
                ptr: c.ptr()?,
            }
        } else if c.eat("workflows.") {
            let workflow = c.strict_name()?;
            let field = if c.eat(".inputs.") {
                WorkflowField::Inputs
            } else if c.eat(".outputs.") {
                WorkflowField::Outputs
            } else {
                return Err(format!(
                    "expected `.inputs.` or `.outputs.` after `$workflows.{workflow}`"
                ));
            };
            let name = c.name()?;
            Expr::Workflows {
                workflow,
                field,
                name,
                ptr: c.ptr()?,
            }
        } else if c.eat("sourceDescriptions.") {
            let name = c.strict_name()?;
            if !c.eat(".") {
                return Err(format!("expected `.` after `$sourceDescriptions.{name}`"));
            }
            let field = c.name()?;
            Expr::SourceDescriptions { name, field }
        } else if c.eat("components.") {
            let kind = c.strict_name()?;
            if !["parameters", "successActions", "failureActions", "inputs"]
                .contains(&kind.as_str())
            {
                return Err(format!("unknown component kind `{kind}`"));
            }
            if !c.eat(".") {
                return Err(format!("expected `.` after `$components.{kind}`"));
            }
            let name = c.name()?;
            Expr::Components { kind, name }
        } else {
            let word = c.take(is_ident_strict);
            return Err(format!("unknown runtime expression `${word}`"));
        }
    };
    Ok((e, c.i))
}

/// Parses a string that must be exactly one runtime expression.
pub fn parse(s: &str) -> Result<Expr, String> {
    let (e, n) = scan(s)?;
    if n != s.len() {
        return Err(format!(
            "unexpected `{}` after runtime expression `{e}`",
            &s[n..]
        ));
    }
    Ok(e)
}

/// One piece of a string template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// `{$expr}`.
    Embedded(Expr),
    /// A bare `$expr` inside text (off-spec, tolerated in compatible mode).
    Bare(Expr),
}

/// How a string value in a document is to be read.
#[derive(Debug, Clone, PartialEq)]
pub enum StrValue {
    /// Plain text, no expression.
    Literal,
    /// The whole string is one expression: its value keeps its JSON type.
    Whole(Expr),
    /// Text with embedded expressions.
    Template(Vec<Part>),
}

impl StrValue {
    /// True when a bare (brace-less) expression was found inside text.
    pub fn has_bare(&self) -> bool {
        matches!(self, StrValue::Template(p) if p.iter().any(|p| matches!(p, Part::Bare(_))))
    }
}

/// Classifies a string value: literal, whole expression, or template.
pub fn classify(s: &str) -> StrValue {
    if s.starts_with('$')
        && let Ok(e) = parse(s.trim_end())
    {
        return StrValue::Whole(e);
    }
    let parts = template(s);
    if parts.iter().all(|p| matches!(p, Part::Lit(_))) {
        StrValue::Literal
    } else {
        StrValue::Template(parts)
    }
}

/// Splits text into literal parts, `{$expr}` parts and bare `$expr` parts.
pub fn template(s: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if b[i] == b'{'
            && b.get(i + 1) == Some(&b'$')
            && let Ok((e, n)) = scan(&s[i + 1..])
            && b.get(i + 1 + n) == Some(&b'}')
        {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Embedded(e));
            i += n + 2;
            continue;
        }
        if b[i] == b'$'
            && let Ok((e, n)) = scan(&s[i..])
        {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Bare(e));
            i += n;
            continue;
        }
        // Copy one whole UTF-8 character.
        let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
        lit.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn every_form_parses() {
        assert_eq!(ok("$url"), Expr::Url);
        assert_eq!(ok("$method"), Expr::Method);
        assert_eq!(ok("$statusCode"), Expr::StatusCode);
        assert_eq!(
            ok("$request.header.accept"),
            Expr::Request(Source::Header("accept".into()))
        );
        assert_eq!(
            ok("$request.query.page"),
            Expr::Request(Source::Query("page".into()))
        );
        assert_eq!(
            ok("$request.path.id"),
            Expr::Request(Source::Path("id".into()))
        );
        assert_eq!(
            ok("$request.body#/user/uuid"),
            Expr::Request(Source::Body(Some("/user/uuid".into())))
        );
        assert_eq!(ok("$response.body"), Expr::Response(Source::Body(None)));
        assert_eq!(
            ok("$response.header.X-Rate-Limit"),
            Expr::Response(Source::Header("X-Rate-Limit".into()))
        );
        assert_eq!(
            ok("$inputs.x-api-key"),
            Expr::Inputs {
                name: "x-api-key".into(),
                ptr: None
            }
        );
        assert_eq!(
            ok("$inputs.user#/name"),
            Expr::Inputs {
                name: "user".into(),
                ptr: Some("/name".into())
            }
        );
        assert_eq!(
            ok("$outputs.bar#/0"),
            Expr::Outputs {
                name: "bar".into(),
                ptr: Some("/0".into())
            }
        );
        assert_eq!(
            ok("$steps.s1.outputs.pets#/0/id"),
            Expr::Steps {
                step: "s1".into(),
                name: "pets".into(),
                ptr: Some("/0/id".into())
            }
        );
        assert_eq!(
            ok("$workflows.w-1.inputs.user"),
            Expr::Workflows {
                workflow: "w-1".into(),
                field: WorkflowField::Inputs,
                name: "user".into(),
                ptr: None
            }
        );
        assert!(matches!(
            ok("$workflows.w.outputs.o#/a"),
            Expr::Workflows {
                field: WorkflowField::Outputs,
                ..
            }
        ));
        assert_eq!(
            ok("$sourceDescriptions.api.url"),
            Expr::SourceDescriptions {
                name: "api".into(),
                field: "url".into()
            }
        );
        assert_eq!(
            ok("$components.parameters.page"),
            Expr::Components {
                kind: "parameters".into(),
                name: "page".into()
            }
        );
        for bad in [
            "$",
            "$foo",
            "$steps.x",
            "$steps.x.inputs.y",
            "$response.nope",
            "$inputs.",
            "$urlx",
            "$request.body#x",
            "$components.things.x",
            "url",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "$url",
            "$response.body#/a/b",
            "$steps.s.outputs.o#/0",
            "$workflows.w.outputs.o",
            "$request.header.Authorization",
        ] {
            assert_eq!(ok(s).to_string(), s);
        }
    }

    #[test]
    fn scan_stops_at_delimiters() {
        let (e, n) = scan("$statusCode == 200").expect("scan");
        assert_eq!((e, n), (Expr::StatusCode, 11));
        let (_, n) = scan("$response.body#/state/x == 'A'").expect("scan");
        assert_eq!(n, "$response.body#/state/x".len());
        let (_, n) = scan("$inputs.token}").expect("scan");
        assert_eq!(n, 13);
        let (_, n) = scan("$inputs.token. Next").expect("scan");
        assert_eq!(n, 13);
    }

    #[test]
    fn classify_strings() {
        assert!(matches!(classify("$inputs.a"), StrValue::Whole(_)));
        assert_eq!(classify("plain $5 text"), StrValue::Literal);
        let t = classify("Bearer {$inputs.token}");
        assert!(matches!(t, StrValue::Template(_)));
        assert!(!t.has_bare());
        let t = classify("Bearer $inputs.token");
        assert!(t.has_bare());
        assert_eq!(classify("{not an expr}"), StrValue::Literal);
        assert_eq!(classify("ünïcode {$"), StrValue::Literal);
    }
}
