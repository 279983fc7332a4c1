//! Batched status tracking: every active run of a workspace followed with
//! a few listings per round instead of one `runs/get` loop per run.
//!
//! Per workspace and round:
//! - `runs/list?completed_only=true`, newest end first, paged only back to
//!   the watermark the previous round left: the cost grows with the runs
//!   that ended, not with the runs still active;
//! - `runs/list?active_only=true`, less often (every round while someone
//!   watches, else every
//!   [`ACTIVE_SWEEP`], [`ACTIVE_SWEEP_FEW`] when they fit one page): the state changes in between (PENDING → RUNNING);
//! - a full sweep every [`FULL_SWEEP`] (and at the first round, which has
//!   no watermark yet): what neither listing showed is read with `runs/get`;
//! - `runs/get-output` only for a run that ended Failed /
//!   Cancelled (its error message); a notebook's exit value is read lazily
//!   by [`Engine::exit_value`] when something asks for it;
//! - pipelines through their updates list (one per pipeline).
//!
//! Only runs whose state changed are written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use futures_util::stream::{self, StreamExt};
use polysync_core::{JobType, Run};
use polysync_providers::tracking::{self, Listed};
use polysync_providers::{self as providers, Connection, Polled};

use crate::troubleshoot::translate;
use crate::{Engine, RefreshFailure, Result};

/// How often the active runs are listed when they span several pages and
/// nobody watches: state changes between start and end are not urgent.
pub const ACTIVE_SWEEP: Duration = Duration::from_secs(30);
/// [`ACTIVE_SWEEP`] when the active runs fit one page.
pub const ACTIVE_SWEEP_FEW: Duration = Duration::from_secs(5);
/// How often everything is re-read as a safety net (a run whose end the
/// completed listing missed, e.g. a late commit behind the watermark).
pub const FULL_SWEEP: Duration = Duration::from_secs(120);
/// The tracking interval while someone watches a run.
pub const WATCHED_INTERVAL: Duration = Duration::from_secs(1);
/// Most active runs loaded per round.
const MAX_TRACKED: u32 = 1_000_000;

/// How long after its submit was attempted a run with no Databricks run
/// id stored is taken for lost and recovered by the tracker (the same
/// idempotency token re-sent). Until then its sender may still store the
/// answer: a dispatcher sends a claimed batch over a minute or more under
/// the rate limit and stores the answers together, and the client retries
/// one send for up to 5 minutes. A dispatcher also resumes its own task
/// runs' attempts (`Dispatcher::track_all`); this is for one-off runs
/// whose sender died.
const RECOVER_AFTER_MS: i64 = 5 * 60 * 1000;
/// Lost submits recovered per round (each a submit and a `runs/get`):
/// a crash that left many behind must not hold the round's listings up.
const RECOVER_PER_ROUND: usize = 25;
/// `runs/get` reads in flight at once when no listing showed a run (the
/// client's rate limit and the workspace budget still pace them).
const GET_CONCURRENCY: usize = 16;
/// Runs per `runs/list` page (the API's most).
const FIRST_ROUND_PAGE: usize = 25;
/// How far before a run's creation (Polysync's clock) its end may appear
/// in Databricks' (clock differences).
const CLOCK_MARGIN_MS: i64 = 60_000;
/// How often ends are looked for while an active sweep is read.
const ENDS_DURING_SWEEP: Duration = Duration::from_secs(2);
/// Changes the active sweep stores at a time (its first round over
/// 10,000 runs changes them all, PENDING → RUNNING).
const SWEEP_CHUNK: usize = 500;

/// How long an end of a run not known by its Databricks id is kept
/// ([`TrackerState`]'s `unmatched`): a sender stores the id of a run it
/// sent a while after Databricks started it (a dispatcher stores a batch's
/// answers a second at a time; a store slowed by load, or a re-send of a
/// lost answer, takes longer), and a run that ended meanwhile is then
/// behind the listing watermark. Kept for a full sweep's interval, after
/// which the full sweep finds it.
const UNMATCHED_KEPT: Duration = FULL_SWEEP;
/// Most such ends kept per platform.
const UNMATCHED_MAX: usize = 20_000;

