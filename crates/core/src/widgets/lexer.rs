//! A forgiving tokenizer for the C-like notebook languages (Python, Scala,
//! R). It knows just enough — strings, comments, brackets, line starts and
//! indentation — to find `dbutils.widgets.*` calls and decide whether they
//! are at top level. It never fails: unterminated strings or comments end
//! at the end of the line / input.

/// Which lexical features a language has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LexConfig {
    /// `#` starts a comment (Python, R).
    pub hash_comments: bool,
    /// `//` and `/* */` comments (Scala).
    pub slash_comments: bool,
    /// `'''` / `"""` strings (Python; Scala has `"""`).
    pub triple_quotes: bool,
    /// `'...'` is a string (Python, R). Scala uses it for char literals,
    /// which the lexer also reads as strings when closed on the same char.
    pub single_quote_strings: bool,
    /// Letters that may prefix a string literal (`r`, `f`, `s`, `raw`...).
    pub string_prefixes: &'static [&'static str],
    /// Prefixes that make the string raw (no escape processing).
    pub raw_prefixes: &'static [&'static str],
}

/// A token's kind and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Identifier or keyword.
    Ident(String),
    /// String literal (unescaped value).
    Str(String),
    /// Numeric literal (raw text).
    Num(String),
    /// Any other single character.
    Punct(char),
}

/// A token with the layout facts the top-level rules need.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// What it is.
    pub tok: Tok,
    /// First token on its physical line.
    pub line_start: bool,
    /// Indentation (in characters) of its physical line.
    pub indent: usize,
}

pub(crate) fn tokenize(src: &str, cfg: LexConfig) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let n = chars.len();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    let mut indent = 0usize;
    let mut counting_indent = true;

    while i < n {
        let c = chars[i];
        if c == '\n' {
            line_start = true;
            indent = 0;
            counting_indent = true;
            i += 1;
            continue;
        }
        if c == ' ' || c == '\t' || c == '\r' || c == '\u{c}' {
            if counting_indent {
                indent += 1;
            }
            i += 1;
            continue;
        }
        // Explicit line continuation: the next line continues this one.
        if c == '\\' && chars.get(i + 1) == Some(&'\n') {
            i += 2;
            counting_indent = false;
            continue;
        }
        counting_indent = false;
        if cfg.hash_comments && c == '#' {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if cfg.slash_comments && c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if cfg.slash_comments && c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < n && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(n);
            continue;
        }
        let push = |out: &mut Vec<Token>, tok: Tok, line_start: &mut bool| {
            out.push(Token {
                tok,
                line_start: *line_start,
                indent,
            });
            *line_start = false;
        };
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let lower = word.to_ascii_lowercase();
            if i < n
                && (chars[i] == '"' || (chars[i] == '\'' && cfg.single_quote_strings))
                && cfg.string_prefixes.contains(&lower.as_str())
            {
                let raw = cfg.raw_prefixes.contains(&lower.as_str());
                let (s, next) = read_string(&chars, i, cfg, raw);
                i = next;
                push(&mut out, Tok::Str(s), &mut line_start);
            } else {
                push(&mut out, Tok::Ident(word), &mut line_start);
            }
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                i += 1;
            }
            push(
                &mut out,
                Tok::Num(chars[start..i].iter().collect()),
                &mut line_start,
            );
            continue;
        }
        if c == '"' || c == '\'' {
            if c == '\'' && !cfg.single_quote_strings {
                // Scala char literal 'x' or '\n'; otherwise a symbol quote.
                let close = if chars.get(i + 1) == Some(&'\\') {
                    i + 3
                } else {
                    i + 2
                };
                if chars.get(close) == Some(&'\'') {
                    let (s, next) = read_string(&chars, i, cfg, false);
                    i = next;
                    push(&mut out, Tok::Str(s), &mut line_start);
                } else {
                    i += 1;
                    push(&mut out, Tok::Punct('\''), &mut line_start);
                }
                continue;
            }
            let (s, next) = read_string(&chars, i, cfg, false);
            i = next;
            push(&mut out, Tok::Str(s), &mut line_start);
            continue;
        }
        i += 1;
        push(&mut out, Tok::Punct(c), &mut line_start);
    }
    out
}

/// Reads a string starting at the quote `chars[start]`; returns its value
/// and the index after it.
fn read_string(chars: &[char], start: usize, cfg: LexConfig, raw: bool) -> (String, usize) {
    let n = chars.len();
    let q = chars[start];
    let triple =
        cfg.triple_quotes && chars.get(start + 1) == Some(&q) && chars.get(start + 2) == Some(&q);
    let mut i = start + if triple { 3 } else { 1 };
    let mut value = String::new();
    while i < n {
        let c = chars[i];
        if triple {
            if c == q && chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q) {
                return (value, i + 3);
            }
        } else if c == q {
            return (value, i + 1);
        } else if c == '\n' {
            // Unterminated single-line string: stop at the line end.
            return (value, i);
        }
        // Scala's triple-quoted strings are raw: no escape processing.
        let scala_raw = triple && q == '"' && cfg.string_prefixes.contains(&"raw");
        if c == '\\'
            && !raw
            && !scala_raw
            && let Some(&e) = chars.get(i + 1)
        {
            value.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                other => other,
            });
            i += 2;
            continue;
        }
        value.push(c);
        i += 1;
    }
    (value, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PY: LexConfig = LexConfig {
        hash_comments: true,
        slash_comments: false,
        triple_quotes: true,
        single_quote_strings: true,
        string_prefixes: &["r", "u", "b", "f", "rb", "br", "fr", "rf"],
        raw_prefixes: &["r", "rb", "br", "fr", "rf"],
    };

    #[test]
    fn strings_comments_and_layout() {
        let toks = tokenize("x = 'a\\'b' # c\n  y = \"\"\"multi\nline\"\"\"\nr'\\d'", PY);
        let kinds: Vec<_> = toks.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Ident("x".into()),
                Tok::Punct('='),
                Tok::Str("a'b".into()),
                Tok::Ident("y".into()),
                Tok::Punct('='),
                Tok::Str("multi\nline".into()),
                Tok::Str("\\d".into()),
            ]
        );
        assert!(toks[3].line_start);
        assert_eq!(toks[3].indent, 2);
        assert!(toks[6].line_start);
        assert_eq!(toks[6].indent, 0);
    }

    #[test]
    fn unterminated_inputs_do_not_hang() {
        for src in ["'abc", "\"\"\"abc", "a \\", "'\\", "x = (\"", "/*"] {
            let _ = tokenize(src, PY);
        }
    }
}
