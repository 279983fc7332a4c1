//! Per-test databases on both engines, handed out as URLs.

use std::path::{Path, PathBuf};

use sqlx::Row;
use tempfile::TempDir;

/// The variable naming the PostgreSQL server tests may use (for example
/// `postgres://postgres@127.0.0.1:5432/test`). Unset or empty: PostgreSQL variants are skipped.
pub const DATABASE_URL_VAR: &str = "POLYSYNC_TEST_DATABASE_URL";

/// Where a [`TestDb`] lives, for tests that must treat the engines differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory (deleted with the [`TestDb`]).
    Sqlite {
        /// The database file (its `-wal`/`-shm` companions sit beside it).
        path: PathBuf,
    },
    /// A schema of its own on the server named by [`DATABASE_URL_VAR`].
    Postgres {
        /// The server URL as given, without the schema selection.
        admin_url: String,
        /// The unique schema created for this test.
        schema: String,
    },
}

/// One empty database for one test, on either engine. The kit only creates and removes it:
/// tests open their `Store` (and `Engine`) from [`TestDb::url`], which is also what the CLI
/// takes as `--database-url`.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A database file in a new temporary directory. The file sits in a folder that does not
    /// exist yet, so every open also checks that the parent directory is created.
    ///
    /// # Panics
    /// When the temporary directory cannot be created.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("nested").join("polysync.db");
        TestDb {
            url: format!("sqlite:{}", path.display()),
            backend: Backend::Sqlite { path },
            _dir: Some(dir),
        }
    }

    /// A fresh schema with a unique name on the server at `admin_url`; the URL selects it
    /// through the connection's `search_path`, so the store migrates and works inside it and
    /// [`TestDb::cleanup`] can drop everything at once.
    ///
    /// # Panics
    /// When the server cannot be reached or the schema cannot be created.
    pub async fn postgres(admin_url: &str) -> TestDb {
        let schema = format!("polysync_t_{}", uuid::Uuid::new_v4().simple());
        admin_execute(admin_url, &format!("CREATE SCHEMA \"{schema}\"")).await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        TestDb {
            url: format!("{admin_url}{sep}options[search_path]={schema}"),
            backend: Backend::Postgres {
                admin_url: admin_url.to_owned(),
                schema,
            },
            _dir: None,
        }
    }

    /// The database URL to open: `sqlite:PATH`, or the PostgreSQL server URL with the test's
    /// schema as `search_path`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which engine, and where.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// `"sqlite"` or `"postgres"`, for messages saying which run of a test failed.
    pub fn label(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// Every stored byte, so a test can prove a secret never reached the database: the raw
    /// SQLite files (main file, WAL and shared memory), or each row of each table of the
    /// PostgreSQL schema rendered as text. Close the test's handles first, so SQLite has
    /// written everything back to its files.
    ///
    /// # Panics
    /// When the files or the schema cannot be read, or a SQLite database has no file.
    pub async fn dump(&self) -> Vec<u8> {
        match &self.backend {
            Backend::Sqlite { path } => sqlite_files(path),
            Backend::Postgres { admin_url, schema } => postgres_rows(admin_url, schema).await,
        }
    }

    /// Removes the database: drops the PostgreSQL schema with everything in it, or deletes the
    /// temporary directory. Close the test's handles first.
    ///
    /// # Panics
    /// When the schema cannot be dropped.
    pub async fn cleanup(self) {
        if let Backend::Postgres { admin_url, schema } = &self.backend {
            admin_execute(
                admin_url,
                &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
            )
            .await;
        }
    }
}

/// SQLite always; PostgreSQL too when [`DATABASE_URL_VAR`] is set and not empty.
pub async fn backends() -> Vec<TestDb> {
    let mut out = vec![TestDb::sqlite()];
    if let Ok(url) = std::env::var(DATABASE_URL_VAR)
        && !url.trim().is_empty()
    {
        out.push(TestDb::postgres(url.trim()).await);
    } else {
        eprintln!("{DATABASE_URL_VAR} not set: PostgreSQL variant skipped");
    }
    out
}

/// Runs `body` once on each of [`backends`], saying which one on stderr, and removes each
/// database afterwards. `test` names the test in that line.
pub async fn each_backend(test: &str, mut body: impl AsyncFnMut(&TestDb)) {
    for db in backends().await {
        eprintln!("{test} on {}", db.label());
        body(&db).await;
        db.cleanup().await;
    }
}

async fn admin_execute(admin_url: &str, sql: &str) {
    let pool = sqlx::PgPool::connect(admin_url)
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
}

fn sqlite_files(path: &Path) -> Vec<u8> {
    let dir = path.parent().expect("database file has a folder");
    let stem = path
        .file_name()
        .expect("database file name")
        .to_string_lossy()
        .into_owned();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read database folder") {
        let entry = entry.expect("folder entry");
        if entry.file_name().to_string_lossy().starts_with(&stem) {
            bytes.extend(std::fs::read(entry.path()).expect("read database file"));
        }
    }
    assert!(!bytes.is_empty(), "no SQLite file at {}", path.display());
    bytes
}

async fn postgres_rows(admin_url: &str, schema: &str) -> Vec<u8> {
    let pool = sqlx::PgPool::connect(admin_url)
        .await
        .expect("connect to the PostgreSQL test server");
    let tables = sqlx::query(
        "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(schema)
    .fetch_all(&pool)
    .await
    .expect("list tables");
    let mut out = Vec::new();
    for t in tables {
        let table: String = t.get("t");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT x::text AS row FROM \"{schema}\".\"{table}\" x"
        )))
        .fetch_all(&pool)
        .await
        .expect("read rows");
        for r in rows {
            let text: String = r.get("row");
            out.extend(text.into_bytes());
            out.push(b'\n');
        }
    }
    pool.close().await;
    out
}