/// One platform round's job runs: by Databricks run id, and which of them
/// a listing showed already (`seen`), ended (`ended`); ends listed of ids
/// the round does not have (`unknown`).
struct Round<'a> {
    runs: HashMap<&'a str, &'a Run>,
    ended: HashSet<&'a str>,
    seen: HashSet<String>,
    unknown: Vec<(String, Listed)>,
}

/// Per-workspace tracking position.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    watermark: Option<i64>,
    last_active: Option<Instant>,
    last_full: Option<Instant>,
}

/// The tracker's state in an engine: positions per workspace, watchers.
#[derive(Debug, Default)]
pub(crate) struct TrackerState {
    cursors: Mutex<HashMap<String, Cursor>>,
    watchers: Arc<AtomicUsize>,
    /// Per platform: ends a completed listing showed of Databricks run ids
    /// no active stored run had (yet), by id, with when they were seen.
    unmatched: Mutex<HashMap<String, Unmatched>>,
}

/// One platform's kept ends: Databricks run id → (what the listing showed,
/// when).
type Unmatched = HashMap<String, (Listed, Instant)>;

/// Keeps tracking fast while it lives (a CLI `--wait`, a server stream):
/// returned by [`Engine::watch_run`], dropped when the watcher goes.
#[derive(Debug)]
pub struct WatchGuard {
    watchers: Arc<AtomicUsize>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.watchers.fetch_sub(1, Ordering::SeqCst);
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn due(last: Option<Instant>, every: Duration) -> bool {
    last.is_none_or(|l| l.elapsed() >= every)
}

/// Whether `polled` changes what is stored of `run`.
fn changed(run: &Run, polled: &Polled) -> bool {
    let mut probe = run.clone();
    probe.apply_observation(&polled.observation, now_ms()) || polled.error.is_some()
}

impl Engine {
    /// Marks `run_id` as watched: while any guard lives, tracking runs at
    /// [`WATCHED_INTERVAL`] and lists active runs every round.
    pub fn watch_run(&self, run_id: &str) -> WatchGuard {
        tracing::debug!(run = %run_id, "watched");
        let watchers = self.inner.tracker.watchers.clone();
        watchers.fetch_add(1, Ordering::SeqCst);
        WatchGuard { watchers }
    }

    /// Whether anyone watches a run right now.
    pub fn watched(&self) -> bool {
        self.inner.tracker.watchers.load(Ordering::SeqCst) > 0
    }

    /// The interval a tracker should use: `configured`, or
    /// [`WATCHED_INTERVAL`] when shorter and someone watches.
    pub fn tracking_interval(&self, configured: Duration) -> Duration {
        if self.watched() {
            configured.min(WATCHED_INTERVAL)
        } else {
            configured
        }
    }

    /// One tracking round over every active run of the given platforms
    /// (all when `None`): task runs and one-off runs alike, so a run whose
    /// waiter was killed is still followed to its end. Returns the
    /// platforms that failed, with why; their runs stay as stored.
    pub async fn track_runs(
        &self,
        platforms: Option<&BTreeSet<String>>,
    ) -> Result<Vec<RefreshFailure>> {
        // Slim rows: tracking needs the state columns, not each run's
        // stored request (KBs per run); writes re-read the run.
        let runs = self
            .inner
            .store
            .active_runs_for_tracking(MAX_TRACKED)
            .await?;
        let mut by_platform: BTreeMap<String, Vec<Run>> = BTreeMap::new();
        for r in runs {
            if platforms.is_none_or(|p| p.contains(&r.platform)) {
                by_platform.entry(r.platform.clone()).or_default().push(r);
            }
        }
        let mut failures = Vec::new();
        for (platform, active) in by_platform {
            if let Err(e) = self.track_platform(&platform, &active).await {
                failures.push(RefreshFailure {
                    platform,
                    message: e.to_string(),
                });
            }
        }
        Ok(failures)
    }

