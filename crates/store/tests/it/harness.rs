//! Per-test databases for both engines.

use std::path::PathBuf;

use polysync_core::{Auth, Job, JobType, Parameter, Platform};
use polysync_store::Store;
use sqlx::Row;

/// Which engine a test instance runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite { path: PathBuf },
    Postgres { admin_url: String, schema: String },
}

/// A migrated, empty store plus what is needed to reopen and clean it.
pub struct TestDb {
    pub store: Store,
    pub backend: Backend,
    pub location: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn label(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// Opens a second handle on the same database (migrations run again).
    pub async fn reopen(&self) -> Store {
        Store::open(&self.location).await.expect("reopen")
    }

    pub async fn cleanup(self) {
        self.store.close().await;
        if let Backend::Postgres { admin_url, schema } = &self.backend {
            let pool = sqlx::PgPool::connect(admin_url)
                .await
                .expect("admin connect");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .execute(&pool)
            .await
            .expect("drop schema");
            pool.close().await;
        }
    }

    /// Every text value stored anywhere: the raw SQLite files, or on
    /// PostgreSQL each row of each table rendered as text (a dump of the
    /// test's schema).
    pub async fn dump(&self) -> Vec<u8> {
        match &self.backend {
            Backend::Sqlite { path } => {
                self.store.close().await;
                let mut bytes = Vec::new();
                let dir = path.parent().expect("parent");
                let stem = path
                    .file_name()
                    .expect("file")
                    .to_string_lossy()
                    .into_owned();
                for entry in std::fs::read_dir(dir).expect("read dir") {
                    let entry = entry.expect("entry");
                    if entry.file_name().to_string_lossy().starts_with(&stem) {
                        bytes.extend(std::fs::read(entry.path()).expect("read db file"));
                    }
                }
                assert!(!bytes.is_empty());
                bytes
            }
            Backend::Postgres { admin_url, schema } => {
                let pool = sqlx::PgPool::connect(admin_url)
                    .await
                    .expect("admin connect");
                let tables = sqlx::query(
                    "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = $1",
                )
                .bind(schema)
                .fetch_all(&pool)
                .await
                .expect("tables");
                let mut out = Vec::new();
                for t in tables {
                    let table: String = t.get("t");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT x::text AS row FROM \"{schema}\".\"{table}\" x"
                    )))
                    .fetch_all(&pool)
                    .await
                    .expect("rows");
                    for r in rows {
                        let text: String = r.get("row");
                        out.extend(text.into_bytes());
                        out.push(b'\n');
                    }
                }
                pool.close().await;
                out
            }
        }
    }
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    // A nested path also checks that the parent directory is created.
    let path = dir.path().join("nested").join("polysync.db");
    let location = path.to_string_lossy().into_owned();
    let store = Store::open(&location).await.expect("open sqlite");
    TestDb {
        store,
        backend: Backend::Sqlite { path },
        location,
        _dir: Some(dir),
    }
}

async fn postgres(admin_url: &str) -> TestDb {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(admin_url)
        .await
        .expect("admin connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&pool)
        .await
        .expect("create schema");
    pool.close().await;
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let location = format!("{admin_url}{sep}options[search_path]={schema}");
    let store = Store::open(&location).await.expect("open postgres");
    TestDb {
        store,
        backend: Backend::Postgres {
            admin_url: admin_url.to_owned(),
            schema,
        },
        location,
        _dir: None,
    }
}

/// SQLite always; PostgreSQL too when `POLYSYNC_TEST_DATABASE_URL` is set.
pub async fn backends() -> Vec<TestDb> {
    let mut out = vec![sqlite().await];
    if let Ok(url) = std::env::var("POLYSYNC_TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        out.push(postgres(url.trim()).await);
    }
    out
}

/// Runs the body once per backend, cleaning up after each.
macro_rules! store_test {
    ($name:ident, |$db:ident| $body:block) => {
        #[tokio::test]
        async fn $name() {
            for $db in crate::harness::backends().await {
                eprintln!("{} on {}", stringify!($name), $db.label());
                $body
                $db.cleanup().await;
            }
        }
    };
}
pub(crate) use store_test;

pub fn platform(name: &str) -> Platform {
    Platform::new(
        name,
        "https://adb-123.4.azuredatabricks.net",
        Auth::TokenEnv {
            var: "POLYSYNC_IT_TOKEN".into(),
        },
    )
}

pub fn notebook(path: &str, params: &[(&str, &str)]) -> Job {
    let mut j = Job::new(path, JobType::DatabricksNotebook, path, "prod");
    j.parameters = params
        .iter()
        .map(|(n, d)| Parameter::input(*n, Some((*d).to_owned())))
        .collect();
    j
}

pub fn workflow(id: &str, name: &str) -> Job {
    let mut j = Job::new(name, JobType::DatabricksWorkflow, id, "prod");
    j.parameters = vec![
        Parameter::input("env", Some("dev".into())),
        Parameter::reference("task_only", Some("1".into())),
    ];
    j
}

pub fn pipeline(id: &str) -> Job {
    let mut j = Job::new(
        format!("pipeline {id}"),
        JobType::DatabricksPipeline,
        id,
        "prod",
    );
    j.parameters = polysync_core::pipeline_params::pipeline_parameters(&serde_json::json!({
        "continuous": false,
        "configuration": {"spark.sql.x": "1", "ignored": "y"}
    }));
    j
}
