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

use polysync_core::{Action, Hint, Job, Run, RunStatus};
use polysync_databricks::Method;
use polysync_providers::{self as providers, ApiRequest, Connection};
use polysync_store::Update;
use serde_json::{Value, json};

use crate::troubleshoot::{self, translate};
use crate::{Engine, Error, Result, RunDetails, RunFilter, WaitOptions};

/// How often a compare-and-set write is retried against concurrent writers
/// before giving up with a conflict.
const MAX_WRITE_ATTEMPTS: usize = 8;

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
        let mut job = self.get_job(job_ref).await?;
        if job.removed_at.is_some() {
            return Err(removed_job_error(&job));
        }
        job.validate()?;
        job.apply_overrides(overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let platform = self.get_platform(&job.platform).await?;
        let provider = providers::provider_for(job.job_type);
        let run_id = polysync_core::run::new_run_id();
        // The Polysync run id doubles as the idempotency token: a retried
        // submission after a lost response creates exactly one run.
        let request = provider.build_request(&platform, &job, &run_id)?;
        let mut run = Run::new(&job, run_id, now_ms());
        run.parameters = job
            .wire_parameters()?
            .into_iter()
            .collect::<BTreeMap<_, _>>();
        run.request = Some(request_to_json(&request));
        let run = self.inner.store.insert_run(&run).await?;
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
        let run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() || run.databricks_run_id.is_some() {
            return Ok(run);
        }
        let request = request_from_json(&run)?;
        let platform = self.get_platform(&run.platform).await?;
        let conn = self.connection(&platform)?;
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
            None => provider.submit(&conn, &job, &request).await,
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
            Err(e) => {
                let err = translate(e, &platform, Some(&job));
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

    /// Step 3: one status poll, stored when anything changed. A run whose
    /// submit was attempted but whose Databricks id was never stored (the
    /// process died, or the response was lost) is recovered first by
    /// re-sending its request under the same idempotency token. Ended runs
    /// and runs never sent are returned as stored.
    pub async fn refresh_run(&self, run_id: &str) -> Result<Run> {
        let run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() {
            return Ok(run);
        }
        let run = match (&run.databricks_run_id, run.submit_attempted_at) {
            (Some(_), _) => run,
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
        let now = now_ms();
        self.modify_run(&run.id, |r| {
            // A newer writer may have stored the end already: never move a
            // run back from a terminal status.
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
        })
        .await
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
            if last.status.is_terminal() || last.databricks_run_id.is_none() {
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
    /// cancelled rather than left running.
    pub async fn cancel_run(&self, run_id: &str) -> Result<Run> {
        let run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() {
            return Err(Error::RunState {
                run_id: run.id.clone(),
                message: format!("the run already ended as {}", run.status.as_str()),
                hint: Some(Hint::action(
                    "see how it ended",
                    Action::ShowRun {
                        run_id: run.id.clone(),
                    },
                )),
            });
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