    fn cursor(&self, platform: &str) -> Cursor {
        self.inner
            .tracker
            .cursors
            .lock()
            .map(|c| c.get(platform).copied().unwrap_or_default())
            .unwrap_or_default()
    }

    fn set_cursor(&self, platform: &str, cursor: Cursor) {
        if let Ok(mut c) = self.inner.tracker.cursors.lock() {
            c.insert(platform.to_owned(), cursor);
        }
    }

    async fn track_platform(&self, platform: &str, active: &[Run]) -> Result<()> {
        let (pipelines, job_runs): (Vec<&Run>, Vec<&Run>) = active
            .iter()
            .filter(|r| r.databricks_run_id.is_some())
            .partition(|r| r.job_type == JobType::DatabricksPipeline);
        let result = if pipelines.is_empty() && job_runs.is_empty() {
            Ok(())
        } else {
            self.track_sent(platform, &pipelines, &job_runs).await
        };
        // Never sent: nothing to ask Databricks. Attempted without an answer
        // stored: recovered one by one, after the listings (a few per round)
        // and only once no live sender can still store its answer (this
        // process's senders hold a claim while they send).
        let now = now_ms();
        let lost = active.iter().filter(|r| {
            r.databricks_run_id.is_none()
                && r.submit_attempted_at
                    .is_some_and(|at| now.saturating_sub(at) >= RECOVER_AFTER_MS)
                && !self.inner.sending.is_sending(&r.id)
        });
        for r in lost.take(RECOVER_PER_ROUND) {
            self.refresh_run(&r.id).await?;
        }
        result
    }

    async fn track_sent(
        &self,
        platform: &str,
        pipelines: &[&Run],
        job_runs: &[&Run],
    ) -> Result<()> {
        let conn = self.connect(platform).await?;
        // The round's changes, written a chunk at a time.
        let mut changes = Vec::new();
        if !pipelines.is_empty() {
            let seen = providers::observe_runs(&conn, pipelines)
                .await
                .map_err(|e| translate(e, &conn.platform, None))?;
            for r in pipelines {
                match r.databricks_run_id.as_ref().and_then(|id| seen.get(id)) {
                    Some(polled) => {
                        if changed(r, polled) {
                            changes.push((r.id.clone(), polled.clone()));
                        }
                    }
                    None => {
                        self.refresh_run(&r.id).await?;
                    }
                }
            }
        }
        let result = if job_runs.is_empty() {
            Ok(())
        } else {
            self.track_job_runs(&conn, job_runs, &mut changes).await
        };
        // What was seen before a failure is stored all the same.
        self.store_polled_batch(&changes).await?;
        result
    }

