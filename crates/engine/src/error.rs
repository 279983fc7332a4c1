//! The engine's error type: every variant carries what went wrong in the
//! user's words, [`Error::hint`] the fix as data (rendered by each
//! interface: a command line in the CLI, JSON in the server), [`Error::kind`]
//! what an interface maps to an exit code or HTTP status, and
//! [`Error::is_retryable`] whether the same call may work later. Driver and
//! client errors stay attached as `source` for logs.

use polysync_core::{Action, Hint};

/// Shorthand for engine results.
pub type Result<T> = std::result::Result<T, Error>;

/// What kind of failure an [`Error`] is: what interfaces branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was refused before anything was sent or written.
    Invalid,
    /// A platform, job or run does not exist.
    NotFound,
    /// Something with the same name exists already.
    AlreadyExists,
    /// The change clashes with other data or lost a race.
    Conflict,
    /// The database failed.
    Store,
    /// The platform's credentials are missing or refused.
    Credentials,
    /// Databricks refused or failed a request.
    Databricks,
    /// The run's state does not allow the operation.
    RunState,
    /// A wait ended before the run did.
    Timeout,
}

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
    /// A platform or job of that name exists already (also when another
    /// process created it a moment earlier).
    #[error("{entity} {key:?} already exists")]
    AlreadyExists {
        /// "platform", "job" or "run".
        entity: &'static str,
        /// The name.
        key: String,
    },
    /// A tasks file cannot be applied: every problem, each with its file,
    /// line, task and field. Nothing was changed.
    #[error(transparent)]
    TaskFile(#[from] polysync_core::TaskFileError),
    /// The write clashes with existing data (dependent rows, identity taken,
    /// a concurrent change).
    #[error("{0}")]
    Conflict(String),
    /// The job was marked removed by the last import (Databricks no longer
    /// has it): a run is refused before anything is stored or sent, so it is
    /// an input error (exit 2 in the CLI), not a failed call.
    #[error(
        "job {job:?} was removed from Databricks (seen missing at the last import of {platform}); nothing was sent"
    )]
    JobRemoved {
        /// The job's Polysync name.
        job: String,
        /// Its platform, to re-import.
        platform: String,
    },
    /// The database failed (connection, migration, corrupt value).
    #[error("store: {0}")]
    Store(#[source] polysync_store::Error),
    /// The platform's credentials could not be resolved from what it names.
    #[error("platform {platform:?}: {message}")]
    Credentials {
        /// The platform.
        platform: String,
        /// What is missing.
        message: String,
        /// How to fix it.
        hint: Hint,
        /// The client's error, when one caused it.
        #[source]
        source: Option<Box<polysync_databricks::Error>>,
    },
    /// Databricks refused or failed a request; `message` names the cause in
    /// the user's terms (troubleshooting translation), `hint` the fix.
    #[error("{message}")]
    Databricks {
        /// What Polysync was doing ("starting job X").
        operation: String,
        /// The cause, translated, followed by Databricks' own words.
        message: String,
        /// The Databricks `error_code`, when any.
        error_code: Option<String>,
        /// The actionable fix.
        hint: Option<Hint>,
        /// The client's error (HTTP status, retryability), when there is one.
        #[source]
        source: Option<Box<polysync_databricks::Error>>,
    },
    /// A reference (a run id prefix, a Databricks run id, a job name or
    /// path shared by several platforms) matches several records: acting on
    /// one picked at random (or by import order) would be wrong, so the user
    /// is shown the candidates to choose from. Nothing was done.
    #[error("{entity} {key:?} is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        /// "run" or "job".
        entity: &'static str,
        /// The reference given.
        key: String,
        /// What it matches (ids with a short description).
        candidates: Vec<String>,
    },
    /// A run cannot be cancelled or refreshed in its current state.
    #[error("run {run_id}: {message}")]
    RunState {
        /// The Polysync run id.
        run_id: String,
        /// Why.
        message: String,
        /// What to do instead.
        hint: Option<Hint>,
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
        hint: Option<Hint>,
    },
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::Ambiguous { .. } | Error::TaskFile(_) => ErrorKind::Invalid,
            Error::Conflict(_) => ErrorKind::Conflict,
            // An unusable --database-url is the user's input, not an outage.
            Error::Store(e) if e.kind() == polysync_store::ErrorKind::Config => ErrorKind::Invalid,
            Error::JobRemoved { .. } => ErrorKind::Invalid,
            Error::Store(_) => ErrorKind::Store,
            Error::Credentials { .. } => ErrorKind::Credentials,
            Error::Databricks { .. } => ErrorKind::Databricks,
            Error::RunState { .. } => ErrorKind::RunState,
            Error::WaitTimeout { .. } => ErrorKind::Timeout,
        }
    }

    /// Whether repeating the same call later may succeed: a busy or
    /// unreachable database, a Databricks error the client classes as
    /// transient (429, 503, connection lost), a wait that ran out of time.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Store(e) => e.is_retryable(),
            Error::Databricks {
                source: Some(e), ..
            } => e.is_retryable(),
            Error::WaitTimeout { .. } => true,
            _ => false,
        }
    }

    /// What to do about it, when Polysync knows.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Error::Invalid(e) => Some(e.hint()),
            Error::NotFound { entity, .. } => Some(match *entity {
                "platform" => Hint::action("see the registered platforms", Action::ListPlatforms),
                "job" => Hint::action(
                    "see the imported jobs, or name the job as PLATFORM:EXTERNAL_ID after importing its platform",
                    Action::ListJobs { platform: None },
                ),
                "run" => Hint::action("see the recorded runs", Action::ListRuns),
                "task" => Hint::action("see the applied tasks", Action::ListTasks),
                _ => return None,
            }),
            Error::AlreadyExists { entity, key } => Some(match *entity {
                "platform" => Hint::action(
                    "pick another name, or change the existing platform",
                    Action::ShowPlatform {
                        platform: key.clone(),
                    },
                ),
                "job" => Hint::action(
                    "pick another name, or edit the existing job",
                    Action::EditJob { job: key.clone() },
                ),
                _ => return None,
            }),
            Error::TaskFile(_) => Some(Hint::text(
                "fix the file where each problem says and apply it again; nothing was changed",
            )),
            Error::Ambiguous { entity: "job", .. } => Some(Hint::text(
                "name the job as PLATFORM:EXTERNAL_ID, one of the candidates listed",
            )),
            Error::Ambiguous { .. } => Some(Hint::text(
                "give more characters of the run id (or the full id) to pick one",
            )),
            Error::Conflict(_) => None,
            Error::JobRemoved { platform, .. } => Some(Hint::action(
                "re-import the platform to pick the current jobs",
                Action::Import {
                    platform: platform.clone(),
                },
            )),
            Error::Store(e) if e.is_retryable() => Some(Hint::text(
                "the database is busy or unreachable for now; retry in a moment",
            )),
            Error::Store(_) => Some(Hint::text(
                "check --database-url and that the database is reachable and writable",
            )),
            Error::Credentials { hint, .. } => Some(hint.clone()),
            Error::Databricks { hint, .. } => hint.clone(),
            Error::RunState { hint, .. } => hint.clone(),
            Error::WaitTimeout { hint, run_id, .. } => Some(hint.clone().unwrap_or_else(|| {
                Hint::action(
                    "the run continues in Databricks; check it later",
                    Action::ShowRun {
                        run_id: run_id.clone(),
                    },
                )
            })),
        }
    }
}

impl From<polysync_store::Error> for Error {
    fn from(e: polysync_store::Error) -> Self {
        match e {
            polysync_store::Error::NotFound { entity, key } => Error::NotFound { entity, key },
            polysync_store::Error::AlreadyExists { entity, key } => {
                Error::AlreadyExists { entity, key }
            }
            polysync_store::Error::Conflict(m) => Error::Conflict(m),
            polysync_store::Error::Invalid(e) => Error::Invalid(e),
            other => Error::Store(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retryability() {
        let nf = Error::NotFound {
            entity: "run",
            key: "x".into(),
        };
        assert_eq!(nf.kind(), ErrorKind::NotFound);
        assert!(!nf.is_retryable());
        assert_eq!(
            nf.hint().and_then(|h| h.action).as_deref(),
            Some(&Action::ListRuns)
        );
        let timeout = Error::WaitTimeout {
            run_id: "r".into(),
            status: polysync_core::RunStatus::Running,
            waited_secs: 3,
            hint: None,
        };
        assert!(timeout.is_retryable());
        assert_eq!(
            timeout.hint().and_then(|h| h.action).as_deref(),
            Some(&Action::ShowRun { run_id: "r".into() })
        );
    }
}
