//! Run lifecycle. A run's whole timeline (per-task PENDING/RUNNING/TERMINATING boundaries and
//! final states) is planned once when it is created and re-planned only on cancel; its state at
//! any moment is read off that plan and the simulated clock. No background task per run.

use std::collections::HashMap;

use crate::behaviour::Outcome;

/// What a task will do once it starts, resolved at submit time.
#[derive(Debug, Clone)]
pub struct TaskBehaviour {
    /// Declared/derived outcome.
    pub outcome: Outcome,
    /// Simulated PENDING ms.
    pub pending_ms: u64,
    /// Simulated RUNNING ms.
    pub running_ms: u64,
    /// Error / state message for non-success outcomes.
    pub message: Option<String>,
    /// Exit value (`dbutils.notebook.exit`).
    pub exit: Option<String>,
    /// Error trace for get-output.
    pub error_trace: Option<String>,
}

/// A task of a run as submitted.
#[derive(Debug, Clone)]
pub struct TaskRun {
    /// `task_key`.
    pub key: String,
    /// The task run id (for get-output).
    pub run_id: i64,
    /// `depends_on` task keys.
    pub depends_on: Vec<String>,
    /// `run_if` condition.
    pub run_if: String,
    /// Per-task `timeout_seconds` in ms (0 = none).
    pub timeout_ms: u64,
    /// The task object as submitted (echoed back in runs/get).
    pub spec: serde_json::Value,
    /// Whether this is a notebook task (get-output shape).
    pub is_notebook: bool,
    /// Resolved behaviour.
    pub behaviour: TaskBehaviour,
    /// Current plan.
    pub plan: TaskPlan,
}

/// Why a run was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// `runs/cancel` at this simulated ms.
    Cancel(i64),
    /// Run-level `timeout_seconds` reached at this simulated ms.
    Timeout(i64),
}

impl Cut {
    fn at(self) -> i64 {
        match self {
            Cut::Cancel(t) | Cut::Timeout(t) => t,
        }
    }
}

/// Terminal state of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Final {
    /// `life_cycle_state` once terminal.
    pub life: &'static str,
    /// `result_state` (None for SKIPPED).
    pub result: Option<&'static str>,
    /// `state_message`.
    pub message: String,
    /// `status.termination_details.code`.
    pub code: &'static str,
    /// `status.termination_details.type`.
    pub kind: &'static str,
    /// `user_cancelled_or_timedout`.
    pub user_cancelled_or_timedout: bool,
}

/// Planned timeline of one task (simulated epoch ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPlan {
    /// PENDING from.
    pub start: i64,
    /// RUNNING from.
    pub running: i64,
    /// TERMINATING from.
    pub terminating: i64,
    /// Terminal from.
    pub end: i64,
    /// State once terminal.
    pub fin: Final,
}

impl TaskPlan {
    /// Whether this task occupies a task slot at all (skipped tasks never do).
    pub fn occupies(&self) -> bool {
        self.end > self.start
    }
}

fn fin(
    life: &'static str,
    result: Option<&'static str>,
    message: impl Into<String>,
    code: &'static str,
    kind: &'static str,
) -> Final {
    Final {
        life,
        result,
        message: message.into(),
        code,
        kind,
        user_cancelled_or_timedout: false,
    }
}

fn outcome_final(b: &TaskBehaviour) -> Final {
    let msg = |d: &str| b.message.clone().unwrap_or_else(|| d.to_owned());
    match b.outcome {
        Outcome::Success => fin("TERMINATED", Some("SUCCESS"), msg(""), "SUCCESS", "SUCCESS"),
        Outcome::Failed => fin(
            "TERMINATED",
            Some("FAILED"),
            msg("Workload failed, see run output for details"),
            "RUN_EXECUTION_ERROR",
            "CLIENT_ERROR",
        ),
        Outcome::TimedOut => Final {
            user_cancelled_or_timedout: true,
            ..fin(
                "TERMINATED",
                Some("TIMEDOUT"),
                msg("Run timed out."),
                "CANCELED",
                "CLIENT_ERROR",
            )
        },
        Outcome::Canceled => Final {
            user_cancelled_or_timedout: true,
            ..fin(
                "TERMINATED",
                Some("CANCELED"),
                msg("Run cancelled."),
                "USER_CANCELED",
                "SUCCESS",
            )
        },
        Outcome::Skipped => fin("SKIPPED", None, msg("Run skipped."), "SKIPPED", "SUCCESS"),
        Outcome::InternalError => fin(
            "INTERNAL_ERROR",
            Some("FAILED"),
            msg("Run encountered an unexpected internal error."),
            "INTERNAL_ERROR",
            "INTERNAL_ERROR",
        ),
    }
}

