//! Aggregate reads the web dashboard needs and nothing else does: each one
//! grouped query, so a page costs the same with 10 or 10,000 rows stored.

use std::collections::BTreeMap;

use polysync_core::dag::TaskRunStatus;

use crate::error::{DbResultExt, Result};
use crate::rows::{RowExt, parse_col};
use crate::{Store, on_db};

impl Store {
    /// Each task's status in its most recent DAG run (by queue sequence),
    /// for tasks that ever ran: what the task graph colours its nodes by.
    pub async fn latest_task_statuses(&self) -> Result<BTreeMap<String, TaskRunStatus>> {
        on_db!(&self.db, p => {
            let rows = sqlx::query(
                "SELECT t.task AS task, t.status AS status FROM task_runs t \
                 JOIN (SELECT task, MAX(seq) AS seq FROM task_runs GROUP BY task) m \
                 ON m.task = t.task AND m.seq = t.seq",
            )
            .fetch_all(p)
            .await
            .db()?;
            rows.iter()
                .map(|r| Ok((r.text("task")?, parse_col("status", &r.text("status")?)?)))
                .collect()
        })
    }

    /// How many task runs are in each status (the dispatcher's queue depth
    /// is the Queued and Retrying ones).
    pub async fn count_task_runs_by_status(&self) -> Result<BTreeMap<String, u64>> {
        on_db!(&self.db, p => {
            let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM task_runs GROUP BY status")
                .fetch_all(p)
                .await
                .db()?;
            rows.iter()
                .map(|r| Ok((r.text("status")?, u64::try_from(r.int("n")?).unwrap_or(0))))
                .collect()
        })
    }
}
