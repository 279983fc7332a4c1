//! The dispatcher's durable state: DAG runs, their task runs (the queue),
//! attempts, held contention-limit slots, status history and the live
//! dispatcher instances. Every transition is written here before it is
//! acted on; a claim takes the lease, the limit slots and the attempt in
//! one transaction, so a crash at any moment leaves either all or none.

use std::collections::BTreeMap;

use polysync_core::dag::{Attempt, DagRun, TaskRun, TaskRunStatus};

use crate::error::{DbResultExt, Error, Result};
use crate::rows::{RowExt, parse_col};
use crate::tx::{Tx, TxInner, on_tx};
use crate::{Store, Update, on_db};

const DAG_COLUMNS: &str =
    "id, root_task, trigger, logical_date, status, created_at, ended_at, version";
const TR_COLUMNS: &str = "id, dag_run_id, task, definition, params, limit_keys, status, attempt, run_id, \
     priority, seq, not_before, lease_owner, lease_until, cancel_requested, timed_out, message, \
     started_at, ended_at, platform_slots, version";

/// Advisory lock key of claims (an arbitrary constant: "psyncclm"): the
/// limit accounting of a claim must see every other claim's slots.
const CLAIM_LOCK: i64 = 0x7073_796e_6363_6c6d;

/// Rows per multi-row statement of a claim (7 binds each at most: far
/// below both backends' parameter limits).
const CLAIM_CHUNK: usize = 400;

/// Task-run rows per multi-row insert (20 binds each).
const TASK_RUN_CHUNK: usize = 100;

/// `rows` copies of `template` (a parenthesised row whose `?` are
/// parameters), comma-separated, with `?` numbered `$first`, `$first+1`, …
/// in order: the VALUES list of a multi-row statement on either backend.
pub(crate) fn values(template: &str, rows: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * (template.len() + 8));
    let mut n = first;
    for i in 0..rows {
        if i > 0 {
            out.push_str(", ");
        }
        for ch in template.chars() {
            if ch == '?' {
                out.push('$');
                out.push_str(&n.to_string());
                n += 1;
            } else {
                out.push(ch);
            }
        }
    }
    out
}

/// Task-run statuses that end it (`TaskRunStatus::is_terminal`), as SQL.
const TERMINAL_TASK_RUN: &str = "('Success', 'Failed', 'TimedOut', 'Cancelled', 'Skipped')";

/// Slots held per limit key.
const HELD_SLOTS: &str =
    "SELECT limit_key, CAST(SUM(slots) AS BIGINT) AS n FROM limit_slots GROUP BY limit_key";

fn held_from_rows(rows: &[impl RowExt]) -> Result<BTreeMap<String, i64>> {
    rows.iter()
        .map(|r| Ok((r.text("limit_key")?, r.int("n")?)))
        .collect()
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::internal(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(column: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt {
        column,
        message: e.to_string(),
    })
}

fn dag_from_row(r: &impl RowExt) -> Result<DagRun> {
    Ok(DagRun {
        id: r.text("id")?,
        root_task: r.text("root_task")?,
        trigger: r.text("trigger")?,
        logical_date: r.int("logical_date")?,
        status: parse_col("dag_runs.status", &r.text("status")?)?,
        created_at: r.int("created_at")?,
        ended_at: r.opt_int("ended_at")?,
        version: r.int("version")?,
    })
}

fn task_run_from_row(r: &impl RowExt) -> Result<TaskRun> {
    Ok(TaskRun {
        id: r.text("id")?,
        dag_run_id: r.text("dag_run_id")?,
        task: from_json("task_runs.definition", &r.text("definition")?)?,
        params: from_json("task_runs.params", &r.text("params")?)?,
        limit_keys: from_json("task_runs.limit_keys", &r.text("limit_keys")?)?,
        status: parse_col("task_runs.status", &r.text("status")?)?,
        attempt: u32::try_from(r.int("attempt")?).unwrap_or(0),
        run_id: r.opt_text("run_id")?,
        priority: r.int("priority")?,
        seq: r.int("seq")?,
        not_before: r.int("not_before")?,
        lease_owner: r.opt_text("lease_owner")?,
        lease_until: r.opt_int("lease_until")?,
        cancel_requested: r.boolean("cancel_requested")?,
        timed_out: r.boolean("timed_out")?,
        message: r.opt_text("message")?,
        started_at: r.opt_int("started_at")?,
        ended_at: r.opt_int("ended_at")?,
        platform_slots: u32::try_from(r.int("platform_slots")?).unwrap_or(1).max(1),
        version: r.int("version")?,
    })
}

/// The slots a task run takes of `key`: its platform slots for its
/// platform's limit (at most the whole capacity, so a workflow larger than
/// the limit still runs, alone), one for any other limit.
fn slots_of(tr: &TaskRun, key: &str, cap: u32) -> i64 {
    if key.starts_with("platform:") {
        i64::from(tr.platform_slots.clamp(1, cap.max(1)))
    } else {
        1
    }
}

fn attempt_from_row(r: &impl RowExt) -> Result<Attempt> {
    Ok(Attempt {
        attempt: u32::try_from(r.int("attempt")?).unwrap_or(0),
        run_id: r.text("run_id")?,
        status: parse_col("task_attempts.status", &r.text("status")?)?,
        started_at: r.int("started_at")?,
        ended_at: r.opt_int("ended_at")?,
        message: r.opt_text("message")?,
    })
}

/// One recorded status change of a DAG run or task run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DagStatusChange {
    /// When, epoch ms.
    pub at: i64,
    /// The status entered.
    pub status: String,
    /// Why, when known.
    pub message: Option<String>,
}

