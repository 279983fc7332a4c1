//! Cancelling a run: cut its plan at the cancel time and let the runs queued behind it start.

use super::queue::{max_concurrent_runs, release_queue};
use crate::lifecycle::{Cut, plan};
use crate::state::{AppState, read_lock, write_lock};

/// Cancel a run at `now` (no-op when already terminal).
pub(super) fn cancel_run(s: &AppState, run_id: i64, now: i64) {
    let term = s.config.durations.terminating_ms;
    // The job's limit is read before the runs lock is taken (submission takes them in the same
    // order), for releasing the runs queued behind this one.
    let job_id = read_lock(&s.runs).get(&run_id).map(|run| run.job_id);
    let limit = job_id.and_then(|j| {
        read_lock(&s.jobs)
            .get(&j)
            .map(|job| max_concurrent_runs(&job.settings))
    });
    let mut runs = write_lock(&s.runs);
    let Some(run) = runs.get_mut(&run_id) else {
        return;
    };
    if now >= run.end() || run.skipped {
        return;
    }
    let old: Vec<(i64, i64)> = run
        .tasks
        .iter()
        .map(|t| (t.plan.start, t.plan.end))
        .collect();
    if let Some(q) = run.queued_until.as_mut() {
        *q = (*q).min(now);
    }
    let cut = match run.cut {
        Some(Cut::Timeout(t)) if t <= now => return,
        _ => Cut::Cancel(now),
    };
    run.cut = Some(cut);
    let base = run.base();
    plan(&mut run.tasks, base, term, Some(cut));
    let key = crate::state::job_key(run.run_type, run.job_id, &run.run_name);
    for (t, (a, b)) in run.tasks.iter().zip(old) {
        s.count_task_run(&key, a, b, -1);
        s.count_task_run(&key, t.plan.start, t.plan.end, 1);
    }
    if let (Some(job_id), Some(max)) = (job_id, limit) {
        release_queue(s, &mut runs, job_id, max, now);
    }
}
