//! Runs and their status history.

use std::collections::BTreeMap;

use polysync_core::{Run, RunStatus};
use serde::Serialize;

use crate::error::{DbResultExt, Error, Result};
use crate::rows::{RowExt, parse_col};
use crate::{Store, on_db};

/// One recorded status/state transition of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    /// When it was observed, epoch ms.
    pub at: i64,
    /// Decoded status.
    pub status: RunStatus,
    /// Databricks life cycle state seen.
    pub life_cycle_state: Option<String>,
    /// Databricks result state seen.
    pub result_state: Option<String>,
    /// Pipeline update state seen.
    pub update_state: Option<String>,
    /// State message seen.
    pub state_message: Option<String>,
}

/// Which runs `list_runs` returns (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs of this job name.
    pub job_name: Option<String>,
    /// Only runs on this platform.
    pub platform: Option<String>,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
}

const INSERT_RUN: &str = "INSERT INTO runs (id, job_id, job_name, job_type, job_external_id, platform, \
     databricks_run_id, status, life_cycle_state, result_state, update_state, state_message, parameters, \
     created_at, updated_at, ended_at, monitor_url, error_message, notebook_exit_value) \
     VALUES ($1, (SELECT id FROM jobs WHERE name = $2), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
     $14, $15, $16, $17, $18)";
const UPDATE_RUN: &str = "UPDATE runs SET databricks_run_id = $2, status = $3, life_cycle_state = $4, \
     result_state = $5, update_state = $6, state_message = $7, parameters = $8, updated_at = $9, \
     ended_at = $10, monitor_url = $11, error_message = $12, notebook_exit_value = $13 WHERE id = $1";
const INSERT_HISTORY: &str = "INSERT INTO run_status_history (run_id, at, status, life_cycle_state, \
     result_state, update_state, state_message) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const GET_RUN: &str = "SELECT id, job_name, job_type, job_external_id, platform, databricks_run_id, status, \
     life_cycle_state, result_state, update_state, state_message, parameters, created_at, updated_at, \
     ended_at, monitor_url, error_message, notebook_exit_value FROM runs WHERE id = $1";
const LIST_RUNS: &str = "SELECT id, job_name, job_type, job_external_id, platform, databricks_run_id, status, \
     life_cycle_state, result_state, update_state, state_message, parameters, created_at, updated_at, \
     ended_at, monitor_url, error_message, notebook_exit_value FROM runs \
     WHERE ($1 IS NULL OR job_name = $1) AND ($2 IS NULL OR platform = $2) AND ($3 IS NULL OR status = $3) \
     ORDER BY created_at DESC, id DESC LIMIT $4";
const HISTORY: &str = "SELECT at, status, life_cycle_state, result_state, update_state, state_message \
     FROM run_status_history WHERE run_id = $1 ORDER BY id";

fn run_from_row(r: &impl RowExt) -> Result<Run> {
    let params: BTreeMap<String, String> =
        serde_json::from_str(&r.text("parameters")?).map_err(|e| Error::Corrupt {
            column: "runs.parameters",
            message: e.to_string(),
        })?;
    Ok(Run {
        id: r.text("id")?,
        job_name: r.text("job_name")?,
        job_type: parse_col("runs.job_type", &r.text("job_type")?)?,
        job_external_id: r.text("job_external_id")?,
        platform: r.text("platform")?,
        databricks_run_id: r.opt_text("databricks_run_id")?,
        status: parse_col("runs.status", &r.text("status")?)?,
        life_cycle_state: r.opt_text("life_cycle_state")?,
        result_state: r.opt_text("result_state")?,
        update_state: r.opt_text("update_state")?,
        state_message: r.opt_text("state_message")?,
        parameters: params,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        ended_at: r.opt_int("ended_at")?,
        monitor_url: r.opt_text("monitor_url")?,
        error_message: r.opt_text("error_message")?,
        notebook_exit_value: r.opt_text("notebook_exit_value")?,
    })
}

fn change_from_row(r: &impl RowExt) -> Result<StatusChange> {
    Ok(StatusChange {
        at: r.int("at")?,
        status: parse_col("run_status_history.status", &r.text("status")?)?,
        life_cycle_state: r.opt_text("life_cycle_state")?,
        result_state: r.opt_text("result_state")?,
        update_state: r.opt_text("update_state")?,
        state_message: r.opt_text("state_message")?,
    })
}

fn params_json(run: &Run) -> Result<String> {
    serde_json::to_string(&run.parameters).map_err(|e| Error::Database(e.to_string()))
}

