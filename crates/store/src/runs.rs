//! Runs and their status history.

use std::collections::BTreeMap;

use polysync_core::{Run, RunStatus};
use serde::Serialize;

use crate::error::{DbResultExt, Error, IntoStore, Result, is_unique_violation};
use crate::rows::{RowExt, parse_col};
use crate::tx::{Tx, on_tx};
use crate::{Store, Update, on_db};

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

const COLUMNS: &str = "id, job_name, job_type, job_external_id, platform, databricks_run_id, status, \
     life_cycle_state, result_state, update_state, state_message, parameters, created_at, updated_at, \
     ended_at, monitor_url, error_message, notebook_exit_value, request, submit_attempted_at, version, started_at, outputs";
/// The columns a run's writes set (its state; identity columns are set
/// once by the insert), in the order [`bind_state!`] binds them: the
/// insert and the compare-and-set update share this one list.
const STATE_COLUMNS: [&str; 16] = [
    "databricks_run_id",
    "status",
    "life_cycle_state",
    "result_state",
    "update_state",
    "state_message",
    "parameters",
    "updated_at",
    "ended_at",
    "monitor_url",
    "error_message",
    "notebook_exit_value",
    "request",
    "submit_attempted_at",
    "started_at",
    "outputs",
];
const HISTORY: &str = "SELECT at, status, life_cycle_state, result_state, update_state, state_message \
     FROM run_status_history WHERE run_id = $1 ORDER BY id";

/// Most ids bound in one `IN (...)` read (under SQLite's variable limit).
const IDS_CHUNK: usize = 500;
/// Statuses a run can still leave: what a tracker must follow.
const ACTIVE: &str = "('Queued', 'Running', 'Unknown')";

fn get_run_sql() -> String {
    format!("SELECT {COLUMNS} FROM runs WHERE id = $1")
}

fn list_runs_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM runs \
         WHERE ($1 IS NULL OR job_name = $1) AND ($2 IS NULL OR platform = $2) AND ($3 IS NULL OR status = $3) \
         AND created_at >= $5 \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    )
}

fn runs_by_ref_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM runs \
         WHERE substr(id, 1, length(CAST($1 AS TEXT))) = CAST($1 AS TEXT) OR databricks_run_id = CAST($1 AS TEXT) \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    )
}

fn active_runs_sql() -> String {
    format!("SELECT {COLUMNS} FROM runs WHERE status IN {ACTIVE} ORDER BY created_at, id LIMIT $1")
}

/// [`COLUMNS`] without the two wide ones tracking never reads: the stored
/// request (several KB per run) and the parameter values.
const TRACKING_COLUMNS: &str = "id, job_name, job_type, job_external_id, platform, databricks_run_id, status, \
     life_cycle_state, result_state, update_state, state_message, '{}' AS parameters, created_at, updated_at, \
     ended_at, monitor_url, error_message, notebook_exit_value, NULL AS request, submit_attempted_at, version, \
     started_at, NULL AS outputs";

fn tracked_runs_sql() -> String {
    format!(
        "SELECT {TRACKING_COLUMNS} FROM runs WHERE status IN {ACTIVE} ORDER BY created_at, id LIMIT $1"
    )
}

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
        started_at: r.opt_int("started_at")?,
        ended_at: r.opt_int("ended_at")?,
        monitor_url: r.opt_text("monitor_url")?,
        error_message: r.opt_text("error_message")?,
        notebook_exit_value: r.opt_text("notebook_exit_value")?,
        request: r
            .opt_text("request")?
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| Error::Corrupt {
                column: "runs.request",
                message: e.to_string(),
            })?,
        submit_attempted_at: r.opt_int("submit_attempted_at")?,
        outputs: r
            .opt_text("outputs")?
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| Error::Corrupt {
                column: "runs.outputs",
                message: e.to_string(),
            })?,
        version: r.int("version")?,
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
    serde_json::to_string(&run.parameters).map_err(|e| Error::internal(e.to_string()))
}

fn outputs_json(run: &Run) -> Result<Option<String>> {
    run.outputs
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::internal(e.to_string()))
}