    async fn track_job_runs(
        &self,
        conn: &Connection,
        runs: &[&Run],
        changes: &mut Vec<(String, Polled)>,
    ) -> Result<()> {
        let platform = conn.platform.name.clone();
        let mut cursor = self.cursor(&platform);
        let full = cursor.watermark.is_none() || due(cursor.last_full, FULL_SWEEP);
        let every = if runs.len() <= 25 {
            ACTIVE_SWEEP_FEW
        } else {
            ACTIVE_SWEEP
        };
        let sweep = full || self.watched() || due(cursor.last_active, every);
        let err = |e| translate(e, &conn.platform, None);
        let mut round = Round {
            runs: runs
                .iter()
                .filter_map(|r| Some((r.databricks_run_id.as_deref()?, *r)))
                .collect(),
            ended: HashSet::new(),
            seen: HashSet::new(),
            unknown: Vec::new(),
        };
        // Ends listed before these runs' ids were stored: no request needed.
        let early = self.take_unmatched(&platform, &round.runs);
        self.take_ended(conn, &mut round, early, changes).await;
        // Ends first: the completed listing is a page or a few, and what it
        // shows is stored before the active sweep starts.
        let completed = match cursor.watermark {
            Some(w) => tracking::list_completed(conn, Some(w)).await,
            // The first round: back to the oldest run's creation (less a
            // clock margin), for as many pages as would show every run if
            // half the ended runs listed were these, instead of one page
            // and a budgeted `runs/get` for each run it did not show (a
            // thousand of them took the first round ten seconds).
            None => {
                let floor = runs.iter().map(|r| r.created_at).min().unwrap_or(0);
                let pages = runs.len().div_ceil(FIRST_ROUND_PAGE) * 2;
                tracking::list_completed_since(conn, floor - CLOCK_MARGIN_MS, pages).await
            }
        }
        .map_err(err)?;
        let mut watermark = completed.watermark.or(cursor.watermark);
        self.take_ended(conn, &mut round, completed.runs, changes)
            .await;
        if sweep {
            self.store_polled_batch(&std::mem::take(changes)).await?;
            // The sweep is hundreds of pages under the runs/list budget at
            // thousands of runs: ends are looked for between its pages, as
            // often as a round without a sweep would, and stored at once.
            let mut looked = Instant::now();
            let mut active = std::pin::pin!(tracking::active_runs(conn));
            while let Some((id, listed)) = active.try_next().await.map_err(err)? {
                if let Some(run) = round.runs.get(id.as_str()).copied()
                    && !round.ended.contains(id.as_str())
                {
                    round.seen.insert(id);
                    if let Some(polled) = self.listed_change(conn, run, &listed).await {
                        changes.push((run.id.clone(), polled));
                    }
                }
                if looked.elapsed() >= ENDS_DURING_SWEEP {
                    self.take_ended_since(conn, &mut round, &mut watermark, changes)
                        .await?;
                    self.store_polled_batch(&std::mem::take(changes)).await?;
                    looked = Instant::now();
                } else if changes.len() >= SWEEP_CHUNK {
                    self.store_polled_batch(&std::mem::take(changes)).await?;
                }
            }
            // Ended while the last pages were read: in neither listing yet.
            // One more completed page from the new watermark shows them,
            // instead of a runs/get each.
            if round.runs.keys().any(|id| !round.seen.contains(*id)) {
                self.take_ended_since(conn, &mut round, &mut watermark, changes)
                    .await?;
            }
            // No listing showed them: ended before the window (the first
            // round after a start or a pass of a thousand sends), or the
            // listings lag. Each read alone, several at once: one after
            // the other, a thousand of them held the round for seconds.
            // Owned ids: a stream of borrowed ones makes the round's future
            // not `Send`.
            let unseen: Vec<String> = round
                .runs
                .keys()
                .filter(|id| !round.seen.contains(**id))
                .map(|id| (*id).to_owned())
                .collect();
            let read: Vec<(String, providers::Result<Listed>)> = stream::iter(unseen)
                .map(|id| async move {
                    let got = tracking::get_run(conn, &id).await;
                    (id, got)
                })
                .buffer_unordered(GET_CONCURRENCY)
                .collect()
                .await;
            for (id, got) in read {
                let Some(&r) = round.runs.get(id.as_str()) else {
                    continue;
                };
                let listed = match got {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(run = %r.id, "tracking: {}", err(e));
                        continue;
                    }
                };
                if let Some(polled) = self.listed_change(conn, r, &listed).await {
                    changes.push((r.id.clone(), polled));
                }
            }
        }
        self.remember_unmatched(&platform, std::mem::take(&mut round.unknown));
        cursor.watermark = watermark;
        if sweep {
            cursor.last_active = Some(Instant::now());
        }
        if full {
            cursor.last_full = Some(Instant::now());
        }
        self.set_cursor(&platform, cursor);
        Ok(())
    }

    /// The ends a completed listing shows of the round's runs, each taken
    /// once: an end wins over what the active sweep saw of the same run
    /// earlier (it was active then), so a run that ended during the sweep
    /// is not lost behind a watermark that moved past it.
    /// An end of an id the round does not have is kept for a later round
    /// (see [`UNMATCHED_KEPT`]).
    async fn take_ended(
        &self,
        conn: &Connection,
        round: &mut Round<'_>,
        listing: HashMap<String, Listed>,
        changes: &mut Vec<(String, Polled)>,
    ) {
        for (id, listed) in listing {
            let Some((&key, &run)) = round.runs.get_key_value(id.as_str()) else {
                round.unknown.push((id, listed));
                continue;
            };
            if !round.ended.insert(key) {
                continue;
            }
            if let Some(polled) = self.listed_change(conn, run, &listed).await {
                changes.push((run.id.clone(), polled));
            }
            round.seen.insert(id);
        }
    }

