//! The engine's error type: every variant carries what went wrong in the
//! user's words, and [`Error::hint`] gives the one line that says how to fix
//! it, because the CLI prints exactly these two lines and nothing else.

/// Shorthand for engine results.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A domain rule refused the input (platform, job, parameter, override);
    /// nothing was sent to Databricks.
    #[error(transparent)]
    Invalid(#[from] polysync_core::Error),
    /// A platform, job or run does not exist in the store.
    #[error("{entity} {key:?} not found")]
    NotFound {
        /// "platform", "job" or "run".
        entity: &'static str,
        /// The name or id given.
        key: String,
    },
    /// The write clashes with existing data (duplicate name, dependent rows).
    #[error("{0}")]
    Conflict(String),
    /// The database failed (connection, migration, corrupt value).
    #[error("store: {0}")]
    Store(String),
    /// The platform's credentials could not be resolved from what it names.
    #[error("platform {platform:?}: {message}")]
    Credentials {
        /// The platform.
        platform: String,
        /// What is missing.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// Databricks refused or failed a request; `message` names the cause in
    /// the user's terms (troubleshooting translation), `hint` the fix.
    #[error("{message}")]
    Databricks {
        /// What Polysync was doing ("starting the run of job X").
        operation: String,
        /// The cause, translated, followed by Databricks' own words.
        message: String,
        /// The Databricks `error_code`, when any.
        error_code: Option<String>,
        /// The actionable fix.
        hint: Option<String>,
    },
    /// A run cannot be cancelled or refreshed in its current state.
    #[error("run {run_id}: {message}")]
    RunState {
        /// The Polysync run id.
        run_id: String,
        /// Why.
        message: String,
        /// What to do instead.
        hint: Option<String>,
    },
    /// `wait_run` gave up before the run reached a terminal status.
    #[error("run {run_id} is still {status} after {waited_secs} s")]
    WaitTimeout {
        /// The Polysync run id.
        run_id: String,
        /// Last status seen.
        status: polysync_core::RunStatus,
        /// How long we waited.
        waited_secs: u64,
        /// A hint from what the wait saw (e.g. long PENDING on a new cluster).
        hint: Option<String>,
    },
    /// A use case is not available yet in this build.
    #[error("{0} is not implemented yet")]
    NotImplemented(&'static str),
}

impl Error {
    /// One actionable line for the CLI to print under the error, when there
    /// is a known fix.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Invalid(e) => Some(invalid_hint(e)),
            Error::NotFound { entity, .. } => Some(match *entity {
                "platform" => "list platforms with `polysync platform list`".to_owned(),
                "job" => "list jobs with `polysync jobs list`, or name the job as PLATFORM:EXTERNAL_ID after `polysync import PLATFORM`".to_owned(),
                "run" => "list runs with `polysync runs list`".to_owned(),
                _ => return None,
            }),
            Error::Conflict(_) => None,
            Error::Store(_) => Some(
                "check --database-url and that the database is reachable and writable".to_owned(),
            ),
            Error::Credentials { hint, .. } => Some(hint.clone()),
            Error::Databricks { hint, .. } => hint.clone(),
            Error::RunState { hint, .. } => hint.clone(),
            Error::WaitTimeout { hint, run_id, .. } => Some(hint.clone().unwrap_or_else(|| {
                format!("the run continues in Databricks; check it later with `polysync runs show {run_id}`")
            })),
            Error::NotImplemented(_) => None,
        }
    }
}

fn invalid_hint(e: &polysync_core::Error) -> String {
    use polysync_core::Error as E;
    match e {
        E::ReferenceOnlyParameter { .. } => {
            "remove this -p override; see the message for where to declare the parameter".into()
        }
        E::UnknownParameter { .. } => {
            "see the job's parameters with `polysync jobs show JOB`".into()
        }
        E::InvalidJob { field, .. } if *field == "external_id" => {
            "re-import the platform (`polysync import PLATFORM`) to pick the right External Id"
                .into()
        }
        _ => "correct the value named above and retry".into(),
    }
}

impl From<polysync_store::Error> for Error {
    fn from(e: polysync_store::Error) -> Self {
        match e {
            polysync_store::Error::NotFound { entity, key } => Error::NotFound { entity, key },
            polysync_store::Error::Conflict(m) => Error::Conflict(m),
            polysync_store::Error::Invalid(e) => Error::Invalid(e),
            other => Error::Store(other.to_string()),
        }
    }
}
