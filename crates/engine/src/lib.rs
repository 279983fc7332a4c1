//! `polysync-engine`: Polysync's use cases (platforms, import, sync
//! parameters, run / wait / cancel) on top of the store and the per-job-type
//! providers of `polysync-providers`.
//!
//! The CLI (and later the server) call only this crate, so the business
//! rules live in one place: validation before any request, credentials only
//! from what a platform names, every status change persisted, Databricks
//! errors translated into a cause and a fix.

mod api_tokens;
mod arazzo_jobs;
mod dag;
mod dispatcher;
mod error;
mod events;
mod health;
mod job_keys;
mod jobs;
mod metrics;
mod platforms;
mod run_batch;
mod runs;
mod sending;
mod server_tracking;
mod tasks;
mod tiers;
mod tracker;
mod troubleshoot;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

pub use arazzo_jobs::{ArazzoImport, HEARTBEAT, HEARTBEAT_EXPIRY};
pub use dag::{AttemptView, DEFAULT_PLATFORM_CAPACITY, DagRunRequest, DagRunView, TaskRunView};
pub use dispatcher::{Dispatcher, DispatcherOptions, Pass};
pub use error::{Error, ErrorKind, Result};
pub use events::Event;
pub use health::{DispatcherHealth, DispatcherInstance};
pub use job_keys::{
    JobKey, KeyDagRun, KeyRun, KeyRunError, MappedParams, SeedTaskType, TASK_PREFIX, Violation,
    check_params_schema, discover_job_keys, map_params,
};
pub use metrics::{MetricsSnapshot, WorkspaceCalls};
pub use platforms::{VERIFY_TIMEOUT, profile_host};
pub use polysync_core::task::{Problem, TaskFileError, format_duration, parse_duration};
pub use polysync_core::{
    Action, Auth, Compute, ComputeType, DataType, Direction, Hint, Job, JobType, JobsApiVersion,
    Parameter, ParameterMapping, PipelineRunId, Platform, Run, RunStatus, TaskType,
};
pub use polysync_core::{Condition, DagRun, DagRunStatus, Task, TaskRunStatus};
pub use polysync_providers::{ImportProgress, NoProgress, Skipped, TaskRun};
pub use polysync_store::{
    ApiToken, ApplyMode, JobFilter, RunFilter, StatusChange, StoredTask, TaskApplySummary,
};
pub use server_tracking::{StoreWatch, TrackingRole, TrackingRound};
pub use tiers::{ExecutionTiers, ReadTier, WriteTier};
pub use tracker::{ACTIVE_SWEEP, ACTIVE_SWEEP_FEW, FULL_SWEEP, WATCHED_INTERVAL, WatchGuard};
pub use troubleshoot::{PENDING_HINT, STOPPING_NOTE};

use polysync_databricks::DatabricksClient;
pub use polysync_databricks::{RetryNotice, RetryObserver};
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
    /// What could not be imported, and why (an unreadable notebook, a kind
    /// the workspace refuses to list); everything else was imported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

impl ImportReport {
    /// Whether something was skipped: the import is partial.
    pub fn is_partial(&self) -> bool {
        !self.skipped.is_empty()
    }
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
    pub hint: Option<Hint>,
    /// A multi-task run's task runs (key, state, duration; error and trace
    /// of failed tasks), read live from Databricks: the parent's message
    /// alone does not say which task failed or why. Empty for single-task
    /// and pipeline runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskRun>,
    /// Why the task runs could not be read (Databricks unreachable), when
    /// that happened; the stored run is shown regardless.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks_error: Option<String>,
}

/// What [`Engine::refresh_runs`] returns: the runs as stored after the
/// refresh, and the platforms that could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshedRuns {
    /// The runs the filter selects, newest first, refreshed.
    pub runs: Vec<Run>,
    /// Platforms whose runs could not be refreshed (shown as last stored).
    pub failures: Vec<RefreshFailure>,
}

/// A platform whose runs [`Engine::refresh_runs`] could not refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshFailure {
    /// The platform.
    pub platform: String,
    /// Why, in the user's terms.
    pub message: String,
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
    events: events::Events,
    retry_observer: Option<RetryObserver>,
    /// In-process runs (Arazzo workflows) executing in this process.
    in_process: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    tracker: tracker::TrackerState,
    /// Runs being sent right now (so nothing re-sends them meanwhile).
    sending: sending::Sending,
    /// Requests per second per workspace client, overriding the
    /// platform's own setting; `None` here keeps that setting.
    client_rate_limit: Option<Option<u32>>,
    /// The server's execution tiers and their read cache.
    tiers: tiers::TierState,
}

