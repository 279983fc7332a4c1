//! The durable dispatcher: one loop per instance that fires schedules,
//! releases waiting task runs whose dependencies are met (or skips them),
//! claims ready ones within their contention limits, starts each attempt
//! as a Polysync run with its own stable idempotency token, tracks
//! attempts to their end (timeouts cancel the Databricks run), retries
//! with backoff, and ends DAG runs. Every transition is written to the
//! store before it is acted on, under a lease the instance keeps alive
//! with heartbeats: when an instance dies, another takes its task runs
//! over once their leases expire and tracks them to their true end.

use std::collections::BTreeMap;
use std::time::Duration;

use polysync_core::dag::{DagRun, Readiness, TaskRun, TaskRunStatus, readiness};
use polysync_core::{RunStatus, Task};
use polysync_store::{AttemptEnd, Backend, DispatcherInfo, Update};

use crate::dag::now_ms;
use crate::{DagRunView, Engine, Error, Result};

/// How a dispatcher paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatcherOptions {
    /// Pause between passes when a pass found nothing to do.
    pub idle_tick: Duration,
    /// How long a claimed task run stays this instance's without a
    /// heartbeat (another instance takes it over after that).
    pub lease: Duration,
    /// How often the instance renews its leases; under
    /// [`Dispatcher::run_until`] also how often every held attempt is
    /// checked for its timeout, a cancel request or a send to recover.
    pub heartbeat: Duration,
    /// Most task runs claimed in one pass.
    pub max_claim: u32,
    /// How often running attempts are polled: one batched listing per
    /// platform per round, whatever the number of runs.
    pub track_interval: Duration,
}

impl Default for DispatcherOptions {
    fn default() -> Self {
        Self {
            idle_tick: Duration::from_millis(250),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            max_claim: 256,
            track_interval: Duration::from_secs(1),
        }
    }
}

/// A running dispatcher instance.
#[derive(Debug)]
pub struct Dispatcher {
    engine: Engine,
    id: String,
    opts: DispatcherOptions,
    last_heartbeat: std::sync::Mutex<i64>,
    last_track: std::sync::Mutex<i64>,
    /// When every held attempt was last checked in full (tracking-loop
    /// mode; see [`Dispatcher::pass`]).
    last_check: std::sync::Mutex<i64>,
    /// When a pass last looked at every running DAG run for those to end
    /// (see [`Dispatcher::pass`]).
    last_finish: std::sync::Mutex<i64>,
    /// DAG runs one of whose task runs this instance ended since the last
    /// look: the ones a pass checks.
    touched: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Set while [`Dispatcher::run_until`] runs its own tracking loop
    /// beside the passes: a pass then leaves Databricks statuses to it.
    tracking_loop: std::sync::atomic::AtomicBool,
}

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What one pass did (drives the pacing and the tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// DAG runs started by schedules.
    pub fired: usize,
    /// Task runs released or skipped.
    pub promoted: usize,
    /// Attempts started.
    pub started: usize,
    /// Attempts that ended.
    pub ended: usize,
}

/// Where a pass spent its time, logged at debug level: which stage a slow
/// dispatcher waits on (it found PostgreSQL statements stalled by Nagle's
/// algorithm, and SQLite binds quadratic in their placeholders).
struct Stages {
    clock: std::time::Instant,
    marks: Vec<(&'static str, Duration)>,
}

impl Stages {
    fn start() -> Self {
        Self {
            clock: std::time::Instant::now(),
            marks: Vec::with_capacity(8),
        }
    }

