//! Persistence for Polysync: platforms, jobs, parameters, runs and run
//! status history, on SQLite (the default, a local file) or PostgreSQL
//! (`postgres://...`), with one schema and migrations applied on open.
//!
//! One [`Store`] hides the backend: each operation is written once and run
//! on whichever pool is live through the `on_db!` / `on_tx!` macros (two
//! concrete sqlx pools, no `Any` driver, no compile-time query macros).
//! Where the backends must differ (claiming work, locking a row) each gets
//! its own SQL inside the same method.
//!
//! Writes that read before they write go through a [`Tx`]: on SQLite it
//! begins `IMMEDIATE` (the write lock is taken up front, so two processes
//! never deadlock upgrading a read lock, they queue on the busy timeout); on
//! PostgreSQL rows are locked explicitly where needed. Rows the engine
//! updates carry a `version` and are updated compare-and-set, returning
//! [`Update::Stale`] instead of overwriting a newer write.

mod api_tokens;
mod arazzo;
mod dag;
mod dashboard;
mod error;
mod jobs;
mod migrate;
mod platforms;
mod rows;
mod runs;
mod sql;
mod tasks;
mod tracking;
mod tx;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use api_tokens::ApiToken;
pub use dag::{AttemptEnd, DagStatusChange, DispatcherInfo};
pub use error::{Error, ErrorKind, Result};
pub use jobs::{ImportScope, ImportSummary, JobFilter, SyncSummary};
pub use runs::{RunFilter, StatusChange};
pub use tasks::{ApplyMode, StoredTask, TaskApplySummary};
pub use tx::Tx;

/// Runs the same body on whichever pool is live; `$p` is bound to the
/// concrete pool so the body type-checks once per engine.
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($p) => $body,
            $crate::Db::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_db;

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The outcome of a compare-and-set update: callers must handle a lost race.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Update<T> {
    /// Written; the value as stored, with its new version.
    Applied(T),
    /// Not written: the row changed since the caller read it. `current` is
    /// the row as it is now, to re-apply the change on or to give up.
    Stale {
        /// The stored row, newer than the caller's copy.
        current: T,
    },
}

impl<T> Update<T> {
    /// The value as stored now, whichever way the update went.
    pub fn into_current(self) -> T {
        match self {
            Update::Applied(v) | Update::Stale { current: v } => v,
        }
    }

    /// Whether the write was applied.
    pub fn is_applied(&self) -> bool {
        matches!(self, Update::Applied(_))
    }
}

/// Which database backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A local SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Handle to the database; cheap to clone (pools are shared).
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// This process's SQLite writers, one at a time in arrival order (see
    /// [`Store::begin`]).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// How long SQLite waits for another writer's lock before "database is
/// locked": also how long a writer of this process queues for its turn.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Current wall-clock time in epoch milliseconds, the unit of every stored
/// timestamp (portable across both engines, sorts as an integer).
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Removes a password from a URL before it appears in an error message.
fn redact(location: &str) -> String {
    let Some(scheme_end) = location.find("://") else {
        return location.to_owned();
    };
    let rest = &location[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return location.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &location[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => location.to_owned(),
    }
}

/// How long opening a SQLite file keeps retrying while other processes
/// hold it during their own first open.
const SQLITE_OPEN_PATIENCE: Duration = Duration::from_secs(15);

/// Connects to a SQLite file. Setting WAL mode on a brand-new file needs an
/// exclusive lock for which SQLite does not call the busy handler, so two
/// processes creating the same file at once could fail at once with
/// "database is locked": that case is retried (briefly, with backoff)
/// instead of failing the command.
async fn connect_sqlite(
    opts: SqliteConnectOptions,
) -> std::result::Result<SqlitePool, sqlx::Error> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        let attempt = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone())
            .await;
        match attempt {
            Err(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("5" | "6" | "517"))
                    && started.elapsed() < SQLITE_OPEN_PATIENCE =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `location`:
    /// a `postgres://` / `postgresql://` URL, a `sqlite:` URL, or a file
    /// path (whose parent directory is created).
    pub async fn open(location: &str) -> Result<Store> {
        let config = |message: String| Error::Config {
            location: redact(location),
            message,
            source: None,
        };
        let driver = |e: sqlx::Error| Error::Config {
            location: redact(location),
            message: e.to_string(),
            source: Some(Box::new(e)),
        };
        if let Some((scheme, _)) = location.split_once("://")
            && !matches!(scheme, "postgres" | "postgresql" | "sqlite")
        {
            return Err(config(format!(
                "unsupported database URL scheme {scheme:?}; use postgres://USER@HOST/DB (or \
                 postgresql://), sqlite:PATH, or a file path"
            )));
        }
        let db = if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(location).map_err(driver)?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(opts)
                .await
                .map_err(driver)?;
            Db::Postgres(pool)
        } else {
            let opts = if location.starts_with("sqlite:") {
                SqliteConnectOptions::from_str(location).map_err(driver)?
            } else {
                SqliteConnectOptions::new().filename(location)
            };
            if let Some(parent) = opts.get_filename().parent()
                && !parent.as_os_str().is_empty()
                && opts.get_filename() != Path::new(":memory:")
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    config(format!("cannot create directory {}: {e}", parent.display()))
                })?;
            }
            let opts = opts
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            Db::Sqlite(connect_sqlite(opts).await.map_err(driver)?)
        };
        let store = Store {
            db,
            writer: std::sync::Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations. Idempotent and safe when several
    /// processes open a fresh database at once: PostgreSQL holds an
    /// advisory lock, SQLite migrates inside one `BEGIN IMMEDIATE`.
    pub async fn migrate(&self) -> Result<()> {
        migrate::run(&self.db).await
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection (and, on SQLite, checkpoints the WAL), so
    /// the file is complete on disk.
    pub async fn close(&self) {
        on_db!(&self.db, p => p.close().await);
    }
}
