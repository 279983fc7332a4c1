//! Shared state behind one `Arc`: stores with short-held std locks, atomics for counters.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use serde::Serialize;
use serde_json::Value;

use crate::behaviour::{Effect, Widget};
use crate::clock::SimClock;
use crate::config::EmulatorConfig;
use crate::faults::{FaultConfig, RateLimiter};
use crate::lifecycle::{Cut, TaskRun};
use crate::notebook_format::Language;

/// Lock helpers that survive poisoning (a panicking handler must not wedge the emulator).
pub(crate) fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// A saved job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job id.
    pub job_id: i64,
    /// Creation time (simulated ms).
    pub created_time: i64,
    /// `JobSettings` as stored.
    pub settings: Value,
    /// Queueing default depends on the API version the job was created with (2.2: on).
    pub queue_default: bool,
    /// Next `number_in_job`-style counter is the run id itself; kept for symmetry.
    pub creator: String,
}

/// One job run (run-now or submit).
#[derive(Debug, Clone)]
pub struct Run {
    /// Run id.
    pub run_id: i64,
    /// Job id (submit runs get a hidden job id, as on Databricks).
    pub job_id: i64,
    /// `JOB_RUN` or `SUBMIT_RUN`.
    pub run_type: &'static str,
    /// `run_name`.
    pub run_name: String,
    /// Creation (simulated ms) = `start_time`.
    pub created: i64,
    /// QUEUED until this time (None = never queued).
    pub queued_until: Option<i64>,
    /// Cancel / timeout cut, if any.
    pub cut: Option<Cut>,
    /// Run-level timeout in ms (0 = none).
    pub timeout_ms: u64,
    /// Tasks.
    pub tasks: Vec<TaskRun>,
    /// `job_parameters` array (`{name, default, value}`).
    pub job_parameters: Vec<Value>,
    /// `overriding_parameters`.
    pub overriding_parameters: Value,
    /// `job_clusters` of the job at run time.
    pub job_clusters: Value,
    /// Whether the run was skipped before starting (max concurrent runs).
    pub skipped: bool,
    /// `trigger`.
    pub trigger: &'static str,
    /// Key of its idempotency token in `AppState::idempotency`, forgotten with the run.
    pub idempotency_key: Option<String>,
}

impl Run {
    /// Simulated time at which the run becomes terminal.
    pub fn end(&self) -> i64 {
        self.tasks
            .iter()
            .map(|t| t.plan.end)
            .max()
            .unwrap_or(self.created)
    }
    /// Start of its active (non-queued) life.
    pub fn base(&self) -> i64 {
        self.queued_until.unwrap_or(self.created)
    }
}

/// Parsed view of a notebook cached at import time so submits do not re-parse sources.
#[derive(Debug, Clone)]
pub struct NotebookInfo {
    /// Language.
    pub language: Language,
    /// SOURCE text with header.
    pub source: Arc<str>,
    /// `emulator:` directive.
    pub directive: crate::behaviour::Directive,
    /// First top-level exit/raise.
    pub effect: Option<Effect>,
    /// Declared widgets.
    pub widgets: Vec<Widget>,
}

impl NotebookInfo {
    /// Analyse a SOURCE notebook.
    pub fn new(language: Language, source: String) -> Self {
        Self {
            directive: crate::behaviour::notebook_directive(&source, language),
            effect: crate::behaviour::first_effect(&source, language),
            widgets: crate::behaviour::parse_widgets(&source, language),
            language,
            source: source.into(),
        }
    }
}

/// Kind of a workspace object.
#[derive(Debug, Clone)]
pub enum ObjectKind {
    /// Directory.
    Directory,
    /// Notebook.
    Notebook(Arc<NotebookInfo>),
    /// Plain workspace file.
    File(bytes::Bytes),
}

