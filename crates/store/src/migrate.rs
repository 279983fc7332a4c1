//! Embedded migrations, built in code because sqlx's `migrate!` macro needs
//! the `macros` feature we keep off (build time).

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::Db;
use crate::error::{Error, Result};

const SQLITE: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../migrations/sqlite/0001_init.sql"),
)];

const POSTGRES: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../migrations/postgres/0001_init.sql"),
)];

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

pub(crate) async fn run(db: &Db) -> Result<()> {
    let result = match db {
        Db::Sqlite(p) => migrator(SQLITE).run(p).await,
        Db::Postgres(p) => migrator(POSTGRES).run(p).await,
    };
    result.map_err(|e| Error::Migration(e.to_string()))
}
