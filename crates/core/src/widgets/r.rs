//! R cells: `dbutils.widgets.text("name", "default", "label")`, choices as
//! `c(...)` or `list(...)`, named arguments with `=`. Top level means
//! outside every brace/bracket and not in a statement starting with a
//! control keyword.

use super::lexer::{LexConfig, tokenize};
use super::{TopLevel, Widget, extract_calls};

const LEX: LexConfig = LexConfig {
    hash_comments: true,
    slash_comments: false,
    triple_quotes: false,
    single_quote_strings: true,
    string_prefixes: &[],
    raw_prefixes: &[],
};

const RULES: TopLevel = TopLevel {
    indent_matters: false,
    block_keywords: &["if", "else", "for", "while", "repeat", "function"],
};

pub(super) fn parse(code: &str) -> Vec<Widget> {
    extract_calls(&tokenize(code, LEX), &RULES)
}
