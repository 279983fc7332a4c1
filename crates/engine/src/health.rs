//! The dispatcher's health as the dashboard's overview shows it: which
//! instances are alive, how much work waits, and how often the workspaces
//! answered 429. Read from the store (every process sharing it agrees) and
//! the shared per-host request budgets.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::dispatcher::ms;
use crate::{DispatcherOptions, Engine, Result, TaskRunStatus};

/// A dispatcher instance with a recent heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatcherInstance {
    /// Its id (the lease owner of the task runs it works on).
    pub id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: i64,
    /// When it started, epoch ms.
    pub started_at: i64,
    /// Its last heartbeat, epoch ms.
    pub heartbeat_at: i64,
}

/// What an operator checks first when runs do not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatcherHealth {
    /// Live instances (heartbeat within three heartbeat periods).
    pub instances: Vec<DispatcherInstance>,
    /// Task runs ready to start and waiting for a slot or a dispatcher
    /// (Queued), plus those waiting out a retry backoff (Retrying).
    pub queue_depth: u64,
    /// Task runs waiting on upstream tasks.
    pub waiting: u64,
    /// Task runs with an attempt in flight.
    pub running: u64,
    /// Requests this process sent to the workspaces.
    pub requests: u64,
    /// 429 answers the workspaces sent this process.
    pub throttled: u64,
}

impl Engine {
    /// The dispatcher's health: live instances, queue depth, 429s.
    pub async fn dispatcher_health(&self) -> Result<DispatcherHealth> {
        let since = jiff::Timestamp::now().as_millisecond()
            - 3 * ms(DispatcherOptions::default().heartbeat);
        let instances = self
            .inner
            .store
            .live_dispatchers(since)
            .await?
            .into_iter()
            .map(|d| DispatcherInstance {
                id: d.id,
                host: d.host,
                pid: d.pid,
                started_at: d.started_at,
                heartbeat_at: d.heartbeat_at,
            })
            .collect();
        let counts = self.inner.store.count_task_runs_by_status().await?;
        let n = |s: TaskRunStatus| counts.get(s.as_str()).copied().unwrap_or(0);
        let workspaces = self.workspace_calls().await?;
        Ok(DispatcherHealth {
            instances,
            queue_depth: n(TaskRunStatus::Queued) + n(TaskRunStatus::Retrying),
            waiting: n(TaskRunStatus::Waiting),
            running: n(TaskRunStatus::Running),
            requests: workspaces.iter().map(|w| w.requests).sum(),
            throttled: workspaces.iter().map(|w| w.throttled).sum(),
        })
    }

    /// Runs created at or after `since` (epoch ms) by status name: the
    /// overview's "runs today", one grouped count.
    pub async fn count_runs_since(&self, since: i64) -> Result<Vec<(String, u64)>> {
        Ok(self.inner.store.count_runs_by_status_since(since).await?)
    }

    /// Each task's status in its latest DAG run (tasks that never ran are
    /// absent): what the task graph colours its nodes by.
    pub async fn latest_task_statuses(&self) -> Result<BTreeMap<String, TaskRunStatus>> {
        Ok(self.inner.store.latest_task_statuses().await?)
    }
}