/// What an engine is configured with besides its store. Every `with_*`
/// builder changes one field of it and keeps the others, so the builders
/// can be chained in any order.
#[derive(Clone)]
struct Settings {
    env: EnvLookup,
    pending_hint_after: Duration,
    retry_observer: Option<RetryObserver>,
    client_rate_limit: Option<Option<u32>>,
    tiers: Option<ExecutionTiers>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            env: Arc::new(|k| std::env::var(k).ok()),
            pending_hint_after: DEFAULT_PENDING_HINT_AFTER,
            retry_observer: None,
            client_rate_limit: None,
            tiers: None,
        }
    }
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
        Self::assemble(store, Settings::default())
    }

    /// The one place an engine is put together from its store and its
    /// settings, so no builder can forget a field.
    fn assemble(store: Store, settings: Settings) -> Self {
        let Settings {
            env,
            pending_hint_after,
            retry_observer,
            client_rate_limit,
            tiers,
        } = settings;
        Self {
            inner: Arc::new(Inner {
                store,
                env,
                clients: Mutex::new(HashMap::new()),
                pending_hint_after,
                events: events::Events::new(),
                retry_observer,
                in_process: Mutex::new(HashMap::new()),
                tracker: tracker::TrackerState::default(),
                sending: sending::Sending::default(),
                client_rate_limit,
                tiers: tiers::TierState::new(tiers),
            }),
        }
    }

    /// The settings this engine was built with.
    fn settings(&self) -> Settings {
        let inner = &self.inner;
        Settings {
            env: inner.env.clone(),
            pending_hint_after: inner.pending_hint_after,
            retry_observer: inner.retry_observer.clone(),
            client_rate_limit: inner.client_rate_limit,
            tiers: inner.tiers.tiers,
        }
    }

    /// Rebuilds the engine on the same store with one setting changed and
    /// every other one kept, whatever order the `with_*` calls come in.
    /// Meant for set-up: cached clients and tracking state start afresh.
    fn configure(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.settings();
        change(&mut settings);
        Self::assemble(self.inner.store.clone(), settings)
    }

    /// Replaces the lookup used for a platform's token variable (default:
    /// the process environment).
    pub fn with_env(self, env: EnvLookup) -> Self {
        self.configure(|s| s.env = env)
    }

    /// How long a run may stay PENDING on a new job cluster before
    /// [`Engine::run_hint`] suggests a faster compute type (default 2 min).
    pub fn with_pending_hint_after(self, after: Duration) -> Self {
        self.configure(|s| s.pending_hint_after = after)
    }

    /// Every Databricks request of this engine tells `observer` before it
    /// retries (what, why, how long), so an interactive interface can show
    /// it instead of looking stuck.
    pub fn with_retry_observer(self, observer: RetryObserver) -> Self {
        self.configure(|s| s.retry_observer = Some(observer))
    }

    /// Caps each workspace client at `per_second` requests (`None`: no
    /// cap), overriding the platform's own setting (its profile's
    /// `rate_limit`, else the SDKs' default 15/s): for a workspace whose
    /// limits are known to be higher, or an emulator with its limits off.
    /// The per-workspace budget under the published limits applies either
    /// way.
    pub fn with_client_rate_limit(self, per_second: Option<u32>) -> Self {
        self.configure(|s| s.client_rate_limit = Some(per_second))
    }

    /// Applies the execution tiers (the server's read / write settings:
    /// timeouts, attempts, the ended runs' read cache) to every Databricks
    /// call of this engine. Keeps every other setting.
    pub fn with_tiers(self, tiers: ExecutionTiers) -> Self {
        self.configure(|s| s.tiers = Some(tiers))
    }

    /// The execution tiers set with [`Engine::with_tiers`], if any.
    pub fn tiers(&self) -> Option<ExecutionTiers> {
        self.inner.tiers.tiers
    }

    /// Closes the store's connections (on SQLite this checkpoints the WAL,
    /// so the file is complete on disk). Call before the process exits.
    pub async fn close(&self) {
        self.inner.store.close().await;
    }

    /// Every run status change from now on, as it is stored: the one
    /// channel the server's live streams (and any other watcher) follow.
    /// A receiver that falls behind gets `Lagged` and should re-read the
    /// runs it shows.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.inner.events.subscribe()
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
        assert_send(&engine.enqueue_run("j", &[]));
        assert_send(&engine.submit_run("r"));
        assert_send(&engine.resume_run("r"));
        assert_send(&engine.refresh_run("r"));
        assert_send(&engine.wait_run("r", WaitOptions::default(), &mut |_| {}));
        assert_send(&engine.cancel_run("r"));
        assert_send(&engine.refresh_runs(&RunFilter::default(), 10));
        assert_send(&engine.get_run_details("r", true));
        assert_send(&engine.preview_request("j", &[]));
        assert_send(&engine.platform_authorization("p"));
    }
}

#[cfg(test)]
mod builder_tests {
    use super::*;

    /// One `with_*` call of the chain under test.
    type Step = Box<dyn Fn(Engine) -> Engine>;