    /// Records that stage `name` ended now.
    fn mark(&mut self, name: &'static str) {
        self.marks.push((name, self.clock.elapsed()));
    }
}

impl std::fmt::Display for Stages {
    /// `stage=ms` at the end of each stage, since the pass began.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, at)) in self.marks.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name}={:.1}ms", at.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

impl Pass {
    fn busy(&self) -> bool {
        self.fired + self.promoted + self.started + self.ended > 0
    }
}

impl Engine {
    /// Registers a dispatcher instance on this store. On SQLite only one
    /// may run: a second is refused naming the live one.
    pub async fn dispatcher(&self, opts: DispatcherOptions) -> Result<Dispatcher> {
        let now = now_ms();
        let info = DispatcherInfo {
            id: format!("d-{}", polysync_core::run::new_run_id()),
            host: std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned()),
            pid: i64::from(std::process::id()),
            started_at: now,
            heartbeat_at: now,
        };
        let exclusive =
            (self.inner.store.backend() == Backend::Sqlite).then(|| now - 3 * ms(opts.heartbeat));
        if let Err(other) = self
            .inner
            .store
            .register_dispatcher(&info, exclusive)
            .await?
        {
            return Err(Error::Conflict(format!(
                "another dispatcher (pid {} on {}) is running on this SQLite database; one dispatcher runs per SQLite file (use PostgreSQL for several)",
                other.pid, other.host
            )));
        }
        Ok(Dispatcher {
            engine: self.clone(),
            id: info.id,
            opts,
            last_heartbeat: std::sync::Mutex::new(now),
            last_track: std::sync::Mutex::new(0),
            last_check: std::sync::Mutex::new(0),
            last_finish: std::sync::Mutex::new(0),
            touched: std::sync::Mutex::new(std::collections::BTreeSet::new()),
            tracking_loop: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether a dispatcher is alive on this store (heartbeat recent).
    pub async fn dispatcher_alive(&self) -> Result<bool> {
        let since = now_ms() - 3 * ms(DispatcherOptions::default().heartbeat);
        Ok(!self.inner.store.live_dispatchers(since).await?.is_empty())
    }
}

impl Dispatcher {
    /// This instance's id (the lease owner).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn options(&self) -> &DispatcherOptions {
        &self.opts
    }

    /// Passes until `shutdown` resolves, then drains: stops claiming,
    /// releases its leases so another instance continues at once, and
    /// deregisters. In-flight Databricks runs keep running.
    ///
    /// Databricks statuses are tracked by a loop of its own beside the
    /// passes (same task, interleaved at each await), every
    /// [`DispatcherOptions::track_interval`]: a long pass (thousands of
    /// claims and submits) no longer delays detecting that runs ended.
    /// Each loop finishes its current step before the drain.
    pub async fn run_until(&self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        use std::sync::atomic::Ordering;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        self.tracking_loop.store(true, Ordering::SeqCst);
        let passes = {
            let mut stopped = stopped.clone();
            async move {
                while !*stopped.borrow() {
                    let pass = match self.pass().await {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!(dispatcher = %self.id, "pass failed: {e}");
                            Pass::default()
                        }
                    };
                    let pause = if pass.busy() {
                        Duration::from_millis(5)
                    } else {
                        self.opts.idle_tick
                    };
                    tokio::select! {
                        _ = stopped.changed() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        };
        let tracking = {
            let mut stopped = stopped.clone();
            async move {
                while !*stopped.borrow() {
                    let started = std::time::Instant::now();
                    if let Err(e) = self.track_statuses().await {
                        tracing::warn!(dispatcher = %self.id, "tracking round failed: {e}");
                    }
                    tracing::debug!(dispatcher = %self.id, took = ?started.elapsed(), "tracking round");
                    let every = self.engine.tracking_interval(self.opts.track_interval);
                    tokio::select! {
                        _ = stopped.changed() => break,
                        () = tokio::time::sleep(every.saturating_sub(started.elapsed())) => {}
                    }
                }
            }
        };
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        tokio::join!(signal, passes, tracking);
        self.tracking_loop.store(false, Ordering::SeqCst);
        self.stop().await
    }

    /// Runs passes until DAG run `id` has ended; returns it.
    pub async fn run_dag(&self, id: &str) -> Result<DagRunView> {
        loop {
            let pass = self.pass().await?;
            let view = self.engine.get_dag_run(id).await?;
            if view.status.is_terminal() {
                return Ok(view);
            }
            if !pass.busy() {
                tokio::time::sleep(self.opts.idle_tick).await;
            }
        }
    }

    /// Deregisters and releases this instance's leases.
    pub async fn stop(&self) -> Result<()> {
        let store = &self.engine.inner.store;
        store.release_tracking(&self.id).await?;
        Ok(store.deregister_dispatcher(&self.id).await?)
    }

    /// One pass over everything a dispatcher does.
    pub async fn pass(&self) -> Result<Pass> {
        let mut stages = Stages::start();
        let now = now_ms();
        self.heartbeat(now).await?;
        let store = &self.engine.inner.store;
        let took_over = !store
            .take_over_expired(&self.id, now, ms(self.opts.lease))
            .await?
            .is_empty();
        stages.mark("takeover");
        let fired = self.fire_schedules(now).await?;
        stages.mark("fire");
        let mut pass = Pass {
            fired,
            promoted: self.promote_waiting(now).await?,
            ..Pass::default()
        };
        stages.mark("promote");
        pass.started = self.claim_and_start().await?;
        stages.mark("start");
        if self.tracking_loop.load(std::sync::atomic::Ordering::SeqCst) {
            // Statuses come from the tracking loop: a pass ends the
            // attempts whose run ended (one join), and checks every held
            // attempt (timeouts, cancel requests, sends to recover) at
            // each heartbeat and after a takeover; loading them all at
            // every pass was most of a busy pass.
            pass.ended = if took_over || self.due(&self.last_check, self.opts.heartbeat) {
                self.track_all().await?
            } else {
                self.end_ended().await?
            };
        } else if pass.started > 0
            || self.due(
                &self.last_track,
                self.engine.tracking_interval(self.opts.track_interval),
            )
        {
            pass.ended = self.track_all().await?;
        }
        stages.mark("end");
        if pass.ended > 0 || pass.promoted > 0 {
            // Downstream tasks are released and sent in this same pass.
            let released = self.promote_waiting(now_ms()).await?;
            pass.promoted += released;
            if released > 0 {
                pass.started += self.claim_and_start().await?;
            }
        }
        stages.mark("downstream");
        // A DAG run ends when its last task run does. A pass looks at the
        // DAG runs whose task runs it ended, skipped or failed; every
        // running one (a join over them all, tens of ms at 10,000) only at
        // each heartbeat, which also catches what ended elsewhere (another
        // instance ends its own, a cancel ends its DAG run itself, a crash
        // between an end and its DAG run's end).
        let touched: Vec<String> = self
            .touched
            .lock()
            .map(|mut t| std::mem::take(&mut *t).into_iter().collect())
            .unwrap_or_default();
        if self.due(&self.last_finish, self.opts.heartbeat) {
            self.engine.finish_dag_runs().await?;
        } else {
            self.engine.finish_dag_runs_among(&touched).await?;
        }
        stages.mark("finish");
        tracing::debug!(dispatcher = %self.id, ?pass, %stages, "pass");
        Ok(pass)
    }

    /// Notes that a task run of DAG run `id` ended (the pass checks it).
    fn touch(&self, id: &str) {
        if let Ok(mut t) = self.touched.lock() {
            t.insert(id.to_owned());
        }
    }

    /// Whether `interval` has passed since `last` (and marks it now).
    fn due(&self, last: &std::sync::Mutex<i64>, interval: Duration) -> bool {
        let now = now_ms();
        match last.lock() {
            Ok(mut l) if now - *l >= ms(interval) => {
                *l = now;
                true
            }
            Ok(_) => false,
            Err(_) => true,
        }
    }

    /// Tracks every attempt this instance holds: runs never sent (or whose
    /// answer was lost) are sent, the others refreshed with one batched
    /// listing per platform; then each is checked for cancel, timeout and
    /// its end. Returns how many attempts ended.
    async fn track_all(&self) -> Result<usize> {
        let store = &self.engine.inner.store;
        let leased = store.leased_by(&self.id).await?;
        if !self.tracking_loop.load(std::sync::atomic::Ordering::SeqCst) {
            self.track_statuses().await?;
        }
        // Each attempt's run in a few multi-row reads, not one per attempt.
        let ids: Vec<String> = leased.iter().filter_map(|tr| tr.run_id.clone()).collect();
        let mut runs = store.runs_for_tracking(&ids).await?;
        // Sent but unanswered (a restart after a crash mid-pass): re-sent
        // together, as a pass sends, rather than one by one below.
        let unanswered: Vec<String> = runs
            .values()
            .filter(|r| {
                r.databricks_run_id.is_none()
                    && r.submit_attempted_at.is_some()
                    && !r.status.is_terminal()
                    && !r.job_type.runs_in_process()
                    && !self.engine.inner.sending.is_sending(&r.id)
            })
            .map(|r| r.id.clone())
            .collect();
        if !unanswered.is_empty() {
            self.resend_unanswered(&unanswered).await?;
            runs.extend(store.runs_for_tracking(&unanswered).await?);
        }
        let mut ended = Vec::new();
        for tr in leased {
            let run = tr.run_id.as_ref().and_then(|id| runs.remove(id));
            if let Some(run) = self.track(&tr, run).await? {
                ended.push((tr, run));
            }
        }
        self.end_attempts(&ended).await
    }

    /// Ends the held attempts whose run has ended, found with one join
    /// instead of loading every held attempt. Returns how many ended.
    async fn end_ended(&self) -> Result<usize> {
        let store = &self.engine.inner.store;
        let done = store.leased_ended(&self.id).await?;
        if done.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = done.iter().filter_map(|tr| tr.run_id.clone()).collect();
        let mut runs = store.runs_for_tracking(&ids).await?;
        let ended: Vec<(TaskRun, polysync_core::Run)> = done
            .into_iter()
            .filter_map(|tr| {
                let run = runs.remove(tr.run_id.as_deref()?)?;
                Some((tr, run))
            })
            .collect();
        self.end_attempts(&ended).await
    }

    /// One tracking round: takes or renews the tracking lease of each
    /// platform and follows every active run (one-off runs too, e.g. a
    /// killed `run --wait`) of the platforms this instance holds, with the
    /// batched listings; the round's changes are stored in one transaction.
    async fn track_statuses(&self) -> Result<()> {
        let store = &self.engine.inner.store;
        let platforms: Vec<String> = store
            .list_platforms()
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        let held = store
            .lease_tracking(&self.id, &platforms, now_ms(), ms(self.opts.lease))
            .await?;
        let held = held.into_iter().collect();
        for failure in self.engine.track_runs(Some(&held)).await? {
            tracing::warn!(platform = %failure.platform, "tracking: {}", failure.message);
        }
        Ok(())
    }

    async fn heartbeat(&self, now: i64) -> Result<()> {
        let due = self
            .last_heartbeat
            .lock()
            .map(|last| now - *last >= ms(self.opts.heartbeat))
            .unwrap_or(true);
        if due {
            self.engine
                .inner
                .store
                .heartbeat(&self.id, now, ms(self.opts.lease))
                .await?;
            if let Ok(mut last) = self.last_heartbeat.lock() {
                *last = now;
            }
        }
        Ok(())
    }

    /// Starts a DAG run for every due schedule; a fire missed while no
    /// dispatcher ran is caught up once (the next fire is computed from
    /// now), and of several instances exactly one fires it.
    async fn fire_schedules(&self, now: i64) -> Result<usize> {
        let store = &self.engine.inner.store;
        let mut fired = Vec::new();
        for (name, at) in store.due_schedules(now).await? {
            let Some(stored) = store.find_task(&name).await? else {
                continue;
            };
            let next = stored
                .task
                .schedule
                .as_ref()
                .and_then(|s| {
                    s.next_after(jiff::Timestamp::from_millisecond(now).ok()?)
                        .ok()
                })
                .map(|z| z.timestamp().as_millisecond());
            if store.advance_schedule(&name, at, next).await? {
                fired.push(crate::DagRunRequest {
                    task: name,
                    params: Vec::new(),
                    trigger: "schedule".to_owned(),
                    logical_date: Some(at),
                });
            }
        }
        // Every fire of this pass started in one transaction.
        Ok(self.engine.start_dag_runs(&fired).await?.len())
    }

    /// Releases waiting task runs whose dependencies are met and skips the
    /// ones whose conditions can no longer be met.
    async fn promote_waiting(&self, now: i64) -> Result<usize> {
        let store = &self.engine.inner.store;
        let waiting = store.task_runs_in(TaskRunStatus::Waiting, 10_000).await?;
        let mut siblings: BTreeMap<String, BTreeMap<String, TaskRunStatus>> = BTreeMap::new();
        let mut changed = 0;
        for tr in waiting {
            if !siblings.contains_key(&tr.dag_run_id) {
                let statuses = store
                    .task_runs_of(&tr.dag_run_id)
                    .await?
                    .into_iter()
                    .map(|t| (t.task.name.clone(), t.status))
                    .collect();
                siblings.insert(tr.dag_run_id.clone(), statuses);
            }
            let Some(statuses) = siblings.get(&tr.dag_run_id) else {
                continue;
            };
            let mut next = tr.clone();
            match readiness(&tr.task.after, statuses) {
                Readiness::Wait => continue,
                Readiness::Ready => {
                    next.status = TaskRunStatus::Queued;
                    next.not_before = now;
                }
                Readiness::Skip => {
                    next.status = TaskRunStatus::Skipped;
                    next.ended_at = Some(now);
                    next.message = Some(skip_reason(&tr.task, statuses));
                }
            }
            if self
                .engine
                .finish_task_run_write(&next, now)
                .await?
                .is_applied()
            {
                changed += 1;
                if next.status.is_terminal() {
                    self.touch(&tr.dag_run_id);
                }
                if let Some(s) = siblings.get_mut(&tr.dag_run_id) {
                    s.insert(tr.task.name.clone(), next.status);
                }
            }
        }
        Ok(changed)
    }

    /// Creates (or finds, after a crash) the attempt's Polysync run and
    /// sends it. A parameter that cannot be resolved fails the attempt.
    pub(crate) async fn start_attempt(&self, tr: &TaskRun) -> Result<()> {
        let Some(run_id) = tr.run_id.clone() else {
            return Ok(());
        };
        let params = match self.resolve_params(tr).await {
            Ok(p) => p,
            Err(message) => {
                return self.fail_unstartable(tr, message).await;
            }
        };
        match self
            .engine
            .enqueue_run_as(&run_id, &tr.task.job, &params)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => return self.fail_unstartable(tr, e.to_string()).await,
        }
        if let Err(e) = self.engine.submit_run(&run_id).await {
            // A 4xx ended the run Failed (tracked next); a transient failure
            // left it Queued, re-sent under the same token by the tracker.
            tracing::warn!(run = %run_id, "submitting attempt {}: {e}", tr.attempt);
        }
        Ok(())
    }

    /// An attempt that could not even be created (job gone, bad value):
    /// the task run fails without retry.
    pub(crate) async fn fail_unstartable(&self, tr: &TaskRun, message: String) -> Result<()> {
        let now = now_ms();
        let mut tx = self.engine.inner.store.begin().await?;
        tx.end_attempt(
            &tr.id,
            tr.attempt,
            TaskRunStatus::Failed,
            now,
            Some(&message),
        )
        .await?;
        let next = TaskRun {
            status: TaskRunStatus::Failed,
            ended_at: Some(now),
            lease_owner: None,
            lease_until: None,
            message: Some(message),
            ..tr.clone()
        };
        let out = tx.update_task_run(&next, now).await?;
        if out.is_applied() {
            tx.release_slots(&tr.id).await?;
        }
        tx.commit().await?;
        if let Update::Applied(stored) = out {
            self.touch(&stored.dag_run_id);
            self.engine.inner.events.publish_task_run(&stored);
        }
        Ok(())
    }

    /// The attempt's parameter values: the task's, the DAG run's extra
    /// ones, templates resolved from the DAG run and upstream task runs.
    pub(crate) async fn resolve_params(
        &self,
        tr: &TaskRun,
    ) -> std::result::Result<Vec<(String, String)>, String> {
        let store = &self.engine.inner.store;
        let mut values = tr.task.params.clone();
        values.extend(tr.params.clone());
        if !values.values().any(|v| polysync_core::task::is_template(v)) {
            return Ok(values.into_iter().collect());
        }
        let dag: DagRun = store
            .find_dag_run(&tr.dag_run_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the DAG run is gone")?;
        let siblings = store
            .task_runs_of(&tr.dag_run_id)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for (name, value) in values {
            let mut resolved = String::new();
            let mut rest = value.as_str();
            while let Some(start) = rest.find("${") {
                resolved.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("parameter {name}: unclosed `${{`"))?;
                resolved.push_str(&self.template_value(&after[..end], &dag, &siblings).await?);
                rest = &after[end + 1..];
            }
            resolved.push_str(rest);
            out.push((name, resolved));
        }
        Ok(out)
    }

    async fn template_value(
        &self,
        expr: &str,
        dag: &DagRun,
        siblings: &[TaskRun],
    ) -> std::result::Result<String, String> {
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["dag_run", "id"] => Ok(dag.id.clone()),
            ["dag_run", "logical_date"] => jiff::Timestamp::from_millisecond(dag.logical_date)
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .map_err(|e| e.to_string()),
            ["tasks", task, field @ ..] => {
                let upstream = siblings
                    .iter()
                    .find(|t| t.task.name == *task)
                    .ok_or_else(|| format!("task {task:?} is not part of this DAG run"))?;
                let run = match &upstream.run_id {
                    Some(id) => self
                        .engine
                        .inner
                        .store
                        .find_run(id)
                        .await
                        .map_err(|e| e.to_string())?,
                    None => None,
                }
                .ok_or_else(|| format!("task {task:?} has not run in this DAG run"))?;
                match field {
                    ["run_id"] => Ok(run.databricks_run_id.unwrap_or(run.id)),
                    ["outputs", name] if run.job_type.runs_in_process() => {
                        crate::arazzo_jobs::output_value(&run, name)
                            .ok_or_else(|| format!("task {task:?} returned no output {name:?}"))
                    }
                    ["outputs", "exit_value"] => self
                        .engine
                        .exit_value(&run.id)
                        .await
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("task {task:?} returned no exit value")),
                    ["outputs", other] => Err(format!(
                        "task {task:?} has no output {other:?} (a Databricks job's only output is exit_value)"
                    )),
                    _ => Err(format!("`${{{expr}}}` is not a known value")),
                }
            }
            _ => Err(format!("`${{{expr}}}` is not a known value")),
        }
    }