    /// [`Engine::take_ended`] of the ends listed since `watermark`, which
    /// moves on to the newest end listed.
    async fn take_ended_since(
        &self,
        conn: &Connection,
        round: &mut Round<'_>,
        watermark: &mut Option<i64>,
        changes: &mut Vec<(String, Polled)>,
    ) -> Result<()> {
        let late = tracking::list_completed(conn, *watermark)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        *watermark = late.watermark.or(*watermark);
        self.take_ended(conn, round, late.runs, changes).await;
        Ok(())
    }

    /// The kept ends of `runs` (taken out), after dropping expired ones.
    fn take_unmatched(
        &self,
        platform: &str,
        runs: &HashMap<&str, &Run>,
    ) -> HashMap<String, Listed> {
        let Ok(mut all) = self.inner.tracker.unmatched.lock() else {
            return HashMap::new();
        };
        let Some(kept) = all.get_mut(platform) else {
            return HashMap::new();
        };
        kept.retain(|_, (_, at)| at.elapsed() < UNMATCHED_KEPT);
        let ids: Vec<String> = kept
            .keys()
            .filter(|id| runs.contains_key(id.as_str()))
            .cloned()
            .collect();
        ids.into_iter()
            .filter_map(|id| kept.remove(&id).map(|(l, _)| (id, l)))
            .collect()
    }

    fn remember_unmatched(&self, platform: &str, ends: Vec<(String, Listed)>) {
        if ends.is_empty() {
            return;
        }
        let Ok(mut all) = self.inner.tracker.unmatched.lock() else {
            return;
        };
        let kept = all.entry(platform.to_owned()).or_default();
        let now = Instant::now();
        for (id, listed) in ends {
            if kept.len() >= UNMATCHED_MAX {
                break;
            }
            kept.insert(id, (listed, now));
        }
    }

    /// What a listing showed of `run`, when it differs from the stored
    /// state; an ended failure gets its message (one detail read).
    async fn listed_change(&self, conn: &Connection, run: &Run, listed: &Listed) -> Option<Polled> {
        let mut probe = run.clone();
        if !probe.apply_observation(&listed.observation, now_ms()) {
            return None;
        }
        let error = if tracking::needs_detail(listed) {
            tracking::failure_detail(conn, listed).await
        } else {
            None
        };
        Some(Polled {
            observation: listed.observation.clone(),
            exit_value: None,
            error,
        })
    }

    /// A notebook run's `dbutils.notebook.exit()` value, read from
    /// Databricks the first time something asks (tracking does not read it
    /// at each end) and stored. `None` for a run still active, a pipeline,
    /// or a run that returned nothing.
    pub async fn exit_value(&self, run_ref: &str) -> Result<Option<String>> {
        let run_id = self.resolve_run_id(run_ref).await?;
        let run = self.inner.store.get_run(&run_id).await?;
        if run.notebook_exit_value.is_some()
            || !run.status.is_terminal()
            || run.databricks_run_id.is_none()
            || run.job_type == JobType::DatabricksPipeline
        {
            return Ok(run.notebook_exit_value);
        }
        let conn = self.connect(&run.platform).await?;
        let polled = providers::provider_for(run.job_type)
            .poll(&conn, &run)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        let Some(value) = polled.exit_value else {
            return Ok(None);
        };
        let stored = self
            .modify_run(&run_id, |r| {
                if r.notebook_exit_value.is_some() {
                    return false;
                }
                r.notebook_exit_value = Some(value.clone());
                true
            })
            .await?;
        Ok(stored.notebook_exit_value)
    }
}
