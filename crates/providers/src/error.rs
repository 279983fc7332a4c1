//! The providers' error: a domain refusal, or a Databricks failure with the
//! context (operation, job type, target) the engine's troubleshooting
//! translation keys on.

use std::fmt;

use polysync_core::JobType;

/// Provider result.
pub type Result<T> = std::result::Result<T, ProviderError>;

/// What the provider was doing when Databricks answered with an error; the
/// engine's troubleshooting translation keys on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Listing objects during import.
    Discover,
    /// Reading one object's definition (import detail, sync-params).
    Describe,
    /// Starting a run / update.
    Submit,
    /// Reading a run's state.
    Poll,
    /// Reading a finished run's output.
    Output,
    /// Cancelling / stopping.
    Cancel,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Discover => "discovering",
            Operation::Describe => "reading",
            Operation::Submit => "starting",
            Operation::Poll => "polling",
            Operation::Output => "reading the output of",
            Operation::Cancel => "cancelling",
        })
    }
}

/// Why a provider call failed. Kept separate from the domain error because
/// it carries the client error (not `Clone`/`Eq`) and the context the
/// engine needs to translate it into a cause and a fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// A domain rule refused the job or its values (nothing was sent).
    #[error(transparent)]
    Domain(#[from] polysync_core::Error),
    /// Databricks answered with an error or could not be reached.
    #[error("{operation} {job_type} {target}: {source}")]
    Api {
        /// What we were doing.
        operation: Operation,
        /// Which provider.
        job_type: JobType,
        /// The External Id / run id addressed.
        target: String,
        /// The client error (status, `error_code`, message).
        #[source]
        source: Box<polysync_databricks::Error>,
    },
    /// The provider refused to act because it would affect something the
    /// run does not own (e.g. stopping another pipeline update).
    #[error("{message}")]
    Refused {
        /// The External Id / run id addressed.
        target: String,
        /// Why, and what to do instead.
        message: String,
    },
    /// Databricks answered 2xx with a body we cannot use.
    #[error("unexpected response while {operation} {target}: {message}")]
    Unexpected {
        /// What we were doing.
        operation: Operation,
        /// The External Id / run id addressed.
        target: String,
        /// What was missing.
        message: String,
    },
}

impl ProviderError {
    /// The Databricks client error, when this is an API failure.
    pub fn api_error(&self) -> Option<&polysync_databricks::Error> {
        match self {
            ProviderError::Api { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }

    /// Wraps a client error with what we were doing, so typed API calls
    /// report failures exactly like raw ones.
    pub(crate) fn api(
        operation: Operation,
        job_type: JobType,
        target: impl Into<String>,
    ) -> impl FnOnce(polysync_databricks::Error) -> Self {
        let target = target.into();
        move |source| ProviderError::Api {
            operation,
            job_type,
            target,
            source: Box::new(source),
        }
    }
}
