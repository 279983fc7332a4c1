//! What the server's `/metrics` reports from the engine's side: runs by
//! status (from the store, so every process sharing it agrees) and the
//! Databricks calls and 429s of each workspace (the shared per-host
//! request budget's counters, process-wide).

use serde::Serialize;

use crate::{Engine, Result};

/// One workspace's Databricks traffic since this process started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkspaceCalls {
    /// The platform's name.
    pub platform: String,
    /// Its workspace URL.
    pub host: String,
    /// Requests sent to the workspace (every client of the host).
    pub requests: u64,
    /// 429 answers the workspace sent.
    pub throttled: u64,
}

/// A point-in-time view for monitoring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    /// Run counts by status name as stored (`Queued`, `Running`, `Success`, ...).
    pub runs_by_status: Vec<(String, u64)>,
    /// Databricks calls per registered platform.
    pub workspaces: Vec<WorkspaceCalls>,
}

impl Engine {
    /// Runs by status and each platform's Databricks calls and 429s. A
    /// platform whose client cannot be built (bad credentials) is left out
    /// rather than failing the whole scrape.
    pub async fn metrics_snapshot(&self) -> Result<MetricsSnapshot> {
        let runs_by_status = self.inner.store.count_runs_by_status().await?;
        Ok(MetricsSnapshot {
            runs_by_status,
            workspaces: self.workspace_calls().await?,
        })
    }

    /// Each platform's Databricks calls and 429s (no store scan beyond the
    /// platforms), for the metrics and the dispatcher's health.
    pub(crate) async fn workspace_calls(&self) -> Result<Vec<WorkspaceCalls>> {
        let mut workspaces = Vec::new();
        for platform in self.inner.store.list_platforms().await? {
            let Ok(conn) = self.connection(&platform) else {
                continue;
            };
            let budget = conn.client.budget();
            workspaces.push(WorkspaceCalls {
                platform: platform.name.clone(),
                host: conn.client.host().to_owned(),
                requests: budget.requests(),
                throttled: budget.throttled(),
            });
        }
        Ok(workspaces)
    }
}
