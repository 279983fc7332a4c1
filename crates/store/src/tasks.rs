//! Tasks and contention limits as applied from a tasks file: replaced all
//! at once in one transaction (or not at all), compared as whole
//! definitions so re-applying the same file changes nothing.

use std::collections::BTreeMap;

use polysync_core::Task;
use serde::Serialize;

use crate::error::{DbResultExt, Error, Result};
use crate::rows::RowExt;
use crate::tx::{Tx, TxInner, on_tx};
use crate::{Store, now_ms, on_db};

/// A task as stored, with what the dispatcher keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredTask {
    /// The definition as applied.
    #[serde(flatten)]
    pub task: Task,
    /// The next scheduled start (epoch ms), for scheduled tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_fire_at: Option<i64>,
    /// When it was first applied, epoch ms.
    pub created_at: i64,
    /// When its definition last changed, epoch ms.
    pub updated_at: i64,
}

/// What applying a tasks file changed (or would change, for a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskApplySummary {
    /// Tasks new in the store.
    pub added: Vec<String>,
    /// Tasks whose definition changed.
    pub changed: Vec<String>,
    /// Tasks exactly as stored.
    pub unchanged: Vec<String>,
    /// Tasks removed because the file no longer has them (`--prune`).
    pub removed: Vec<String>,
    /// Stored tasks the file does not mention, kept (no `--prune`).
    pub kept: Vec<String>,
    /// Limits added or whose capacity changed.
    pub limits_changed: Vec<String>,
    /// Limits removed (`--prune`).
    pub limits_removed: Vec<String>,
}

/// What to apply and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyMode {
    /// Remove stored tasks and limits the file does not declare.
    pub prune: bool,
    /// Compute the summary, write nothing.
    pub dry_run: bool,
}

const TASK_COLUMNS: &str = "name, definition, next_fire_at, created_at, updated_at";

