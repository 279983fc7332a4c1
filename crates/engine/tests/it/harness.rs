//! The engine suite's layer over `polysync-testkit`: per test, an emulator seeded with jobs
//! and pipelines, a store on the testkit's database and an engine with the emulator
//! registered as a platform.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use polysync_databricks::{Config, DatabricksClient, Method};
use polysync_emulator::EmulatorHandle;
use polysync_engine::{Auth, Engine, NoProgress, Platform, Run, StatusChange, WaitOptions};
use polysync_store::Store;
use polysync_testkit::TestDb;
use serde_json::{Value, json};

/// The token the emulator accepts; the secrets test greps for it.
pub const TOKEN: &str = "dapi-it-secret-5f3a9c0d7e21";
/// The platform's token variable (resolved through the injected env only).
pub const TOKEN_VAR: &str = "POLYSYNC_IT_TOKEN";
pub const PLATFORM: &str = "emu";

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

pub struct Env<'a> {
    pub emu: EmulatorHandle,
    pub engine: Engine,
    pub store: Store,
    pub db: &'a TestDb,
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

impl<'a> Env<'a> {
    pub async fn new(db: &'a TestDb) -> Env<'a> {
        let emu = polysync_testkit::start_emulator(TOKEN, |c| {
            c.workspace_dir = Some(fixtures());
            c.time_scale = TIME_SCALE;
        })
        .await;
        let store = Store::open(db.url()).await.expect("store");
        let admin = DatabricksClient::new(
            Config::builder()
                .host(emu.url())
                .token(TOKEN.to_owned())
                .build()
                .expect("config"),
        )
        .expect("client");
        let engine = Engine::from_store(store.clone()).with_env(Arc::new(|k: &str| {
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
            store,
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

    /// Every stored byte (closes the store first so SQLite writes everything back).
    pub async fn dump(&self) -> Vec<u8> {
        self.store.close().await;
        self.db.dump().await
    }

    pub async fn finish(self) {
        self.emu.shutdown().await;
        self.store.close().await;
    }
}

/// Runs the body once per backend with a fresh emulator and store.
macro_rules! e2e {
    ($name:ident, |$env:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            polysync_testkit::each_backend(stringify!($name), async |db| {
                #[allow(unused_mut)]
                let mut $env = crate::harness::Env::new(db).await;
                $body
                $env.finish().await;
            })
            .await;
        }
    };
}
pub(crate) use e2e;