fn request_json(run: &Run) -> Result<Option<String>> {
    run.request
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::internal(e.to_string()))
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

/// Binds a run's [`STATE_COLUMNS`] to `$q`, in order; `$encoded` is the
/// run's `(parameters, request, outputs)` JSON (see [`encoded`]).
macro_rules! bind_state {
    ($q:expr, $run:expr, $encoded:expr) => {{
        let (params, request, outputs) = $encoded;
        $q.bind(&$run.databricks_run_id)
            .bind($run.status.as_str())
            .bind(&$run.life_cycle_state)
            .bind(&$run.result_state)
            .bind(&$run.update_state)
            .bind(&$run.state_message)
            .bind(params)
            .bind($run.updated_at)
            .bind($run.ended_at)
            .bind(&$run.monitor_url)
            .bind(&$run.error_message)
            .bind(&$run.notebook_exit_value)
            .bind(request)
            .bind($run.submit_attempted_at)
            .bind($run.started_at)
            .bind(outputs)
    }};
}

/// The JSON columns of a run: `(parameters, request, outputs)`.
fn encoded(run: &Run) -> Result<(String, Option<String>, Option<String>)> {
    Ok((params_json(run)?, request_json(run)?, outputs_json(run)?))
}

/// `(?, ?, …)` for a row of `n` parameters.
fn row_of(n: usize) -> String {
    format!("({})", vec!["?"; n].join(", "))
}

impl Tx {
    /// Records a new run (version 1) and its first history entry; a run id
    /// that exists already is [`Error::AlreadyExists`]. The batched insert
    /// ([`Tx::insert_runs`]) with one row.
    pub async fn insert_run(&mut self, run: &Run) -> Result<Run> {
        self.insert_runs(std::slice::from_ref(run))
            .await?
            .pop()
            .ok_or_else(|| Error::internal("a run insert lost its row"))
    }

    /// One run, locked for the rest of the transaction where the backend
    /// needs it (PostgreSQL `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` holds
    /// the write lock already), so read-decide-write on it is atomic.
    pub async fn find_run(&mut self, id: &str) -> Result<Option<Run>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE id = $1{}",
            self.row_lock()
        );
        on_tx!(self, c => {
            let row = crate::sql::query(sql).bind(id).fetch_optional(&mut **c).await.db()?;
            row.as_ref().map(run_from_row).transpose()
        })
    }

    /// Saves a run's mutable fields, compare-and-set on `run.version` (the
    /// version the caller read). Appends a history entry only when the
    /// status or a Databricks state/message changed. A concurrent writer
    /// makes it [`Update::Stale`] with the row as it is now: never a silent
    /// overwrite. The batched update ([`Tx::update_runs`]) with one row.
    pub async fn update_run(&mut self, run: &Run) -> Result<Update<Run>> {
        self.update_runs(std::slice::from_ref(run))
            .await?
            .pop()
            .ok_or_else(|| Error::internal("a run update lost its row"))
    }
}

/// Run rows per multi-row statement (23 binds each at most).
const RUN_CHUNK: usize = 100;

/// The current version and state of a run, read (and locked) before a
/// batched compare-and-set update.
struct RunState {
    version: i64,
    key: StatusChange,
}

fn run_state_from_row(r: &impl RowExt) -> Result<(String, RunState)> {
    Ok((
        r.text("id")?,
        RunState {
            version: r.int("version")?,
            key: change_from_row_at(r, 0)?,
        },
    ))
}

fn change_from_row_at(r: &impl RowExt, at: i64) -> Result<StatusChange> {
    Ok(StatusChange {
        at,
        status: parse_col("runs.status", &r.text("status")?)?,
        life_cycle_state: r.opt_text("life_cycle_state")?,
        result_state: r.opt_text("result_state")?,
        update_state: r.opt_text("update_state")?,
        state_message: r.opt_text("state_message")?,
    })
}