fn is_failed(f: &Final) -> bool {
    matches!(f.result, Some("FAILED" | "TIMEDOUT" | "UPSTREAM_FAILED"))
        || f.life == "INTERNAL_ERROR"
}
fn is_canceled(f: &Final) -> bool {
    matches!(f.result, Some("CANCELED" | "UPSTREAM_CANCELED"))
}

/// Order tasks so dependencies come first; `Err(key)` names a task on a cycle or with an
/// unknown dependency.
pub fn topo_order(tasks: &[(String, Vec<String>)]) -> Result<Vec<usize>, String> {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.0.as_str(), i))
        .collect();
    for (key, deps) in tasks {
        if let Some(d) = deps.iter().find(|d| !index.contains_key(d.as_str())) {
            return Err(format!(
                "Task {key} depends on {d} which does not exist in the job."
            ));
        }
    }
    let mut done = vec![false; tasks.len()];
    let mut order = Vec::with_capacity(tasks.len());
    while order.len() < tasks.len() {
        let before = order.len();
        for (i, (_, deps)) in tasks.iter().enumerate() {
            if !done[i]
                && deps
                    .iter()
                    .all(|d| index.get(d.as_str()).is_some_and(|&j| done[j]))
            {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            let stuck = tasks
                .iter()
                .enumerate()
                .find(|(i, _)| !done[*i])
                .map(|(_, t)| t.0.clone())
                .unwrap_or_default();
            return Err(format!(
                "The graph of tasks contains a cycle involving task {stuck}."
            ));
        }
    }
    Ok(order)
}