/// A workspace object.
#[derive(Debug, Clone)]
pub struct WsObject {
    /// Kind and content.
    pub kind: ObjectKind,
    /// `object_id`.
    pub object_id: i64,
    /// `created_at` (ms).
    pub created_at: i64,
    /// `modified_at` (ms).
    pub modified_at: i64,
}

/// Pipeline update.
#[derive(Debug, Clone)]
pub struct Update {
    /// `update_id`.
    pub update_id: String,
    /// Creation (simulated ms).
    pub created: i64,
    /// `full_refresh`.
    pub full_refresh: bool,
    /// Other request fields echoed back.
    pub request: Value,
    /// RUNNING from.
    pub running_from: i64,
    /// Terminal (COMPLETED/FAILED) at; None for continuous pipelines.
    pub finish_at: Option<i64>,
    /// Final state when `finish_at` is reached.
    pub outcome: &'static str,
    /// Failure message.
    pub message: Option<String>,
    /// Stop requested at (simulated ms).
    pub stop_at: Option<i64>,
    /// STOPPING drain length (simulated ms).
    pub drain_ms: i64,
    /// State string reported instead of RUNNING (`emulator.state`).
    pub forced_state: Option<String>,
    /// Duration of each start-up phase.
    pub phase_ms: i64,
}

/// A pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// `pipeline_id`.
    pub id: String,
    /// `PipelineSpec`.
    pub spec: Value,
    /// `last_modified`.
    pub last_modified: i64,
    /// Updates, oldest first.
    pub updates: Vec<Update>,
}

/// A cluster operation in progress or done (history drives state and events).
#[derive(Debug, Clone)]
pub struct ClusterOp {
    /// Event type (`CREATING`, `STARTING`, `RESTARTING`, `RESIZING`, `TERMINATING`, `EDITED`, `PINNED`, `UNPINNED`).
    pub kind: &'static str,
    /// When it was requested.
    pub at: i64,
    /// When it completes.
    pub until: i64,
    /// Extra event details.
    pub details: Value,
}

/// A cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `cluster_id`.
    pub id: String,
    /// Spec as created/edited.
    pub spec: Value,
    /// Operation history, oldest first.
    pub ops: Vec<ClusterOp>,
    /// Pinned by a user.
    pub pinned: bool,
    /// Original creation time.
    pub created: i64,
}

/// One entry of the request log.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    /// Sequence number (monotonic).
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path plus query string.
    pub path: String,
    /// Normalised endpoint key (`GET jobs/runs/get`).
    pub endpoint: String,
    /// JSON body (null when none or not JSON; never form bodies, which carry secrets).
    pub body: Value,
    /// Caller: PAT, OAuth client id or Azure client id; never a secret.
    pub caller: Option<String>,
    /// Response status.
    pub status: u16,
    /// Real wall-clock epoch ms when the request arrived.
    pub timestamp_ms: i64,
}

/// Request-log entry as stored: cheap to record on the hot path (no JSON parsing; the body is
/// kept as the raw bytes and parsed only when the log is read).
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Sequence number (monotonic).
    pub seq: u64,
    /// HTTP method.
    pub method: http::Method,
    /// Path plus query string.
    pub path: String,
    /// Normalised endpoint key (shared with the endpoint's counter).
    pub endpoint: Arc<str>,
    /// Raw JSON-object body (API requests whose body starts with `{`), copied.
    pub body: Option<bytes::Bytes>,
    /// Caller id.
    pub caller: Option<String>,
    /// Response status (0 = dropped).
    pub status: u16,
    /// Real wall-clock epoch ms when the request arrived.
    pub timestamp_ms: i64,
}