/// A dispatcher instance as registered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DispatcherInfo {
    /// Its id.
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

fn dispatcher_from_row(r: &impl RowExt) -> Result<DispatcherInfo> {
    Ok(DispatcherInfo {
        id: r.text("id")?,
        host: r.text("host")?,
        pid: r.int("pid")?,
        started_at: r.int("started_at")?,
        heartbeat_at: r.int("heartbeat_at")?,
    })
}

macro_rules! history {
    ($conn:expr, $entity:expr, $id:expr, $at:expr, $status:expr, $message:expr) => {
        sqlx::query(
            "INSERT INTO dag_status_history (entity, entity_id, at, status, message) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($entity)
        .bind($id)
        .bind($at)
        .bind($status)
        .bind($message)
        .execute($conn)
        .await
        .db()?
    };
}

impl Tx {
    /// Records a status change of a DAG run or task run.
    async fn history(
        &mut self,
        entity: &str,
        id: &str,
        at: i64,
        status: &str,
        message: Option<&str>,
    ) -> Result<()> {
        on_tx!(self, c => { history!(&mut **c, entity, id, at, status, message); });
        Ok(())
    }

    /// One task run, locked for the rest of the transaction on PostgreSQL.
    pub async fn find_task_run(&mut self, id: &str) -> Result<Option<TaskRun>> {
        let sql = format!(
            "SELECT {TR_COLUMNS} FROM task_runs WHERE id = $1{}",
            self.row_lock()
        );
        on_tx!(self, c => {
            let row = crate::sql::query(sql).bind(id).fetch_optional(&mut **c).await.db()?;
            row.as_ref().map(task_run_from_row).transpose()
        })
    }

    /// Saves a task run compare-and-set on its version; records history
    /// when the status changed. Never overwrites a newer write. The
    /// batched write ([`Tx::update_task_runs`]) with one row: one set of
    /// statements and locks for both.
    pub async fn update_task_run(&mut self, tr: &TaskRun, now: i64) -> Result<Update<TaskRun>> {
        self.update_task_runs(std::slice::from_ref(tr), now)
            .await?
            .pop()
            .ok_or_else(|| Error::internal("a task-run update lost its row"))
    }

    /// Records a new attempt (Running).
    pub async fn insert_attempt(&mut self, task_run_id: &str, attempt: &Attempt) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("INSERT INTO task_attempts (task_run_id, attempt, run_id, status, started_at, ended_at, message) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(task_run_id)
                .bind(i64::from(attempt.attempt))
                .bind(&attempt.run_id)
                .bind(attempt.status.as_str())
                .bind(attempt.started_at)
                .bind(attempt.ended_at)
                .bind(&attempt.message)
                .execute(&mut **c)
                .await
                .db()?;
        });
        Ok(())
    }

    /// Ends an attempt.
    pub async fn end_attempt(
        &mut self,
        task_run_id: &str,
        attempt: u32,
        status: TaskRunStatus,
        at: i64,
        message: Option<&str>,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE task_attempts SET status = $3, ended_at = $4, message = $5 WHERE task_run_id = $1 AND attempt = $2")
                .bind(task_run_id)
                .bind(i64::from(attempt))
                .bind(status.as_str())
                .bind(at)
                .bind(message)
                .execute(&mut **c)
                .await
                .db()?;
        });
        Ok(())
    }

    /// Frees the limit slots a task run holds.
    pub async fn release_slots(&mut self, task_run_id: &str) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("DELETE FROM limit_slots WHERE task_run_id = $1").bind(task_run_id).execute(&mut **c).await.db()?;
        });
        Ok(())
    }

    /// Ends a DAG run (if it is still Running).
    pub async fn end_dag_run(
        &mut self,
        id: &str,
        status: polysync_core::DagRunStatus,
        at: i64,
    ) -> Result<bool> {
        let done = on_tx!(self, c => {
            sqlx::query("UPDATE dag_runs SET status = $2, ended_at = $3, version = version + 1 WHERE id = $1 AND status = 'Running'")
                .bind(id)
                .bind(status.as_str())
                .bind(at)
                .execute(&mut **c)
                .await
                .db()?
                .rows_affected()
        });
        if done == 1 {
            self.history("dag_run", id, at, status.as_str(), None)
                .await?;
        }
        Ok(done == 1)
    }
}

/// The task-run columns a batched compare-and-set update writes.
const TR_UPDATE: &str = "WITH v (id, ver, status, attempt, run_id, not_before, lease_owner, lease_until, \
     cancel_requested, timed_out, message, started_at, ended_at) AS (VALUES {rows}) \
     UPDATE task_runs SET status = v.status, attempt = v.attempt, run_id = v.run_id, not_before = v.not_before, \
     lease_owner = v.lease_owner, lease_until = v.lease_until, cancel_requested = v.cancel_requested, \
     timed_out = v.timed_out, message = v.message, started_at = v.started_at, ended_at = v.ended_at, \
     version = task_runs.version + 1 FROM v WHERE task_runs.id = v.id AND task_runs.version = v.ver";

/// How one attempt ended, for [`Tx::end_attempts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEnd {
    /// The task run.
    pub task_run_id: String,
    /// Which attempt (1 for the first).
    pub attempt: u32,
    /// How it ended.
    pub status: TaskRunStatus,
    /// Why, when known.
    pub message: Option<String>,
}