/// (Re)plan every task of a run starting at `base`, honouring `depends_on`/`run_if`, task
/// timeouts and an optional cut (cancel / run timeout).
pub fn plan(tasks: &mut [TaskRun], base: i64, terminating_ms: u64, cut: Option<Cut>) {
    let shape: Vec<(String, Vec<String>)> = tasks
        .iter()
        .map(|t| (t.key.clone(), t.depends_on.clone()))
        .collect();
    let order = topo_order(&shape).unwrap_or_else(|_| (0..tasks.len()).collect());
    let index: HashMap<String, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.clone(), i))
        .collect();
    let term = terminating_ms as i64;
    for i in order {
        let deps: Vec<Final> = tasks[i]
            .depends_on
            .iter()
            .filter_map(|d| index.get(d).map(|&j| tasks[j].plan.fin.clone()))
            .collect();
        let ready = tasks[i]
            .depends_on
            .iter()
            .filter_map(|d| index.get(d).map(|&j| tasks[j].plan.end))
            .fold(base, i64::max);
        let n_ok = deps.iter().filter(|f| f.result == Some("SUCCESS")).count();
        let n_failed = deps.iter().filter(|f| is_failed(f)).count();
        let n_canceled = deps.iter().filter(|f| is_canceled(f)).count();
        let satisfied = deps.is_empty()
            || match tasks[i].run_if.as_str() {
                "AT_LEAST_ONE_SUCCESS" => n_ok > 0,
                "NONE_FAILED" => n_failed == 0,
                "ALL_DONE" => true,
                "AT_LEAST_ONE_FAILED" => n_failed > 0,
                "ALL_FAILED" => n_failed == deps.len(),
                _ => n_ok == deps.len(),
            };
        let b = &tasks[i].behaviour;
        let mut p = if !satisfied {
            let f = if tasks[i].run_if == "ALL_SUCCESS" || tasks[i].run_if.is_empty() {
                if n_canceled > 0 {
                    fin(
                        "TERMINATED",
                        Some("UPSTREAM_CANCELED"),
                        "Upstream task(s) were canceled.",
                        "SKIPPED",
                        "SUCCESS",
                    )
                } else {
                    fin(
                        "TERMINATED",
                        Some("UPSTREAM_FAILED"),
                        "Upstream task(s) failed.",
                        "SKIPPED",
                        "SUCCESS",
                    )
                }
            } else {
                fin(
                    "TERMINATED",
                    Some("EXCLUDED"),
                    "Run condition was not met.",
                    "SKIPPED",
                    "SUCCESS",
                )
            };
            TaskPlan {
                start: ready,
                running: ready,
                terminating: ready,
                end: ready,
                fin: f,
            }
        } else if b.outcome == Outcome::Skipped {
            TaskPlan {
                start: ready,
                running: ready,
                terminating: ready,
                end: ready,
                fin: outcome_final(b),
            }
        } else {
            let running = ready + b.pending_ms as i64;
            let mut terminating = running + b.running_ms as i64;
            let mut f = outcome_final(b);
            let timeout = tasks[i].timeout_ms as i64;
            if timeout > 0 && terminating - ready > timeout {
                terminating = ready + timeout;
                f = Final {
                    user_cancelled_or_timedout: true,
                    ..fin(
                        "TERMINATED",
                        Some("TIMEDOUT"),
                        format!("Task {} timed out.", tasks[i].key),
                        "CANCELED",
                        "CLIENT_ERROR",
                    )
                };
            }
            TaskPlan {
                start: ready,
                running: running.min(terminating),
                terminating,
                end: terminating + term,
                fin: f,
            }
        };
        if let Some(cut) = cut {
            let c = cut.at();
            if p.end > c {
                let f = match cut {
                    Cut::Cancel(_) => Final {
                        user_cancelled_or_timedout: true,
                        ..fin(
                            "TERMINATED",
                            Some("CANCELED"),
                            "Run cancelled.",
                            "USER_CANCELED",
                            "SUCCESS",
                        )
                    },
                    Cut::Timeout(_) => Final {
                        user_cancelled_or_timedout: true,
                        ..fin(
                            "TERMINATED",
                            Some("TIMEDOUT"),
                            "Run timed out.",
                            "CANCELED",
                            "CLIENT_ERROR",
                        )
                    },
                };
                if p.start >= c {
                    let f = Final {
                        result: Some(if matches!(cut, Cut::Cancel(_)) {
                            "CANCELED"
                        } else {
                            "UPSTREAM_CANCELED"
                        }),
                        ..f
                    };
                    let at = p.start.min(c).max(base.min(c));
                    p = TaskPlan {
                        start: at,
                        running: at,
                        terminating: at,
                        end: at,
                        fin: f,
                    };
                } else if p.terminating > c {
                    p.terminating = c;
                    p.running = p.running.min(c);
                    p.end = c + term;
                    p.fin = f;
                }
            }
        }
        tasks[i].plan = p;
    }
}

/// A state snapshot (`life_cycle_state`, optional `result_state`, message…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `state.life_cycle_state`.
    pub life: &'static str,
    /// `status.state`.
    pub status: &'static str,
    /// Terminal details when terminal.
    pub fin: Option<Final>,
}

/// State of one task at `now`.
pub fn task_state(p: &TaskPlan, now: i64, blocked: bool) -> Snapshot {
    if now >= p.end {
        let status = "TERMINATED";
        return Snapshot {
            life: p.fin.life,
            status,
            fin: Some(p.fin.clone()),
        };
    }
    let (life, status) = if now < p.start {
        ("PENDING", if blocked { "BLOCKED" } else { "PENDING" })
    } else if now < p.running {
        ("PENDING", "PENDING")
    } else if now < p.terminating {
        ("RUNNING", "RUNNING")
    } else {
        ("TERMINATING", "TERMINATING")
    };
    Snapshot {
        life,
        status,
        fin: None,
    }
}

