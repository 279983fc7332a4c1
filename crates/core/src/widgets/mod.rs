//! Notebook widget discovery: which `dbutils.widgets.*` (or SQL `CREATE
//! WIDGET`) declarations an exported notebook makes, in declaration order.
//!
//! Works on SOURCE exports (Python, Scala, SQL, R — including `MAGIC`
//! cells in another language) and JUPYTER `.ipynb` exports (cell sources
//! plus the Databricks `widgets` metadata).
//!
//! Only top-level declarations count, as the notebook seed's troubleshooting
//! requires; "top level" is defined per language:
//! * Python: the statement starts at column 0, is not a compound statement
//!   header (`if x: dbutils...`), and the call is not inside brackets.
//! * Scala and R: the call is outside every `{}`, `()` and `[]`, and its
//!   statement does not start with `if`/`else`/`for`/`while`/`def`/... .
//! * SQL: every `CREATE WIDGET` statement (SQL has no blocks).
//!
//! A widget declared twice keeps its first declaration. The parser never
//! panics (property-tested) and never fails: unreadable input yields fewer
//! widgets, not an error.

mod jupyter;
mod lexer;
mod python;
mod r;
mod scala;
mod sql;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::parameter::{DataType, Parameter};
use lexer::{Tok, Token};

/// The four widget kinds of `dbutils.widgets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WidgetKind {
    /// Free text.
    Text,
    /// One of fixed choices.
    Dropdown,
    /// Free text with suggestions.
    Combobox,
    /// Several of fixed choices (value is comma-separated).
    Multiselect,
}

impl WidgetKind {
    /// Parses `text` / `DROPDOWN` / ... (case-insensitive).
    pub fn parse(s: &str) -> Option<WidgetKind> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Some(WidgetKind::Text),
            "dropdown" => Some(WidgetKind::Dropdown),
            "combobox" => Some(WidgetKind::Combobox),
            "multiselect" => Some(WidgetKind::Multiselect),
            _ => None,
        }
    }

    /// Lower-case name as used by `dbutils.widgets`.
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetKind::Text => "text",
            WidgetKind::Dropdown => "dropdown",
            WidgetKind::Combobox => "combobox",
            WidgetKind::Multiselect => "multiselect",
        }
    }
}

impl fmt::Display for WidgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A declared widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widget {
    /// Widget (= parameter) name.
    pub name: String,
    /// Kind.
    pub kind: WidgetKind,
    /// Default value, when given as a literal.
    pub default: Option<String>,
    /// Literal choices (empty for text widgets or computed choices).
    pub choices: Vec<String>,
    /// Label, when given as a literal.
    pub label: Option<String>,
}

impl Widget {
    /// The job parameter this widget seeds. Widgets are strings on the
    /// Databricks side, so the data type is always String; the user may
    /// pick a stricter one to get validation.
    ///
    /// A dropdown's literal choices become the parameter's choices (the only
    /// values Databricks accepts for it). Combobox choices are suggestions and
    /// a multiselect takes a comma-separated set, so neither restricts the
    /// value here.
    pub fn to_parameter(&self) -> Parameter {
        Parameter {
            data_type: DataType::String,
            choices: if self.kind == WidgetKind::Dropdown {
                self.choices.clone()
            } else {
                Vec::new()
            },
            ..Parameter::input(self.name.clone(), self.default.clone())
        }
    }
}

/// A notebook's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum NotebookLanguage {
    /// Python.
    Python,
    /// Scala.
    Scala,
    /// SQL.
    Sql,
    /// R.
    R,
}

impl NotebookLanguage {
    /// Parses `PYTHON`, `python`, `scala`, `sql`, `r` (workspace/list and
    /// Jupyter metadata spellings).
    pub fn parse(s: &str) -> Option<NotebookLanguage> {
        match s.trim().to_ascii_lowercase().as_str() {
            "python" | "py" => Some(NotebookLanguage::Python),
            "scala" => Some(NotebookLanguage::Scala),
            "sql" => Some(NotebookLanguage::Sql),
            "r" => Some(NotebookLanguage::R),
            _ => None,
        }
    }