impl Tx {
    /// Records many new runs (version 1) and their first history entries
    /// with multi-row statements: what the dispatcher's pass does for all
    /// the attempts it starts, before any is sent. A run id that exists
    /// already fails the whole call ([`Error::AlreadyExists`]); the caller
    /// rolls back.
    pub async fn insert_runs(&mut self, runs: &[Run]) -> Result<Vec<Run>> {
        for chunk in runs.chunks(RUN_CHUNK) {
            let encoded = chunk.iter().map(encoded).collect::<Result<Vec<_>>>()?;
            let sql = format!(
                "INSERT INTO runs (id, job_id, job_name, job_type, job_external_id, platform, created_at, \
                 version, {}) VALUES {}",
                STATE_COLUMNS.join(", "),
                crate::dag::values(
                    &format!(
                        "(?, (SELECT id FROM jobs WHERE name = ?), ?, ?, ?, ?, ?, 1, {}",
                        &row_of(STATE_COLUMNS.len())[1..]
                    ),
                    chunk.len(),
                    1
                )
            );
            let history_sql = format!(
                "INSERT INTO run_status_history (run_id, at, status, life_cycle_state, result_state, \
                 update_state, state_message) VALUES {}",
                crate::dag::values("(?, ?, ?, ?, ?, ?, ?)", chunk.len(), 1)
            );
            on_tx!(self, c => {
                let mut q = crate::sql::query(sql);
                for (run, encoded) in chunk.iter().zip(&encoded) {
                    q = q
                        .bind(&run.id)
                        .bind(&run.job_name)
                        .bind(&run.job_name)
                        .bind(run.job_type.as_str())
                        .bind(&run.job_external_id)
                        .bind(&run.platform)
                        .bind(run.created_at);
                    q = bind_state!(q, run, encoded);
                }
                match q.execute(&mut **c).await {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        let first = chunk.first().map(|r| r.id.as_str()).unwrap_or_default();
                        return Err(Error::already_exists("run", first));
                    }
                    Err(e) => return Err(e.into_store()),
                }
                let mut q = crate::sql::query(history_sql);
                for run in chunk {
                    q = q
                        .bind(&run.id)
                        .bind(run.updated_at)
                        .bind(run.status.as_str())
                        .bind(&run.life_cycle_state)
                        .bind(&run.result_state)
                        .bind(&run.update_state)
                        .bind(&run.state_message);
                }
                q.execute(&mut **c).await.db()?;
            });
        }
        Ok(runs
            .iter()
            .map(|r| Run {
                version: 1,
                ..r.clone()
            })
            .collect())
    }

    /// Several runs by id, locked for the rest of the transaction like
    /// [`Tx::find_run`] (in id order, so two batches never deadlock), in a
    /// few multi-row reads; ids without a run are absent.
    pub async fn find_runs(
        &mut self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, Run>> {
        let mut sorted: Vec<&String> = ids.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut out = std::collections::HashMap::with_capacity(sorted.len());
        for chunk in sorted.chunks(IDS_CHUNK) {
            let sql = format!(
                "SELECT {COLUMNS} FROM runs WHERE id IN ({}) ORDER BY id{}",
                crate::dag::values("?", chunk.len(), 1),
                self.row_lock()
            );
            let runs: Vec<Run> = on_tx!(self, c => {
                let mut q = crate::sql::query(sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                let rows = q.fetch_all(&mut **c).await.db()?;
                rows.iter().map(run_from_row).collect::<Result<_>>()?
            });
            out.extend(runs.into_iter().map(|r| (r.id.clone(), r)));
        }
        Ok(out)
    }

    /// The version and state of each of `ids`, locked (id order).
    async fn run_states(
        &mut self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, RunState>> {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out = std::collections::HashMap::with_capacity(sorted.len());
        for chunk in sorted.chunks(IDS_CHUNK) {
            let sql = format!(
                "SELECT id, version, status, life_cycle_state, result_state, update_state, state_message \
                 FROM runs WHERE id IN ({}) ORDER BY id{}",
                crate::dag::values("?", chunk.len(), 1),
                self.row_lock()
            );
            let states: Vec<(String, RunState)> = on_tx!(self, c => {
                let mut q = crate::sql::query(sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                let rows = q.fetch_all(&mut **c).await.db()?;
                rows.iter().map(run_state_from_row).collect::<Result<_>>()?
            });
            out.extend(states);
        }
        Ok(out)
    }

    /// [`Tx::update_run`] for many runs at once: the current versions are
    /// read (and locked) in one statement per chunk, every run still at the
    /// version its caller read is written with one multi-row
    /// compare-and-set `UPDATE`, and the history rows of the state changes
    /// with one insert. A run changed meanwhile is [`Update::Stale`] with
    /// its current row, as one by one. Results are in `runs` order.
    pub async fn update_runs(&mut self, runs: &[Run]) -> Result<Vec<Update<Run>>> {
        // The same run twice: the later write goes in a later round, on
        // top of the earlier one (compare-and-set as one by one).
        let mut out: Vec<Option<Update<Run>>> = vec![None; runs.len()];
        let mut pending: Vec<usize> = (0..runs.len()).collect();
        while !pending.is_empty() {
            let mut seen = std::collections::HashSet::new();
            let (round, later): (Vec<usize>, Vec<usize>) = pending
                .iter()
                .copied()
                .partition(|&i| seen.insert(runs[i].id.as_str()));
            let rows: Vec<&Run> = round.iter().map(|&i| &runs[i]).collect();
            for (i, u) in round.into_iter().zip(self.update_runs_once(&rows).await?) {
                out[i] = Some(u);
            }
            pending = later;
        }
        out.into_iter()
            .map(|u| u.ok_or_else(|| Error::internal("a batched run update lost a row")))
            .collect()
    }

    /// One round of [`Tx::update_runs`]: `runs` name distinct runs.
    async fn update_runs_once(&mut self, runs: &[&Run]) -> Result<Vec<Update<Run>>> {
        let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        let states = self.run_states(&ids).await?;
        let mut out: Vec<Option<Update<Run>>> = vec![None; runs.len()];
        let mut fresh: Vec<usize> = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let Some(state) = states.get(&run.id) else {
                return Err(Error::not_found("run", &run.id));
            };
            if state.version != run.version {
                let current = self
                    .find_run(&run.id)
                    .await?
                    .ok_or_else(|| Error::not_found("run", &run.id))?;
                out[i] = Some(Update::Stale { current });
            } else {
                fresh.push(i);
            }
        }
        let set: Vec<String> = STATE_COLUMNS
            .iter()
            .map(|c| format!("{c} = v.{c}"))
            .collect();
        for chunk in fresh.chunks(RUN_CHUNK) {
            let encoded = chunk
                .iter()
                .map(|&i| encoded(runs[i]))
                .collect::<Result<Vec<_>>>()?;
            let sql = format!(
                "WITH v (id, ver, {}) AS (VALUES {}) UPDATE runs SET {}, version = runs.version + 1 \
                 FROM v WHERE runs.id = v.id AND runs.version = v.ver",
                STATE_COLUMNS.join(", "),
                crate::dag::values(&row_of(STATE_COLUMNS.len() + 2), chunk.len(), 1),
                set.join(", ")
            );
            let history: Vec<&Run> = chunk
                .iter()
                .map(|&i| runs[i])
                .filter(|r| states.get(&r.id).is_some_and(|s| s.key != state_key(r)))
                .collect();
            let history_sql = format!(
                "INSERT INTO run_status_history (run_id, at, status, life_cycle_state, result_state, \
                 update_state, state_message) VALUES {}",
                crate::dag::values("(?, ?, ?, ?, ?, ?, ?)", history.len(), 1)
            );
            let done = on_tx!(self, c => {
                let mut q = crate::sql::query(sql);
                for (&i, encoded) in chunk.iter().zip(&encoded) {
                    let run = runs[i];
                    q = q.bind(&run.id).bind(run.version);
                    q = bind_state!(q, run, encoded);
                }
                let done = q.execute(&mut **c).await.db()?.rows_affected();
                if !history.is_empty() {
                    let mut q = crate::sql::query(history_sql);
                    for run in &history {
                        q = q
                            .bind(&run.id)
                            .bind(run.updated_at)
                            .bind(run.status.as_str())
                            .bind(&run.life_cycle_state)
                            .bind(&run.result_state)
                            .bind(&run.update_state)
                            .bind(&run.state_message);
                    }
                    q.execute(&mut **c).await.db()?;
                }
                done
            });
            // The rows are locked (or the database is) since their versions
            // were read: every one of them is written.
            if done != chunk.len() as u64 {
                return Err(Error::internal(format!(
                    "a batched run update wrote {done} of {} locked rows",
                    chunk.len()
                )));
            }
            for &i in chunk {
                out[i] = Some(Update::Applied(Run {
                    version: runs[i].version + 1,
                    ..runs[i].clone()
                }));
            }
        }
        out.into_iter()
            .map(|u| u.ok_or_else(|| Error::internal("a batched run update lost a row")))
            .collect()
    }
}

impl Store {
    /// Records a new run and its first history entry (one transaction).
    pub async fn insert_run(&self, run: &Run) -> Result<Run> {
        let mut tx = self.begin().await?;
        let run = tx.insert_run(run).await?;
        tx.commit().await?;
        Ok(run)
    }

    /// [`Tx::update_run`] in its own transaction.
    pub async fn update_run(&self, run: &Run) -> Result<Update<Run>> {
        let mut tx = self.begin().await?;
        let outcome = tx.update_run(run).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// One run by Polysync run id, if it exists.
    pub async fn find_run(&self, id: &str) -> Result<Option<Run>> {
        on_db!(&self.db, p => {
            let row = crate::sql::query(get_run_sql())
                .bind(id)
                .fetch_optional(p)
                .await
                .db()?;
            row.as_ref().map(run_from_row).transpose()
        })
    }

    /// One run by Polysync run id; [`Error::NotFound`] when there is none.
    pub async fn get_run(&self, id: &str) -> Result<Run> {
        self.find_run(id)
            .await?
            .ok_or_else(|| Error::not_found("run", id))
    }

    /// Runs matching `filter`, newest first, at most `limit`.
    pub async fn list_runs(&self, filter: &RunFilter, limit: u32) -> Result<Vec<Run>> {
        self.list_runs_since(filter, None, limit).await
    }

    /// [`Store::list_runs`] limited to runs created at or after `since`
    /// (epoch ms; `None`: any time), so a time window is applied before the
    /// limit rather than over the latest few.
    pub async fn list_runs_since(
        &self,
        filter: &RunFilter,
        since: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Run>> {
        let status = filter.status.map(RunStatus::as_str);
        on_db!(&self.db, p => {
            let rows = crate::sql::query(list_runs_sql())
                .bind(&filter.job_name)
                .bind(&filter.platform)
                .bind(status)
                .bind(i64::from(limit))
                .bind(since.unwrap_or(i64::MIN))
                .fetch_all(p)
                .await
                .db()?;
            rows.iter().map(run_from_row).collect()
        })
    }

    /// Runs a user may mean by `reference`: those whose Polysync id starts
    /// with it, and those whose Databricks run id is it (newest first, at
    /// most `limit`), so `runs show` accepts a short prefix or the id seen
    /// in the Databricks UI.
    pub async fn find_runs_by_ref(&self, reference: &str, limit: u32) -> Result<Vec<Run>> {
        on_db!(&self.db, p => {
            let rows = crate::sql::query(runs_by_ref_sql())
                .bind(reference)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .db()?;
            rows.iter().map(run_from_row).collect()
        })
    }

    /// Runs that have not reached a terminal status (Queued, Running,
    /// Unknown), oldest first, at most `limit`: what a tracker must follow
    /// to the end, also after a crash.
    pub async fn active_runs(&self, limit: u32) -> Result<Vec<Run>> {
        on_db!(&self.db, p => {
            let rows = crate::sql::query(active_runs_sql())
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .db()?;
            rows.iter().map(run_from_row).collect()
        })
    }

    /// [`Store::active_runs`] as a tracker needs them: every state column,
    /// but no `request`, `parameters` or `outputs` (left `None` / empty), so
    /// a round over 10,000 runs does not load their submitted requests.
    /// Never write one of these back as it is: re-read the run first.
    /// Rows are decoded as they stream in: the driver's rows (each value
    /// copied, ≈ 2.7 KB a row on SQLite) are never all held at once.
    pub async fn active_runs_for_tracking(&self, limit: u32) -> Result<Vec<Run>> {
        use futures_util::TryStreamExt as _;
        on_db!(&self.db, p => {
            let mut rows = crate::sql::query(tracked_runs_sql())
                .bind(i64::from(limit))
                .fetch(p);
            let mut runs = Vec::new();
            while let Some(row) = rows.try_next().await.db()? {
                runs.push(run_from_row(&row)?);
            }
            Ok(runs)
        })
    }

    /// The runs with the given ids, as [`Store::active_runs_for_tracking`]
    /// loads them (no request, parameters or outputs), by id; ids without a
    /// run are absent. A few multi-row reads instead of one per run: what
    /// a dispatcher needs each round to see which of its attempts ended.
    pub async fn runs_for_tracking(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, Run>> {
        self.runs_by_id(TRACKING_COLUMNS, ids).await
    }

    /// The runs with the given ids, whole, by id; ids without a run are
    /// absent. A few multi-row reads, no lock (see [`Tx::find_runs`] for
    /// reads a write depends on).
    pub async fn find_runs(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, Run>> {
        self.runs_by_id(COLUMNS, ids).await
    }

    async fn runs_by_id(
        &self,
        columns: &str,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, Run>> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_CHUNK) {
            let sql = format!(
                "SELECT {columns} FROM runs WHERE id IN ({})",
                crate::dag::values("?", chunk.len(), 1)
            );
            let runs: Vec<Run> = on_db!(&self.db, p => {
                let mut q = crate::sql::query(sql);
                for id in chunk {
                    q = q.bind(id);
                }
                let rows = q.fetch_all(p).await.db()?;
                rows.iter().map(run_from_row).collect::<Result<_>>()?
            });
            out.extend(runs.into_iter().map(|r| (r.id.clone(), r)));
        }
        Ok(out)
    }

    /// Runs created at or after `since` that have ended, newest first, at
    /// most `limit`, as [`Store::active_runs_for_tracking`] loads them:
    /// how a process that does not track a workspace notices runs another
    /// process created and ended between two of its looks, without
    /// loading every recent run whole.
    pub async fn ended_runs_created_since(&self, since: i64, limit: u32) -> Result<Vec<Run>> {
        let sql = format!(
            "SELECT {TRACKING_COLUMNS} FROM runs WHERE created_at >= $1 AND status NOT IN {ACTIVE} \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql)
                .bind(since)
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

impl Store {
    /// How many runs are in each status (`/metrics`' runs by status): one
    /// grouped count, status names as stored (`Queued`, `Success`, ...).
    pub async fn count_runs_by_status(&self) -> Result<Vec<(String, u64)>> {
        self.count_runs_by_status_since(i64::MIN).await
    }

    /// [`Store::count_runs_by_status`] over the runs created at or after
    /// `since` (epoch ms): the dashboard's "runs today", one indexed
    /// grouped count whatever the store holds.
    pub async fn count_runs_by_status_since(&self, since: i64) -> Result<Vec<(String, u64)>> {
        use sqlx::Row as _;
        on_db!(&self.db, p => {
            let rows = sqlx::query("SELECT status, COUNT(*) FROM runs WHERE created_at >= $1 GROUP BY status ORDER BY status")
                .bind(since)
                .fetch_all(p)
                .await
                .db()?;
            rows.iter()
                .map(|r| {
                    let status: String = r.try_get(0).db()?;
                    let n: i64 = r.try_get(1).db()?;
                    Ok((status, u64::try_from(n).unwrap_or(0)))
                })
                .collect()
        })
    }
}
