//! The dispatcher's batched steps. A pass claims many task runs in one
//! transaction, creates all their attempts' Polysync runs with their
//! submit intent in one transaction (before anything is sent), sends them
//! concurrently (a bounded number in flight) through the one per-run send
//! step of `runs.rs`, and stores the answers as they come, a transaction
//! a second. So a pass costs a handful of commits plus the slowest few
//! submits, not several commits and a round trip after another per task
//! run; and a crash between any two steps leaves runs the tracker
//! recovers under the same idempotency token.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use polysync_core::dag::TaskRun;
use polysync_core::{Job, Platform, Run};
use polysync_store::Update;

use crate::dag::now_ms;
use crate::dispatcher::Dispatcher;
use crate::sending::SendClaim;
use crate::{Error, Result};

/// Attempts sent at once. Enough to hide a workspace's latency; the
/// client's rate limit (when on) still paces them.
pub(crate) const SEND_CONCURRENCY: usize = 32;
/// How long a sent run's answer may wait to be stored with others. By
/// time only: storing every 100 answers as well cut zero-duration
/// throughput (benchmark 2, no rate limit: a batch is sent in a second or
/// two) from ≈ 630 to 64 tasks/s, its tracker listing 8 times as much.
const ANSWERS_EVERY: Duration = Duration::from_secs(1);

impl Dispatcher {
    /// Claims up to `max_claim` ready task runs in one transaction,
    /// publishes them, and starts their attempts. Returns how many were
    /// claimed.
    pub(crate) async fn claim_and_start(&self) -> Result<usize> {
        let engine = self.engine();
        let now = now_ms();
        let claimed = engine
            .inner
            .store
            .claim_task_runs(
                self.id(),
                now,
                crate::dispatcher::ms(self.options().lease),
                self.options().max_claim,
            )
            .await?;
        for tr in &claimed {
            engine.inner.events.publish_task_run(tr);
        }
        self.start_all(&claimed).await?;
        Ok(claimed.len())
    }

    /// Starts the attempts of claimed task runs: prepares every run,
    /// stores them all with their submit intent in one transaction, sends
    /// them [`SEND_CONCURRENCY`] at a time, stores the answers as they
    /// come. A task run whose attempt cannot be created (job gone,
    /// bad value) fails without retry, as one by one.
    pub(crate) async fn start_all(&self, claimed: &[TaskRun]) -> Result<()> {
        if claimed.is_empty() {
            return Ok(());
        }
        let engine = self.engine();
        let clock = std::time::Instant::now();
        let attempted = now_ms();
        let mut jobs: HashMap<String, (Job, Platform)> = HashMap::new();
        let mut prepared: Vec<Run> = Vec::new();
        for tr in claimed {
            let Some(run_id) = tr.run_id.clone() else {
                continue;
            };
            let params = match self.resolve_params(tr).await {
                Ok(p) => p,
                Err(message) => {
                    self.fail_unstartable(tr, message).await?;
                    continue;
                }
            };
            let made = self
                .prepare(&mut jobs, tr, &run_id, &params, attempted)
                .await;
            match made {
                Ok(run) => prepared.push(run),
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => self.fail_unstartable(tr, e.to_string()).await?,
            }
        }
        // Claimed before they are stored with their intent: from then on
        // the tracker would take an unanswered one for a lost answer.
        let claims: Vec<SendClaim> = prepared
            .iter()
            .filter_map(|r| engine.inner.sending.claim(&r.id))
            .collect();
        let stored = match self.store_prepared(&prepared).await {
            Ok(stored) => stored,
            Err(e) => {
                // Some exist already (a pass that died half-way was
                // recovered meanwhile): take each one by one instead.
                tracing::debug!("batched attempt creation: {e}; one by one");
                drop(claims);
                for tr in claimed {
                    self.start_attempt(tr).await?;
                }
                return Ok(());
            }
        };
        tracing::debug!(runs = stored.len(), took = ?clock.elapsed(), "attempts stored with their intent");
        for run in &stored {
            engine.inner.events.publish(run);
        }
        // In-process runs (Arazzo) are not sent anywhere: they start here.
        let (in_process, stored): (Vec<Run>, Vec<Run>) = stored
            .into_iter()
            .partition(|r| r.job_type.runs_in_process());
        for run in &in_process {
            if let Err(e) = engine.submit_run(&run.id).await {
                tracing::warn!(run = %run.id, "starting in process: {e}");
            }
        }
        let platforms: HashMap<String, Platform> = jobs
            .into_values()
            .map(|(_, p)| (p.name.clone(), p))
            .collect();
        self.send_and_store(stored, &platforms).await?;
        tracing::debug!(took = ?clock.elapsed(), "attempts sent and answers stored");
        drop(claims);
        Ok(())
    }

