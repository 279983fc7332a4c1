//! Bounded run history: Databricks keeps 60 days of runs; the emulator keeps the most recent
//! `EmulatorConfig::max_finished_runs`, forgetting the oldest finished run first, so a long
//! benchmark (hundreds of thousands of submits) does not grow its memory without bound.

use crate::state::{AppState, Run, lock, write_lock};

/// Forgets the oldest finished runs while more than the configured number are kept. Active
/// runs are never forgotten. Runs are keyed by increasing id, so the oldest come first and the
/// scan usually stops at once.
pub fn evict_finished(s: &AppState, now_ms: i64) {
    let max = s.config.max_finished_runs;
    let evicted: Vec<Run> = {
        let mut runs = write_lock(&s.runs);
        if runs.len() <= max {
            return;
        }
        let excess = runs.len() - max;
        let ids: Vec<i64> = runs
            .values()
            .filter(|r| r.end() <= now_ms)
            .take(excess)
            .map(|r| r.run_id)
            .collect();
        ids.iter().filter_map(|id| runs.remove(id)).collect()
    };
    if evicted.is_empty() {
        return;
    }
    {
        let mut idx = write_lock(&s.task_index);
        for t in evicted.iter().flat_map(|r| &r.tasks) {
            idx.remove(&t.run_id);
        }
    }
    {
        let mut by_job = write_lock(&s.job_runs);
        for r in &evicted {
            if let Some(list) = by_job.get_mut(&r.job_id) {
                list.retain(|id| *id != r.run_id);
                if list.is_empty() {
                    by_job.remove(&r.job_id);
                }
            }
        }
    }
    let mut tokens = lock(&s.idempotency);
    for key in evicted.iter().filter_map(|r| r.idempotency_key.as_ref()) {
        tokens.remove(key);
    }
}