/// State of a whole run at `now`, derived from its tasks (reference §1.3 for failures).
pub fn run_state(
    tasks: &[TaskRun],
    now: i64,
    queued_until: Option<i64>,
    cut: Option<Cut>,
) -> Snapshot {
    if let Some(q) = queued_until
        && now < q
    {
        return Snapshot {
            life: "QUEUED",
            status: "QUEUED",
            fin: None,
        };
    }
    let end = tasks.iter().map(|t| t.plan.end).max().unwrap_or(0);
    if now >= end {
        return Snapshot {
            life: "",
            status: "TERMINATED",
            fin: Some(run_final(tasks, cut)),
        }
        .fix_life();
    }
    let first_running = tasks
        .iter()
        .filter(|t| t.plan.occupies())
        .map(|t| t.plan.running)
        .min()
        .unwrap_or(end);
    let last_terminating = tasks
        .iter()
        .map(|t| t.plan.terminating)
        .max()
        .unwrap_or(end);
    let (life, status) = if now < first_running {
        ("PENDING", "PENDING")
    } else if now < last_terminating {
        ("RUNNING", "RUNNING")
    } else {
        ("TERMINATING", "TERMINATING")
    };
    Snapshot {
        life,
        status,
        fin: None,
    }
}

impl Snapshot {
    fn fix_life(mut self) -> Self {
        if let Some(f) = &self.fin {
            self.life = f.life;
        }
        self
    }
}

fn run_final(tasks: &[TaskRun], cut: Option<Cut>) -> Final {
    if !tasks.is_empty() && tasks.iter().all(|t| t.plan.fin.life == "SKIPPED") {
        return tasks[0].plan.fin.clone();
    }
    if let Some(t) = tasks.iter().find(|t| t.plan.fin.life == "INTERNAL_ERROR") {
        return fin(
            "INTERNAL_ERROR",
            Some("FAILED"),
            format!(
                "Task {} failed with message: {}.",
                t.key,
                t.plan.fin.message.trim_end_matches('.')
            ),
            "INTERNAL_ERROR",
            "INTERNAL_ERROR",
        );
    }
    match cut {
        Some(Cut::Cancel(_)) if tasks.iter().any(|t| is_canceled(&t.plan.fin)) => {
            return Final {
                user_cancelled_or_timedout: true,
                ..fin(
                    "TERMINATED",
                    Some("CANCELED"),
                    "Run cancelled.",
                    "USER_CANCELED",
                    "SUCCESS",
                )
            };
        }
        Some(Cut::Timeout(_)) if tasks.iter().any(|t| t.plan.fin.result == Some("TIMEDOUT")) => {
            return Final {
                user_cancelled_or_timedout: true,
                ..fin(
                    "TERMINATED",
                    Some("TIMEDOUT"),
                    "Run timed out.",
                    "CANCELED",
                    "CLIENT_ERROR",
                )
            };
        }
        _ => {}
    }
    if let Some(t) = tasks.iter().find(|t| t.plan.fin.result == Some("FAILED")) {
        return fin(
            "INTERNAL_ERROR",
            Some("FAILED"),
            format!(
                "Task {} failed with message: {}.",
                t.key,
                t.plan.fin.message.trim_end_matches('.')
            ),
            "RUN_EXECUTION_ERROR",
            "CLIENT_ERROR",
        );
    }
    if let Some(t) = tasks.iter().find(|t| t.plan.fin.result == Some("TIMEDOUT")) {
        return Final {
            message: format!("Task {} timed out.", t.key),
            ..t.plan.fin.clone()
        };
    }
    if let Some(t) = tasks.iter().find(|t| t.plan.fin.result == Some("CANCELED")) {
        return t.plan.fin.clone();
    }
    fin("TERMINATED", Some("SUCCESS"), "", "SUCCESS", "SUCCESS")
}

/// Plan of a run that was skipped before it started (max concurrent runs reached).
pub fn skipped_plan(at: i64, message: &str) -> TaskPlan {
    TaskPlan {
        start: at,
        running: at,
        terminating: at,
        end: at,
        fin: fin(
            "SKIPPED",
            None,
            message,
            "MAX_CONCURRENT_RUNS_EXCEEDED",
            "CLIENT_ERROR",
        ),
    }
}