impl LogEntry {
    /// The public form (parses the body).
    pub fn to_public(&self) -> LoggedRequest {
        LoggedRequest {
            seq: self.seq,
            method: self.method.as_str().to_owned(),
            path: self.path.clone(),
            endpoint: self.endpoint.to_string(),
            body: self
                .body
                .as_ref()
                .map(|b| serde_json::from_slice(b).unwrap_or(Value::Null))
                .unwrap_or(Value::Null),
            caller: self.caller.clone(),
            status: self.status,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

/// A routed endpoint: its normalised key and request counter, resolved once per route.
#[derive(Debug)]
pub struct Endpoint {
    /// `METHOD path-after-version`, e.g. `GET jobs/runs/get`.
    pub key: Arc<str>,
    /// Requests seen.
    pub count: AtomicU64,
}

/// The endpoints of one route path, one per method.
pub type EndpointsByMethod = Vec<(http::Method, Arc<Endpoint>)>;

/// Counters exported by `stats()`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Stats {
    /// Requests per endpoint key.
    pub requests: BTreeMap<String, u64>,
    /// Total requests.
    pub total_requests: u64,
    /// Highest number of simultaneously active task runs seen so far.
    pub max_concurrent_task_runs: i64,
    /// The same high-water mark per job: `job <id>` for run-now runs, `run <run_name>` for
    /// one-time submits (Polysync names those after the job), so a test can check that a
    /// per-job limit held.
    pub max_concurrent_task_runs_by_job: BTreeMap<String, i64>,
    /// Task runs active now.
    pub active_task_runs: i64,
    /// Job runs not yet terminal now.
    pub active_runs: usize,
    /// Runs created since start.
    pub runs_created: u64,
}

/// Active-task-run accounting: +1/-1 events on the simulated timeline; events in the past are
/// folded periodically so the map stays small.
#[derive(Debug, Default)]
pub struct Concurrency {
    deltas: BTreeMap<i64, i64>,
    base: i64,
    base_max: i64,
}

impl Concurrency {
    /// Add (`sign` = 1) or remove (-1) an interval.
    pub fn add(&mut self, start: i64, end: i64, sign: i64) {
        if end <= start {
            return;
        }
        *self.deltas.entry(start).or_insert(0) += sign;
        *self.deltas.entry(end).or_insert(0) -= sign;
    }
    /// Fold events up to `now` when the map grows, keeping the running max.
    pub fn compact(&mut self, now: i64) {
        if self.deltas.len() < 4096 {
            return;
        }
        let future = self.deltas.split_off(&(now + 1));
        let mut cur = self.base;
        for (_, d) in std::mem::replace(&mut self.deltas, future) {
            cur += d;
            self.base_max = self.base_max.max(cur);
        }
        self.base = cur;
    }
    /// (active now, high-water mark up to now).
    pub fn at(&self, now: i64) -> (i64, i64) {
        let mut cur = self.base;
        let mut max = self.base_max.max(cur);
        for (_, d) in self.deltas.range(..=now) {
            cur += d;
            max = max.max(cur);
        }
        (cur, max)
    }
}

/// Issued OAuth/Azure token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Client id it was issued to.
    pub caller: String,
    /// Real expiry.
    pub expires: std::time::Instant,
}

/// Everything the routes share.
#[derive(Debug)]
pub struct AppState {
    /// Start-up configuration (immutable parts).
    pub config: EmulatorConfig,
    /// Base URL once bound.
    pub url: OnceLock<String>,
    /// Simulated clock.
    pub clock: SimClock,
    /// Workspace setting "serverless enabled".
    pub serverless: AtomicBool,
    /// Current faults.
    pub faults: RwLock<Arc<FaultConfig>>,
    /// Fast-path flag: any request-level fault switched on.
    pub faults_active: AtomicBool,
    /// Remaining deterministic drops.
    pub drop_left: AtomicU32,
    /// Rate-limit buckets.
    pub limiter: RateLimiter,
    /// Accepted PATs.
    pub pats: std::collections::HashSet<String>,
    /// Issued tokens.
    pub issued: RwLock<HashMap<String, Issued>>,
    /// Request log ring buffer.
    pub log: Mutex<VecDeque<LogEntry>>,
    /// Log sequence.
    pub log_seq: AtomicU64,
    /// Endpoints by matched route path, then method (key + counter, interned on first use).
    pub endpoints: RwLock<HashMap<String, EndpointsByMethod>>,
    /// Jobs.
    pub jobs: RwLock<BTreeMap<i64, Job>>,
    /// Runs.
    pub runs: RwLock<BTreeMap<i64, Run>>,
    /// Job id → its run ids (oldest first), for max_concurrent_runs and runs/list.
    pub job_runs: RwLock<HashMap<i64, Vec<i64>>>,
    /// Task run id → (parent run id, task index).
    pub task_index: RwLock<HashMap<i64, (i64, usize)>>,
    /// Idempotency tokens → run id.
    pub idempotency: Mutex<HashMap<String, i64>>,
    /// Id allocator for jobs.
    pub next_job_id: AtomicI64,
    /// Id allocator for runs and task runs.
    pub next_run_id: AtomicI64,
    /// Runs created.
    pub runs_created: AtomicU64,
    /// Active task-run accounting.
    pub concurrency: Mutex<Concurrency>,
    /// Workspace tree (normalised absolute path → object).
    pub workspace: RwLock<BTreeMap<String, WsObject>>,
    /// Object id allocator.
    pub next_object_id: AtomicI64,
    /// Pipelines.
    pub pipelines: RwLock<BTreeMap<String, Pipeline>>,
    /// Clusters.
    pub clusters: RwLock<BTreeMap<String, Cluster>>,
    /// Runs started per notebook path, for the `fail_first=N` directive.
    pub notebook_starts: Mutex<HashMap<String, u32>>,
    /// Active-task-run accounting per job (see [`job_key`]).
    pub concurrency_by_job: Mutex<HashMap<String, Concurrency>>,
}

/// The key a run's concurrency is counted under per job: its job for run-now runs, its run
/// name for one-time submits (each of which gets a job id of its own).
pub fn job_key(run_type: &str, job_id: i64, run_name: &str) -> String {
    if run_type == "JOB_RUN" {
        format!("job {job_id}")
    } else {
        format!("run {run_name}")
    }
}

impl AppState {
    /// Adds (`sign` = 1) or removes (-1) a task run's active interval, overall and per job.
    pub fn count_task_run(&self, key: &str, start: i64, end: i64, sign: i64) {
        lock(&self.concurrency).add(start, end, sign);
        lock(&self.concurrency_by_job)
            .entry(key.to_owned())
            .or_default()
            .add(start, end, sign);
    }
}

impl AppState {
    /// Fresh state from a config (workspace seeded separately).
    pub fn new(config: EmulatorConfig) -> Self {
        let now_wall = crate::clock::wall_ms();
        let mut ws = BTreeMap::new();
        for (i, p) in [
            "/",
            "/Shared",
            "/Users",
            &format!("/Users/{}", config.user_name),
        ]
        .into_iter()
        .enumerate()
        {
            ws.insert(
                p.to_owned(),
                WsObject {
                    kind: ObjectKind::Directory,
                    object_id: 1 + i as i64,
                    created_at: now_wall,
                    modified_at: now_wall,
                },
            );
        }
        let faults = config.faults.clone();
        Self {
            clock: SimClock::new(config.time_scale),
            serverless: AtomicBool::new(config.serverless_enabled),
            faults_active: AtomicBool::new(faults.is_active()),
            drop_left: AtomicU32::new(faults.drop_next),
            faults: RwLock::new(Arc::new(faults)),
            limiter: RateLimiter::default(),
            pats: config.tokens.iter().cloned().collect(),
            issued: RwLock::new(HashMap::new()),
            log: Mutex::new(VecDeque::with_capacity(
                config.request_log_capacity.min(65_536),
            )),
            log_seq: AtomicU64::new(0),
            endpoints: RwLock::new(HashMap::new()),
            jobs: RwLock::new(BTreeMap::new()),
            runs: RwLock::new(BTreeMap::new()),
            task_index: RwLock::new(HashMap::new()),
            job_runs: RwLock::new(HashMap::new()),
            idempotency: Mutex::new(HashMap::new()),
            next_job_id: AtomicI64::new(100_000_000_001),
            next_run_id: AtomicI64::new(500_000_000_001),
            runs_created: AtomicU64::new(0),
            concurrency: Mutex::new(Concurrency::default()),
            workspace: RwLock::new(ws),
            next_object_id: AtomicI64::new(1_000_000_001),
            pipelines: RwLock::new(BTreeMap::new()),
            clusters: RwLock::new(BTreeMap::new()),
            notebook_starts: Mutex::new(HashMap::new()),
            concurrency_by_job: Mutex::new(HashMap::new()),
            url: OnceLock::new(),
            config,
        }
    }

