//! Per-test emulator + store + engine, for both database engines.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use polysync_databricks::{Config, DatabricksClient, Method};
use polysync_emulator::{EmulatorConfig, EmulatorHandle};
use polysync_engine::{Auth, Engine, NoProgress, Platform, Run, StatusChange, WaitOptions};
use polysync_store::Store;
use serde_json::{Value, json};
use sqlx::Row;

/// The token the emulator accepts; the secrets test greps for it.
pub const TOKEN: &str = "dapi-it-secret-5f3a9c0d7e21";
/// The platform's token variable (resolved through the injected env only).
pub const TOKEN_VAR: &str = "POLYSYNC_IT_TOKEN";
pub const PLATFORM: &str = "emu";

pub enum Backend {
    Sqlite { path: PathBuf },
    Postgres { admin_url: String, schema: String },
}

pub struct TestDb {
    pub store: Store,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn label(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    pub async fn cleanup(self) {
        self.store.close().await;
        if let Backend::Postgres { admin_url, schema } = &self.backend {
            let pool = sqlx::PgPool::connect(admin_url).await.expect("admin");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .execute(&pool)
            .await
            .expect("drop schema");
            pool.close().await;
        }
    }

    /// Every stored byte: the SQLite files, or each PostgreSQL row as text.
    pub async fn dump(&self) -> Vec<u8> {
        match &self.backend {
            Backend::Sqlite { path } => {
                self.store.close().await;
                let dir = path.parent().expect("parent");
                let stem = path.file_name().expect("f").to_string_lossy().into_owned();
                let mut bytes = Vec::new();
                for e in std::fs::read_dir(dir).expect("dir") {
                    let e = e.expect("entry");
                    if e.file_name().to_string_lossy().starts_with(&stem) {
                        bytes.extend(std::fs::read(e.path()).expect("read"));
                    }
                }
                bytes
            }
            Backend::Postgres { admin_url, schema } => {
                let pool = sqlx::PgPool::connect(admin_url).await.expect("admin");
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
                        let s: String = r.get("row");
                        out.extend(s.into_bytes());
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
    let path = dir.path().join("polysync.db");
    let store = Store::open(&path.to_string_lossy()).await.expect("sqlite");
    TestDb {
        store,
        backend: Backend::Sqlite { path },
        _dir: Some(dir),
    }
}

async fn postgres(admin_url: &str) -> TestDb {
    let schema = format!("e_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(admin_url).await.expect("admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&pool)
        .await
        .expect("schema");
    pool.close().await;
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let location = format!("{admin_url}{sep}options[search_path]={schema}");
    let store = Store::open(&location).await.expect("postgres");
    TestDb {
        store,
        backend: Backend::Postgres {
            admin_url: admin_url.to_owned(),
            schema,
        },
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

/// Databricks ids of what the harness seeded.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    pub notebook_job: i64,
    pub wheel_job: i64,
    pub script_job: i64,
    pub jar_job: i64,
    pub sql_job: i64,
    pub dbt_job: i64,
    pub job_level_job: i64,
    pub workflow: i64,
    pub pipeline: String,
    pub continuous_pipeline: String,
}

pub struct Env {
    pub emu: EmulatorHandle,
    pub engine: Engine,
    pub db: TestDb,
    pub admin: DatabricksClient,
    pub seeded: Seeded,
}

/// Simulated seconds per real second: a 2 s notebook takes 100 ms.
pub const TIME_SCALE: f64 = 20.0;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspace")
}

pub fn fast() -> WaitOptions {
    WaitOptions {
        poll_interval: Duration::from_millis(10),
        timeout: Some(Duration::from_secs(30)),
    }
}

impl Env {
    pub async fn new(db: TestDb) -> Env {
        let emu = polysync_emulator::start(EmulatorConfig {
            tokens: vec![TOKEN.to_owned()],
            workspace_dir: Some(fixtures()),
            time_scale: TIME_SCALE,
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator");
        let admin = DatabricksClient::new(
            Config::builder()
                .host(emu.url())
                .token(TOKEN.to_owned())
                .build()
                .expect("config"),
        )
        .expect("client");
        let engine = Engine::from_store(db.store.clone()).with_env(Arc::new(|k: &str| {
            (k == TOKEN_VAR).then(|| TOKEN.to_owned())
        }));
        let mut platform = Platform::new(
            PLATFORM,
            emu.url(),
            Auth::TokenEnv {
                var: TOKEN_VAR.into(),
            },
        );
        platform.default_notebook_path = "/Shared".into();
        engine.add_platform(platform).await.expect("platform");
        let mut env = Env {
            emu,
            engine,
            db,
            admin,
            seeded: Seeded::default(),
        };
        env.seed().await;
        env
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.admin
            .request_json(Method::POST, path, Some(&body))
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn create_job(&self, settings: Value) -> i64 {
        self.post("/api/2.1/jobs/create", settings).await["job_id"]
            .as_i64()
            .expect("job_id")
    }

    pub async fn create_pipeline(&self, spec: Value) -> String {
        self.post("/api/2.0/pipelines", spec).await["pipeline_id"]
            .as_str()
            .expect("pipeline_id")
            .to_owned()
    }

    async fn seed(&mut self) {
        let one = |key: &str, task: Value| {
            let mut t = json!({"task_key": key});
            t.as_object_mut()
                .expect("obj")
                .extend(task.as_object().expect("obj").clone());
            json!([t])
        };
        let s = &mut self.seeded;
        let _ = s;
        let notebook_job = self
            .create_job(json!({"name": "nb-job", "tasks": one("main", json!({"notebook_task": {"notebook_path": "/Shared/etl/python_widgets", "base_parameters": {"region": "us"}}}))}))
            .await;
        let wheel_job = self
            .create_job(json!({"name": "wheel-job", "tasks": one("main", json!({"python_wheel_task": {"package_name": "pkg", "entry_point": "run", "named_parameters": {"date": "2024-01-01", "limit": "10"}}}))}))
            .await;
        let script_job = self
            .create_job(json!({"name": "script-job", "tasks": one("main", json!({"spark_python_task": {"python_file": "dbfs:/x.py", "parameters": ["a", "b"]}}))}))
            .await;
        let jar_job = self
            .create_job(json!({"name": "jar-job", "tasks": one("main", json!({"spark_jar_task": {"main_class_name": "com.x.Main", "parameters": ["x", "42"]}}))}))
            .await;
        let sql_job = self
            .create_job(json!({"name": "sql-job", "tasks": one("main", json!({"sql_task": {"warehouse_id": "wh", "query": {"query_id": "q"}, "parameters": {"p": "1"}}}))}))
            .await;
        let dbt_job = self
            .create_job(json!({"name": "dbt-job", "tasks": one("main", json!({"dbt_task": {"commands": ["dbt run"]}}))}))
            .await;
        let job_level_job = self
            .create_job(json!({"name": "job-level-job", "parameters": [{"name": "run_date", "default": "2024-01-01"}], "tasks": one("main", json!({"spark_python_task": {"python_file": "dbfs:/y.py", "parameters": ["{{job.parameters.run_date}}"]}}))}))
            .await;
        let workflow = self
            .create_job(json!({
                "name": "daily-workflow",
                "parameters": [{"name": "env", "default": "dev"}, {"name": "batch", "default": "42"}, {"name": "dry_run", "default": "false"}],
                "tasks": [
                    {"task_key": "extract", "notebook_task": {"notebook_path": "/Shared/etl/python_widgets", "base_parameters": {"task_only": "x"}}},
                    {"task_key": "load", "depends_on": [{"task_key": "extract"}], "spark_python_task": {"python_file": "dbfs:/load.py"}}
                ]
            }))
            .await;
        let pipeline = self
            .create_pipeline(json!({"name": "sales-dlt", "continuous": false, "development": true, "photon": false, "configuration": {"spark.sql.shuffle.partitions": "8", "custom.owner": "data", "other.key": "ignored", "emulator.duration": "2s"}}))
            .await;
        let continuous_pipeline = self
            .create_pipeline(json!({"name": "stream-dlt", "continuous": true, "configuration": {"emulator.stop_drain": "2s"}}))
            .await;
        self.seeded = Seeded {
            notebook_job,
            wheel_job,
            script_job,
            jar_job,
            sql_job,
            dbt_job,
            job_level_job,
            workflow,
            pipeline,
            continuous_pipeline,
        };
    }

    pub async fn import(&self) -> polysync_engine::ImportReport {
        self.engine
            .import(PLATFORM, &NoProgress)
            .await
            .expect("import")
    }

    /// Starts `job_ref` and waits for the end; returns the run and its
    /// history.
    pub async fn run_to_end(
        &self,
        job_ref: &str,
        overrides: &[(&str, &str)],
    ) -> (Run, Vec<StatusChange>) {
        let o: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let run = self.engine.start_run(job_ref, &o).await.expect("start");
        let run = self
            .engine
            .wait_run(&run.id, fast(), &mut |_| {})
            .await
            .expect("wait");
        let details = self.engine.get_run(&run.id).await.expect("details");
        (run, details.history)
    }

    /// The JSON bodies sent to endpoints whose key contains `endpoint`.
    pub fn bodies(&self, method: &str, endpoint: &str) -> Vec<Value> {
        self.emu
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.endpoint.contains(endpoint))
            .map(|r| r.body)
            .collect()
    }

    pub fn paths(&self, method: &str, endpoint: &str) -> Vec<String> {
        self.emu
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.endpoint.contains(endpoint))
            .map(|r| r.path)
            .collect()
    }

    pub fn job_ref(&self, id: impl std::fmt::Display) -> String {
        format!("{PLATFORM}:{id}")
    }

    pub async fn finish(self) {
        self.emu.shutdown().await;
        self.db.cleanup().await;
    }
}

/// Runs the body once per backend with a fresh emulator and store.
macro_rules! e2e {
    ($name:ident, |$env:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in crate::harness::backends().await {
                eprintln!("{} on {}", stringify!($name), db.label());
                #[allow(unused_mut)]
                let mut $env = crate::harness::Env::new(db).await;
                $body
                $env.finish().await;
            }
        }
    };
}
pub(crate) use e2e;