/// The part of a run whose change is worth a history row.
fn state_key(run: &Run) -> StatusChange {
    StatusChange {
        at: 0,
        status: run.status,
        life_cycle_state: run.life_cycle_state.clone(),
        result_state: run.result_state.clone(),
        update_state: run.update_state.clone(),
        state_message: run.state_message.clone(),
    }
}

impl Store {
    /// Records a new run and its first history entry.
    pub async fn insert_run(&self, run: &Run) -> Result<()> {
        let params = params_json(run)?;
        on_db!(&self.db, p => {
            let mut tx = p.begin().await.db()?;
            sqlx::query(INSERT_RUN)
                .bind(&run.id)
                .bind(&run.job_name)
                .bind(run.job_type.as_str())
                .bind(&run.job_external_id)
                .bind(&run.platform)
                .bind(&run.databricks_run_id)
                .bind(run.status.as_str())
                .bind(&run.life_cycle_state)
                .bind(&run.result_state)
                .bind(&run.update_state)
                .bind(&run.state_message)
                .bind(&params)
                .bind(run.created_at)
                .bind(run.updated_at)
                .bind(run.ended_at)
                .bind(&run.monitor_url)
                .bind(&run.error_message)
                .bind(&run.notebook_exit_value)
                .execute(&mut *tx)
                .await
                .db()?;
            sqlx::query(INSERT_HISTORY)
                .bind(&run.id)
                .bind(run.updated_at)
                .bind(run.status.as_str())
                .bind(&run.life_cycle_state)
                .bind(&run.result_state)
                .bind(&run.update_state)
                .bind(&run.state_message)
                .execute(&mut *tx)
                .await
                .db()?;
            tx.commit().await.db()?;
        });
        Ok(())
    }

    /// Saves a run's mutable fields; appends a history entry only when the
    /// status or a Databricks state/message changed. Returns whether it did.
    pub async fn update_run_status(&self, run: &Run) -> Result<bool> {
        let params = params_json(run)?;
        let new_key = state_key(run);
        on_db!(&self.db, p => {
            let mut tx = p.begin().await.db()?;
            let Some(row) = sqlx::query(GET_RUN).bind(&run.id).fetch_optional(&mut *tx).await.db()? else {
                return Err(Error::not_found("run", &run.id));
            };
            let old = run_from_row(&row)?;
            let changed = state_key(&old) != new_key;
            sqlx::query(UPDATE_RUN)
                .bind(&run.id)
                .bind(&run.databricks_run_id)
                .bind(run.status.as_str())
                .bind(&run.life_cycle_state)
                .bind(&run.result_state)
                .bind(&run.update_state)
                .bind(&run.state_message)
                .bind(&params)
                .bind(run.updated_at)
                .bind(run.ended_at)
                .bind(&run.monitor_url)
                .bind(&run.error_message)
                .bind(&run.notebook_exit_value)
                .execute(&mut *tx)
                .await
                .db()?;
            if changed {
                sqlx::query(INSERT_HISTORY)
                    .bind(&run.id)
                    .bind(run.updated_at)
                    .bind(run.status.as_str())
                    .bind(&run.life_cycle_state)
                    .bind(&run.result_state)
                    .bind(&run.update_state)
                    .bind(&run.state_message)
                    .execute(&mut *tx)
                    .await
                    .db()?;
            }
            tx.commit().await.db()?;
            Ok(changed)
        })
    }

    /// One run by Polysync run id.
    pub async fn get_run(&self, id: &str) -> Result<Run> {
        on_db!(&self.db, p => {
            match sqlx::query(GET_RUN).bind(id).fetch_optional(p).await.db()? {
                Some(r) => run_from_row(&r),
                None => Err(Error::not_found("run", id)),
            }
        })
    }

    /// Runs matching `filter`, newest first, at most `limit`.
    pub async fn list_runs(&self, filter: &RunFilter, limit: u32) -> Result<Vec<Run>> {
        let status = filter.status.map(RunStatus::as_str);
        on_db!(&self.db, p => {
            let rows = sqlx::query(LIST_RUNS)
                .bind(&filter.job_name)
                .bind(&filter.platform)
                .bind(status)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .db()?;
            rows.iter().map(run_from_row).collect()
        })
    }

    /// A run's status transitions, oldest first.
    pub async fn run_history(&self, run_id: &str) -> Result<Vec<StatusChange>> {
        self.get_run(run_id).await?;
        on_db!(&self.db, p => {
            let rows = sqlx::query(HISTORY).bind(run_id).fetch_all(p).await.db()?;
            rows.iter().map(change_from_row).collect()
        })
    }
}
