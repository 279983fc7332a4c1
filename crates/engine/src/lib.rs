//! `polysync-engine`: Polysync's use cases (platforms, import, sync
//! parameters, run / wait / cancel) on top of the store and the per-job-type
//! providers of `polysync-providers`.
//!
//! The CLI (and later the server) call only this crate, so the business
//! rules live in one place: validation before any request, credentials only
//! from what a platform names, every status change persisted, Databricks
//! errors translated into a cause and a fix.

mod error;
mod troubleshoot;
mod usecases;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

pub use error::{Error, Result};
pub use polysync_core::{
    Auth, Compute, ComputeType, DataType, Direction, Job, JobType, JobsApiVersion, Parameter,
    ParameterMapping, PipelineRunId, Platform, Run, RunStatus, TaskType,
};
pub use polysync_providers::{ImportProgress, NoProgress};
pub use polysync_store::{JobFilter, RunFilter, StatusChange};
pub use troubleshoot::{PENDING_HINT, STOPPING_NOTE};

use polysync_databricks::DatabricksClient;
use polysync_store::Store;

/// Default for [`Engine::with_pending_hint_after`].
pub const DEFAULT_PENDING_HINT_AFTER: Duration = Duration::from_secs(120);

/// Environment lookup used for a platform's token variable; injectable so
/// tests (and embedding servers) never depend on the process environment.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What an import changed, by Polysync job name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The platform imported.
    pub platform: String,
    /// New jobs.
    pub added: Vec<String>,
    /// Jobs whose definition changed.
    pub updated: Vec<String>,
    /// Jobs seen again unchanged.
    pub unchanged: Vec<String>,
    /// Jobs that disappeared from Databricks (marked removed, not deleted).
    pub removed: Vec<String>,
    /// Things the user should fix, e.g. widgets the importer could not see
    /// (declared inside a conditional block).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What a parameter sync changed on one job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The job.
    pub job: String,
    /// Parameters new in Databricks.
    pub added: Vec<String>,
    /// Parameters gone from Databricks.
    pub removed: Vec<String>,
    /// Parameters whose user-set value was kept.
    pub kept_values: Vec<String>,
}

/// How `wait_run` polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Delay between polls.
    pub poll_interval: Duration,
    /// Give up after this long (the run keeps going in Databricks).
    pub timeout: Option<Duration>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            timeout: None,
        }
    }
}

