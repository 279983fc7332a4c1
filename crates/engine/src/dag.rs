//! DAG run use cases: start one (a task and everything downstream of it),
//! list, show, cancel. The dispatcher (`dispatcher.rs`) moves them along.

use std::collections::{BTreeMap, BTreeSet};

use polysync_core::Task;
use polysync_core::dag::{
    Attempt, DagRun, DagRunStatus, Readiness, TaskRun, TaskRunStatus, readiness,
};
use serde::Serialize;

use crate::{Engine, Error, Result};

/// Databricks' limit of concurrently running task runs per workspace: the
/// implicit capacity of a platform unless the tasks file sets
/// `platform:NAME`.
pub const DEFAULT_PLATFORM_CAPACITY: u32 = 2_000;

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// One attempt as the DAG run JSON shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptView {
    /// 1 for the first.
    pub attempt: u32,
    /// Running, Success, Failed, TimedOut or Cancelled.
    pub status: TaskRunStatus,
    /// The Databricks run id, once submitted.
    pub databricks_run_id: Option<String>,
    /// Where to watch it in Databricks.
    pub monitor_url: Option<String>,
    /// When it started, epoch ms.
    pub started_at: i64,
    /// When it ended, epoch ms.
    pub ended_at: Option<i64>,
    /// Why it ended as it did.
    pub message: Option<String>,
}

/// One task of a DAG run, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRunView {
    /// The task's name.
    pub task: String,
    /// Where it is.
    pub status: TaskRunStatus,
    /// Every attempt, first first.
    pub attempts: Vec<AttemptView>,
    /// What happened last (skipped because…, retrying in…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A DAG run as `dag-runs show --json` prints it: `{id, status,
/// started_at, ended_at, tasks: [{task, status, attempts: [...]}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DagRunView {
    /// Its id.
    pub id: String,
    /// Where it is.
    pub status: DagRunStatus,
    /// The task it started from.
    pub root_task: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// The time it stands for, epoch ms.
    pub logical_date: i64,
    /// When it started, epoch ms.
    pub started_at: i64,
    /// When it ended, epoch ms.
    pub ended_at: Option<i64>,
    /// Its task runs, in order.
    pub tasks: Vec<TaskRunView>,
}

/// One DAG run to start in a batch ([`Engine::start_dag_runs`]): what
/// [`Engine::start_dag_run`] takes, as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagRunRequest {
    /// The task it starts from (it and everything downstream of it run).
    pub task: String,
    /// Extra values for the root task (checked like `polysync run -p`).
    pub params: Vec<(String, String)>,
    /// `manual`, `schedule`, `api`, ...
    pub trigger: String,
    /// The time it stands for, epoch ms; now when `None`.
    pub logical_date: Option<i64>,
}

impl DagRunRequest {
    /// A manual start of `task` with no extra values.
    pub fn manual(task: &str) -> Self {
        Self {
            task: task.to_owned(),
            params: Vec::new(),
            trigger: "manual".to_owned(),
            logical_date: None,
        }
    }
}

/// A task run as every DAG run of the same root starts it: computed once
/// per root and batch (task list, jobs, limits read once), stamped per DAG
/// run.
struct Member {
    task: Task,
    is_root: bool,
    limit_keys: Vec<(String, u32)>,
    platform_slots: u32,
    status: TaskRunStatus,
}

impl Engine {
    /// Starts a DAG run of `task` and everything downstream of it. `params`
    /// are extra values for the root task (checked like `polysync run -p`).
    /// Nothing runs here: the dispatcher picks the queued task runs up.
    pub async fn start_dag_run(
        &self,
        task: &str,
        params: &[(String, String)],
        trigger: &str,
        logical_date: Option<i64>,
    ) -> Result<DagRun> {
        let request = DagRunRequest {
            task: task.to_owned(),
            params: params.to_vec(),
            trigger: trigger.to_owned(),
            logical_date,
        };
        self.start_dag_runs(std::slice::from_ref(&request))
            .await?
            .pop()
            .ok_or_else(|| Error::Conflict(format!("the DAG run of {task} was not started")))
    }