impl Tx {
    /// [`Tx::update_task_run`] for many task runs at once: versions read
    /// and locked in one statement per chunk (id order), every task run
    /// still at its caller's version written with one multi-row
    /// compare-and-set `UPDATE`, status changes recorded with one history
    /// insert. A task run changed meanwhile is [`Update::Stale`] with its
    /// current row. Results are in `trs` order.
    pub async fn update_task_runs(
        &mut self,
        trs: &[TaskRun],
        now: i64,
    ) -> Result<Vec<Update<TaskRun>>> {
        // The same task run twice: the later write goes in a later round,
        // on top of the earlier one (compare-and-set as one by one).
        let mut out: Vec<Option<Update<TaskRun>>> = vec![None; trs.len()];
        let mut pending: Vec<usize> = (0..trs.len()).collect();
        while !pending.is_empty() {
            let mut seen = std::collections::BTreeSet::new();
            let (round, later): (Vec<usize>, Vec<usize>) = pending
                .iter()
                .copied()
                .partition(|&i| seen.insert(trs[i].id.as_str()));
            let rows: Vec<&TaskRun> = round.iter().map(|&i| &trs[i]).collect();
            for (i, u) in round
                .into_iter()
                .zip(self.update_task_runs_once(&rows, now).await?)
            {
                out[i] = Some(u);
            }
            pending = later;
        }
        out.into_iter()
            .map(|u| u.ok_or_else(|| Error::internal("a batched task-run update lost a row")))
            .collect()
    }

