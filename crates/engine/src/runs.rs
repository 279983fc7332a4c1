//! Runs as idempotent steps a worker can resume after a crash at any point:
//!
//! 1. [`Engine::enqueue_run`] validates, builds the request (the Polysync
//!    run id is its idempotency token) and stores both; nothing is sent.
//! 2. [`Engine::submit_run`] records that a submit is being attempted, then
//!    sends the stored request; repeating it after a lost response re-sends
//!    the same token, which Databricks answers with the run it already made.
//! 3. [`Engine::refresh_run`] polls once and stores what changed.
//!
//! Every write is compare-and-set on the run's version ([`Engine::modify_run`]):
//! a concurrent writer is never overwritten, its newer state is re-read and
//! the change re-applied. Every stored change is published on the engine's
//! event channel. `start_run`, `wait_run` and `resume_run` are the steps
//! chained for interactive use.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use polysync_core::{Hint, Job, JobType, Run, RunStatus};
use polysync_databricks::Method;
use polysync_providers::{self as providers, ApiRequest, Connection, Polled, TaskRun};
use polysync_store::Update;
use serde_json::{Value, json};

use crate::troubleshoot::{self, translate};
use crate::{
    Engine, Error, RefreshFailure, RefreshedRuns, Result, RunDetails, RunFilter, WaitOptions,
};

/// How many candidates an ambiguous run reference lists.
const MAX_CANDIDATES: u32 = 10;

/// How often a compare-and-set write is retried against concurrent writers
/// before giving up with a conflict.
const MAX_WRITE_ATTEMPTS: usize = 8;
/// Most runs one transaction of [`Engine::store_polled_batch`] writes:
/// few enough that their full rows are a few MB, many enough that a round
/// of thousands of changes is a handful of commits.
const POLLED_CHUNK: usize = 500;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The stored form of a request: enough to re-send it byte for byte.
fn request_to_json(req: &ApiRequest) -> Value {
    json!({
        "method": req.method.as_str(),
        "path": req.path,
        "query": req.query,
        "body": req.body,
        "idempotent": req.idempotent,
    })
}

fn request_from_json(run: &Run) -> Result<ApiRequest> {
    let corrupt = |what: &str| Error::RunState {
        run_id: run.id.clone(),
        message: format!("the stored request of the run is unreadable ({what})"),
        hint: None,
    };
    let v = run.request.as_ref().ok_or_else(|| corrupt("missing"))?;
    let method = v
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or_else(|| corrupt("method"))?;
    let path = v
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| corrupt("path"))?
        .to_owned();
    let query = serde_json::from_value::<Vec<(String, String)>>(
        v.get("query").cloned().unwrap_or(Value::Array(Vec::new())),
    )
    .map_err(|_| corrupt("query"))?;
    let body = v.get("body").filter(|b| !b.is_null()).cloned();
    let idempotent = v
        .get("idempotent")
        .and_then(Value::as_bool)
        .ok_or_else(|| corrupt("idempotent"))?;
    Ok(ApiRequest {
        method,
        path,
        query,
        body,
        idempotent,
    })
}

/// The job as the run recorded it: what the provider needs to send the
/// stored request, even if the job was edited or removed since.
fn job_of(run: &Run) -> Job {
    Job::new(
        run.job_name.clone(),
        run.job_type,
        run.job_external_id.clone(),
        run.platform.clone(),
    )
}

fn removed_job_error(job: &Job) -> Error {
    Error::JobRemoved {
        job: job.name.clone(),
        platform: job.platform.clone(),
    }
}

/// Applies what a poll (or a batched listing) saw to `r`; false when
/// nothing changed. Never moves a run back from a terminal status (a newer
/// writer may have stored the end already).
fn apply_polled(r: &mut Run, polled: &Polled, now: i64) -> bool {
    if r.status.is_terminal() {
        return false;
    }
    let mut changed = r.apply_observation(&polled.observation, now);
    if polled.exit_value.is_some() && r.notebook_exit_value != polled.exit_value {
        r.notebook_exit_value.clone_from(&polled.exit_value);
        changed = true;
    }
    if let Some(raw) = &polled.error {
        let msg = troubleshoot::run_error_message(r, raw);
        if r.error_message.as_deref() != Some(msg.as_str()) {
            r.error_message = Some(msg);
            changed = true;
        }
    }
    changed
}