    /// Starts many DAG runs at once (schedules firing together, a caller
    /// enqueueing thousands): every request is checked first, then all
    /// DAG runs and their task runs are written in ONE store transaction
    /// (all or nothing), so starting N costs one commit instead of N. The
    /// task list, jobs and limits are read once per batch, not per DAG run.
    pub async fn start_dag_runs(&self, requests: &[DagRunRequest]) -> Result<Vec<DagRun>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let all: Vec<Task> = self
            .list_tasks()
            .await?
            .into_iter()
            .map(|t| t.task)
            .collect();
        let limits = self.task_limits().await?;
        let mut plans: BTreeMap<String, Vec<Member>> = BTreeMap::new();
        let mut checked: BTreeSet<Vec<(String, String)>> = BTreeSet::new();
        for r in requests {
            if !plans.contains_key(&r.task) {
                let members = self.plan_members(&all, &r.task, &limits).await?;
                plans.insert(r.task.clone(), members);
            }
            // The root's extra values must be parameters its job takes.
            if !r.params.is_empty() && checked.insert(r.params.clone()) {
                let root = self.get_task(&r.task).await?;
                let mut job = self.get_job(&root.task.job).await?;
                job.apply_overrides(r.params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
            }
        }
        let now = now_ms();
        // FIFO across the batch: one sequence, in request order.
        let mut seq = now.saturating_mul(1_000);
        let mut rows = Vec::with_capacity(requests.len());
        for r in requests {
            let dag = DagRun {
                id: polysync_core::run::new_run_id(),
                root_task: r.task.clone(),
                trigger: r.trigger.clone(),
                logical_date: r.logical_date.unwrap_or(now),
                status: DagRunStatus::Running,
                created_at: now,
                ended_at: None,
                version: 1,
            };
            let members = plans.get(&r.task).map(Vec::as_slice).unwrap_or_default();
            let task_runs = members
                .iter()
                .map(|m| {
                    seq = seq.saturating_add(1);
                    TaskRun {
                        params: if m.is_root {
                            r.params.iter().cloned().collect()
                        } else {
                            BTreeMap::new()
                        },
                        limit_keys: m.limit_keys.clone(),
                        platform_slots: m.platform_slots,
                        ..TaskRun::new(
                            polysync_core::run::new_run_id(),
                            dag.id.clone(),
                            m.task.clone(),
                            m.status,
                            seq,
                            now,
                        )
                    }
                })
                .collect::<Vec<_>>();
            rows.push((dag, task_runs));
        }
        self.inner.store.insert_dag_runs(&rows).await?;
        let mut started = Vec::with_capacity(rows.len());
        for (dag, task_runs) in rows {
            self.inner.events.publish_dag_run(&dag);
            for tr in &task_runs {
                self.inner.events.publish_task_run(tr);
            }
            started.push(dag);
        }
        Ok(started)
    }

    /// The task runs a DAG run of `root` holds, in task order: each with
    /// its limit keys (its own, its platform's, its job's when set), its
    /// platform slots and whether it is ready at once.
    async fn plan_members(
        &self,
        all: &[Task],
        root: &str,
        limits: &BTreeMap<String, u32>,
    ) -> Result<Vec<Member>> {
        // Unknown task: the same NotFound as one start.
        self.get_task(root).await?;
        let members = polysync_core::task::downstream_of(all, root);
        let empty: BTreeMap<String, TaskRunStatus> = BTreeMap::new();
        let mut out = Vec::new();
        for t in all.iter().filter(|t| members.contains(&t.name)) {
            let job = self.get_job(&t.job).await?;
            let mut keys: Vec<(String, u32)> = t
                .limits
                .iter()
                .map(|l| (l.clone(), limits.get(l).copied().unwrap_or(u32::MAX)))
                .collect();
            let platform_key = format!("platform:{}", job.platform);
            let cap = limits
                .get(&platform_key)
                .copied()
                .unwrap_or(DEFAULT_PLATFORM_CAPACITY);
            keys.push((platform_key, cap));
            let job_key = format!("job:{}", job.name);
            if let Some(cap) = limits.get(&job_key) {
                keys.push((job_key, *cap));
            }
            // Dependencies on tasks outside this DAG run count as met.
            let inside = t.after.iter().any(|d| members.contains(&d.task));
            let status = if !inside && readiness(&t.after, &empty) == Readiness::Ready {
                TaskRunStatus::Queued
            } else {
                TaskRunStatus::Waiting
            };
            out.push(Member {
                task: t.clone(),
                is_root: t.name == root,
                limit_keys: keys,
                platform_slots: job.task_count.max(1),
                status,
            });
        }
        Ok(out)
    }

    /// DAG runs, newest first.
    pub async fn list_dag_runs(&self, limit: u32) -> Result<Vec<DagRun>> {
        Ok(self.inner.store.list_dag_runs(limit).await?)
    }

