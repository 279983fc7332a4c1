//! The crate's error type.

use crate::validate::Diagnostic;

/// Everything that can stop loading, validating or running a document.
///
/// One enum so callers (the CLI, the dispatcher) can map each failure class to an
/// exit code or a job status without parsing messages.
#[derive(Debug, thiserror::Error)]
pub enum ArazzoError {
    /// A file or URL could not be read.
    #[error("cannot read {location}: {message}")]
    Io {
        /// The file path or URL.
        location: String,
        /// Why it failed.
        message: String,
    },
    /// The text is neither valid YAML nor JSON, or has the wrong shape.
    #[error("cannot parse {location}: {message}")]
    Parse {
        /// The file path or URL.
        location: String,
        /// The parser's message.
        message: String,
    },
    /// Validation found errors; all of them are listed.
    #[error("{} validation error(s):\n{}", .0.iter().filter(|d| d.is_error()).count(), render(.0))]
    Invalid(Vec<Diagnostic>),
    /// The requested workflow does not exist.
    #[error("no workflow with id `{0}`")]
    UnknownWorkflow(String),
    /// The document has several workflows and none was chosen.
    #[error("the document has several workflows ({0}); choose one with --workflow")]
    AmbiguousWorkflow(String),
    /// Inputs do not satisfy the workflow's `inputs` schema.
    #[error("invalid inputs for workflow `{workflow}`:\n{}", .problems.join("\n"))]
    Inputs {
        /// The workflow id.
        workflow: String,
        /// One line per violation, with its JSON pointer.
        problems: Vec<String>,
    },
    /// A step failed and no failure action handled it.
    #[error("workflow `{workflow}` failed at step `{step}`: {reason}")]
    StepFailed {
        /// The workflow id.
        workflow: String,
        /// The step id.
        step: String,
        /// What went wrong.
        reason: String,
    },
    /// The global step limit was reached (a runaway loop).
    #[error(
        "step limit of {limit} steps reached in workflow `{workflow}` at step `{step}`; a goto loop never ended (raise it with --max-steps)"
    )]
    StepLimit {
        /// The limit.
        limit: u64,
        /// The workflow id.
        workflow: String,
        /// The step about to run.
        step: String,
    },
    /// The wall-clock budget was exhausted.
    #[error(
        "wall-clock limit of {limit_secs} s reached in workflow `{workflow}` at step `{step}` (raise it with --timeout)"
    )]
    Timeout {
        /// The limit in seconds.
        limit_secs: u64,
        /// The workflow id.
        workflow: String,
        /// The step about to run.
        step: String,
    },
    /// Nested workflows or `dependsOn` went too deep (probably a cycle).
    #[error("workflow nesting deeper than {0} levels (cycle through workflowId/dependsOn?)")]
    Depth(usize),
    /// Something off-spec met in `--strict` mode, or an unresolvable value.
    #[error("{location}: {message}")]
    Runtime {
        /// workflow/step/field where it happened.
        location: String,
        /// What happened.
        message: String,
    },
}

fn render(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl ArazzoError {
    /// True for errors about the document or the inputs, found before any request.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Io { .. }
                | Self::Parse { .. }
                | Self::Invalid(_)
                | Self::UnknownWorkflow(_)
                | Self::AmbiguousWorkflow(_)
                | Self::Inputs { .. }
        )
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = ArazzoError> = std::result::Result<T, E>;