impl Engine {
    /// Reads the run, lets `change` modify it, and stores it
    /// compare-and-set; on a lost race re-reads and re-applies. `change`
    /// returns false when there is nothing to write. Applied changes are
    /// published.
    pub(crate) async fn modify_run(
        &self,
        run_id: &str,
        mut change: impl FnMut(&mut Run) -> bool,
    ) -> Result<Run> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut run = self.inner.store.get_run(run_id).await?;
            if !change(&mut run) {
                return Ok(run);
            }
            match self.inner.store.update_run(&run).await? {
                Update::Applied(stored) => {
                    self.inner.events.publish(&stored);
                    return Ok(stored);
                }
                Update::Stale { .. } => continue,
            }
        }
        Err(Error::Conflict(format!(
            "run {run_id} kept changing under concurrent writers; retry"
        )))
    }

    /// Step 1: records the intent to run `job_ref` with `overrides` and the
    /// exact request that will start it (idempotency token = the new run
    /// id). Validation happens here, so an invalid run is refused before
    /// anything is stored or sent. The run is Queued.
    pub async fn enqueue_run(&self, job_ref: &str, overrides: &[(String, String)]) -> Result<Run> {
        self.enqueue_run_as(&polysync_core::run::new_run_id(), job_ref, overrides)
            .await
    }

    /// [`Engine::enqueue_run`] under a given run id (the dispatcher derives
    /// one per attempt, so a retried step re-creates the same run). A run
    /// with that id that exists already is returned as it is.
    pub async fn enqueue_run_as(
        &self,
        run_id: &str,
        job_ref: &str,
        overrides: &[(String, String)],
    ) -> Result<Run> {
        if let Some(existing) = self.inner.store.find_run(run_id).await? {
            return Ok(existing);
        }
        let mut job = self.get_job(job_ref).await?;
        if job.removed_at.is_some() {
            return Err(removed_job_error(&job));
        }
        job.validate()?;
        job.apply_overrides(overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let platform = self.get_platform(&job.platform).await?;
        // The Polysync run id doubles as the idempotency token: a retried
        // submission after a lost response creates exactly one run.
        let run = self.prepare_run(run_id, &job, &platform, None)?;
        let run = match self.inner.store.insert_run(&run).await {
            Ok(run) => run,
            // Created meanwhile by another worker resuming the same step.
            Err(polysync_store::Error::AlreadyExists { .. }) => {
                return Ok(self.inner.store.get_run(run_id).await?);
            }
            Err(e) => return Err(e.into()),
        };
        self.inner.events.publish(&run);
        Ok(run)
    }

    /// Step 2: sends the run's stored request, once. Safe to repeat: a run
    /// that has its Databricks run id (or has ended) is returned as is, and
    /// a repeated send after a lost response carries the same idempotency
    /// token, so Databricks answers with the run it already created.
    ///
    /// A failure Databricks reports (4xx) ends the run Failed with the
    /// translated cause; a transient one (unreachable, 5xx/429 after the
    /// client's retries) leaves it Queued for the next attempt.
    pub async fn submit_run(&self, run_id: &str) -> Result<Run> {
        self.submit_run_via(run_id, None).await
    }

    /// [`Engine::submit_run`] sending with `caller` instead of the
    /// platform's own credentials (on-behalf-of-user runs of the server);
    /// everything else, polls included, stays on the platform's identity.
    pub(crate) async fn submit_run_via(
        &self,
        run_id: &str,
        caller: Option<Connection>,
    ) -> Result<Run> {
        let run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() || run.databricks_run_id.is_some() {
            return Ok(run);
        }
        if run.job_type.runs_in_process() {
            return self.start_in_process(run_id).await;
        }
        // An unreadable stored request fails here, before anything is marked.
        request_from_json(&run)?;
        let platform = self.get_platform(&run.platform).await?;
        let conn = match caller {
            Some(conn) => conn,
            None => self.connection(&platform)?,
        };
        // Being sent by another caller of this process (a dispatcher's
        // batch): its answer is stored by that caller.
        let Some(_claim) = self.inner.sending.claim(run_id) else {
            return Ok(run);
        };
        // Written before the call: after a crash, a run with this mark and no
        // Databricks id may exist in Databricks, and is recovered by re-sending.
        let attempted = now_ms();
        let run = self
            .modify_run(run_id, |r| {
                if r.status.is_terminal() || r.databricks_run_id.is_some() {
                    return false;
                }
                if r.submit_attempted_at.is_none() {
                    r.submit_attempted_at = Some(attempted);
                    return true;
                }
                false
            })
            .await?;
        if run.status.is_terminal() || run.databricks_run_id.is_some() {
            return Ok(run);
        }
        let provider = providers::provider_for(run.job_type);
        let job = job_of(&run);
        // A start without idempotency token (pipelines) that may have reached
        // Databricks before: adopt what it created instead of starting again.
        let earlier = match run.submit_attempted_at {
            Some(at) if at != attempted => provider
                .find_started(&conn, &job, at)
                .await
                .map_err(|e| translate(e, &platform, Some(&job)))?,
            _ => None,
        };
        let sent = match earlier {
            Some(found) => Ok(found),
            None => self.send_prepared(&conn, &run).await,
        };
        match sent {
            Ok(submitted) => {
                let stored = self
                    .modify_run(run_id, |r| {
                        if r.databricks_run_id.is_some() {
                            return false;
                        }
                        r.databricks_run_id = Some(submitted.databricks_run_id.clone());
                        r.monitor_url = Some(provider.monitor_url(
                            &platform,
                            r,
                            submitted.run_page_url.as_deref(),
                        ));
                        r.error_message = None;
                        r.updated_at = now_ms();
                        true
                    })
                    .await?;
                Ok(stored)
            }
            Err(err) => {
                let message = err.to_string();
                let transient = err.is_retryable();
                self.modify_run(run_id, |r| {
                    if r.status.is_terminal() || r.databricks_run_id.is_some() {
                        return false;
                    }
                    r.error_message = Some(message.clone());
                    r.updated_at = now_ms();
                    if !transient {
                        r.status = RunStatus::Failed;
                        r.ended_at = Some(r.updated_at);
                    }
                    true
                })
                .await?;
                Err(err)
            }
        }
    }

    /// Sends one prepared run (its stored request) to where it runs and
    /// returns the answer; stores nothing. The one place a prepared run
    /// leaves Polysync, for [`Engine::submit_run`] and the dispatcher's
    /// batched sends alike.
    pub(crate) async fn send_prepared(
        &self,
        conn: &Connection,
        run: &Run,
    ) -> Result<providers::Submitted> {
        let request = request_from_json(run)?;
        let job = job_of(run);
        providers::provider_for(run.job_type)
            .submit(conn, &job, &request)
            .await
            .map_err(|e| translate(e, &conn.platform, Some(&job)))
    }

    /// A run of `job` (overrides applied and validated) under `run_id`,
    /// with the exact request that will start it; nothing is stored. With
    /// `attempted`, the run carries its submit intent already (stored
    /// with it, before it is sent).
    pub(crate) fn prepare_run(
        &self,
        run_id: &str,
        job: &Job,
        platform: &polysync_core::Platform,
        attempted: Option<i64>,
    ) -> Result<Run> {
        if job.removed_at.is_some() {
            return Err(removed_job_error(job));
        }
        job.validate()?;
        let mut run = Run::new(job, run_id.to_owned(), now_ms());
        run.parameters = job
            .wire_parameters()?
            .into_iter()
            .collect::<BTreeMap<_, _>>();
        // In-process types (Arazzo) have no request: the engine runs them.
        if !job.job_type.runs_in_process() {
            let request =
                providers::provider_for(job.job_type).build_request(platform, job, run_id)?;
            run.request = Some(request_to_json(&request));
        }
        run.submit_attempted_at = attempted;
        Ok(run)
    }

    /// Starts one prepared run (built by [`Engine::prepare_run`] with its
    /// submit intent, parameters already in its request) in the fewest
    /// commits: the run is stored once, intent included, BEFORE it is sent;
    /// the answer is stored in one more write. A crash in between leaves a
    /// run the tracker recovers by re-sending under the same token. `caller`
    /// sends with another identity (on-behalf-of-user); in-process runs
    /// start as [`Engine::submit_run`] starts them. Nothing is polled: the
    /// tracker follows the run from here.
    pub(crate) async fn start_prepared(
        &self,
        run: &Run,
        platform: &polysync_core::Platform,
        caller: Option<Connection>,
    ) -> Result<Run> {
        // Claimed before its intent is stored, held until its answer is:
        // the tracker leaves a run claimed here to this sender. A new run
        // is nobody else's, so the claim cannot be taken. (An in-process
        // run is started by `submit_run_via`, which claims it itself.)
        let _claim = (!run.job_type.runs_in_process())
            .then(|| self.inner.sending.claim(&run.id))
            .flatten();
        let run = self.inner.store.insert_run(run).await?;
        self.inner.events.publish(&run);
        if run.job_type.runs_in_process() {
            return self.submit_run_via(&run.id, caller).await;
        }
        let conn = match caller {
            Some(conn) => conn,
            None => self.connection(platform)?,
        };
        let sent = self.send_prepared(&conn, &run).await;
        let mut answered = run.clone();
        let stored = if Self::record_sent(&mut answered, platform, &sent) {
            match self.inner.store.update_run(&answered).await? {
                Update::Applied(stored) => {
                    self.inner.events.publish(&stored);
                    stored
                }
                // Changed meanwhile (the tracker recovering it): apply the
                // answer on the newer state, unless it has one already.
                Update::Stale { .. } => {
                    self.modify_run(&run.id, |r| Self::record_sent(r, platform, &sent))
                        .await?
                }
            }
        } else {
            run
        };
        sent.map(|_| stored)
    }

    /// Records what sending `run` answered: its Databricks run id and
    /// monitor URL, or the error (a 4xx ends it Failed; a transient one
    /// leaves it Queued for a re-send under the same token). Returns
    /// whether anything changed.
    pub(crate) fn record_sent(
        run: &mut Run,
        platform: &polysync_core::Platform,
        sent: &Result<providers::Submitted>,
    ) -> bool {
        if run.status.is_terminal() || run.databricks_run_id.is_some() {
            return false;
        }
        run.updated_at = now_ms();
        match sent {
            Ok(submitted) => {
                run.databricks_run_id = Some(submitted.databricks_run_id.clone());
                run.monitor_url = Some(providers::provider_for(run.job_type).monitor_url(
                    platform,
                    run,
                    submitted.run_page_url.as_deref(),
                ));
                run.error_message = None;
            }
            Err(err) => {
                run.error_message = Some(err.to_string());
                if !err.is_retryable() {
                    run.status = RunStatus::Failed;
                    run.ended_at = Some(run.updated_at);
                }
            }
        }
        true
    }

    /// Step 3: one status poll, stored when anything changed. A run whose
    /// submit was attempted but whose Databricks id was never stored (the
    /// process died, or the response was lost) is recovered first by
    /// re-sending its request under the same idempotency token. Ended runs
    /// and runs never sent are returned as stored.
    pub async fn refresh_run(&self, run_ref: &str) -> Result<Run> {
        let run_id = &self.resolve_run_id(run_ref).await?;
        let run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() {
            return Ok(run);
        }
        if run.job_type.runs_in_process() {
            return self.refresh_in_process(run).await;
        }
        let run = match (&run.databricks_run_id, run.submit_attempted_at) {
            (Some(_), _) => run,
            // Still being sent by this process: not lost, nothing to poll.
            (None, Some(_)) if self.inner.sending.is_sending(run_id) => return Ok(run),
            (None, Some(_)) => self.submit_run(run_id).await?,
            (None, None) => return Ok(run),
        };
        if run.databricks_run_id.is_none() || run.status.is_terminal() {
            return Ok(run);
        }
        let conn = self.connect(&run.platform).await?;
        self.poll_once(&conn, &run).await
    }

    /// One poll of `run` through its provider, stored when anything changed.
    async fn poll_once(&self, conn: &Connection, run: &Run) -> Result<Run> {
        let provider = providers::provider_for(run.job_type);
        let polled = provider
            .poll(conn, run)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        self.store_polled(&run.id, &polled).await
    }

    /// Stores what a poll (or a batched listing) saw of a run, when
    /// anything changed; never moves a run back from a terminal status.
    pub(crate) async fn store_polled(&self, run_id: &str, polled: &Polled) -> Result<Run> {
        let now = now_ms();
        self.modify_run(run_id, |r| apply_polled(r, polled, now))
            .await
    }

    /// [`Engine::store_polled`] for a whole tracking round: the changes in
    /// a few transactions of at most [`POLLED_CHUNK`] runs each (one commit
    /// per chunk instead of one per run), each run still written
    /// compare-and-set on the version it was read at in that transaction.
    /// Chunks bound what a round holds at once: a write re-reads the full
    /// run (stored request included, KBs each), so the first round over
    /// 10,000 runs that all went PENDING → RUNNING must not read them all
    /// together. Events are published after each commit, so nothing acts
    /// on a status that is not stored. Returns how many runs changed.
    pub(crate) async fn store_polled_batch(&self, items: &[(String, Polled)]) -> Result<usize> {
        let mut stored = 0;
        for chunk in items.chunks(POLLED_CHUNK) {
            stored += self.store_polled_chunk(chunk).await?;
        }
        Ok(stored)
    }

    /// One transaction of [`Engine::store_polled_batch`].
    async fn store_polled_chunk(&self, items: &[(String, Polled)]) -> Result<usize> {
        if items.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        let mut tx = self.inner.store.begin().await?;
        // Every run read (and locked) in a few multi-row reads, every
        // change written with one multi-row compare-and-set update.
        let ids: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
        let mut current = tx.find_runs(&ids).await?;
        let mut order = Vec::new();
        let mut changed = std::collections::HashSet::new();
        for (run_id, polled) in items {
            let Some(run) = current.get_mut(run_id) else {
                continue;
            };
            // A later item for the same run builds on the earlier one.
            if apply_polled(run, polled, now) && changed.insert(run_id.as_str()) {
                order.push(run_id.clone());
            }
        }
        let writes: Vec<Run> = order.iter().filter_map(|id| current.remove(id)).collect();
        drop(current);
        let mut stored = Vec::with_capacity(writes.len());
        for (run, outcome) in writes.iter().zip(tx.update_runs(&writes).await?) {
            match outcome {
                Update::Applied(s) => stored.push(s),
                Update::Stale { .. } => {
                    tx.rollback().await?;
                    return Err(Error::Conflict(format!(
                        "run {} kept changing under concurrent writers; retry",
                        run.id
                    )));
                }
            }
        }
        drop(writes);
        tx.commit().await?;
        for run in &stored {
            self.inner.events.publish(run);
        }
        Ok(stored.len())
    }

    /// The Polysync run id a user means by `reference`: the id itself, a
    /// unique prefix of it, or a Databricks run id (the one in the
    /// Databricks UI). Several matches are [`Error::Ambiguous`] with the
    /// candidates, none is [`Error::NotFound`].
    pub async fn resolve_run_id(&self, reference: &str) -> Result<String> {
        if self.inner.store.find_run(reference).await?.is_some() {
            return Ok(reference.to_owned());
        }
        let not_found = || Error::NotFound {
            entity: "run",
            key: reference.to_owned(),
        };
        if reference.trim().is_empty() {
            return Err(not_found());
        }
        let found = self
            .inner
            .store
            .find_runs_by_ref(reference, MAX_CANDIDATES + 1)
            .await?;
        match found.as_slice() {
            [] => Err(not_found()),
            [one] => Ok(one.id.clone()),
            many => Err(Error::Ambiguous {
                entity: "run",
                key: reference.to_owned(),
                candidates: many
                    .iter()
                    .take(MAX_CANDIDATES as usize)
                    .map(|r| {
                        format!(
                            "{} ({}, Databricks run {})",
                            r.id,
                            r.job_name,
                            r.databricks_run_id.as_deref().unwrap_or("-")
                        )
                    })
                    .collect(),
            }),
        }
    }

    /// Refreshes every active run among those `filter` selects (newest
    /// first, at most `limit`) with one batched listing per platform (one
    /// `jobs/runs/list`, one updates list per pipeline) instead of one
    /// `runs/get` per run, then returns the runs as stored. Runs the
    /// listing did not show, and runs whose submit answer was lost, are
    /// refreshed one by one. A platform that cannot be reached is reported
    /// in `failures`; its runs are shown as last stored.
    pub async fn refresh_runs(&self, filter: &RunFilter, limit: u32) -> Result<RefreshedRuns> {
        let runs = self.list_runs(filter, limit).await?;
        let mut by_platform: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
        for r in runs.iter().filter(|r| !r.status.is_terminal()) {
            by_platform.entry(r.platform.as_str()).or_default().push(r);
        }
        let mut failures = Vec::new();
        for (platform, active) in by_platform {
            if let Err(e) = self.refresh_platform_runs(platform, &active).await {
                failures.push(RefreshFailure {
                    platform: platform.to_owned(),
                    message: e.to_string(),
                });
            }
        }
        let runs = self.inner.store.list_runs(filter, limit).await?;
        Ok(RefreshedRuns { runs, failures })
    }

    async fn refresh_platform_runs(&self, platform: &str, active: &[&Run]) -> Result<()> {
        let (in_process, active): (Vec<&Run>, Vec<&Run>) = active
            .iter()
            .copied()
            .partition(|r| r.job_type.runs_in_process());
        for r in in_process {
            self.refresh_in_process(r.clone()).await?;
        }
        let (sent, unsent): (Vec<&Run>, Vec<&Run>) = active
            .iter()
            .copied()
            .partition(|r| r.databricks_run_id.is_some());
        // Never sent: nothing to ask Databricks; attempted: recover one by one.
        for r in unsent.iter().filter(|r| r.submit_attempted_at.is_some()) {
            self.refresh_run(&r.id).await?;
        }
        if sent.is_empty() {
            return Ok(());
        }
        let conn = self.connect(platform).await?;
        let seen = providers::observe_runs(&conn, &sent)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        for r in sent {
            match r.databricks_run_id.as_ref().and_then(|id| seen.get(id)) {
                Some(polled) => {
                    self.store_polled(&r.id, polled).await?;
                }
                None => {
                    self.poll_once(&conn, r).await?;
                }
            }
        }
        Ok(())
    }

    /// Starts a run: the three steps chained (enqueue, submit, a first poll
    /// for the status and `run_page_url`). The External Id and every
    /// override are validated before anything is sent; reference-only
    /// overrides are refused with the seed's explanation.
    pub async fn start_run(&self, job_ref: &str, overrides: &[(String, String)]) -> Result<Run> {
        let run = self.enqueue_run(job_ref, overrides).await?;
        let run = self.submit_run(&run.id).await?;
        match self.refresh_run(&run.id).await {
            Ok(r) => Ok(r),
            Err(e) => {
                tracing::warn!(run = %run.id, "first poll failed: {e}");
                Ok(run)
            }
        }
    }

    /// Takes a run further after an interruption, wherever it stopped: sends
    /// it if it was never sent, recovers a lost submit response, and polls
    /// once. Safe to call at any time, any number of times.
    pub async fn resume_run(&self, run_id: &str) -> Result<Run> {
        let run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() {
            return Ok(run);
        }
        if run.databricks_run_id.is_none() {
            self.submit_run(run_id).await?;
        }
        self.refresh_run(run_id).await
    }

    /// Runs that have not ended, oldest first (at most `limit`): what a
    /// tracker must follow to the end, also after a crash.
    pub async fn active_runs(&self, limit: u32) -> Result<Vec<Run>> {
        Ok(self.inner.store.active_runs(limit).await?)
    }

    /// Drives the run to its end (sending it first if it was never sent),
    /// calling `on_update` on every change (and once at the start); every
    /// change is in the run history.
    pub async fn wait_run(
        &self,
        run_id: &str,
        opts: WaitOptions,
        on_update: &mut (dyn FnMut(&Run) + Send),
    ) -> Result<Run> {
        let started = Instant::now();
        // Someone waits: an in-process tracker follows at its watched pace.
        let _watch = self.watch_run(run_id);
        let mut last = self.inner.store.get_run(run_id).await?;
        on_update(&last);
        if !last.status.is_terminal() && last.databricks_run_id.is_none() {
            let run = self.submit_run(run_id).await?;
            if run != last {
                on_update(&run);
            }
            last = run;
        }
        loop {
            if last.status.is_terminal()
                || (last.databricks_run_id.is_none() && !last.job_type.runs_in_process())
            {
                return Ok(last);
            }
            if let Some(t) = opts.timeout
                && started.elapsed() >= t
            {
                let hint = self.run_hint(&last).await;
                return Err(Error::WaitTimeout {
                    run_id: last.id.clone(),
                    status: last.status,
                    waited_secs: started.elapsed().as_secs(),
                    hint,
                });
            }
            tokio::time::sleep(opts.poll_interval.max(Duration::from_millis(10))).await;
            let run = self.refresh_run(run_id).await?;
            if run != last {
                on_update(&run);
                if let Some(h) = self.run_hint(&run).await {
                    tracing::info!(run = %run.id, "{h}");
                }
            }
            last = run;
        }
    }

    /// Cancels a run: in Databricks (runs/cancel, or the pipeline stop
    /// guarded against stopping another update) and records what follows.
    /// A run that was never sent is cancelled locally (nothing to stop); a
    /// run whose submit response was lost is recovered first, so it is
    /// cancelled rather than left running. A run that already ended is
    /// returned unchanged (a no-op, as the Databricks CLI does): the caller
    /// sees its final status. Databricks stops a run asynchronously, so the
    /// returned run is usually still Running (TERMINATING); `wait_run`
    /// follows it to its end.
    pub async fn cancel_run(&self, run_ref: &str) -> Result<Run> {
        let run_id = &self.resolve_run_id(run_ref).await?;
        let run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() {
            return Ok(run);
        }
        if run.job_type.runs_in_process() {
            return self.cancel_in_process(run_id).await;
        }
        let run = match (&run.databricks_run_id, run.submit_attempted_at) {
            (Some(_), _) => run,
            (None, Some(_)) => self.submit_run(run_id).await?,
            (None, None) => {
                let now = now_ms();
                let cancelled = self
                    .modify_run(run_id, |r| {
                        if r.status.is_terminal() || r.submit_attempted_at.is_some() {
                            return false;
                        }
                        r.status = RunStatus::Cancelled;
                        r.state_message = Some("cancelled before it was sent to Databricks".into());
                        r.updated_at = now;
                        r.ended_at = Some(now);
                        true
                    })
                    .await?;
                if cancelled.status == RunStatus::Cancelled {
                    return Ok(cancelled);
                }
                // A worker started sending it meanwhile: recover and cancel.
                self.submit_run(run_id).await?
            }
        };
        if run.status.is_terminal() || run.databricks_run_id.is_none() {
            return Ok(run);
        }
        let conn = self.connect(&run.platform).await?;
        providers::provider_for(run.job_type)
            .cancel(&conn, &run)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        self.refresh_run(run_id).await
    }

    /// What to do about a run's current state, when Polysync knows: a long
    /// PENDING on a new job cluster (suggest a faster compute type) or a
    /// STOPPING pipeline (normal while DLT finishes the work in flight).
    pub async fn run_hint(&self, run: &Run) -> Option<Hint> {
        let platform = self
            .inner
            .store
            .find_platform(&run.platform)
            .await
            .ok()
            .flatten();
        troubleshoot::run_hint(
            run,
            platform.as_ref(),
            now_ms(),
            self.inner.pending_hint_after,
        )
    }

    /// The job as it would be sent: overrides applied and validated, no
    /// request made (for `run --dry-run` and tests). `warnings` lists why a
    /// real run would still be refused (the job was marked removed).
    pub async fn preview_request(
        &self,
        job_ref: &str,
        overrides: &[(String, String)],
    ) -> Result<Value> {
        let mut job: Job = self.get_job(job_ref).await?;
        job.validate()?;
        job.apply_overrides(overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let platform = self.get_platform(&job.platform).await?;
        if job.job_type.runs_in_process() {
            return Ok(json!({
                "method": "IN-PROCESS",
                "path": job.external_id,
                "body": job.wire_parameters()?.into_iter().collect::<BTreeMap<_, _>>(),
                "warnings": Vec::<String>::new(),
            }));
        }
        let req =
            providers::provider_for(job.job_type).build_request(&platform, &job, "preview")?;
        // A preview of a job a real run would refuse must say so (the request
        // alone looked sendable).
        let warnings: Vec<String> = job
            .removed_at
            .map(|_| {
                format!(
                    "job {:?} was removed from Databricks (seen missing at the last import of {}); a real run is refused",
                    job.name, job.platform
                )
            })
            .into_iter()
            .collect();
        Ok(json!({
            "method": req.method.as_str(),
            "path": req.path,
            "body": req.body,
            "warnings": warnings,
        }))
    }

    /// A run (by id, unique id prefix or Databricks run id) and its status
    /// history; for a multi-task run also its task runs, read live from
    /// Databricks (see [`Engine::get_run_details`]).
    pub async fn get_run(&self, run_ref: &str) -> Result<RunDetails> {
        self.get_run_details(run_ref, false).await
    }

    /// [`Engine::get_run`], with `outputs` also reading every ended task's
    /// notebook exit value. The task runs are not stored (Databricks keeps
    /// them); when Databricks cannot be reached they are left out and
    /// `tasks_error` says why, so the stored run is still shown.
    pub async fn get_run_details(&self, run_ref: &str, outputs: bool) -> Result<RunDetails> {
        let run_id = self.resolve_run_id(run_ref).await?;
        let run = self.inner.store.get_run(&run_id).await?;
        let history = self.inner.store.run_history(&run_id).await?;
        let hint = self.run_hint(&run).await;
        let (tasks, tasks_error) = match self.task_runs(&run, outputs).await {
            Ok(t) => (t, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        Ok(RunDetails {
            run,
            history,
            hint,
            tasks,
            tasks_error,
        })
    }

    async fn task_runs(&self, run: &Run, outputs: bool) -> Result<Vec<TaskRun>> {
        // A submitted notebook is one task and a pipeline has updates, not tasks: no request.
        if run.databricks_run_id.is_none()
            || matches!(
                run.job_type,
                JobType::DatabricksPipeline | JobType::DatabricksNotebook
            )
        {
            return Ok(Vec::new());
        }
        // An ended run's task runs cannot change: the read tier's cache.
        let ended = run.status.is_terminal();
        if ended && let Some(tasks) = self.inner.tiers.cached(&run.id, outputs) {
            return Ok(tasks);
        }
        let conn = self.connect(&run.platform).await?;
        let tasks = providers::provider_for(run.job_type)
            .task_runs(&conn, run, outputs, now_ms())
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        if ended {
            self.inner.tiers.keep(&run.id, outputs, &tasks);
        }
        Ok(tasks)
    }

    /// Runs matching `filter`, newest first. A job filter may name the job
    /// as `PLATFORM:EXTERNAL_ID` too; an unknown job or platform is
    /// [`Error::NotFound`] (not an empty list, which would read as "no runs
    /// yet"), unless runs recorded under that name remain from a job or
    /// platform removed since.
    pub async fn list_runs(&self, filter: &RunFilter, limit: u32) -> Result<Vec<Run>> {
        self.list_runs_since(filter, None, limit).await
    }

    /// [`Engine::list_runs`] over the runs created at or after `since`
    /// (epoch ms; `None`: any time): the dashboard's time filter, applied
    /// in the store before the limit.
    pub async fn list_runs_since(
        &self,
        filter: &RunFilter,
        since: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Run>> {
        let mut filter = filter.clone();
        if let Some(job_ref) = &filter.job_name {
            match self.find_job(job_ref).await? {
                Some(job) => filter.job_name = Some(job.name),
                None => self.require_recorded(&filter, "job", job_ref).await?,
            }
        }
        if let Some(platform) = &filter.platform
            && self.find_platform(platform).await?.is_none()
        {
            self.require_recorded(&filter, "platform", platform).await?;
        }
        Ok(self
            .inner
            .store
            .list_runs_since(&filter, since, limit)
            .await?)
    }

    /// Ok when some run is recorded under the filter (a job or platform
    /// removed after it ran), else [`Error::NotFound`] for `entity`.
    async fn require_recorded(
        &self,
        filter: &RunFilter,
        entity: &'static str,
        key: &str,
    ) -> Result<()> {
        let probe = RunFilter {
            status: None,
            ..filter.clone()
        };
        if self.inner.store.list_runs(&probe, 1).await?.is_empty() {
            return Err(Error::NotFound {
                entity,
                key: key.to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_request_round_trips() {
        let req = ApiRequest {
            method: Method::POST,
            path: "/api/2.1/jobs/runs/submit".into(),
            query: vec![("a".into(), "b".into())],
            body: Some(json!({"idempotency_token": "t"})),
            idempotent: true,
        };
        let job = Job::new("j", polysync_core::JobType::DatabricksNotebook, "/x", "p");
        let mut run = Run::new(&job, "r".into(), 0);
        run.request = Some(request_to_json(&req));
        assert_eq!(request_from_json(&run).unwrap(), req);
        run.request = Some(json!({"method": "POST"}));
        assert!(request_from_json(&run).is_err());
    }
}
