//! The store's error type. sqlx errors are translated here and never cross
//! the crate boundary as a type, so callers match on meaning (not found,
//! already exists, busy) instead of driver details; the driver error is kept
//! as the `source` for logs.

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, Error>;

/// The driver error behind a failure, kept for its message and chain only.
type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is, for callers that branch on it
/// (exit codes, HTTP statuses, retry decisions) without matching variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The record does not exist.
    NotFound,
    /// A record with the same unique key exists already.
    AlreadyExists,
    /// The write clashes with other data (dependent rows, identity taken).
    Conflict,
    /// The value failed domain validation; nothing was written.
    Invalid,
    /// The database location is unusable.
    Config,
    /// Migrations could not be applied.
    Migration,
    /// A stored value cannot be read back.
    Corrupt,
    /// The database is busy or unreachable for now; the same call may work later.
    Unavailable,
    /// Any other database failure.
    Database,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The record does not exist.
    #[error("{entity} {key:?} not found")]
    NotFound {
        /// What was looked up ("platform", "job", "run").
        entity: &'static str,
        /// The key used.
        key: String,
    },
    /// An insert hit the record's unique key: somebody created it first.
    #[error("{entity} {key:?} already exists")]
    AlreadyExists {
        /// What was inserted ("platform", "job", "run").
        entity: &'static str,
        /// The unique key.
        key: String,
    },
    /// The write clashes with existing data (dependent rows, identity taken).
    #[error("{0}")]
    Conflict(String),
    /// The value failed domain validation before anything was written.
    #[error(transparent)]
    Invalid(#[from] polysync_core::Error),
    /// The database URL or path is unusable.
    #[error("database location {location:?}: {message}")]
    Config {
        /// The URL or path given (credentials stripped).
        location: String,
        /// What is wrong.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<Source>,
    },
    /// Applying migrations failed.
    #[error("database migration failed: {message}")]
    Migration {
        /// What failed.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<Source>,
    },
    /// A stored value could not be read back (edited by hand, newer schema).
    #[error("corrupt stored value in {column}: {message}")]
    Corrupt {
        /// Table.column.
        column: &'static str,
        /// Details.
        message: String,
    },
    /// Any other database failure (connection lost, busy, disk full, ...).
    #[error("database error: {message}")]
    Database {
        /// The driver's message.
        message: String,
        /// Busy / connection-level failures that a retry may cure.
        retryable: bool,
        /// The driver's error.
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    pub(crate) fn not_found(entity: &'static str, key: impl Into<String>) -> Self {
        Self::NotFound {
            entity,
            key: key.into(),
        }
    }

    pub(crate) fn already_exists(entity: &'static str, key: impl Into<String>) -> Self {
        Self::AlreadyExists {
            entity,
            key: key.into(),
        }
    }

    /// A failure that is not the driver's (serialising a value, an
    /// impossible state).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::Database {
            message: message.into(),
            retryable: false,
            source: None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Config { .. } => ErrorKind::Config,
            Error::Migration { .. } => ErrorKind::Migration,
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Database {
                retryable: true, ..
            } => ErrorKind::Unavailable,
            Error::Database { .. } => ErrorKind::Database,
        }
    }

    /// Whether the same call may succeed if repeated later (database busy,
    /// connection lost, pool exhausted). Nothing was committed when this
    /// is true.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }
}

/// SQLite's busy / locked result codes (primary and extended), which mean
/// "another writer holds the lock", never "your data is wrong".
fn sqlite_busy(code: &str) -> bool {
    matches!(code, "5" | "6" | "261" | "262" | "517" | "773")
}

/// PostgreSQL classes that a retry may cure: serialization failure,
/// deadlock, connection exceptions, too many connections, shutdown.
fn postgres_transient(code: &str) -> bool {
    matches!(code, "40001" | "40P01" | "53300" | "57P01" | "57P03") || code.starts_with("08")
}

pub(crate) fn from_sqlx(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::RowNotFound => Error::not_found("record", ""),
        sqlx::Error::Database(db) => match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => {
                Error::Conflict(format!("already exists: {}", db.message()))
            }
            sqlx::error::ErrorKind::ForeignKeyViolation => Error::Conflict(format!(
                "still referenced by other records: {}",
                db.message()
            )),
            _ => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                let retryable = sqlite_busy(&code) || postgres_transient(&code);
                Error::Database {
                    message: db.message().to_owned(),
                    retryable,
                    source: Some(Box::new(sqlx::Error::Database(db))),
                }
            }
        },
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::Database {
            message: e.to_string(),
            retryable: true,
            source: Some(Box::new(e)),
        },
        other => Error::Database {
            message: other.to_string(),
            retryable: false,
            source: Some(Box::new(other)),
        },
    }
}

/// Whether a driver error is a unique-key violation (an insert that lost a
/// race, or a duplicate name).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// Converts one driver error (for call sites that inspect it first).
pub(crate) trait IntoStore {
    fn into_store(self) -> Error;
}

impl IntoStore for sqlx::Error {
    fn into_store(self) -> Error {
        from_sqlx(self)
    }
}

/// `.db()?` instead of a public `From<sqlx::Error>` impl, which would put a
/// sqlx type into this crate's public API.
pub(crate) trait DbResultExt<T> {
    fn db(self) -> Result<T>;
}

impl<T> DbResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn db(self) -> Result<T> {
        self.map_err(from_sqlx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_transient_codes_are_retryable() {
        assert!(sqlite_busy("5") && sqlite_busy("517") && !sqlite_busy("19"));
        assert!(postgres_transient("40001") && postgres_transient("08006"));
        assert!(!postgres_transient("23505"));
        let e = from_sqlx(sqlx::Error::PoolTimedOut);
        assert!(e.is_retryable());
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            Error::already_exists("platform", "p").kind(),
            ErrorKind::AlreadyExists
        );
    }
}