    /// One round of [`Tx::update_task_runs`]: `trs` name distinct task runs.
    async fn update_task_runs_once(
        &mut self,
        trs: &[&TaskRun],
        now: i64,
    ) -> Result<Vec<Update<TaskRun>>> {
        let mut ids: Vec<&str> = trs.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut states: BTreeMap<String, (i64, String)> = BTreeMap::new();
        for chunk in ids.chunks(CLAIM_CHUNK) {
            let sql = format!(
                "SELECT id, version, status FROM task_runs WHERE id IN ({}) ORDER BY id{}",
                values("?", chunk.len(), 1),
                self.row_lock()
            );
            let rows: Vec<(String, (i64, String))> = on_tx!(self, c => {
                let mut q = crate::sql::query(sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                let rows = q.fetch_all(&mut **c).await.db()?;
                rows.iter()
                    .map(|r| Ok((r.text("id")?, (r.int("version")?, r.text("status")?))))
                    .collect::<Result<_>>()?
            });
            states.extend(rows);
        }
        let mut out: Vec<Option<Update<TaskRun>>> = vec![None; trs.len()];
        let mut fresh = Vec::new();
        for (i, tr) in trs.iter().enumerate() {
            let Some((version, _)) = states.get(&tr.id) else {
                return Err(Error::not_found("task run", &tr.id));
            };
            if *version != tr.version {
                let current = self
                    .find_task_run(&tr.id)
                    .await?
                    .ok_or_else(|| Error::not_found("task run", &tr.id))?;
                out[i] = Some(Update::Stale { current });
            } else {
                fresh.push(i);
            }
        }
        for chunk in fresh.chunks(CLAIM_CHUNK / 2) {
            let sql = TR_UPDATE.replace(
                "{rows}",
                &values("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", chunk.len(), 1),
            );
            let history: Vec<&TaskRun> = chunk
                .iter()
                .map(|&i| trs[i])
                .filter(|t| {
                    states
                        .get(&t.id)
                        .is_some_and(|(_, s)| s != t.status.as_str())
                })
                .collect();
            let history_sql = format!(
                "INSERT INTO dag_status_history (entity, entity_id, at, status, message) VALUES {}",
                values("('task_run', ?, ?, ?, ?)", history.len(), 1)
            );
            let done = on_tx!(self, c => {
                let mut q = crate::sql::query(sql);
                for &i in chunk {
                    let tr = trs[i];
                    q = q
                        .bind(&tr.id)
                        .bind(tr.version)
                        .bind(tr.status.as_str())
                        .bind(i64::from(tr.attempt))
                        .bind(&tr.run_id)
                        .bind(tr.not_before)
                        .bind(&tr.lease_owner)
                        .bind(tr.lease_until)
                        .bind(tr.cancel_requested)
                        .bind(tr.timed_out)
                        .bind(&tr.message)
                        .bind(tr.started_at)
                        .bind(tr.ended_at);
                }
                let done = q.execute(&mut **c).await.db()?.rows_affected();
                if !history.is_empty() {
                    let mut q = crate::sql::query(history_sql);
                    for tr in &history {
                        q = q.bind(&tr.id).bind(now).bind(tr.status.as_str()).bind(&tr.message);
                    }
                    q.execute(&mut **c).await.db()?;
                }
                done
            });
            if done != chunk.len() as u64 {
                return Err(Error::internal(format!(
                    "a batched task-run update wrote {done} of {} locked rows",
                    chunk.len()
                )));
            }
            for &i in chunk {
                out[i] = Some(Update::Applied(TaskRun {
                    version: trs[i].version + 1,
                    ..trs[i].clone()
                }));
            }
        }
        out.into_iter()
            .map(|u| u.ok_or_else(|| Error::internal("a batched task-run update lost a row")))
            .collect()
    }

    /// Ends many attempts with one multi-row `UPDATE` per chunk.
    pub async fn end_attempts(&mut self, ends: &[AttemptEnd], at: i64) -> Result<()> {
        for chunk in ends.chunks(CLAIM_CHUNK) {
            let sql = format!(
                "WITH v (task_run_id, attempt, status, message) AS (VALUES {}) \
                 UPDATE task_attempts SET status = v.status, ended_at = $1, message = v.message FROM v \
                 WHERE task_attempts.task_run_id = v.task_run_id AND task_attempts.attempt = v.attempt",
                values("(?, ?, ?, ?)", chunk.len(), 2)
            );
            on_tx!(self, c => {
                let mut q = crate::sql::query(sql).bind(at);
                for e in chunk {
                    q = q
                        .bind(&e.task_run_id)
                        .bind(i64::from(e.attempt))
                        .bind(e.status.as_str())
                        .bind(&e.message);
                }
                q.execute(&mut **c).await.db()?;
            });
        }
        Ok(())
    }

    /// Frees the limit slots of many task runs.
    pub async fn release_slots_of(&mut self, task_run_ids: &[&str]) -> Result<()> {
        for chunk in task_run_ids.chunks(CLAIM_CHUNK) {
            let sql = format!(
                "DELETE FROM limit_slots WHERE task_run_id IN ({})",
                values("?", chunk.len(), 1)
            );
            on_tx!(self, c => {
                let mut q = crate::sql::query(sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut **c).await.db()?;
            });
        }
        Ok(())
    }

    /// Ends many DAG runs (those still Running) with multi-row statements;
    /// returns the ids it ended.
    pub async fn end_dag_runs(
        &mut self,
        ends: &[(String, polysync_core::DagRunStatus)],
        at: i64,
    ) -> Result<Vec<String>> {
        let mut ended = Vec::new();
        let mut sorted: Vec<&(String, polysync_core::DagRunStatus)> = ends.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for chunk in sorted.chunks(CLAIM_CHUNK) {
            // Which are still Running, locked: exactly those are ended.
            let sql = format!(
                "SELECT id FROM dag_runs WHERE status = 'Running' AND id IN ({}) ORDER BY id{}",
                values("?", chunk.len(), 1),
                self.row_lock()
            );
            let running: std::collections::BTreeSet<String> = on_tx!(self, c => {
                let mut q = crate::sql::query(sql);
                for (id, _) in chunk {
                    q = q.bind(id);
                }
                let rows = q.fetch_all(&mut **c).await.db()?;
                rows.iter().map(|r| r.text("id")).collect::<Result<_>>()?
            });
            let chunk: Vec<_> = chunk
                .iter()
                .filter(|(id, _)| running.contains(id))
                .collect();
            if chunk.is_empty() {
                continue;
            }
            let sql = format!(
                "WITH v (id, status) AS (VALUES {}) UPDATE dag_runs SET status = v.status, ended_at = $1, \
                 version = dag_runs.version + 1 FROM v WHERE dag_runs.id = v.id AND dag_runs.status = 'Running'",
                values("(?, ?)", chunk.len(), 2)
            );
            let history_sql = format!(
                "INSERT INTO dag_status_history (entity, entity_id, at, status, message) VALUES {}",
                values("('dag_run', ?, ?, ?, NULL)", chunk.len(), 1)
            );
            on_tx!(self, c => {
                let mut q = crate::sql::query(sql).bind(at);
                for (id, status) in &chunk {
                    q = q.bind(id).bind(status.as_str());
                }
                q.execute(&mut **c).await.db()?;
                let mut q = crate::sql::query(history_sql);
                for (id, status) in &chunk {
                    q = q.bind(id).bind(at).bind(status.as_str());
                }
                q.execute(&mut **c).await.db()?;
            });
            ended.extend(chunk.into_iter().map(|(id, _)| id.clone()));
        }
        Ok(ended)
    }
}

impl Store {
    /// Starts a DAG run: the run and all its task runs, in one transaction.
    pub async fn insert_dag_run(&self, dag: &DagRun, task_runs: &[TaskRun]) -> Result<()> {
        self.insert_dag_runs(&[(dag.clone(), task_runs.to_vec())])
            .await
    }

