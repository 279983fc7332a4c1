//! DAG runs and task runs: what the dispatcher tracks for a run of a task
//! and everything downstream of it, and the pure rules it applies (when a
//! dependency is met, when a task can no longer run, how a DAG run ends).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::task::{Condition, Dependency, Task};

/// Where a task run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskRunStatus {
    /// Upstream tasks have not ended yet.
    Waiting,
    /// Ready, waiting for a dispatcher and a free slot of its limits.
    Queued,
    /// An attempt is running in Databricks.
    Running,
    /// An attempt failed; the next one starts after the backoff.
    Retrying,
    /// Ended Success.
    Success,
    /// Ended Failed, retries exhausted.
    Failed,
    /// The last attempt exceeded the task's timeout, retries exhausted.
    TimedOut,
    /// Cancelled (by the user, or in Databricks); never retried.
    Cancelled,
    /// Its dependency conditions can no longer be met; never ran.
    Skipped,
}

impl TaskRunStatus {
    /// Every status, in the order of a run's life.
    pub const ALL: [TaskRunStatus; 9] = [
        TaskRunStatus::Waiting,
        TaskRunStatus::Queued,
        TaskRunStatus::Running,
        TaskRunStatus::Retrying,
        TaskRunStatus::Success,
        TaskRunStatus::Failed,
        TaskRunStatus::TimedOut,
        TaskRunStatus::Cancelled,
        TaskRunStatus::Skipped,
    ];

    /// The stored and displayed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskRunStatus::Waiting => "Waiting",
            TaskRunStatus::Queued => "Queued",
            TaskRunStatus::Running => "Running",
            TaskRunStatus::Retrying => "Retrying",
            TaskRunStatus::Success => "Success",
            TaskRunStatus::Failed => "Failed",
            TaskRunStatus::TimedOut => "TimedOut",
            TaskRunStatus::Cancelled => "Cancelled",
            TaskRunStatus::Skipped => "Skipped",
        }
    }

    /// Whether the task run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskRunStatus::Success
                | TaskRunStatus::Failed
                | TaskRunStatus::TimedOut
                | TaskRunStatus::Cancelled
                | TaskRunStatus::Skipped
        )
    }
}

impl fmt::Display for TaskRunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskRunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        TaskRunStatus::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown task run status {s:?}"))
    }
}

/// Where a DAG run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DagRunStatus {
    /// Some task runs have not ended.
    Running,
    /// Every task run is Success or Skipped by condition.
    Success,
    /// A task run Failed or TimedOut.
    Failed,
    /// Cancelled by the user (or a task run was cancelled).
    Cancelled,
}

impl DagRunStatus {
    /// The stored and displayed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DagRunStatus::Running => "Running",
            DagRunStatus::Success => "Success",
            DagRunStatus::Failed => "Failed",
            DagRunStatus::Cancelled => "Cancelled",
        }
    }

    /// Whether the DAG run has ended.
    pub fn is_terminal(self) -> bool {
        self != DagRunStatus::Running
    }

    /// How a DAG run ends once every task run has: Cancelled when any was
    /// cancelled, Failed when any failed or timed out, else Success.
    pub fn of_ended(statuses: impl IntoIterator<Item = TaskRunStatus>) -> DagRunStatus {
        let mut out = DagRunStatus::Success;
        for s in statuses {
            match s {
                TaskRunStatus::Cancelled => return DagRunStatus::Cancelled,
                TaskRunStatus::Failed | TaskRunStatus::TimedOut => out = DagRunStatus::Failed,
                _ => {}
            }
        }
        out
    }
}

impl fmt::Display for DagRunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DagRunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [
            DagRunStatus::Running,
            DagRunStatus::Success,
            DagRunStatus::Failed,
            DagRunStatus::Cancelled,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| format!("unknown DAG run status {s:?}"))
    }
}

