//! The concurrency queue: `max_concurrent_runs` decides whether a new run of a job starts,
//! waits in the queue or is skipped, and a cancel releases the runs waiting behind it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::lifecycle::{Cut, TaskRun, plan};
use crate::state::{AppState, Job, Run, read_lock};

/// `settings.max_concurrent_runs` (default 1, as on Databricks).
pub(super) fn max_concurrent_runs(settings: &Value) -> usize {
    settings
        .get("max_concurrent_runs")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0) as usize
}

/// Admits a new run of `job` at `now`: `(Some(start), false)` when it queues until a slot
/// frees up, `(None, true)` when the limit is reached and queueing is off, `(None, false)`
/// when it starts now. `queue` is the request's override of the job's queue setting.
pub(super) fn admit(
    s: &AppState,
    runs: &BTreeMap<i64, Run>,
    job: &Job,
    queue: Option<bool>,
    now: i64,
) -> (Option<i64>, bool) {
    let max = max_concurrent_runs(&job.settings);
    let queue = queue.unwrap_or_else(|| {
        job.settings
            .get("queue")
            .and_then(|q| q.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(job.queue_default)
    });
    let ids = read_lock(&s.job_runs)
        .get(&job.job_id)
        .cloned()
        .unwrap_or_default();
    let intervals: Vec<(i64, i64)> = ids
        .iter()
        .filter_map(|id| runs.get(id))
        .filter(|run| !run.skipped && run.end() > now)
        .map(|run| (run.base(), run.end()))
        .collect();
    let active_at = |t: i64| intervals.iter().filter(|(a, b)| *a <= t && t < *b).count();
    if active_at(now) < max {
        return (None, false);
    }
    if !(queue && max > 0) {
        return (None, true);
    }
    let mut candidates: Vec<i64> = intervals
        .iter()
        .map(|(_, e)| *e)
        .filter(|e| *e > now)
        .collect();
    candidates.sort_unstable();
    let start = candidates
        .into_iter()
        .find(|t| active_at(*t) < max)
        .unwrap_or(now);
    (Some(start), false)
}

/// The message of a run skipped because its job's limit was reached.
pub(super) fn skip_message(job: Option<&Job>) -> String {
    let max = job
        .and_then(|j| j.settings.get("max_concurrent_runs"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    format!(
        "Skipping this run because the limit of {max} maximum concurrent runs has been reached."
    )
}

/// Plans a run's tasks from `base` and applies the run-level timeout; returns the timeout cut
/// when it ends the run. Shared by submission and by re-planning a queued run, so both agree.
pub(super) fn plan_with_timeout(
    tasks: &mut [TaskRun],
    base: i64,
    term: u64,
    timeout_ms: u64,
) -> Option<Cut> {
    plan(tasks, base, term, None);
    if timeout_ms == 0 {
        return None;
    }
    let limit = base + timeout_ms as i64;
    let end = tasks.iter().map(|t| t.plan.end).max().unwrap_or(base);
    if end > limit {
        plan(tasks, base, term, Some(Cut::Timeout(limit)));
    }
    tasks
        .iter()
        .any(|t| t.plan.fin.result == Some("TIMEDOUT") && t.plan.end > limit - 1)
        .then_some(Cut::Timeout(limit))
}

/// Databricks starts a queued run as soon as a slot of its job frees up. Queued runs are
/// planned, when submitted, to start when the runs ahead of them were due to end; after one of
/// those ends early (a cancel), the runs still waiting are re-planned in queue order to the
/// earliest time a slot is free.
pub(super) fn release_queue(
    s: &AppState,
    runs: &mut std::collections::BTreeMap<i64, Run>,
    job_id: i64,
    max: usize,
    now: i64,
) {
    let term = s.config.durations.terminating_ms;
    let ids = read_lock(&s.job_runs)
        .get(&job_id)
        .cloned()
        .unwrap_or_default();
    for &id in &ids {
        let Some(waiting) = runs.get(&id) else {
            continue;
        };
        let Some(planned) = waiting.queued_until else {
            continue;
        };
        if planned <= now || waiting.cut.is_some() || waiting.skipped {
            continue;
        }
        let others: Vec<(i64, i64)> = ids
            .iter()
            .filter(|&&o| o != id)
            .filter_map(|o| runs.get(o))
            .filter(|o| !o.skipped && o.end() > now)
            .map(|o| (o.base(), o.end()))
            .collect();
        let active_at = |t: i64| others.iter().filter(|(a, b)| *a <= t && t < *b).count();
        let mut candidates: Vec<i64> = others
            .iter()
            .map(|(_, e)| *e)
            .filter(|e| *e > now)
            .collect();
        candidates.push(now);
        candidates.sort_unstable();
        let Some(start) = candidates.into_iter().find(|t| active_at(*t) < max) else {
            continue;
        };
        if start >= planned {
            continue;
        }
        let Some(run) = runs.get_mut(&id) else {
            continue;
        };
        let old: Vec<(i64, i64)> = run
            .tasks
            .iter()
            .map(|t| (t.plan.start, t.plan.end))
            .collect();
        run.queued_until = Some(start);
        run.cut = plan_with_timeout(&mut run.tasks, start, term, run.timeout_ms);
        let key = crate::state::job_key(run.run_type, run.job_id, &run.run_name);
        for (t, (a, b)) in run.tasks.iter().zip(old) {
            s.count_task_run(&key, a, b, -1);
            s.count_task_run(&key, t.plan.start, t.plan.end, 1);
        }
    }
}
