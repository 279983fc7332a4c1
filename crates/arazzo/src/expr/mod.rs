//! Runtime expressions: parsing, evaluation and `{$expr}` templates.

pub mod eval;
pub mod parse;

pub use eval::{Scope, WorkflowValues};
pub use parse::{Expr, Part, StrValue};