/// Whether a waiting task run can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Some upstream task run has not ended.
    Wait,
    /// Every dependency is met.
    Ready,
    /// A dependency can no longer be met: the task run ends Skipped.
    Skip,
}

/// Whether an ended upstream status meets a condition.
pub fn meets(on: Condition, upstream: TaskRunStatus) -> bool {
    match on {
        Condition::Done => true,
        Condition::Success => upstream == TaskRunStatus::Success,
        Condition::Failure => matches!(upstream, TaskRunStatus::Failed | TaskRunStatus::TimedOut),
    }
}

/// Evaluates `after` against the statuses of the DAG run's task runs.
/// Dependencies on tasks outside the DAG run (upstream of its root) count
/// as met: the DAG run starts from its root.
pub fn readiness(after: &[Dependency], statuses: &BTreeMap<String, TaskRunStatus>) -> Readiness {
    let mut waiting = false;
    for d in after {
        match statuses.get(&d.task) {
            None => {}
            Some(s) if !s.is_terminal() => waiting = true,
            Some(s) if !meets(d.on, *s) => return Readiness::Skip,
            Some(_) => {}
        }
    }
    if waiting {
        Readiness::Wait
    } else {
        Readiness::Ready
    }
}

/// The Polysync run id (and so the Databricks idempotency token) of one
/// attempt of a task run: stable, so a dispatcher that crashed after
/// creating it re-creates the same one, and distinct per attempt, so a
/// retry is never answered with the previous failed run.
pub fn attempt_run_id(task_run_id: &str, attempt: u32) -> String {
    format!("{task_run_id}.{attempt}")
}

/// A run of a task and everything downstream of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DagRun {
    /// Its id (UUID v7).
    pub id: String,
    /// The task it was started from.
    pub root_task: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// The time it stands for (the schedule's fire time, or its start),
    /// epoch ms; `${dag_run.logical_date}` renders it as a date.
    pub logical_date: i64,
    /// Where it is.
    pub status: DagRunStatus,
    /// When it was started, epoch ms.
    pub created_at: i64,
    /// When it ended, epoch ms.
    pub ended_at: Option<i64>,
    /// Row version.
    pub version: i64,
}

fn one_slot() -> u32 {
    1
}

/// One task of a DAG run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRun {
    /// Its id.
    pub id: String,
    /// The DAG run it belongs to.
    pub dag_run_id: String,
    /// The task's definition when the DAG run started.
    pub task: Task,
    /// Extra parameter values given when the DAG run was started.
    pub params: BTreeMap<String, String>,
    /// The contention limits it takes a slot of while an attempt runs,
    /// with their capacity when the DAG run started: named limits, its
    /// platform's and its job's.
    pub limit_keys: Vec<(String, u32)>,
    /// Slots it takes of its platform's limit (`platform:NAME`): its job's
    /// task count, so a multi-task workflow counts each of its tasks
    /// against the workspace's concurrent task-run limit. Every other
    /// limit takes one slot.
    #[serde(default = "one_slot")]
    pub platform_slots: u32,
    /// Where it is.
    pub status: TaskRunStatus,
    /// The current attempt (0 before the first).
    pub attempt: u32,
    /// The current attempt's Polysync run id.
    pub run_id: Option<String>,
    /// Higher starts first when waiting for a slot.
    pub priority: i64,
    /// FIFO order among equal priority.
    pub seq: i64,
    /// Earliest start (the retry backoff), epoch ms.
    pub not_before: i64,
    /// The dispatcher working on it.
    pub lease_owner: Option<String>,
    /// Until when that lease holds, epoch ms.
    pub lease_until: Option<i64>,
    /// The user asked to cancel it.
    pub cancel_requested: bool,
    /// The current attempt was cancelled for exceeding the timeout.
    pub timed_out: bool,
    /// What happened last, in words.
    pub message: Option<String>,
    /// When the first attempt started, epoch ms.
    pub started_at: Option<i64>,
    /// When it ended, epoch ms.
    pub ended_at: Option<i64>,
    /// Row version.
    pub version: i64,
}