/// A run with its status history, for `runs show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunDetails {
    /// The run.
    pub run: Run,
    /// Every status change, oldest first.
    pub history: Vec<StatusChange>,
    /// What to do about the run's current state, when Polysync knows (long
    /// PENDING on a new cluster, STOPPING pipeline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The use cases. Cheap to clone (an `Arc` inside), so a server can share it.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    env: EnvLookup,
    clients: Mutex<HashMap<String, (Platform, DatabricksClient)>>,
    pending_hint_after: Duration,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens (creating and migrating) the store at `database_url`:
    /// `sqlite:…`, a file path, or `postgres://…`.
    pub async fn open(database_url: &str) -> Result<Self> {
        let store = Store::open(database_url).await?;
        Ok(Self::from_store(store))
    }

    /// Wraps an already opened store (tests, embedding).
    pub fn from_store(store: Store) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                env: Arc::new(|k| std::env::var(k).ok()),
                clients: Mutex::new(HashMap::new()),
                pending_hint_after: DEFAULT_PENDING_HINT_AFTER,
            }),
        }
    }

    /// Replaces the lookup used for a platform's token variable (default:
    /// the process environment).
    pub fn with_env(self, env: EnvLookup) -> Self {
        let inner = Inner {
            store: self.inner.store.clone(),
            env,
            clients: Mutex::new(HashMap::new()),
            pending_hint_after: self.inner.pending_hint_after,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// How long a run may stay PENDING on a new job cluster before
    /// [`Engine::run_hint`] suggests a faster compute type (default 2 min).
    pub fn with_pending_hint_after(self, after: Duration) -> Self {
        let inner = Inner {
            store: self.inner.store.clone(),
            env: self.inner.env.clone(),
            clients: Mutex::new(HashMap::new()),
            pending_hint_after: after,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The underlying store (read-only use by callers such as tests).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Registers a platform after validation; Conflict if the name exists.
    pub async fn add_platform(&self, platform: Platform) -> Result<Platform> {
        platform.validate()?;
        match self.inner.store.get_platform(&platform.name).await {
            Ok(_) => {
                return Err(Error::Conflict(format!(
                    "platform {:?} already exists; remove it first or pick another name",
                    platform.name
                )));
            }
            Err(polysync_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.inner.store.save_platform(&platform).await?;
        Ok(self.inner.store.get_platform(&platform.name).await?)
    }

    /// Every platform, by name.
    pub async fn list_platforms(&self) -> Result<Vec<Platform>> {
        Ok(self.inner.store.list_platforms().await?)
    }

    /// One platform by name.
    pub async fn get_platform(&self, name: &str) -> Result<Platform> {
        Ok(self.inner.store.get_platform(name).await?)
    }

    /// Removes a platform (refused while jobs reference it).
    pub async fn remove_platform(&self, name: &str) -> Result<()> {
        self.inner.store.delete_platform(name).await?;
        self.forget_client(name);
        Ok(())
    }

    /// Jobs matching `filter`.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        Ok(self.inner.store.list_jobs(filter).await?)
    }

    /// A job by Polysync name, else `PLATFORM:EXTERNAL_ID`.
    pub async fn get_job(&self, job_ref: &str) -> Result<Job> {
        match self.inner.store.get_job(job_ref).await {
            Ok(j) => Ok(j),
            Err(polysync_store::Error::NotFound { .. }) => {
                match polysync_core::job::split_platform_ref(job_ref) {
                    Some((p, ext)) => match self.inner.store.get_job_by_external(p, ext).await {
                        Ok(j) => Ok(j),
                        Err(polysync_store::Error::NotFound { .. }) => Err(Error::NotFound {
                            entity: "job",
                            key: job_ref.to_owned(),
                        }),
                        Err(e) => Err(e.into()),
                    },
                    None => Err(Error::NotFound {
                        entity: "job",
                        key: job_ref.to_owned(),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a hand-made job (validated); Conflict if the name exists.
    pub async fn add_job(&self, job: Job) -> Result<Job> {
        job.validate()?;
        match self.inner.store.get_job(&job.name).await {
            Ok(_) => {
                return Err(Error::Conflict(format!(
                    "job {:?} already exists; use `polysync jobs edit` to change it",
                    job.name
                )));
            }
            Err(polysync_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.inner.store.save_job(&job).await?;
        Ok(self.inner.store.get_job(&job.name).await?)
    }

    /// Replaces an existing job's definition (validated).
    pub async fn edit_job(&self, job: Job) -> Result<Job> {
        job.validate()?;
        self.inner.store.get_job(&job.name).await?;
        self.inner.store.save_job(&job).await?;
        Ok(self.inner.store.get_job(&job.name).await?)
    }

    /// A run and its status history.
    pub async fn get_run(&self, run_id: &str) -> Result<RunDetails> {
        let run = self.inner.store.get_run(run_id).await?;
        let history = self.inner.store.run_history(run_id).await?;
        let hint = self.run_hint(&run).await;
        Ok(RunDetails { run, history, hint })
    }

    /// Runs matching `filter`, newest first.
    pub async fn list_runs(&self, filter: &RunFilter, limit: u32) -> Result<Vec<Run>> {
        Ok(self.inner.store.list_runs(filter, limit).await?)
    }

    fn forget_client(&self, platform: &str) {
        if let Ok(mut c) = self.inner.clients.lock() {
            c.remove(platform);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Compile-time check: the CLI spawns these futures on tokio tasks and
    /// the server will await them in axum handlers, so they must be `Send`.
    /// Never called; type-checking it is the test.
    #[allow(dead_code)]
    fn use_case_futures_are_send(engine: &Engine) {
        assert_send(&engine.import("p", &NoProgress));
        assert_send(&engine.sync_params("j"));
        assert_send(&engine.start_run("j", &[]));
        assert_send(&engine.refresh_run("r"));
        assert_send(&engine.wait_run("r", WaitOptions::default(), &mut |_| {}));
        assert_send(&engine.cancel_run("r"));
        assert_send(&engine.preview_request("j", &[]));
        assert_send(&engine.platform_authorization("p"));
    }
}
