//! The store's error type. sqlx errors are translated here and never cross
//! the crate boundary, so callers match on meaning (not found, conflict)
//! instead of driver details.

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, Error>;

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
    /// The write clashes with existing data (duplicate name, dependent rows).
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
    },
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A stored value could not be read back (edited by hand, newer schema).
    #[error("corrupt stored value in {column}: {message}")]
    Corrupt {
        /// Table.column.
        column: &'static str,
        /// Details.
        message: String,
    },
    /// Any other database failure (connection lost, disk full, ...).
    #[error("database error: {0}")]
    Database(String),
}

impl Error {
    pub(crate) fn not_found(entity: &'static str, key: impl Into<String>) -> Self {
        Self::NotFound {
            entity,
            key: key.into(),
        }
    }
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
            _ => Error::Database(db.message().to_owned()),
        },
        other => Error::Database(other.to_string()),
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