impl TaskRun {
    /// A task run of DAG run `dag_run_id` as its DAG run starts it (status
    /// Waiting or Queued): no attempt, lease or end yet, first version, its
    /// priority the task's, no extra parameters or limits (the caller sets
    /// those it has), one platform slot.
    pub fn new(
        id: String,
        dag_run_id: String,
        task: Task,
        status: TaskRunStatus,
        seq: i64,
        not_before: i64,
    ) -> Self {
        Self {
            id,
            dag_run_id,
            priority: i64::from(task.priority),
            task,
            params: BTreeMap::new(),
            limit_keys: Vec::new(),
            platform_slots: 1,
            status,
            attempt: 0,
            run_id: None,
            seq,
            not_before,
            lease_owner: None,
            lease_until: None,
            cancel_requested: false,
            timed_out: false,
            message: None,
            started_at: None,
            ended_at: None,
            version: 1,
        }
    }
}

/// One attempt of a task run: one Polysync run, one Databricks run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first.
    pub attempt: u32,
    /// The Polysync run (its id is the idempotency token).
    pub run_id: String,
    /// Running, Success, Failed, TimedOut or Cancelled.
    pub status: TaskRunStatus,
    /// When it started, epoch ms.
    pub started_at: i64,
    /// When it ended, epoch ms.
    pub ended_at: Option<i64>,
    /// Why it ended as it did.
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(task: &str, on: Condition) -> Dependency {
        Dependency {
            task: task.into(),
            on,
        }
    }

    #[test]
    fn conditions_decide_ready_wait_skip() {
        use TaskRunStatus::*;
        let st = |pairs: &[(&str, TaskRunStatus)]| -> BTreeMap<String, TaskRunStatus> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
        };
        let s = dep("a", Condition::Success);
        let f = dep("a", Condition::Failure);
        let d = dep("a", Condition::Done);
        assert_eq!(
            readiness(std::slice::from_ref(&s), &st(&[("a", Running)])),
            Readiness::Wait
        );
        assert_eq!(
            readiness(std::slice::from_ref(&s), &st(&[("a", Success)])),
            Readiness::Ready
        );
        assert_eq!(
            readiness(std::slice::from_ref(&s), &st(&[("a", Failed)])),
            Readiness::Skip
        );
        assert_eq!(
            readiness(std::slice::from_ref(&f), &st(&[("a", TimedOut)])),
            Readiness::Ready
        );
        assert_eq!(
            readiness(std::slice::from_ref(&f), &st(&[("a", Success)])),
            Readiness::Skip
        );
        assert_eq!(readiness(&[f], &st(&[("a", Cancelled)])), Readiness::Skip);
        assert_eq!(
            readiness(std::slice::from_ref(&d), &st(&[("a", Skipped)])),
            Readiness::Ready
        );
        assert_eq!(
            readiness(std::slice::from_ref(&s), &st(&[("a", Skipped)])),
            Readiness::Skip
        );
        // Outside the DAG run (upstream of its root): met.
        assert_eq!(readiness(&[s, d], &st(&[])), Readiness::Ready);
    }

    #[test]
    fn dag_outcome() {
        use TaskRunStatus::*;
        assert_eq!(
            DagRunStatus::of_ended([Success, Skipped]),
            DagRunStatus::Success
        );
        assert_eq!(
            DagRunStatus::of_ended([Success, Failed, Skipped]),
            DagRunStatus::Failed
        );
        assert_eq!(
            DagRunStatus::of_ended([TimedOut, Cancelled]),
            DagRunStatus::Cancelled
        );
        assert_eq!("timedout".parse::<TaskRunStatus>(), Ok(TimedOut));
        assert_ne!(attempt_run_id("t", 1), attempt_run_id("t", 2));
    }
}
