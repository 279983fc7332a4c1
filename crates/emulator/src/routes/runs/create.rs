//! Creating a run: resolve and plan its tasks, admit it against its job's concurrency limit,
//! and record it (idempotently when the caller gave a token).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde_json::Value;

use super::queue::{admit, plan_with_timeout, skip_message};
use super::resolve::{resolve, str_map};
use crate::error::{ApiError, ApiResult};
use crate::lifecycle::{TaskRun, skipped_plan};
use crate::routes::jobs::deps_of;
use crate::state::{Job, Run, Shared, lock, write_lock};

pub(super) struct NewRun<'a> {
    pub(super) job: Option<&'a Job>,
    pub(super) run_type: &'static str,
    pub(super) run_name: String,
    pub(super) tasks: Vec<Value>,
    pub(super) timeout_s: u64,
    pub(super) params: HashMap<String, String>,
    pub(super) job_parameters: Vec<Value>,
    pub(super) overriding: Value,
    pub(super) job_clusters: Value,
    pub(super) git: bool,
    pub(super) queue: Option<bool>,
}

pub(super) fn create_run(s: &Shared, nr: NewRun<'_>, token: Option<String>) -> ApiResult<i64> {
    let idem_key = token.map(|t| format!("{}:{t}", nr.run_type));
    let mut idem = idem_key.as_ref().map(|_| lock(&s.idempotency));
    if let (Some(map), Some(k)) = (idem.as_ref(), idem_key.as_ref())
        && let Some(&existing) = map.get(k)
    {
        return Ok(existing);
    }
    let faults = s.faults();
    let now = s.clock.now_ms();
    if let Some(limit) = faults.max_concurrent_task_runs {
        let (active, _) = lock(&s.concurrency).at(now);
        if active as u64 + nr.tasks.len() as u64 > limit {
            return Err(ApiError::rate_limited(
                format!(
                    "The workspace has reached its limit of {limit} concurrently running tasks. Please retry later."
                ),
                1,
            ));
        }
    }
    let mut task_runs = Vec::with_capacity(nr.tasks.len());
    for t in &nr.tasks {
        let mut params = str_map(
            t.get("notebook_task")
                .and_then(|n| n.get("base_parameters")),
        );
        params.extend(nr.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        let (behaviour, is_notebook) = resolve(s, t, &params, nr.git);
        task_runs.push(TaskRun {
            key: t
                .get("task_key")
                .and_then(Value::as_str)
                .unwrap_or("Untitled")
                .to_owned(),
            run_id: s.next_run_id.fetch_add(1, Ordering::Relaxed),
            depends_on: deps_of(t),
            run_if: t
                .get("run_if")
                .and_then(Value::as_str)
                .unwrap_or("ALL_SUCCESS")
                .to_owned(),
            timeout_ms: t
                .get("timeout_seconds")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                * 1000,
            spec: t.clone(),
            is_notebook,
            behaviour,
            plan: skipped_plan(now, ""),
        });
    }
    let run_id = s.next_run_id.fetch_add(1, Ordering::Relaxed);
    let job_id = match nr.job {
        Some(j) => j.job_id,
        None => s.next_job_id.fetch_add(1, Ordering::Relaxed),
    };
    let term = s.config.durations.terminating_ms;
    let mut runs = write_lock(&s.runs);
    let (queued_until, skipped) = match nr.job {
        Some(job) => admit(s, &runs, job, nr.queue, now),
        None => (None, false),
    };
    let cut = if skipped {
        let msg = skip_message(nr.job);
        for t in &mut task_runs {
            t.plan = skipped_plan(now, &msg);
        }
        None
    } else {
        plan_with_timeout(
            &mut task_runs,
            queued_until.unwrap_or(now),
            term,
            nr.timeout_s * 1000,
        )
    };
    let key = crate::state::job_key(nr.run_type, job_id, &nr.run_name);
    for t in &task_runs {
        s.count_task_run(&key, t.plan.start, t.plan.end, 1);
    }
    lock(&s.concurrency).compact(now);
    {
        let mut idx = write_lock(&s.task_index);
        for (i, t) in task_runs.iter().enumerate() {
            idx.insert(t.run_id, (run_id, i));
        }
    }
    if nr.job.is_some() {
        write_lock(&s.job_runs)
            .entry(job_id)
            .or_default()
            .push(run_id);
    }
    runs.insert(
        run_id,
        Run {
            run_id,
            job_id,
            run_type: nr.run_type,
            run_name: nr.run_name,
            created: now,
            queued_until,
            cut,
            timeout_ms: nr.timeout_s * 1000,
            tasks: task_runs,
            job_parameters: nr.job_parameters,
            overriding_parameters: nr.overriding,
            job_clusters: nr.job_clusters,
            skipped,
            trigger: "ONE_TIME",
            idempotency_key: idem_key.clone(),
        },
    );
    drop(runs);
    s.runs_created.fetch_add(1, Ordering::Relaxed);
    if let (Some(map), Some(k)) = (idem.as_mut(), idem_key) {
        map.insert(k, run_id);
    }
    drop(idem);
    crate::history::evict_finished(s, now);
    Ok(run_id)
}
