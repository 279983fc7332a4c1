//! Persistence for Polysync: platforms, jobs, parameters, runs and run
//! status history, on SQLite (the default, a local file) or PostgreSQL
//! (`postgres://...`), with one schema and migrations applied on open.
//!
//! One [`Store`] hides the engine: each operation is written once and run on
//! whichever pool is live through the `on_db!` macro (two concrete sqlx
//! pools, no `Any` driver, no compile-time query macros).

mod error;
mod jobs;
mod migrate;
mod platforms;
mod rows;
mod runs;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use error::{Error, Result};
pub use jobs::{ImportSummary, JobFilter, SyncSummary};
pub use runs::{RunFilter, StatusChange};

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

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A local SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Handle to the database; cheap to clone (pools are shared).
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

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

impl Store {
    /// Opens (creating if needed) and migrates the database at `location`:
    /// a `postgres://` / `postgresql://` URL, a `sqlite:` URL, or a file
    /// path (whose parent directory is created).
    pub async fn open(location: &str) -> Result<Store> {
        let config = |message: String| Error::Config {
            location: redact(location),
            message,
        };
        let db = if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(location).map_err(|e| config(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(opts)
                .await
                .map_err(|e| config(e.to_string()))?;
            Db::Postgres(pool)
        } else {
            let opts = if location.starts_with("sqlite:") {
                SqliteConnectOptions::from_str(location).map_err(|e| config(e.to_string()))?
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
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await
                .map_err(|e| config(e.to_string()))?;
            Db::Sqlite(pool)
        };
        let store = Store { db };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations. Idempotent; on PostgreSQL it holds an
    /// advisory lock so several processes starting together are safe.
    pub async fn migrate(&self) -> Result<()> {
        migrate::run(&self.db).await
    }

    /// Which engine this store uses.
    pub fn engine(&self) -> Engine {
        match self.db {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Closes every connection (and, on SQLite, checkpoints the WAL), so
    /// the file is complete on disk.
    pub async fn close(&self) {
        on_db!(&self.db, p => p.close().await);
    }
}
