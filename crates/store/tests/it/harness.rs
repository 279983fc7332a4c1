//! The store suite's layer over `polysync-testkit`: a store opened on each per-test
//! database, and the domain values the tests save.

use polysync_core::{Auth, Job, JobType, Parameter, Platform};
use polysync_store::Store;
use polysync_testkit::TestDb;

/// A migrated, empty store on one of the testkit's databases.
pub struct StoreDb<'a> {
    pub store: Store,
    pub kit: &'a TestDb,
}

impl<'a> StoreDb<'a> {
    pub async fn open(kit: &'a TestDb) -> StoreDb<'a> {
        let store = Store::open(kit.url()).await.expect("open store");
        StoreDb { store, kit }
    }

    /// Opens a second handle on the same database (migrations run again).
    pub async fn reopen(&self) -> Store {
        Store::open(self.kit.url()).await.expect("reopen")
    }

    /// Registers platform `prod` and imports notebook `/nb` (parameter
    /// `env`, default `dev`) on it: what a test of stored runs stands on.
    pub async fn import_notebook(&self) -> Job {
        self.store
            .add_platform(&platform("prod"))
            .await
            .expect("add platform");
        let job = notebook("/nb", &[("env", "dev")]);
        self.store
            .upsert_imported_jobs("prod", vec![job.clone()])
            .await
            .expect("import");
        job
    }

    /// Every stored byte (closes the store first so SQLite writes everything back).
    pub async fn dump(&self) -> Vec<u8> {
        self.store.close().await;
        self.kit.dump().await
    }
}

/// Runs the body once per backend with a fresh store, cleaning up after each.
macro_rules! store_test {
    ($name:ident, |$db:ident| $body:block) => {
        #[tokio::test]
        async fn $name() {
            polysync_testkit::each_backend(stringify!($name), async |kit| {
                let $db = crate::harness::StoreDb::open(kit).await;
                $body
                $db.store.close().await;
            })
            .await;
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
