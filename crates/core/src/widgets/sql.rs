//! SQL cells: `CREATE WIDGET TEXT|DROPDOWN|COMBOBOX|MULTISELECT name
//! DEFAULT "v"|'v' [CHOICES ...]`. Literal choices are read from a
//! `VALUES` list (`CHOICES (VALUES 'a', 'b')`, `CHOICES SELECT * FROM
//! (VALUES ("10"), ("100"))`); a choices query over a table yields no
//! literal choices. SQL has no blocks, so every statement is top level.

use super::{Widget, WidgetKind};

#[derive(Debug, Clone, PartialEq)]
enum T {
    Word(String),
    Str(String),
    Punct(char),
}

fn tokenize(src: &str) -> Vec<T> {
    let chars: Vec<char> = src.chars().collect();
    let n = chars.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < n && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(n);
        } else if c == '\'' || c == '"' || c == '`' {
            let mut s = String::new();
            i += 1;
            while i < n {
                if chars[i] == c {
                    // A doubled quote is an escaped quote.
                    if chars.get(i + 1) == Some(&c) {
                        s.push(c);
                        i += 2;
                        continue;
                    }
                    break;
                }
                if chars[i] == '\\' && c != '`' && i + 1 < n {
                    s.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                s.push(chars[i]);
                i += 1;
            }
            i = (i + 1).min(n);
            // Backticks quote identifiers, not values.
            out.push(if c == '`' { T::Word(s) } else { T::Str(s) });
        } else if c.is_alphanumeric() || c == '_' || c == '.' || c == '$' {
            let start = i;
            while i < n && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '$')) {
                i += 1;
            }
            out.push(T::Word(chars[start..i].iter().collect()));
        } else {
            out.push(T::Punct(c));
            i += 1;
        }
    }
    out
}

fn is_kw(t: Option<&T>, kw: &str) -> bool {
    matches!(t, Some(T::Word(w)) if w.eq_ignore_ascii_case(kw))
}

pub(super) fn parse(code: &str) -> Vec<Widget> {
    let toks = tokenize(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if !(is_kw(toks.get(i), "CREATE") && is_kw(toks.get(i + 1), "WIDGET")) {
            i += 1;
            continue;
        }
        let Some(T::Word(kind)) = toks.get(i + 2) else {
            i += 2;
            continue;
        };
        let Some(kind) = WidgetKind::parse(kind) else {
            i += 2;
            continue;
        };
        let name = match toks.get(i + 3) {
            Some(T::Word(w) | T::Str(w)) if !w.is_empty() => w.clone(),
            _ => {
                i += 3;
                continue;
            }
        };
        let mut j = i + 4;
        let mut default = None;
        let mut choices = Vec::new();
        if is_kw(toks.get(j), "DEFAULT") {
            default = match toks.get(j + 1) {
                Some(T::Str(s) | T::Word(s)) => Some(s.clone()),
                _ => None,
            };
            j += 2;
        }
        if is_kw(toks.get(j), "CHOICES") {
            j += 1;
            let mut in_values = false;
            while j < toks.len()
                && toks[j] != T::Punct(';')
                && !(is_kw(toks.get(j), "CREATE") && is_kw(toks.get(j + 1), "WIDGET"))
            {
                match &toks[j] {
                    T::Word(w) if w.eq_ignore_ascii_case("VALUES") => in_values = true,
                    T::Str(s) if in_values => choices.push(s.clone()),
                    _ => {}
                }
                j += 1;
            }
        }
        out.push(Widget {
            name,
            kind,
            default,
            choices: if kind == WidgetKind::Text {
                Vec::new()
            } else {
                choices
            },
            label: None,
        });
        i = j.max(i + 1);
    }
    out
}