    fn steps() -> Vec<Step> {
        vec![
            Box::new(|e: Engine| {
                e.with_env(Arc::new(|k: &str| {
                    (k == "ORDER_TEST_TOKEN").then(|| "dapi-order".to_owned())
                }))
            }),
            Box::new(|e: Engine| e.with_pending_hint_after(Duration::from_secs(7))),
            Box::new(|e: Engine| e.with_retry_observer(Arc::new(|_: &RetryNotice| {}))),
            Box::new(|e: Engine| e.with_client_rate_limit(Some(250))),
        ]
    }

    /// Every order of `0..n`.
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        let mut out = Vec::new();
        for shorter in permutations(n - 1) {
            for at in 0..=shorter.len() {
                let mut p = shorter.clone();
                p.insert(at, n - 1);
                out.push(p);
            }
        }
        out
    }

    /// Each of the 24 orders of the four builders keeps all four settings,
    /// and the workspace client built afterwards uses them (the token from
    /// the injected environment, the request cap).
    #[tokio::test]
    async fn builder_order_does_not_matter() {
        let db = polysync_testkit::TestDb::sqlite();
        let store = Store::open(db.url()).await.expect("store");
        let platform = Platform::new(
            "order",
            "http://127.0.0.1:9",
            Auth::TokenEnv {
                var: "ORDER_TEST_TOKEN".into(),
            },
        );
        let orders = permutations(4);
        assert_eq!(orders.len(), 24);
        for order in orders {
            let steps = steps();
            let engine = order
                .iter()
                .fold(Engine::from_store(store.clone()), |e, &i| steps[i](e));
            let inner = &engine.inner;
            assert_eq!(
                (inner.env)("ORDER_TEST_TOKEN").as_deref(),
                Some("dapi-order"),
                "{order:?}"
            );
            assert_eq!(
                inner.pending_hint_after,
                Duration::from_secs(7),
                "{order:?}"
            );
            assert!(inner.retry_observer.is_some(), "{order:?}");
            assert_eq!(inner.client_rate_limit, Some(Some(250)), "{order:?}");
            let conn = engine.connection(&platform).expect("client");
            assert_eq!(conn.client.config().rate_limit(), Some(250), "{order:?}");
        }
        store.close().await;
    }

    /// Without `with_client_rate_limit` a token platform keeps the SDKs'
    /// default cap.
    #[tokio::test]
    async fn the_default_cap_is_the_sdks() {
        let db = polysync_testkit::TestDb::sqlite();
        let store = Store::open(db.url()).await.expect("store");
        let engine = Engine::from_store(store.clone())
            .with_env(Arc::new(|_: &str| Some("dapi-default".to_owned())));
        let platform = Platform::new(
            "default",
            "http://127.0.0.1:9",
            Auth::TokenEnv { var: "ANY".into() },
        );
        let conn = engine.connection(&platform).expect("client");
        assert_eq!(
            conn.client.config().rate_limit(),
            Some(polysync_databricks::config::DEFAULT_RATE_LIMIT)
        );
        store.close().await;
    }

    /// A profile platform takes the profile's `rate_limit` (0: no cap), and
    /// an engine's explicit cap (`polysync dispatcher --rate-limit`) wins
    /// over it.
    #[tokio::test]
    async fn a_profiles_rate_limit_applies_unless_the_engine_sets_one() {
        let db = polysync_testkit::TestDb::sqlite();
        let store = Store::open(db.url()).await.expect("store");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("databrickscfg");
        std::fs::write(
            &file,
            "[fast]\nhost = http://127.0.0.1:9\ntoken = dapi-fast\nrate_limit = 40\n\
             [open]\nhost = http://127.0.0.1:9\ntoken = dapi-open\nrate_limit = 0\n\
             [plain]\nhost = http://127.0.0.1:9\ntoken = dapi-plain\n",
        )
        .expect("write profile");
        let platform = |profile: &str| {
            Platform::new(
                profile,
                "http://127.0.0.1:9",
                Auth::Profile {
                    name: profile.into(),
                    config_file: Some(file.clone()),
                },
            )
        };
        let cap = |engine: &Engine, profile: &str| {
            engine
                .connection(&platform(profile))
                .expect("client")
                .client
                .config()
                .rate_limit()
        };
        let engine = Engine::from_store(store.clone());
        assert_eq!(cap(&engine, "fast"), Some(40));
        assert_eq!(cap(&engine, "open"), None);
        assert_eq!(
            cap(&engine, "plain"),
            Some(polysync_databricks::config::DEFAULT_RATE_LIMIT)
        );
        let engine = engine.with_client_rate_limit(Some(300));
        for profile in ["fast", "open", "plain"] {
            assert_eq!(cap(&engine, profile), Some(300), "{profile}");
        }
        store.close().await;
    }
}