    /// Re-sends, under their own idempotency tokens, the runs of `run_ids`
    /// whose submit intent is stored but whose answer is not (the process
    /// died between the two, or the answer was lost): concurrently and
    /// answers stored as they come, as a first send; each only once
    /// (a run this process is sending already is left to its sender).
    pub(crate) async fn resend_unanswered(&self, run_ids: &[String]) -> Result<()> {
        let engine = self.engine();
        let mut claims = Vec::new();
        let mut runs = Vec::new();
        let mut platforms: HashMap<String, Platform> = HashMap::new();
        let claimed: Vec<(String, SendClaim)> = run_ids
            .iter()
            .filter_map(|id| Some((id.clone(), engine.inner.sending.claim(id)?)))
            .collect();
        // Read after the claims, in one go: a sender that just finished has
        // stored its answer by now.
        let ids: Vec<String> = claimed.iter().map(|(id, _)| id.clone()).collect();
        let mut stored = engine.inner.store.find_runs(&ids).await?;
        for (id, claim) in claimed {
            let Some(run) = stored.remove(&id) else {
                continue;
            };
            if run.status.is_terminal()
                || run.databricks_run_id.is_some()
                || run.submit_attempted_at.is_none()
                || run.job_type.runs_in_process()
            {
                continue;
            }
            if !platforms.contains_key(&run.platform) {
                let p = engine.get_platform(&run.platform).await?;
                platforms.insert(p.name.clone(), p);
            }
            claims.push(claim);
            runs.push(run);
        }
        if !runs.is_empty() {
            tracing::info!(
                "re-sending {} attempts whose answer was not stored",
                runs.len()
            );
        }
        self.send_and_store(runs, &platforms).await?;
        drop(claims);
        Ok(())
    }

    /// Sends `runs` (stored with their submit intent, claimed by the
    /// caller) [`SEND_CONCURRENCY`] at a time and stores the answers as
    /// they come, one transaction every [`ANSWERS_EVERY`]: a run that
    /// ends while the rest of its batch is still being sent (1,000 sends
    /// take a minute under a workspace's rate limit) is then tracked
    /// within a second or so of its answer, not when the whole batch is
    /// answered. The caller's claims are held until every answer is
    /// stored.
    async fn send_and_store(
        &self,
        runs: Vec<Run>,
        platforms: &HashMap<String, Platform>,
    ) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let engine = self.engine();
        let mut sends = stream::iter(runs)
            .map(|run| async move {
                let sent = match platforms.get(&run.platform) {
                    Some(p) => match engine.connection(p) {
                        Ok(conn) => engine.send_prepared(&conn, &run).await,
                        Err(e) => Err(e),
                    },
                    None => Err(Error::Conflict(format!(
                        "platform {} of run {} is unknown",
                        run.platform, run.id
                    ))),
                };
                (run, sent)
            })
            .buffer_unordered(SEND_CONCURRENCY);
        let mut answers = Vec::new();
        let mut store_at = tokio::time::Instant::now() + ANSWERS_EVERY;
        loop {
            // Waiting for the next answer is cancelled at `store_at`; the
            // sends in flight stay in the stream.
            let done = match tokio::time::timeout_at(store_at, sends.next()).await {
                Ok(Some(answer)) => {
                    answers.push(answer);
                    continue;
                }
                Ok(None) => true,
                Err(_) => false,
            };
            let clock = std::time::Instant::now();
            let n = answers.len();
            self.store_answers(platforms, std::mem::take(&mut answers))
                .await?;
            tracing::debug!(answers = n, took = ?clock.elapsed(), "answers stored");
            if done {
                return Ok(());
            }
            store_at = tokio::time::Instant::now() + ANSWERS_EVERY;
        }
    }

    /// The attempt's run, not stored: job and platform read once per batch.
    async fn prepare(
        &self,
        jobs: &mut HashMap<String, (Job, Platform)>,
        tr: &TaskRun,
        run_id: &str,
        params: &[(String, String)],
        attempted: i64,
    ) -> Result<Run> {
        let engine = self.engine();
        if !jobs.contains_key(&tr.task.job) {
            let job = engine.get_job(&tr.task.job).await?;
            let platform = engine.get_platform(&job.platform).await?;
            jobs.insert(tr.task.job.clone(), (job, platform));
        }
        let Some((job, platform)) = jobs.get(&tr.task.job) else {
            return Err(Error::Conflict(format!("job {} vanished", tr.task.job)));
        };
        let mut job = job.clone();
        job.apply_overrides(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        // An in-process run (Arazzo) is marked when it starts executing.
        let attempted = (!job.job_type.runs_in_process()).then_some(attempted);
        engine.prepare_run(run_id, &job, platform, attempted)
    }

    /// Every prepared run with its submit intent, in one transaction:
    /// written before any is sent.
    async fn store_prepared(&self, prepared: &[Run]) -> Result<Vec<Run>> {
        let mut tx = self.engine().inner.store.begin().await?;
        let stored = tx.insert_runs(prepared).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// What the sends answered, in one transaction; then published. A run
    /// changed meanwhile keeps its newer state (its answer is recovered
    /// by a re-send under the same token).
    async fn store_answers(
        &self,
        platforms: &HashMap<String, Platform>,
        answers: Vec<(Run, Result<polysync_providers::Submitted>)>,
    ) -> Result<()> {
        let engine = self.engine();
        let mut writes = Vec::with_capacity(answers.len());
        for (mut run, sent) in answers {
            if let Err(e) = &sent {
                tracing::warn!(run = %run.id, "submitting: {e}");
            }
            let Some(platform) = platforms.get(&run.platform) else {
                continue;
            };
            if crate::Engine::record_sent(&mut run, platform, &sent) {
                writes.push(run);
            }
        }
        if writes.is_empty() {
            return Ok(());
        }
        // One multi-row compare-and-set write for every answer.
        let mut tx = engine.inner.store.begin().await?;
        let changed: Vec<Run> = tx
            .update_runs(&writes)
            .await?
            .into_iter()
            .filter_map(|u| match u {
                Update::Applied(stored) => Some(stored),
                Update::Stale { .. } => None,
            })
            .collect();
        tx.commit().await?;
        for run in &changed {
            engine.inner.events.publish(run);
        }
        Ok(())
    }
}