    /// The line-comment token of SOURCE exports in this language.
    fn comment(self) -> &'static str {
        match self {
            NotebookLanguage::Python | NotebookLanguage::R => "#",
            NotebookLanguage::Scala => "//",
            NotebookLanguage::Sql => "--",
        }
    }
}

/// Parses an exported notebook (SOURCE or JUPYTER), `language` being the
/// workspace's language for it when known (SOURCE headers cannot tell
/// Python from R).
pub fn parse_widgets(content: &str, language: Option<NotebookLanguage>) -> Vec<Widget> {
    let trimmed = content.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{')
        && let Some(ws) = jupyter::parse(trimmed, language)
    {
        return ws;
    }
    parse_source(content, language)
}

/// Parses a SOURCE export: header detection, cell split, `MAGIC` cells.
pub fn parse_source(content: &str, language: Option<NotebookLanguage>) -> Vec<Widget> {
    let content = content.trim_start_matches('\u{feff}');
    let first = content.lines().next().unwrap_or("").trim();
    let lang = if first.starts_with("// Databricks notebook source") {
        NotebookLanguage::Scala
    } else if first.starts_with("-- Databricks notebook source") {
        NotebookLanguage::Sql
    } else if first.starts_with("# Databricks notebook source") {
        match language {
            Some(NotebookLanguage::R) => NotebookLanguage::R,
            _ => NotebookLanguage::Python,
        }
    } else {
        language.unwrap_or(NotebookLanguage::Python)
    };
    let mut out = Vec::new();
    for cell in split_cells(content, lang) {
        if let Some((cell_lang, code)) = cell_code(&cell, lang) {
            merge(&mut out, parse_code(&code, cell_lang));
        }
    }
    out
}

/// Splits at `<comment> COMMAND ----------` lines (any comment token, so a
/// mislabelled notebook still splits).
fn split_cells(content: &str, lang: NotebookLanguage) -> Vec<Vec<&str>> {
    let mut cells = vec![Vec::new()];
    for line in content.lines() {
        let t = line.trim();
        let is_sep = ["#", "//", "--"].iter().any(|c| {
            t.strip_prefix(c)
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix("COMMAND"))
                .is_some_and(|r| r.trim_start().starts_with("-----"))
        });
        if is_sep {
            cells.push(Vec::new());
        } else if t.starts_with(&format!("{} Databricks notebook source", lang.comment())) {
            continue;
        } else if let Some(cell) = cells.last_mut() {
            cell.push(line);
        }
    }
    cells
}

/// Strips `<comment> MAGIC` prefixes; returns the language and code of a
/// cell, or `None` for cells with no code (`%md`, `%sh`, `%pip`...).
fn cell_code(lines: &[&str], lang: NotebookLanguage) -> Option<(NotebookLanguage, String)> {
    let magic_prefix = format!("{} MAGIC", lang.comment());
    let title_prefix = format!("{} DBTITLE", lang.comment());
    let meaningful: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with(&title_prefix))
        .collect();
    let first = meaningful.first()?;
    if !first.starts_with(&magic_prefix) {
        let code: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| !l.trim_start().starts_with(&title_prefix))
            .collect();
        return Some((lang, code.join("\n")));
    }
    let stripped: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix(&magic_prefix))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    magic_code(&stripped, lang)
}

/// Interprets a cell whose first line may be a `%lang` magic (SOURCE MAGIC
/// cells after stripping, and Jupyter cells).
pub(crate) fn magic_code(
    lines: &[&str],
    lang: NotebookLanguage,
) -> Option<(NotebookLanguage, String)> {
    let pos = lines.iter().position(|l| !l.trim().is_empty())?;
    let head = lines[pos].trim_start();
    let Some(magic) = head.strip_prefix('%') else {
        return Some((lang, lines.join("\n")));
    };
    let cmd: String = magic
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '-')
        .collect();
    let cell_lang = NotebookLanguage::parse(&cmd)?;
    let rest_of_line = &magic[cmd.len()..];
    let mut code = String::from(rest_of_line.trim_start());
    for l in &lines[pos + 1..] {
        code.push('\n');
        code.push_str(l);
    }
    Some((cell_lang, code))
}

