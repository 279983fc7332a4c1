//! Scala cells: same positional order as Python, choices as `Seq(...)`,
//! `Array(...)`, `List(...)`. Top level means outside every brace/bracket
//! and not in a statement starting with a control keyword. Triple-quoted
//! strings are raw, as in Scala.

use super::lexer::{LexConfig, tokenize};
use super::{TopLevel, Widget, extract_calls};

const LEX: LexConfig = LexConfig {
    hash_comments: false,
    slash_comments: true,
    triple_quotes: true,
    single_quote_strings: false,
    string_prefixes: &["s", "f", "raw"],
    raw_prefixes: &["raw"],
};

const RULES: TopLevel = TopLevel {
    indent_matters: false,
    block_keywords: &[
        "if", "else", "for", "while", "do", "def", "match", "case", "try", "catch", "finally",
        "object", "class", "trait",
    ],
};

pub(super) fn parse(code: &str) -> Vec<Widget> {
    extract_calls(&tokenize(code, LEX), &RULES)
}