    /// One DAG run with every task run and attempt (Databricks run ids and
    /// monitor URLs from the runs they started).
    pub async fn get_dag_run(&self, id: &str) -> Result<DagRunView> {
        let dag = self
            .inner
            .store
            .find_dag_run(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "DAG run",
                key: id.to_owned(),
            })?;
        let mut tasks = Vec::new();
        for tr in self.inner.store.task_runs_of(id).await? {
            let mut attempts = Vec::new();
            for a in self.inner.store.attempts_of(&tr.id).await? {
                attempts.push(self.attempt_view(a).await?);
            }
            tasks.push(TaskRunView {
                task: tr.task.name.clone(),
                status: tr.status,
                attempts,
                message: tr.message.clone(),
            });
        }
        Ok(DagRunView {
            id: dag.id,
            status: dag.status,
            root_task: dag.root_task,
            trigger: dag.trigger,
            logical_date: dag.logical_date,
            started_at: dag.created_at,
            ended_at: dag.ended_at,
            tasks,
        })
    }

    async fn attempt_view(&self, a: Attempt) -> Result<AttemptView> {
        let run = self.inner.store.find_run(&a.run_id).await?;
        Ok(AttemptView {
            attempt: a.attempt,
            status: a.status,
            databricks_run_id: run.as_ref().and_then(|r| r.databricks_run_id.clone()),
            monitor_url: run.as_ref().and_then(|r| r.monitor_url.clone()),
            started_at: a.started_at,
            ended_at: a.ended_at,
            message: a.message,
        })
    }

    /// Cancels a DAG run: task runs not started end Cancelled at once;
    /// running ones have their Databricks run cancelled and end Cancelled
    /// when it stops (the dispatcher tracks them); none is retried.
    pub async fn cancel_dag_run(&self, id: &str) -> Result<DagRunView> {
        let view = self.get_dag_run(id).await?;
        if view.status.is_terminal() {
            return Ok(view);
        }
        let now = now_ms();
        let mut to_cancel = BTreeSet::new();
        for tr in self.inner.store.task_runs_of(id).await? {
            if tr.status.is_terminal() {
                continue;
            }
            let mut tr = tr;
            for _ in 0..8 {
                let mut next = tr.clone();
                next.cancel_requested = true;
                if next.status != TaskRunStatus::Running {
                    next.status = TaskRunStatus::Cancelled;
                    next.ended_at = Some(now);
                    next.message = Some("cancelled before it started".into());
                } else if let Some(run) = &next.run_id {
                    to_cancel.insert(run.clone());
                }
                match self.finish_task_run_write(&next, now).await? {
                    polysync_store::Update::Applied(_) => break,
                    polysync_store::Update::Stale { current } => {
                        if current.status.is_terminal() {
                            break;
                        }
                        tr = current;
                    }
                }
            }
        }
        for run in to_cancel {
            if let Err(e) = self.cancel_run(&run).await {
                tracing::warn!(run = %run, "cancelling the run of a cancelled DAG run: {e}");
            }
        }
        self.finish_dag_runs().await?;
        self.get_dag_run(id).await
    }

    /// Writes a task run; a terminal status also frees its limit slots, in
    /// the same transaction.
    pub(crate) async fn finish_task_run_write(
        &self,
        tr: &TaskRun,
        now: i64,
    ) -> Result<polysync_store::Update<TaskRun>> {
        let mut tx = self.inner.store.begin().await?;
        let out = tx.update_task_run(tr, now).await?;
        if out.is_applied() && (tr.status.is_terminal() || tr.status == TaskRunStatus::Retrying) {
            tx.release_slots(&tr.id).await?;
        }
        tx.commit().await?;
        if let polysync_store::Update::Applied(stored) = &out {
            self.inner.events.publish_task_run(stored);
        }
        Ok(out)
    }

    /// Ends every Running DAG run whose task runs have all ended, in one
    /// transaction (found with one query, not one per running DAG run).
    pub(crate) async fn finish_dag_runs(&self) -> Result<Vec<DagRun>> {
        let done = self.inner.store.ended_dag_runs().await?;
        self.end_dag_runs(done).await
    }

    /// [`Engine::finish_dag_runs`] among the DAG runs `ids` only.
    pub(crate) async fn finish_dag_runs_among(&self, ids: &[String]) -> Result<Vec<DagRun>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let done = self.inner.store.ended_dag_runs_among(ids).await?;
        self.end_dag_runs(done).await
    }

    /// Ends the DAG runs `done` (each with its task runs' statuses) in one
    /// transaction, then publishes them.
    async fn end_dag_runs(
        &self,
        done: Vec<(DagRun, Vec<polysync_core::dag::TaskRunStatus>)>,
    ) -> Result<Vec<DagRun>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let at = now_ms();
        let done: Vec<(DagRun, DagRunStatus)> = done
            .into_iter()
            .map(|(dag, statuses)| (dag, DagRunStatus::of_ended(statuses)))
            .collect();
        let ends: Vec<(String, DagRunStatus)> =
            done.iter().map(|(d, s)| (d.id.clone(), *s)).collect();
        let mut tx = self.inner.store.begin().await?;
        let written: BTreeSet<String> = tx.end_dag_runs(&ends, at).await?.into_iter().collect();
        tx.commit().await?;
        let ended: Vec<DagRun> = done
            .into_iter()
            .filter(|(dag, _)| written.contains(&dag.id))
            .map(|(dag, status)| DagRun {
                status,
                ended_at: Some(at),
                version: dag.version + 1,
                ..dag
            })
            .collect();
        for dag in &ended {
            self.inner.events.publish_dag_run(dag);
        }
        Ok(ended)
    }
}