    /// Follows one running attempt: honours cancel and timeout, polls, and
    /// when the run has ended records the attempt and decides the next
    /// step (done, retry, fail). Returns the attempt's run when it ended
    /// (the end is recorded by [`Dispatcher::end_attempts`], for the whole
    /// round in one transaction).
    async fn track(
        &self,
        tr: &TaskRun,
        run: Option<polysync_core::Run>,
    ) -> Result<Option<polysync_core::Run>> {
        let Some(run_id) = tr.run_id.clone() else {
            return Ok(None);
        };
        let now = now_ms();
        let store = &self.engine.inner.store;
        let run = match run {
            Some(run) => run,
            None => {
                // Claimed, then the process died before the run was created.
                self.start_attempt(tr).await?;
                let Some(run) = store.find_run(&run_id).await? else {
                    return Ok(None);
                };
                run
            }
        };
        let timed_out = !tr.timed_out
            && !run.status.is_terminal()
            && tr
                .task
                .timeout_ms
                .is_some_and(|t| now - run.created_at > i64::try_from(t).unwrap_or(i64::MAX));
        if timed_out {
            let next = TaskRun {
                timed_out: true,
                message: Some("exceeded its timeout; cancelling the Databricks run".into()),
                ..tr.clone()
            };
            if let Update::Applied(_) = store.update_task_run(&next, now).await? {
                self.cancel_quietly(&run_id).await;
            }
            return Ok(None);
        }
        if tr.cancel_requested && !run.status.is_terminal() {
            self.cancel_quietly(&run_id).await;
        }
        // Refreshed by the batched listing already; only a run never sent
        // (or whose answer was lost) needs its own step here.
        let run = if run.databricks_run_id.is_none() && !run.status.is_terminal() {
            if self.engine.inner.sending.is_sending(&run_id) {
                // Its sender stores the answer; tracked next round.
                return Ok(None);
            }
            match self.engine.resume_run(&run_id).await {
                Ok(run) => run,
                Err(e) => {
                    tracing::warn!(run = %run_id, "tracking: {e}");
                    return Ok(None);
                }
            }
        } else if tr.cancel_requested {
            // The cancel above may have ended it: read it again.
            store.get_run(&run_id).await?
        } else {
            run
        };
        Ok(run.status.is_terminal().then_some(run))
    }

