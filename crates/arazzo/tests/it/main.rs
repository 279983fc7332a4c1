//! Integration tests for polysync-arazzo (one binary).
#![allow(clippy::unwrap_used, clippy::type_complexity, missing_docs)]

mod support;

mod corpus;
mod decisions;
mod examples;
mod fuzz;
mod memory;
mod runtime;
mod validation;