    /// Base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        self.url
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1")
    }

    /// Current fault snapshot.
    pub fn faults(&self) -> Arc<FaultConfig> {
        read_lock(&self.faults).clone()
    }

    /// Replace faults (re-arms `drop_next`, resets buckets).
    pub fn set_faults(&self, f: FaultConfig) {
        self.faults_active.store(f.is_active(), Ordering::Relaxed);
        self.drop_left.store(f.drop_next, Ordering::Relaxed);
        self.limiter.reset();
        *write_lock(&self.faults) = Arc::new(f);
    }

    /// The endpoint (key + counter) of a matched route path; `make_key` builds the key the
    /// first time a (path, method) pair is seen.
    pub fn endpoint(
        &self,
        method: &http::Method,
        matched: &str,
        make_key: impl FnOnce() -> String,
    ) -> Arc<Endpoint> {
        let find =
            |v: &EndpointsByMethod| v.iter().find(|(m, _)| m == method).map(|(_, e)| e.clone());
        if let Some(e) = read_lock(&self.endpoints).get(matched).and_then(find) {
            return e;
        }
        let mut map = write_lock(&self.endpoints);
        let slot = map.entry(matched.to_owned()).or_default();
        if let Some(e) = find(slot) {
            return e;
        }
        let e = Arc::new(Endpoint {
            key: make_key().into(),
            count: AtomicU64::new(0),
        });
        slot.push((method.clone(), e.clone()));
        e
    }

