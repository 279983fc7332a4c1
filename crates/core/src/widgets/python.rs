//! Python cells: `dbutils.widgets.text(name, defaultValue, label=None)` and
//! friends, positional or keyword (`defaultValue=`, `name=`, `label=`,
//! `choices=` in any order). Top level means a statement at column 0 that is
//! not a compound-statement header.

use super::lexer::{LexConfig, tokenize};
use super::{TopLevel, Widget, extract_calls};

const LEX: LexConfig = LexConfig {
    hash_comments: true,
    slash_comments: false,
    triple_quotes: true,
    single_quote_strings: true,
    string_prefixes: &["r", "u", "b", "f", "rb", "br", "fr", "rf"],
    raw_prefixes: &["r", "rb", "br", "fr", "rf"],
};

const RULES: TopLevel = TopLevel {
    indent_matters: true,
    block_keywords: &[
        "if", "elif", "else", "for", "while", "def", "class", "with", "try", "except", "finally",
        "async", "match", "case", "lambda",
    ],
};

pub(super) fn parse(code: &str) -> Vec<Widget> {
    extract_calls(&tokenize(code, LEX), &RULES)
}