    /// Starts many DAG runs with all their task runs and first history
    /// rows in ONE transaction of multi-row statements: a batch of
    /// thousands costs one commit (one WAL flush on PostgreSQL) and a few
    /// round trips per few hundred rows, instead of a transaction and
    /// three statements per DAG run. All or nothing.
    pub async fn insert_dag_runs(&self, runs: &[(DagRun, Vec<TaskRun>)]) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        // The task-run rows, their JSON columns serialised once per row.
        let mut rows = Vec::new();
        for (dag, trs) in runs {
            for tr in trs {
                rows.push((
                    dag.created_at,
                    tr,
                    json(&tr.task)?,
                    json(&tr.params)?,
                    json(&tr.limit_keys)?,
                ));
            }
        }
        let mut tx = self.begin().await?;
        for chunk in runs.chunks(CLAIM_CHUNK) {
            let sql = format!(
                "INSERT INTO dag_runs ({DAG_COLUMNS}) VALUES {}",
                values("(?, ?, ?, ?, ?, ?, ?, 1)", chunk.len(), 1)
            );
            let history_sql = format!(
                "INSERT INTO dag_status_history (entity, entity_id, at, status, message) VALUES {}",
                values("('dag_run', ?, ?, ?, NULL)", chunk.len(), 1)
            );
            on_tx!(tx, c => {
                let mut q = crate::sql::query(sql);
                for (dag, _) in chunk {
                    q = q
                        .bind(&dag.id)
                        .bind(&dag.root_task)
                        .bind(&dag.trigger)
                        .bind(dag.logical_date)
                        .bind(dag.status.as_str())
                        .bind(dag.created_at)
                        .bind(dag.ended_at);
                }
                q.execute(&mut **c).await.db()?;
                let mut q = crate::sql::query(history_sql);
                for (dag, _) in chunk {
                    q = q.bind(&dag.id).bind(dag.created_at).bind(dag.status.as_str());
                }
                q.execute(&mut **c).await.db()?;
            });
        }
        // 20 binds a row: a chunk stays far below both parameter limits.
        for chunk in rows.chunks(TASK_RUN_CHUNK) {
            let sql = format!(
                "INSERT INTO task_runs ({TR_COLUMNS}) VALUES {}",
                values(
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                    chunk.len(),
                    1
                )
            );
            let history_sql = format!(
                "INSERT INTO dag_status_history (entity, entity_id, at, status, message) VALUES {}",
                values("('task_run', ?, ?, ?, NULL)", chunk.len(), 1)
            );
            on_tx!(tx, c => {
                let mut q = crate::sql::query(sql);
                for (_, tr, definition, params, limit_keys) in chunk {
                    q = q
                        .bind(&tr.id)
                        .bind(&tr.dag_run_id)
                        .bind(&tr.task.name)
                        .bind(definition)
                        .bind(params)
                        .bind(limit_keys)
                        .bind(tr.status.as_str())
                        .bind(i64::from(tr.attempt))
                        .bind(&tr.run_id)
                        .bind(tr.priority)
                        .bind(tr.seq)
                        .bind(tr.not_before)
                        .bind(&tr.lease_owner)
                        .bind(tr.lease_until)
                        .bind(tr.cancel_requested)
                        .bind(tr.timed_out)
                        .bind(&tr.message)
                        .bind(tr.started_at)
                        .bind(tr.ended_at)
                        .bind(i64::from(tr.platform_slots.max(1)));
                }
                q.execute(&mut **c).await.db()?;
                let mut q = crate::sql::query(history_sql);
                for (at, tr, ..) in chunk {
                    q = q.bind(&tr.id).bind(*at).bind(tr.status.as_str());
                }
                q.execute(&mut **c).await.db()?;
            });
        }
        tx.commit().await
    }