    /// Append to the request log ring buffer.
    pub fn log_request(&self, mut entry: LogEntry) {
        entry.seq = self.log_seq.fetch_add(1, Ordering::Relaxed);
        let cap = self.config.request_log_capacity;
        if cap == 0 {
            return;
        }
        let mut log = lock(&self.log);
        if log.len() >= cap {
            log.pop_front();
        }
        log.push_back(entry);
    }

    /// Snapshot of statistics.
    pub fn stats(&self) -> Stats {
        let now = self.clock.now_ms();
        let mut requests: BTreeMap<String, u64> = BTreeMap::new();
        for e in read_lock(&self.endpoints)
            .values()
            .flatten()
            .map(|(_, e)| e)
        {
            let n = e.count.load(Ordering::Relaxed);
            if n > 0 {
                *requests.entry(e.key.to_string()).or_insert(0) += n;
            }
        }
        let (active_task_runs, max) = lock(&self.concurrency).at(now);
        let active_runs = read_lock(&self.runs)
            .values()
            .filter(|run| run.end() > now)
            .count();
        let by_job = lock(&self.concurrency_by_job)
            .iter()
            .map(|(k, c)| (k.clone(), c.at(now).1))
            .collect();
        Stats {
            total_requests: requests.values().sum(),
            requests,
            max_concurrent_task_runs: max,
            max_concurrent_task_runs_by_job: by_job,
            active_task_runs,
            active_runs,
            runs_created: self.runs_created.load(Ordering::Relaxed),
        }
    }
}

/// Shared handle used by routes.
pub type Shared = Arc<AppState>;
