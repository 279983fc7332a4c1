//! Embedded migrations, built in code because sqlx's `migrate!` macro needs
//! the `macros` feature we keep off (build time).

use std::collections::HashMap;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationType, Migrator};
use sqlx::sqlite::SqliteConnection;

use crate::Db;
use crate::error::{Error, Result};

const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "versions and intents",
        include_str!("../migrations/sqlite/0002_versions_and_intents.sql"),
    ),
    (
        3,
        "run started at",
        include_str!("../migrations/sqlite/0003_run_started_at.sql"),
    ),
    (
        4,
        "parameter choices",
        include_str!("../migrations/sqlite/0004_parameter_choices.sql"),
    ),
    (
        5,
        "tasks",
        include_str!("../migrations/sqlite/0005_tasks.sql"),
    ),
    (
        6,
        "dag runs",
        include_str!("../migrations/sqlite/0006_dag_runs.sql"),
    ),
    (
        7,
        "arazzo",
        include_str!("../migrations/sqlite/0007_arazzo.sql"),
    ),
    (
        8,
        "tracking leases",
        include_str!("../migrations/sqlite/0008_tracking_leases.sql"),
    ),
    (
        9,
        "platform slots",
        include_str!("../migrations/sqlite/0009_platform_slots.sql"),
    ),
    (
        10,
        "api tokens",
        include_str!("../migrations/sqlite/0010_api_tokens.sql"),
    ),
];

const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "versions and intents",
        include_str!("../migrations/postgres/0002_versions_and_intents.sql"),
    ),
    (
        3,
        "run started at",
        include_str!("../migrations/postgres/0003_run_started_at.sql"),
    ),
    (
        4,
        "parameter choices",
        include_str!("../migrations/postgres/0004_parameter_choices.sql"),
    ),
    (
        5,
        "tasks",
        include_str!("../migrations/postgres/0005_tasks.sql"),
    ),
    (
        6,
        "dag runs",
        include_str!("../migrations/postgres/0006_dag_runs.sql"),
    ),
    (
        7,
        "arazzo",
        include_str!("../migrations/postgres/0007_arazzo.sql"),
    ),
    (
        8,
        "tracking leases",
        include_str!("../migrations/postgres/0008_tracking_leases.sql"),
    ),
    (
        9,
        "platform slots",
        include_str!("../migrations/postgres/0009_platform_slots.sql"),
    ),
    (
        10,
        "api tokens",
        include_str!("../migrations/postgres/0010_api_tokens.sql"),
    ),
];

fn migrator(files: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        files
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    (*name).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

fn failed(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Migration {
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

/// Applies pending migrations. PostgreSQL: sqlx's migrator under its
/// advisory lock. SQLite has no such lock (sqlx's is a no-op there), so two
/// processes opening a fresh file both tried `CREATE TABLE`; instead the
/// whole migration runs inside one `BEGIN IMMEDIATE` transaction (each
/// migration becomes a savepoint), which SQLite serialises across processes
/// through the busy timeout: the second process waits, then sees the
/// migrations applied and does nothing.
pub(crate) async fn run(db: &Db) -> Result<()> {
    match db {
        Db::Sqlite(p) => {
            let mut tx = p.begin_with("BEGIN IMMEDIATE").await.map_err(failed)?;
            apply_pending(&mut tx, &migrator(SQLITE)).await?;
            tx.commit().await.map_err(failed)
        }
        Db::Postgres(p) => migrator(POSTGRES).run(p).await.map_err(failed),
    }
}

/// What `Migrator::run` does, on a connection we already hold inside our
/// own transaction. Written with the `Migrate` methods directly because
/// `Migrator::run`'s `Acquire` bound makes the future not `Send` for a
/// borrowed connection, and `Store::open` must be spawnable.
async fn apply_pending(conn: &mut SqliteConnection, migrator: &Migrator) -> Result<()> {
    let table = migrator.table_name.as_ref();
    conn.ensure_migrations_table(table).await.map_err(failed)?;
    if let Some(version) = conn.dirty_version(table).await.map_err(failed)? {
        return Err(failed(MigrateError::Dirty(version)));
    }
    let applied: HashMap<i64, Vec<u8>> = conn
        .list_applied_migrations(table)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|m| (m.version, m.checksum.into_owned()))
        .collect();
    for migration in migrator.iter() {
        match applied.get(&migration.version) {
            Some(sum) if *sum != *migration.checksum => {
                return Err(failed(MigrateError::VersionMismatch(migration.version)));
            }
            Some(_) => {}
            None => {
                conn.apply(table, migration).await.map_err(failed)?;
            }
        }
    }
    Ok(())
}
