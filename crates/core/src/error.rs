//! The one error type of the domain. Every message names the field or
//! parameter at fault and says how to fix it, because these messages reach the
//! user verbatim through the CLI.

use crate::hint::{Action, Hint};

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a domain value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A platform attribute is missing, malformed or conflicts with another.
    #[error("platform field `{field}`: {message}")]
    InvalidPlatform {
        /// The offending field, spelled as in the platform record.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A job's own attribute (name, external id, ...) is invalid.
    #[error("job field `{field}`: {message}")]
    InvalidJob {
        /// The offending field.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A parameter's definition or value is invalid.
    #[error("parameter `{name}`: {message}")]
    InvalidParameter {
        /// The parameter name.
        name: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The parameter direction is refused for this job type (seed direction tables).
    #[error(
        "parameter `{name}`: direction {direction} is not supported for {job_type} jobs: {reason}"
    )]
    UnsupportedDirection {
        /// The parameter name.
        name: String,
        /// The refused direction, as displayed.
        direction: String,
        /// The job type's display name.
        job_type: String,
        /// The seed's explanation.
        reason: String,
    },
    /// A value was given for a parameter that is shown for reference only.
    #[error(
        "parameter `{name}` is reference only for {job_type} jobs and is never sent at run time: {hint}"
    )]
    ReferenceOnlyParameter {
        /// The parameter name.
        name: String,
        /// The job name.
        job: String,
        /// The job type's display name.
        job_type: String,
        /// Where to declare it instead (from the seed).
        hint: String,
    },
    /// A value was given for a parameter the job does not declare.
    #[error("parameter `{name}` is not declared on job `{job}` (known: {known})")]
    UnknownParameter {
        /// The parameter name.
        name: String,
        /// The job name.
        job: String,
        /// Comma-separated declared names.
        known: String,
    },
    /// The chosen task type cannot receive parameters through run-now.
    #[error("task type `{task_type}` accepts no parameters through run-now ({names}); {hint}")]
    ParametersNotAccepted {
        /// The task type.
        task_type: String,
        /// The parameters that would have been sent.
        names: String,
        /// How to proceed.
        hint: String,
    },
    /// A run identifier could not be parsed.
    #[error("run id {value:?}: {message}")]
    InvalidRunId {
        /// The text given.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// A value that should be one of a fixed set was not.
    #[error("unknown {what} {value:?}; expected one of: {expected}")]
    UnknownVariant {
        /// What was being parsed (e.g. "data type").
        what: &'static str,
        /// The text given.
        value: String,
        /// Accepted spellings.
        expected: &'static str,
    },
}

impl Error {
    /// What to do about it, as data the interfaces render their own way.
    pub fn hint(&self) -> Hint {
        match self {
            Error::InvalidPlatform { field, .. } => Hint::action(
                "correct the platform's field and retry",
                Action::EditPlatform {
                    platform: None,
                    field: (*field).to_owned(),
                },
            ),
            Error::InvalidJob { field, .. } if *field == "external_id" => {
                Hint::text("re-import the platform to pick the right External Id")
            }
            Error::ReferenceOnlyParameter { job, job_type, .. } => {
                if job_type == crate::JobType::DatabricksNotebook.display_name() {
                    Hint::action(
                        "remove this parameter, or mark it as forwarded on the job",
                        Action::EditJob { job: job.clone() },
                    )
                } else {
                    Hint::action(
                        "remove this parameter, or declare it where the message says and sync the job's parameters",
                        Action::SyncParams { job: job.clone() },
                    )
                }
            }
            Error::UnknownParameter { job, .. } => Hint::action(
                "use one of the job's parameters, or re-sync them if Databricks declares it now",
                Action::ShowJob { job: job.clone() },
            ),
            Error::ParametersNotAccepted { hint, .. } => Hint::text(hint.clone()),
            _ => Hint::text("correct the value named above and retry"),
        }
    }

    pub(crate) fn platform(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidPlatform {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn job(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidJob {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn parameter(name: &str, message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.to_owned(),
            message: message.into(),
        }
    }
}