    async fn cancel_quietly(&self, run_id: &str) {
        if let Err(e) = self.engine.cancel_run(run_id).await {
            tracing::warn!(run = %run_id, "cancelling: {e}");
        }
    }

    /// Records how each ended attempt ended and what its task run does
    /// next, all in ONE transaction (one commit for a round, not one per
    /// attempt); events are published after the commit. A task run changed
    /// meanwhile (cancelled) is left out: the next pass sees its new state.
    /// Returns how many attempts ended.
    async fn end_attempts(&self, ended: &[(TaskRun, polysync_core::Run)]) -> Result<usize> {
        if ended.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        let (ends, nexts): (Vec<AttemptEnd>, Vec<TaskRun>) = ended
            .iter()
            .map(|(tr, run)| {
                let (status, message, next) = attempt_outcome(tr, run, now);
                let end = AttemptEnd {
                    task_run_id: tr.id.clone(),
                    attempt: tr.attempt,
                    status,
                    message,
                };
                (end, next)
            })
            .unzip();
        // Multi-row statements: the task runs compare-and-set, then the
        // attempts and limit slots of those that were written.
        let mut tx = self.engine.inner.store.begin().await?;
        let mut stored = Vec::new();
        let mut applied = Vec::new();
        for (end, outcome) in ends
            .into_iter()
            .zip(tx.update_task_runs(&nexts, now).await?)
        {
            if let Update::Applied(s) = outcome {
                applied.push(end);
                stored.push(s);
            }
        }
        tx.end_attempts(&applied, now).await?;
        let ids: Vec<&str> = applied.iter().map(|e| e.task_run_id.as_str()).collect();
        tx.release_slots_of(&ids).await?;
        tx.commit().await?;
        for s in &stored {
            if s.status.is_terminal() {
                self.touch(&s.dag_run_id);
            }
            self.engine.inner.events.publish_task_run(s);
        }
        Ok(stored.len())
    }
}

/// How an attempt ended (its status and message) and the task run's next
/// state: done, or Retrying after its backoff.
fn attempt_outcome(
    tr: &TaskRun,
    run: &polysync_core::Run,
    now: i64,
) -> (TaskRunStatus, Option<String>, TaskRun) {
    let message = run
        .error_message
        .clone()
        .or_else(|| run.state_message.clone());
    let attempt_status = match run.status {
        RunStatus::Success => TaskRunStatus::Success,
        RunStatus::Cancelled if tr.cancel_requested => TaskRunStatus::Cancelled,
        RunStatus::Cancelled if tr.timed_out => TaskRunStatus::TimedOut,
        RunStatus::Cancelled => TaskRunStatus::Cancelled,
        _ => TaskRunStatus::Failed,
    };
    let retry = &tr.task.retry;
    let retryable = matches!(
        attempt_status,
        TaskRunStatus::Failed | TaskRunStatus::TimedOut
    ) && !tr.cancel_requested
        && tr.attempt < retry.attempts;
    let mut next = TaskRun {
        lease_owner: None,
        lease_until: None,
        timed_out: false,
        ..tr.clone()
    };
    if retryable {
        let wait = retry.backoff_before(tr.attempt + 1);
        next.status = TaskRunStatus::Retrying;
        next.not_before = now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX));
        next.message = Some(format!(
            "attempt {} ended {}{}; attempt {} of {} in {}",
            tr.attempt,
            attempt_status,
            message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
            tr.attempt + 1,
            retry.attempts,
            polysync_core::task::format_duration(Duration::from_millis(wait))
        ));
    } else {
        next.status = if tr.cancel_requested {
            TaskRunStatus::Cancelled
        } else {
            attempt_status
        };
        next.ended_at = Some(now);
        next.message = message.clone();
    }
    (attempt_status, message, next)
}

/// Why a task run was skipped: the upstream outcome that fails its
/// condition.
fn skip_reason(task: &Task, statuses: &BTreeMap<String, TaskRunStatus>) -> String {
    task.after
        .iter()
        .find_map(|d| {
            let s = statuses.get(&d.task)?;
            let met = polysync_core::dag::meets(d.on, *s);
            (!met).then(|| format!("skipped: {} ended {s}, this task runs on {}", d.task, d.on))
        })
        .unwrap_or_else(|| "skipped: its conditions can no longer be met".into())
}