fn task_from_row(r: &impl RowExt) -> Result<StoredTask> {
    let task: Task = serde_json::from_str(&r.text("definition")?).map_err(|e| Error::Corrupt {
        column: "tasks.definition",
        message: e.to_string(),
    })?;
    Ok(StoredTask {
        task,
        next_fire_at: r.opt_int("next_fire_at")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

const LIMITS: &str = "SELECT name, capacity FROM task_limits";

fn limits_from_rows(rows: &[impl RowExt]) -> Result<BTreeMap<String, u32>> {
    rows.iter()
        .map(|r| {
            Ok((
                r.text("name")?,
                u32::try_from(r.int("capacity")?).unwrap_or(u32::MAX),
            ))
        })
        .collect()
}

fn definition(task: &Task) -> Result<String> {
    serde_json::to_string(task).map_err(|e| Error::internal(e.to_string()))
}

/// Advisory lock key of task applies (an arbitrary constant: "psynctsk").
const TASKS_LOCK: i64 = 0x7073_796e_6374_736b;

impl Tx {
    /// Serialises applies of tasks files (SQLite's `BEGIN IMMEDIATE` does
    /// already; PostgreSQL takes a transaction-scoped advisory lock), so two
    /// concurrent applies never interleave their diffs.
    async fn lock_tasks(&mut self) -> Result<()> {
        if let TxInner::Postgres(c) = &mut self.inner {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(TASKS_LOCK)
                .execute(&mut **c)
                .await
                .db()?;
        }
        Ok(())
    }

    async fn all_tasks(&mut self) -> Result<Vec<StoredTask>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks ORDER BY name");
        on_tx!(self, c => {
            let rows = crate::sql::query(sql).fetch_all(&mut **c).await.db()?;
            rows.iter().map(task_from_row).collect()
        })
    }

    async fn all_limits(&mut self) -> Result<BTreeMap<String, u32>> {
        on_tx!(self, c => {
            let rows = sqlx::query(LIMITS).fetch_all(&mut **c).await.db()?;
            limits_from_rows(&rows)
        })
    }
}

impl Store {
    /// Replaces the stored tasks and limits with `tasks` and `limits`, all
    /// at once: one transaction, so a failure (or a dry run) leaves the
    /// store as it was. Tasks are compared as whole definitions; the same
    /// file applied twice changes nothing the second time. `next_fire`
    /// gives a scheduled task's first fire time (kept when the schedule did
    /// not change).
    pub async fn apply_tasks(
        &self,
        tasks: &[Task],
        limits: &BTreeMap<String, u32>,
        mode: ApplyMode,
        next_fire: impl Fn(&Task) -> Option<i64>,
    ) -> Result<TaskApplySummary> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        tx.lock_tasks().await?;
        let stored: BTreeMap<String, StoredTask> = tx
            .all_tasks()
            .await?
            .into_iter()
            .map(|t| (t.task.name.clone(), t))
            .collect();
        let stored_limits = tx.all_limits().await?;
        let mut summary = TaskApplySummary::default();
        for (name, cap) in limits {
            if stored_limits.get(name) != Some(cap) {
                summary.limits_changed.push(name.clone());
                if !mode.dry_run {
                    on_tx!(tx, c => {
                        sqlx::query("DELETE FROM task_limits WHERE name = $1").bind(name).execute(&mut **c).await.db()?;
                        sqlx::query("INSERT INTO task_limits (name, capacity, updated_at) VALUES ($1, $2, $3)")
                            .bind(name)
                            .bind(i64::from(*cap))
                            .bind(now)
                            .execute(&mut **c)
                            .await
                            .db()?;
                    });
                }
            }
        }
        for name in stored_limits.keys().filter(|n| !limits.contains_key(*n)) {
            if mode.prune {
                summary.limits_removed.push(name.clone());
                if !mode.dry_run {
                    on_tx!(tx, c => {
                        sqlx::query("DELETE FROM task_limits WHERE name = $1").bind(name).execute(&mut **c).await.db()?;
                    });
                }
            }
        }
        for task in tasks {
            let def = definition(task)?;
            match stored.get(&task.name) {
                Some(old) if old.task == *task => summary.unchanged.push(task.name.clone()),
                Some(old) => {
                    summary.changed.push(task.name.clone());
                    let fire = if old.task.schedule == task.schedule {
                        old.next_fire_at
                    } else {
                        next_fire(task)
                    };
                    if !mode.dry_run {
                        on_tx!(tx, c => {
                            sqlx::query("UPDATE tasks SET definition = $2, next_fire_at = $3, updated_at = $4, version = version + 1 WHERE name = $1")
                                .bind(&task.name)
                                .bind(&def)
                                .bind(fire)
                                .bind(now)
                                .execute(&mut **c)
                                .await
                                .db()?;
                        });
                    }
                }
                None => {
                    summary.added.push(task.name.clone());
                    if !mode.dry_run {
                        let fire = next_fire(task);
                        on_tx!(tx, c => {
                            sqlx::query("INSERT INTO tasks (name, definition, next_fire_at, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1)")
                                .bind(&task.name)
                                .bind(&def)
                                .bind(fire)
                                .bind(now)
                                .execute(&mut **c)
                                .await
                                .db()?;
                        });
                    }
                }
            }
        }
        let declared: std::collections::BTreeSet<&str> =
            tasks.iter().map(|t| t.name.as_str()).collect();
        for name in stored.keys().filter(|n| !declared.contains(n.as_str())) {
            if mode.prune {
                summary.removed.push(name.clone());
                if !mode.dry_run {
                    on_tx!(tx, c => {
                        sqlx::query("DELETE FROM tasks WHERE name = $1").bind(name).execute(&mut **c).await.db()?;
                    });
                }
            } else {
                summary.kept.push(name.clone());
            }
        }
        if mode.dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(summary)
    }

    /// Every task, by name.
    pub async fn list_tasks(&self) -> Result<Vec<StoredTask>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks ORDER BY name");
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).fetch_all(p).await.db()?;
            rows.iter().map(task_from_row).collect()
        })
    }

    /// One task by name, if it exists.
    pub async fn find_task(&self, name: &str) -> Result<Option<StoredTask>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE name = $1");
        on_db!(&self.db, p => {
            let row = crate::sql::query(sql).bind(name).fetch_optional(p).await.db()?;
            row.as_ref().map(task_from_row).transpose()
        })
    }

    /// The contention limits, by name.
    pub async fn list_limits(&self) -> Result<BTreeMap<String, u32>> {
        // A plain read: no write transaction (which on SQLite would take the
        // write lock) just to look.
        on_db!(&self.db, p => {
            let rows = sqlx::query(LIMITS).fetch_all(p).await.db()?;
            limits_from_rows(&rows)
        })
    }

    /// Deletes one task. Refused while other tasks depend on it (their
    /// `after` would point nowhere), naming them.
    pub async fn delete_task(&self, name: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.lock_tasks().await?;
        let all = tx.all_tasks().await?;
        if !all.iter().any(|t| t.task.name == name) {
            return Err(Error::not_found("task", name));
        }
        let dependents: Vec<&str> = all
            .iter()
            .filter(|t| t.task.after.iter().any(|d| d.task == name))
            .map(|t| t.task.name.as_str())
            .collect();
        if !dependents.is_empty() {
            return Err(Error::Conflict(format!(
                "task {name:?} is upstream of {}; remove or change those first",
                dependents.join(", ")
            )));
        }
        on_tx!(tx, c => {
            sqlx::query("DELETE FROM tasks WHERE name = $1").bind(name).execute(&mut **c).await.db()?;
        });
        tx.commit().await
    }
}
