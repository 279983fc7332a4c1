//! Tasks: named, saved invocations of an imported job that the dispatcher
//! retries, times out, throttles with contention limits, chains by
//! dependencies and starts on schedules. This module holds the model and
//! its pure rules; the tasks file format is in [`file`], the dependency
//! graph in [`graph`].

pub mod duration;
pub mod file;
pub mod graph;
pub mod schedule;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use duration::{format_duration, parse_duration};
pub use file::{Problem, TaskFileError, TaskLines, TaskSet, check_task_file, parse_task_file};
pub use graph::{downstream_of, find_cycle};
pub use schedule::Schedule;

/// When a dependency is satisfied by its upstream task's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// The upstream task ended Success (the default).
    Success,
    /// The upstream task ended Failed or TimedOut (an alerting branch).
    Failure,
    /// The upstream task ended, whatever the outcome.
    Done,
}

impl Condition {
    /// The spelling in the tasks file.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "success",
            Condition::Failure => "failure",
            Condition::Done => "done",
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Condition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "success" => Ok(Condition::Success),
            "failure" => Ok(Condition::Failure),
            "done" => Ok(Condition::Done),
            other => Err(format!(
                "{other:?} is not a condition; use success, failure or done"
            )),
        }
    }
}

/// One edge of the graph: this task waits for `task` to end with `on`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The upstream task's name.
    pub task: String,
    /// The outcome that lets this task start.
    pub on: Condition,
}

/// How failed attempts are retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry, in milliseconds.
    pub backoff_ms: u64,
    /// Longest wait between attempts, in milliseconds.
    pub max_backoff_ms: u64,
    /// Double the wait after each failed attempt (else fixed).
    pub exponential: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 1,
            backoff_ms: 10_000,
            max_backoff_ms: 300_000,
            exponential: true,
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `next` (2 = the first retry), capped.
    pub fn backoff_before(&self, next: u32) -> u64 {
        let retries_done = next.saturating_sub(2);
        let wait = if self.exponential {
            self.backoff_ms
                .saturating_mul(1_u64.checked_shl(retries_done).unwrap_or(u64::MAX))
        } else {
            self.backoff_ms
        };
        wait.min(self.max_backoff_ms.max(self.backoff_ms))
    }
}

/// A named, saved invocation of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Unique name: letters, digits, `-` and `_`.
    pub name: String,
    /// The job, as any reference `polysync run` accepts.
    pub job: String,
    /// Parameter values; may reference `${tasks.<name>.outputs.<param>}`,
    /// `${tasks.<name>.run_id}`, `${dag_run.id}`, `${dag_run.logical_date}`.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Retries of failed attempts.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Longest an attempt may run before it is cancelled (TimedOut), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Named contention limits this task takes a slot of.
    #[serde(default)]
    pub limits: Vec<String>,
    /// Higher runs first when waiting for a slot.
    #[serde(default)]
    pub priority: i32,
    /// Upstream tasks and the outcome each must have.
    #[serde(default)]
    pub after: Vec<Dependency>,
    /// Starts by itself on this schedule (with everything downstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

/// Whether a task name is acceptable (also used in `${tasks.<name>…}`).
pub fn valid_task_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether a parameter value is a template resolved when the task runs
/// (so it cannot be type-checked when the file is applied).
pub fn is_template(value: &str) -> bool {
    value.contains("${")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_exponential_and_capped() {
        let p = RetryPolicy {
            attempts: 5,
            backoff_ms: 10_000,
            max_backoff_ms: 25_000,
            exponential: true,
        };
        assert_eq!(
            (2..6).map(|n| p.backoff_before(n)).collect::<Vec<_>>(),
            vec![10_000, 20_000, 25_000, 25_000]
        );
        let fixed = RetryPolicy {
            exponential: false,
            ..p
        };
        assert_eq!(fixed.backoff_before(4), 10_000);
    }

    #[test]
    fn names_and_conditions() {
        assert!(valid_task_name("extract_2-b"));
        assert!(!valid_task_name("a b") && !valid_task_name("") && !valid_task_name("a.b"));
        assert_eq!("failure".parse::<Condition>(), Ok(Condition::Failure));
        assert!("always".parse::<Condition>().is_err());
    }
}