    /// DAG runs, newest first.
    pub async fn list_dag_runs(&self, limit: u32) -> Result<Vec<DagRun>> {
        let sql = format!(
            "SELECT {DAG_COLUMNS} FROM dag_runs ORDER BY created_at DESC, id DESC LIMIT $1"
        );
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).bind(i64::from(limit)).fetch_all(p).await.db()?;
            rows.iter().map(dag_from_row).collect()
        })
    }

    /// DAG runs started from `root_task`, newest first (a server job key
    /// naming a task lists these).
    pub async fn list_dag_runs_of(&self, root_task: &str, limit: u32) -> Result<Vec<DagRun>> {
        let sql = format!(
            "SELECT {DAG_COLUMNS} FROM dag_runs WHERE root_task = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).bind(root_task).bind(i64::from(limit)).fetch_all(p).await.db()?;
            rows.iter().map(dag_from_row).collect()
        })
    }

    /// DAG runs still Running.
    pub async fn running_dag_runs(&self) -> Result<Vec<DagRun>> {
        let sql = format!(
            "SELECT {DAG_COLUMNS} FROM dag_runs WHERE status = 'Running' ORDER BY created_at"
        );
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).fetch_all(p).await.db()?;
            rows.iter().map(dag_from_row).collect()
        })
    }

    /// Running DAG runs whose task runs have all ended, with those task
    /// runs' statuses: what the dispatcher ends next. Two queries whatever
    /// the number of DAG runs (instead of one per running DAG run).
    pub async fn ended_dag_runs(&self) -> Result<Vec<(DagRun, Vec<TaskRunStatus>)>> {
        self.ended_dag_runs_where("", &[]).await
    }

    /// [`Store::ended_dag_runs`] among the DAG runs `ids` only: after a
    /// pass, the DAG runs whose task runs it ended, without the join over
    /// every running DAG run.
    pub async fn ended_dag_runs_among(
        &self,
        ids: &[String],
    ) -> Result<Vec<(DagRun, Vec<TaskRunStatus>)>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CLAIM_CHUNK) {
            let among = format!(" AND d.id IN ({})", values("?", chunk.len(), 1));
            out.extend(self.ended_dag_runs_where(&among, chunk).await?);
        }
        Ok(out)
    }

    /// The ended-DAG-runs query, narrowed by `extra` (an SQL condition on
    /// `d` whose placeholders `ids` fill).
    async fn ended_dag_runs_where(
        &self,
        extra: &str,
        ids: &[String],
    ) -> Result<Vec<(DagRun, Vec<TaskRunStatus>)>> {
        let ended = format!(
            "d.status = 'Running' AND NOT EXISTS (SELECT 1 FROM task_runs u \
             WHERE u.dag_run_id = d.id AND u.status NOT IN {TERMINAL_TASK_RUN}){extra}"
        );
        let dags_sql = format!(
            "SELECT {} FROM dag_runs d WHERE {ended} ORDER BY d.created_at",
            DAG_COLUMNS
                .split(", ")
                .map(|c| format!("d.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let statuses_sql = format!(
            "SELECT t.dag_run_id, t.status FROM task_runs t JOIN dag_runs d ON d.id = t.dag_run_id WHERE {ended}"
        );
        let (dags, statuses) = on_db!(&self.db, p => {
            let mut q = crate::sql::query(dags_sql);
            for id in ids {
                q = q.bind(id);
            }
            let dags = q.fetch_all(p).await.db()?;
            let mut q = crate::sql::query(statuses_sql);
            for id in ids {
                q = q.bind(id);
            }
            let statuses = q.fetch_all(p).await.db()?;
            (
                dags.iter().map(dag_from_row).collect::<Result<Vec<_>>>()?,
                statuses
                    .iter()
                    .map(|r| Ok((r.text("dag_run_id")?, parse_col("task_runs.status", &r.text("status")?)?)))
                    .collect::<Result<Vec<(String, TaskRunStatus)>>>()?,
            )
        });
        let mut by_dag: BTreeMap<String, Vec<TaskRunStatus>> = BTreeMap::new();
        for (id, status) in statuses {
            by_dag.entry(id).or_default().push(status);
        }
        Ok(dags
            .into_iter()
            .map(|d| {
                let s = by_dag.remove(&d.id).unwrap_or_default();
                (d, s)
            })
            .collect())
    }

    /// One DAG run, if it exists.
    pub async fn find_dag_run(&self, id: &str) -> Result<Option<DagRun>> {
        let sql = format!("SELECT {DAG_COLUMNS} FROM dag_runs WHERE id = $1");
        on_db!(&self.db, p => {
            let row = crate::sql::query(sql).bind(id).fetch_optional(p).await.db()?;
            row.as_ref().map(dag_from_row).transpose()
        })
    }

    /// A DAG run's task runs, in creation (FIFO) order.
    pub async fn task_runs_of(&self, dag_run_id: &str) -> Result<Vec<TaskRun>> {
        let sql = format!("SELECT {TR_COLUMNS} FROM task_runs WHERE dag_run_id = $1 ORDER BY seq");
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).bind(dag_run_id).fetch_all(p).await.db()?;
            rows.iter().map(task_run_from_row).collect()
        })
    }

    /// Task runs in `status`, oldest first, at most `limit`.
    pub async fn task_runs_in(&self, status: TaskRunStatus, limit: u32) -> Result<Vec<TaskRun>> {
        let sql =
            format!("SELECT {TR_COLUMNS} FROM task_runs WHERE status = $1 ORDER BY seq LIMIT $2");
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).bind(status.as_str()).bind(i64::from(limit)).fetch_all(p).await.db()?;
            rows.iter().map(task_run_from_row).collect()
        })
    }

    /// Running task runs leased by `owner`.
    pub async fn leased_by(&self, owner: &str) -> Result<Vec<TaskRun>> {
        let sql = format!(
            "SELECT {TR_COLUMNS} FROM task_runs WHERE status = 'Running' AND lease_owner = $1 ORDER BY seq"
        );
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).bind(owner).fetch_all(p).await.db()?;
            rows.iter().map(task_run_from_row).collect()
        })
    }

    /// Running task runs leased by `owner` whose attempt's run has ended
    /// (one join): what a dispatcher ends at each pass without loading
    /// every attempt it holds.
    pub async fn leased_ended(&self, owner: &str) -> Result<Vec<TaskRun>> {
        let columns = TR_COLUMNS
            .split(", ")
            .map(|c| format!("t.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM task_runs t JOIN runs r ON r.id = t.run_id \
             WHERE t.status = 'Running' AND t.lease_owner = $1 AND r.status IN ('Success', 'Failed', 'Cancelled') \
             ORDER BY t.seq"
        );
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).bind(owner).fetch_all(p).await.db()?;
            rows.iter().map(task_run_from_row).collect()
        })
    }

    /// A task run's attempts, first first.
    pub async fn attempts_of(&self, task_run_id: &str) -> Result<Vec<Attempt>> {
        on_db!(&self.db, p => {
            let rows = sqlx::query("SELECT attempt, run_id, status, started_at, ended_at, message FROM task_attempts WHERE task_run_id = $1 ORDER BY attempt")
                .bind(task_run_id)
                .fetch_all(p)
                .await
                .db()?;
            rows.iter().map(attempt_from_row).collect()
        })
    }

    /// A DAG run's or task run's status history, oldest first.
    pub async fn dag_history(&self, entity_id: &str) -> Result<Vec<DagStatusChange>> {
        on_db!(&self.db, p => {
            let rows = sqlx::query("SELECT at, status, message FROM dag_status_history WHERE entity_id = $1 ORDER BY id")
                .bind(entity_id)
                .fetch_all(p)
                .await
                .db()?;
            rows.iter()
                .map(|r| Ok(DagStatusChange { at: r.int("at")?, status: r.text("status")?, message: r.opt_text("message")? }))
                .collect()
        })
    }

    /// [`Tx::update_task_run`] in its own transaction.
    pub async fn update_task_run(&self, tr: &TaskRun, now: i64) -> Result<Update<TaskRun>> {
        let mut tx = self.begin().await?;
        let out = tx.update_task_run(tr, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Claims up to `max` ready task runs (Queued, or Retrying past their
    /// backoff) for `owner`, highest priority first then FIFO, each only
    /// when every limit it names has a free slot: lease, slots and the new
    /// attempt are written in one transaction. Claims are serialised across
    /// dispatchers (PostgreSQL advisory lock; SQLite's single writer), so a
    /// limit is never exceeded; PostgreSQL also skips rows another
    /// transaction holds (`FOR UPDATE SKIP LOCKED`).
    pub async fn claim_task_runs(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        max: u32,
    ) -> Result<Vec<TaskRun>> {
        let mut tx = self.begin().await?;
        let candidates_sql = format!(
            "SELECT {TR_COLUMNS} FROM task_runs WHERE status IN ('Queued', 'Retrying') AND not_before <= $1 \
             ORDER BY priority DESC, seq LIMIT $2"
        );
        let window = i64::from(max.saturating_mul(8).max(64));
        if let TxInner::Postgres(c) = &mut tx.inner {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CLAIM_LOCK)
                .execute(&mut **c)
                .await
                .db()?;
        }
        // PostgreSQL also passes over rows another transaction holds.
        let skip_locked = match tx.inner {
            TxInner::Sqlite(_) => "",
            TxInner::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let candidates_sql = format!("{candidates_sql}{skip_locked}");
        let (candidates, held) = on_tx!(tx, c => {
            let rows = crate::sql::query(candidates_sql)
                .bind(now)
                .bind(window)
                .fetch_all(&mut **c)
                .await
                .db()?;
            let held = sqlx::query(HELD_SLOTS).fetch_all(&mut **c).await.db()?;
            (
                rows.iter().map(task_run_from_row).collect::<Result<Vec<_>>>()?,
                held_from_rows(&held)?,
            )
        });
        let mut held = held;
        let mut picked = Vec::new();
        for tr in candidates {
            if picked.len() >= max as usize {
                break;
            }
            let free = tr.limit_keys.iter().all(|(key, cap)| {
                held.get(key).copied().unwrap_or(0) + slots_of(&tr, key, *cap) <= i64::from(*cap)
            });
            if !free {
                continue;
            }
            for (key, cap) in &tr.limit_keys {
                *held.entry(key.clone()).or_insert(0) += slots_of(&tr, key, *cap);
            }
            picked.push(tr);
        }
        // A few multi-row statements per chunk instead of five per task
        // run: what makes a claim of hundreds cheap on PostgreSQL.
        let mut claimed = Vec::with_capacity(picked.len());
        for chunk in picked.chunks(CLAIM_CHUNK) {
            let sql = format!(
                "UPDATE task_runs SET status = 'Running', attempt = attempt + 1, \
                 run_id = id || '.' || CAST(attempt + 1 AS TEXT), lease_owner = $1, lease_until = $2, \
                 timed_out = $3, message = NULL, started_at = COALESCE(started_at, $4), version = version + 1 \
                 WHERE status IN ('Queued', 'Retrying') AND id IN ({}) RETURNING id",
                values("?", chunk.len(), 5)
            );
            let updated: std::collections::BTreeSet<String> = on_tx!(tx, c => {
                let mut q = crate::sql::query(sql)
                    .bind(owner)
                    .bind(now + lease_ms)
                    .bind(false)
                    .bind(now);
                for tr in chunk {
                    q = q.bind(&tr.id);
                }
                let rows = q.fetch_all(&mut **c).await.db()?;
                rows.iter().map(|r| r.text("id")).collect::<Result<_>>()?
            });
            let chunk: Vec<TaskRun> = chunk
                .iter()
                .filter(|tr| updated.contains(&tr.id))
                .map(|tr| {
                    let attempt = tr.attempt + 1;
                    TaskRun {
                        status: TaskRunStatus::Running,
                        attempt,
                        run_id: Some(polysync_core::dag::attempt_run_id(&tr.id, attempt)),
                        lease_owner: Some(owner.to_owned()),
                        lease_until: Some(now + lease_ms),
                        timed_out: false,
                        message: None,
                        started_at: tr.started_at.or(Some(now)),
                        version: tr.version + 1,
                        ..tr.clone()
                    }
                })
                .collect();
            if chunk.is_empty() {
                continue;
            }
            let slots: Vec<(&str, &str, i64)> = chunk
                .iter()
                .flat_map(|tr| {
                    tr.limit_keys
                        .iter()
                        .map(|(k, cap)| (k.as_str(), tr.id.as_str(), slots_of(tr, k, *cap)))
                })
                .collect();
            let history_sql = format!(
                "INSERT INTO dag_status_history (entity, entity_id, at, status, message) VALUES {}",
                values("('task_run', ?, ?, 'Running', NULL)", chunk.len(), 1)
            );
            let attempts_sql = format!(
                "INSERT INTO task_attempts (task_run_id, attempt, run_id, status, started_at, ended_at, message) VALUES {}",
                values("(?, ?, ?, 'Running', ?, NULL, NULL)", chunk.len(), 1)
            );
            on_tx!(tx, c => {
                let mut q = crate::sql::query(history_sql);
                for tr in &chunk {
                    q = q.bind(&tr.id).bind(now);
                }
                q.execute(&mut **c).await.db()?;
                let mut q = crate::sql::query(attempts_sql);
                for tr in &chunk {
                    q = q
                        .bind(&tr.id)
                        .bind(i64::from(tr.attempt))
                        .bind(tr.run_id.as_deref())
                        .bind(now);
                }
                q.execute(&mut **c).await.db()?;
                for part in slots.chunks(CLAIM_CHUNK) {
                    let sql = format!(
                        "INSERT INTO limit_slots (limit_key, task_run_id, slots) VALUES {}",
                        values("(?, ?, ?)", part.len(), 1)
                    );
                    let mut q = crate::sql::query(sql);
                    for (key, id, n) in part {
                        q = q.bind(*key).bind(*id).bind(*n);
                    }
                    q.execute(&mut **c).await.db()?;
                }
            });
            claimed.extend(chunk);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Takes over Running task runs whose lease expired (their dispatcher
    /// died): they become `owner`'s, to be tracked to their end.
    pub async fn take_over_expired(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Vec<TaskRun>> {
        let sql = format!(
            "UPDATE task_runs SET lease_owner = $1, lease_until = $2, version = version + 1 \
             WHERE status = 'Running' AND (lease_until IS NULL OR lease_until < $3) RETURNING {TR_COLUMNS}"
        );
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).bind(owner).bind(now + lease_ms).bind(now).fetch_all(p).await.db()?;
            rows.iter().map(task_run_from_row).collect()
        })
    }

    /// Registers a dispatcher instance. With `exclusive_since`, refuses
    /// (returning the live one) when another dispatcher has a heartbeat
    /// newer than that: check and insert happen in one write transaction,
    /// so of two starting together exactly one registers.
    pub async fn register_dispatcher(
        &self,
        info: &DispatcherInfo,
        exclusive_since: Option<i64>,
    ) -> Result<std::result::Result<(), DispatcherInfo>> {
        let mut tx = self.begin().await?;
        let live = on_tx!(tx, c => {
            let rows = sqlx::query("SELECT id, host, pid, started_at, heartbeat_at FROM dispatchers WHERE heartbeat_at >= $1 ORDER BY started_at")
                .bind(exclusive_since.unwrap_or(i64::MAX))
                .fetch_all(&mut **c)
                .await
                .db()?;
            rows.iter().map(dispatcher_from_row)
                .collect::<Result<Vec<_>>>()?
        });
        if let Some(other) = live.into_iter().next() {
            return Ok(Err(other));
        }
        on_tx!(tx, c => {
            sqlx::query("INSERT INTO dispatchers (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&info.id)
                .bind(&info.host)
                .bind(info.pid)
                .bind(info.started_at)
                .bind(info.heartbeat_at)
                .execute(&mut **c)
                .await
                .db()?;
        });
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// A dispatcher's heartbeat: refreshes its row and extends the leases
    /// of the task runs it works on.
    pub async fn heartbeat(&self, id: &str, now: i64, lease_ms: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE dispatchers SET heartbeat_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut **c).await.db()?;
            sqlx::query("UPDATE task_runs SET lease_until = $2 WHERE lease_owner = $1 AND status = 'Running'")
                .bind(id)
                .bind(now + lease_ms)
                .execute(&mut **c)
                .await
                .db()?;
        });
        tx.commit().await
    }

    /// Dispatchers whose heartbeat is newer than `since`.
    pub async fn live_dispatchers(&self, since: i64) -> Result<Vec<DispatcherInfo>> {
        on_db!(&self.db, p => {
            let rows = sqlx::query("SELECT id, host, pid, started_at, heartbeat_at FROM dispatchers WHERE heartbeat_at >= $1 ORDER BY started_at")
                .bind(since)
                .fetch_all(p)
                .await
                .db()?;
            rows.iter().map(dispatcher_from_row)
                .collect()
        })
    }

    /// Removes a dispatcher's row (clean shutdown) and releases its leases
    /// at once, so another instance picks its runs up without waiting.
    pub async fn deregister_dispatcher(&self, id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        on_tx!(tx, c => {
            sqlx::query("DELETE FROM dispatchers WHERE id = $1").bind(id).execute(&mut **c).await.db()?;
            sqlx::query("UPDATE task_runs SET lease_until = 0 WHERE lease_owner = $1 AND status = 'Running'").bind(id).execute(&mut **c).await.db()?;
        });
        tx.commit().await
    }

    /// Scheduled tasks due at `now`: (name, fire time).
    pub async fn due_schedules(&self, now: i64) -> Result<Vec<(String, i64)>> {
        on_db!(&self.db, p => {
            let rows = sqlx::query("SELECT name, next_fire_at FROM tasks WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1 ORDER BY next_fire_at")
                .bind(now)
                .fetch_all(p)
                .await
                .db()?;
            rows.iter().map(|r| Ok((r.text("name")?, r.int("next_fire_at")?))).collect()
        })
    }

    /// Moves a task's next fire time from `fired` to `next`,
    /// compare-and-set: of several dispatchers seeing the same due fire,
    /// exactly one gets `true` and starts the DAG run.
    pub async fn advance_schedule(
        &self,
        name: &str,
        fired: i64,
        next: Option<i64>,
    ) -> Result<bool> {
        on_db!(&self.db, p => {
            let done = sqlx::query("UPDATE tasks SET next_fire_at = $3 WHERE name = $1 AND next_fire_at = $2")
                .bind(name)
                .bind(fired)
                .bind(next)
                .execute(p)
                .await
                .db()?
                .rows_affected();
            Ok(done == 1)
        })
    }

    /// Held slots per limit key (for `dispatcher` status and tests).
    pub async fn held_slots(&self) -> Result<BTreeMap<String, i64>> {
        on_db!(&self.db, p => {
            let rows = sqlx::query(HELD_SLOTS).fetch_all(p).await.db()?;
            held_from_rows(&rows)
        })
    }
}