/// Parses one cell's code in one language.
pub(crate) fn parse_code(code: &str, lang: NotebookLanguage) -> Vec<Widget> {
    match lang {
        NotebookLanguage::Python => python::parse(code),
        NotebookLanguage::Scala => scala::parse(code),
        NotebookLanguage::R => r::parse(code),
        NotebookLanguage::Sql => sql::parse(code),
    }
}

/// Appends widgets whose name is not yet known (first declaration wins).
pub(crate) fn merge(out: &mut Vec<Widget>, more: Vec<Widget>) {
    for w in more {
        if !out.iter().any(|o| o.name == w.name) {
            out.push(w);
        }
    }
}

/// Per-language rules for what counts as a top-level statement.
pub(crate) struct TopLevel {
    /// Python: the statement must start at column 0.
    pub indent_matters: bool,
    /// Statement-starting words that make the call conditional or nested.
    pub block_keywords: &'static [&'static str],
}

/// An argument's value as far as a parser without evaluation can tell.
#[derive(Debug, Clone, PartialEq)]
enum ArgValue {
    Text(String),
    List(Vec<String>),
    Null,
    Expr,
}

/// Finds top-level `dbutils.widgets.<kind>(...)` calls in a token stream.
pub(crate) fn extract_calls(tokens: &[Token], rules: &TopLevel) -> Vec<Widget> {
    let mut out = Vec::new();
    let mut depth: usize = 0;
    let mut stmt_first: Option<usize> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if depth == 0 && (t.line_start || stmt_first.is_none()) {
            stmt_first = Some(i);
        }
        match &t.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => depth = depth.saturating_sub(1),
            Tok::Punct(';') if depth == 0 => {
                stmt_first = None;
            }
            Tok::Ident(id) if id == "dbutils" && depth == 0 => {
                if let Some((kind, open)) = widget_call_at(tokens, i) {
                    let top = stmt_first.is_some_and(|f| {
                        let first = &tokens[f];
                        let indent_ok = !rules.indent_matters || first.indent == 0;
                        let kw = matches!(&first.tok, Tok::Ident(w) if rules.block_keywords.contains(&w.as_str()));
                        indent_ok && !kw
                    });
                    let (args, close) = split_args(tokens, open);
                    if top && let Some(w) = build_widget(kind, &args) {
                        out.push(w);
                    }
                    i = close + 1;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Matches `dbutils . widgets . <kind> (` at `i`; returns the kind and the
/// index of `(`.
fn widget_call_at(tokens: &[Token], i: usize) -> Option<(WidgetKind, usize)> {
    let get = |k: usize| tokens.get(i + k).map(|t| &t.tok);
    if get(1)? != &Tok::Punct('.') || get(2)? != &Tok::Ident("widgets".into()) {
        return None;
    }
    if get(3)? != &Tok::Punct('.') {
        return None;
    }
    let Tok::Ident(kind) = get(4)? else {
        return None;
    };
    let kind = WidgetKind::parse(kind).filter(|_| kind.chars().all(|c| c.is_ascii_lowercase()))?;
    if get(5)? != &Tok::Punct('(') {
        return None;
    }
    Some((kind, i + 5))
}

/// Splits the arguments of the call whose `(` is at `open`; returns the
/// argument token slices and the index of the closing `)` (or the last
/// token if unclosed).
fn split_args(tokens: &[Token], open: usize) -> (Vec<&[Token]>, usize) {
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut start = open + 1;
    let mut i = open;
    while i < tokens.len() {
        match tokens[i].tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    if start < i {
                        args.push(&tokens[start..i]);
                    }
                    return (args, i);
                }
            }
            Tok::Punct(',') if depth == 1 => {
                args.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < tokens.len() {
        args.push(&tokens[start..]);
    }
    (args, tokens.len().saturating_sub(1))
}

fn value_of(tokens: &[Token]) -> ArgValue {
    let toks: Vec<&Tok> = tokens.iter().map(|t| &t.tok).collect();
    match toks.as_slice() {
        [] => ArgValue::Expr,
        [Tok::Num(n)] => ArgValue::Text(n.clone()),
        [Tok::Ident(w)] if matches!(w.as_str(), "None" | "null" | "NULL" | "NA" | "None_") => {
            ArgValue::Null
        }
        [Tok::Punct('[' | '('), ..] => list_of(&toks),
        [Tok::Ident(w), Tok::Punct('('), ..]
            if matches!(
                w.as_str(),
                "Seq" | "Array" | "List" | "Vector" | "Set" | "c" | "list"
            ) =>
        {
            list_of(&toks)
        }
        _ => {
            // A string, or adjacent / `+`-joined strings.
            let mut s = String::new();
            let mut any = false;
            for t in &toks {
                match t {
                    Tok::Str(v) => {
                        s.push_str(v);
                        any = true;
                    }
                    Tok::Punct('+') => {}
                    _ => return ArgValue::Expr,
                }
            }
            if any {
                ArgValue::Text(s)
            } else {
                ArgValue::Expr
            }
        }
    }
}

fn list_of(toks: &[&Tok]) -> ArgValue {
    let mut items = Vec::new();
    for t in toks {
        match t {
            Tok::Str(s) => items.push(s.clone()),
            Tok::Num(n) => items.push(n.clone()),
            Tok::Punct(_) => {}
            Tok::Ident(w)
                if matches!(
                    w.as_str(),
                    "Seq" | "Array" | "List" | "Vector" | "Set" | "c" | "list"
                ) => {}
            // A variable or call inside the list: the choices are computed.
            Tok::Ident(_) => return ArgValue::Expr,
        }
    }
    ArgValue::List(items)
}

fn build_widget(kind: WidgetKind, args: &[&[Token]]) -> Option<Widget> {
    let mut name = None;
    let mut default = None;
    let mut choices = None;
    let mut label = None;
    let positional_slots: &[&str] = if kind == WidgetKind::Text {
        &["name", "defaultValue", "label"]
    } else {
        &["name", "defaultValue", "choices", "label"]
    };
    let mut pos = 0;
    for arg in args {
        let (slot, value_tokens) = match arg {
            [
                Token {
                    tok: Tok::Ident(k), ..
                },
                Token {
                    tok: Tok::Punct('='),
                    ..
                },
                rest @ ..,
            ] if !matches!(rest.first().map(|t| &t.tok), Some(Tok::Punct('='))) => {
                let slot = match k.as_str() {
                    "name" => "name",
                    "defaultValue" | "default_value" | "default" => "defaultValue",
                    "choices" => "choices",
                    "label" => "label",
                    _ => continue,
                };
                (slot, rest)
            }
            _ => {
                let Some(slot) = positional_slots.get(pos) else {
                    continue;
                };
                pos += 1;
                (*slot, *arg)
            }
        };
        let v = value_of(value_tokens);
        match slot {
            "name" => name = Some(v),
            "defaultValue" => default = Some(v),
            "choices" => choices = Some(v),
            _ => label = Some(v),
        }
    }
    let ArgValue::Text(name) = name? else {
        return None;
    };
    if name.is_empty() {
        return None;
    }
    let text = |v: Option<ArgValue>| match v {
        Some(ArgValue::Text(s)) => Some(s),
        _ => None,
    };
    Some(Widget {
        name,
        kind,
        default: text(default),
        choices: match choices {
            Some(ArgValue::List(items)) if kind != WidgetKind::Text => items,
            _ => Vec::new(),
        },
        label: text(label),
    })
}

#[cfg(test)]
mod tests;
