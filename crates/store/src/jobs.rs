//! Jobs and their parameters: import (idempotent upsert with removal
//! marking), hand-made jobs, and Sync Parameters.

use std::collections::{HashMap, HashSet};

use polysync_core::{Job, JobType, Parameter, ParameterMapping};
use serde::Serialize;

use crate::error::{DbResultExt, Error, IntoStore, Result, is_unique_violation};
use crate::rows::{RowExt, parse_col};
use crate::tx::{Tx, on_tx};
use crate::{Store, Update, now_ms, on_db};

/// What an import changed, by job name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Jobs seen for the first time.
    pub added: Vec<String>,
    /// Jobs whose parameter schema changed, or that reappeared.
    pub updated: Vec<String>,
    /// Jobs found exactly as stored.
    pub unchanged: Vec<String>,
    /// Previously imported jobs that Databricks no longer has (marked, not
    /// deleted, so their runs and user values survive).
    pub removed: Vec<String>,
}

/// What Sync Parameters changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncSummary {
    /// Parameters new in Databricks.
    pub added: Vec<String>,
    /// Parameters Databricks no longer declares.
    pub removed: Vec<String>,
    /// Parameters whose user-set value was kept.
    pub kept_values: Vec<String>,
}

/// What an import's discovery covered: absent jobs of a covered type are
/// gone from Databricks; jobs of a type whose listing failed, or objects
/// that could not be read, are kept as they are (never marked removed
/// because discovery could not see them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportScope {
    /// Types whose listing failed this time.
    pub incomplete_types: Vec<JobType>,
    /// Objects listed but not read: (type, External Id).
    pub unreadable: Vec<(JobType, String)>,
}

impl ImportScope {
    fn covers(&self, job_type: JobType, external_id: &str) -> bool {
        // A platform import discovers Databricks objects only: jobs imported
        // from elsewhere (Arazzo files) are never its to mark removed.
        !job_type.runs_in_process()
            && !self.incomplete_types.contains(&job_type)
            && !self
                .unreadable
                .iter()
                .any(|(t, e)| *t == job_type && e == external_id)
    }
}

/// Which jobs `list_jobs` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this platform.
    pub platform: Option<String>,
    /// Only this type.
    pub job_type: Option<JobType>,
    /// Include jobs marked removed.
    pub include_removed: bool,
}

const ORIGIN_IMPORT: &str = "import";
const ORIGIN_MANUAL: &str = "manual";

const JOB_BY_NAME: &str = "SELECT id, name, job_type, external_id, platform, parameter_mapping, origin, removed_at, task_count, version \
     FROM jobs WHERE name = $1";
const JOB_BY_EXTERNAL: &str = "SELECT id, name, job_type, external_id, platform, parameter_mapping, origin, removed_at, task_count, version \
     FROM jobs WHERE platform = $1 AND external_id = $2 ORDER BY job_type LIMIT 1";
const JOBS_OF_PLATFORM: &str = "SELECT id, name, job_type, external_id, platform, parameter_mapping, origin, removed_at, task_count, version \
     FROM jobs WHERE platform = $1";
const PARAMS_OF_JOB: &str = "SELECT job_id, position, name, data_type, direction, default_value, current_value, forwarded, choices \
     FROM parameters WHERE job_id = $1 ORDER BY position";
const PARAMS_OF_PLATFORM: &str = "SELECT p.job_id, p.position, p.name, p.data_type, p.direction, p.default_value, \
     p.current_value, p.forwarded, p.choices FROM parameters p JOIN jobs j ON j.id = p.job_id WHERE j.platform = $1 \
     ORDER BY p.job_id, p.position";
const LIST_JOBS: &str = "SELECT id, name, job_type, external_id, platform, parameter_mapping, origin, removed_at, task_count, version \
     FROM jobs WHERE ($1 IS NULL OR platform = $1) AND ($2 IS NULL OR job_type = $2) \
     AND ($3 OR removed_at IS NULL) ORDER BY name";
const LIST_PARAMS: &str = "SELECT p.job_id, p.position, p.name, p.data_type, p.direction, p.default_value, \
     p.current_value, p.forwarded, p.choices FROM parameters p JOIN jobs j ON j.id = p.job_id \
     WHERE ($1 IS NULL OR j.platform = $1) AND ($2 IS NULL OR j.job_type = $2) \
     AND ($3 OR j.removed_at IS NULL) ORDER BY p.job_id, p.position";
const ALL_NAMES: &str = "SELECT name FROM jobs";
/// Jobs a bare reference may mean: its name, its External Id, or the
/// platform-prefixed names an import gives the same object on another
/// platform (`PLATFORM:NAME`, `PLATFORM:NAME#EXTERNAL_ID`).
const MATCHING: &str = "SELECT name FROM jobs WHERE removed_at IS NULL AND (name = $1 OR external_id = $1 \
     OR name = platform || ':' || $1 \
     OR substr(name, 1, length(platform) + length($1) + 2) = platform || ':' || $1 || '#') ORDER BY platform, name";
const SAME_IDENTITY: &str =
    "SELECT name FROM jobs WHERE platform = $1 AND external_id = $2 AND job_type = $3";
const INSERT_JOB: &str = "INSERT INTO jobs (id, name, job_type, external_id, platform, parameter_mapping, origin, \
     created_at, updated_at, removed_at, task_count, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, NULL, $9, 1)";
const UPDATE_JOB: &str = "UPDATE jobs SET name = $2, job_type = $3, external_id = $4, parameter_mapping = $5, \
     origin = $6, updated_at = $7, removed_at = $8, task_count = $10, version = version + 1 WHERE id = $1 AND version = $9";
const MARK_REMOVED: &str =
    "UPDATE jobs SET removed_at = $2, updated_at = $2, version = version + 1 WHERE id = $1";
const DELETE_PARAMS: &str = "DELETE FROM parameters WHERE job_id = $1";
const INSERT_PARAM: &str = "INSERT INTO parameters (job_id, position, name, data_type, direction, default_value, \
     current_value, forwarded, choices) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// A job row with its database id and origin.
#[derive(Debug, Clone)]
struct Stored {
    id: String,
    origin: String,
    job: Job,
}

fn job_from_row(r: &impl RowExt) -> Result<Stored> {
    let mapping = match r.opt_text("parameter_mapping")? {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<ParameterMapping>(&text).map_err(|e| Error::Corrupt {
                column: "jobs.parameter_mapping",
                message: e.to_string(),
            })?,
        ),
    };
    Ok(Stored {
        id: r.text("id")?,
        origin: r.text("origin")?,
        job: Job {
            name: r.text("name")?,
            job_type: parse_col("jobs.job_type", &r.text("job_type")?)?,
            external_id: r.text("external_id")?,
            platform: r.text("platform")?,
            parameters: Vec::new(),
            parameter_mapping: mapping,
            removed_at: r.opt_int("removed_at")?,
            task_count: u32::try_from(r.int("task_count")?).unwrap_or(1).max(1),
            version: r.int("version")?,
        },
    })
}

fn param_from_row(r: &impl RowExt) -> Result<(String, Parameter)> {
    Ok((
        r.text("job_id")?,
        Parameter {
            name: r.text("name")?,
            data_type: parse_col("parameters.data_type", &r.text("data_type")?)?,
            direction: parse_col("parameters.direction", &r.text("direction")?)?,
            default_value: r.opt_text("default_value")?,
            current_value: r.opt_text("current_value")?,
            forwarded: r.boolean("forwarded")?,
            choices: match r.opt_text("choices")? {
                None => Vec::new(),
                Some(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                    column: "parameters.choices",
                    message: e.to_string(),
                })?,
            },
        },
    ))
}

/// A parameter's choices as stored: a JSON array, or NULL when there are none.
fn choices_text(choices: &[String]) -> Result<Option<String>> {
    if choices.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(choices)
        .map(Some)
        .map_err(|e| Error::Corrupt {
            column: "parameters.choices",
            message: e.to_string(),
        })
}

fn attach(mut jobs: Vec<Stored>, params: Vec<(String, Parameter)>) -> Vec<Stored> {
    let mut by_job: HashMap<String, Vec<Parameter>> = HashMap::new();
    for (id, p) in params {
        by_job.entry(id).or_default().push(p);
    }
    for s in &mut jobs {
        s.job.parameters = by_job.remove(&s.id).unwrap_or_default();
    }
    jobs
}

fn mapping_text(m: Option<ParameterMapping>) -> Result<Option<String>> {
    m.map(|m| serde_json::to_string(&m))
        .transpose()
        .map_err(|e| Error::internal(e.to_string()))
}

/// Merges a freshly discovered parameter schema into the stored one.
///
/// Kept from the stored parameter when it still exists: the user's current
/// value and direction, and the data type if the new default still
/// validates under it (so a user's "Date" survives re-import). Everything
/// else (order, default, forwarded) comes from Databricks.
fn merge_parameters(old: &[Parameter], new: Vec<Parameter>) -> (Vec<Parameter>, SyncSummary) {
    let mut summary = SyncSummary::default();
    let mut merged = Vec::with_capacity(new.len());
    for mut p in new {
        match old.iter().find(|o| o.name == p.name) {
            None => summary.added.push(p.name.clone()),
            Some(o) => {
                let default_ok = p
                    .default_value
                    .as_deref()
                    .is_none_or(|d| o.data_type.to_wire(d).is_ok());
                if default_ok {
                    p.data_type = o.data_type;
                }
                p.direction = o.direction;
                if let Some(v) = &o.current_value
                    && p.data_type.to_wire(v).is_ok()
                    && p.check_choice(v).is_ok()
                {
                    p.current_value = Some(v.clone());
                    summary.kept_values.push(p.name.clone());
                }
            }
        }
        merged.push(p);
    }
    for o in old {
        if !merged.iter().any(|p| p.name == o.name) {
            summary.removed.push(o.name.clone());
        }
    }
    (merged, summary)
}

/// A unique Polysync name for an imported job: its own name, else
/// `PLATFORM:NAME` (which for notebooks is also its `PLATFORM:EXTERNAL_ID`
/// reference), else with the External Id appended.
fn unique_name(wanted: &str, platform: &str, external_id: &str, taken: &HashSet<String>) -> String {
    let candidates = [
        wanted.to_owned(),
        format!("{platform}:{wanted}"),
        format!("{platform}:{wanted}#{external_id}"),
    ];
    for c in &candidates {
        if !taken.contains(c) {
            return c.clone();
        }
    }
    let mut n = 2;
    loop {
        let c = format!("{platform}:{wanted}#{external_id}-{n}");
        if !taken.contains(&c) {
            return c;
        }
        n += 1;
    }
}

enum Write {
    Insert { id: String, job: Job },
    Update { id: String, version: i64, job: Job },
    MarkRemoved { id: String },
}

/// Pure import planning: compares stored jobs of the platform with the
/// discovered ones.
fn plan_import(
    platform: &str,
    stored: Vec<Stored>,
    incoming: Vec<Job>,
    mut taken: HashSet<String>,
    scope: &ImportScope,
) -> (Vec<Write>, ImportSummary) {
    let mut summary = ImportSummary::default();
    let mut writes = Vec::new();
    let mut seen: HashSet<(JobType, String)> = HashSet::new();
    let by_identity: HashMap<(JobType, String), &Stored> = stored
        .iter()
        .map(|s| ((s.job.job_type, s.job.external_id.clone()), s))
        .collect();
    for mut job in incoming {
        job.platform = platform.to_owned();
        let key = (job.job_type, job.external_id.clone());
        if !seen.insert(key.clone()) {
            continue;
        }
        match by_identity.get(&key) {
            None => {
                let name = unique_name(&job.name, platform, &job.external_id, &taken);
                taken.insert(name.clone());
                job.name = name;
                job.removed_at = None;
                summary.added.push(job.name.clone());
                writes.push(Write::Insert {
                    id: uuid::Uuid::now_v7().to_string(),
                    job,
                });
            }
            Some(s) => {
                let (params, _) = merge_parameters(&s.job.parameters, job.parameters);
                let merged = Job {
                    name: s.job.name.clone(),
                    parameters: params,
                    removed_at: None,
                    ..job
                };
                let same = merged.parameters == s.job.parameters
                    && merged.parameter_mapping == s.job.parameter_mapping
                    && merged.task_count == s.job.task_count
                    && s.job.removed_at.is_none();
                if same {
                    summary.unchanged.push(merged.name.clone());
                    if s.origin != ORIGIN_IMPORT {
                        writes.push(Write::Update {
                            id: s.id.clone(),
                            version: s.job.version,
                            job: merged,
                        });
                    }
                } else {
                    summary.updated.push(merged.name.clone());
                    writes.push(Write::Update {
                        id: s.id.clone(),
                        version: s.job.version,
                        job: merged,
                    });
                }
            }
        }
    }
    for s in &stored {
        let key = (s.job.job_type, s.job.external_id.clone());
        if s.origin == ORIGIN_IMPORT
            && s.job.removed_at.is_none()
            && !seen.contains(&key)
            && scope.covers(s.job.job_type, &s.job.external_id)
        {
            summary.removed.push(s.job.name.clone());
            writes.push(Write::MarkRemoved { id: s.id.clone() });
        }
    }
    (writes, summary)
}

/// Replaces a job's parameter rows inside the caller's transaction.
macro_rules! replace_params {
    ($tx:expr, $id:expr, $params:expr) => {{
        sqlx::query(DELETE_PARAMS)
            .bind($id)
            .execute(&mut *$tx)
            .await
            .db()?;
        for (i, p) in $params.iter().enumerate() {
            sqlx::query(INSERT_PARAM)
                .bind($id)
                .bind(i as i64)
                .bind(&p.name)
                .bind(p.data_type.as_str())
                .bind(p.direction.as_str())
                .bind(&p.default_value)
                .bind(&p.current_value)
                .bind(p.forwarded)
                .bind(choices_text(&p.choices)?)
                .execute(&mut *$tx)
                .await
                .db()?;
        }
    }};
}

impl Store {
    /// Records the result of discovering `platform`: new jobs are added,
    /// known ones (same platform, External Id and type) get their parameter
    /// schema merged (user values kept), previously imported jobs that are
    /// missing are marked removed, and removed jobs that reappear are
    /// restored. Running it twice with the same input changes nothing.
    ///
    /// `jobs` must be the platform's complete discovery: anything absent is
    /// considered gone.
    pub async fn upsert_imported_jobs(
        &self,
        platform: &str,
        jobs: Vec<Job>,
    ) -> Result<ImportSummary> {
        self.upsert_imported_jobs_scoped(platform, jobs, &ImportScope::default())
            .await
    }

    /// [`Store::upsert_imported_jobs`] for a discovery that may be partial:
    /// only jobs that `scope` covers are marked removed when absent.
    pub async fn upsert_imported_jobs_scoped(
        &self,
        platform: &str,
        jobs: Vec<Job>,
        scope: &ImportScope,
    ) -> Result<ImportSummary> {
        self.get_platform(platform).await?;
        for j in &jobs {
            let mut j = j.clone();
            j.platform = platform.to_owned();
            j.validate()?;
        }
        let now = now_ms();
        let mut t = self.begin().await?;
        t.lock_imports().await?;
        let summary = on_tx!(t, c => {
            let tx = &mut **c;
            let job_rows = sqlx::query(JOBS_OF_PLATFORM).bind(platform).fetch_all(&mut *tx).await.db()?;
            let param_rows = sqlx::query(PARAMS_OF_PLATFORM).bind(platform).fetch_all(&mut *tx).await.db()?;
            let name_rows = sqlx::query(ALL_NAMES).fetch_all(&mut *tx).await.db()?;
            let stored = job_rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
            let params = param_rows.iter().map(param_from_row).collect::<Result<Vec<_>>>()?;
            let taken = name_rows
                .iter()
                .map(|r| r.text("name"))
                .collect::<Result<HashSet<_>>>()?;
            let (writes, summary) = plan_import(platform, attach(stored, params), jobs, taken, scope);
            for w in writes {
                match w {
                    Write::Insert { id, job } => {
                        sqlx::query(INSERT_JOB)
                            .bind(&id)
                            .bind(&job.name)
                            .bind(job.job_type.as_str())
                            .bind(&job.external_id)
                            .bind(&job.platform)
                            .bind(mapping_text(job.parameter_mapping)?)
                            .bind(ORIGIN_IMPORT)
                            .bind(now)
                            .bind(i64::from(job.task_count))
                            .execute(&mut *tx)
                            .await
                            .db()?;
                        replace_params!(tx, &id, job.parameters);
                    }
                    Write::Update { id, version, job } => {
                        sqlx::query(UPDATE_JOB)
                            .bind(&id)
                            .bind(&job.name)
                            .bind(job.job_type.as_str())
                            .bind(&job.external_id)
                            .bind(mapping_text(job.parameter_mapping)?)
                            .bind(ORIGIN_IMPORT)
                            .bind(now)
                            .bind(None::<i64>)
                            .bind(version)
                            .bind(i64::from(job.task_count))
                            .execute(&mut *tx)
                            .await
                            .db()?;
                        replace_params!(tx, &id, job.parameters);
                    }
                    Write::MarkRemoved { id } => {
                        sqlx::query(MARK_REMOVED).bind(&id).bind(now).execute(&mut *tx).await.db()?;
                    }
                }
            }
            summary
        });
        t.commit().await?;
        Ok(summary)
    }

    async fn find_stored(&self, name: &str) -> Result<Option<Stored>> {
        on_db!(&self.db, p => {
            let Some(row) = sqlx::query(JOB_BY_NAME).bind(name).fetch_optional(p).await.db()? else {
                return Ok(None);
            };
            let s = job_from_row(&row)?;
            let params = sqlx::query(PARAMS_OF_JOB).bind(&s.id).fetch_all(p).await.db()?;
            let params = params.iter().map(param_from_row).collect::<Result<Vec<_>>>()?;
            Ok(attach(vec![s], params).pop())
        })
    }

    async fn stored_by_name(&self, name: &str) -> Result<Stored> {
        self.find_stored(name)
            .await?
            .ok_or_else(|| Error::not_found("job", name))
    }

    /// A job (with parameters) by Polysync name, removed or not, if it exists.
    pub async fn find_job(&self, name: &str) -> Result<Option<Job>> {
        Ok(self.find_stored(name).await?.map(|s| s.job))
    }

    /// A job (with parameters) by Polysync name; [`Error::NotFound`] when
    /// there is none.
    pub async fn get_job(&self, name: &str) -> Result<Job> {
        Ok(self.stored_by_name(name).await?.job)
    }

    /// Every job (not marked removed) that a bare reference could mean, by
    /// platform: what the engine needs to refuse an ambiguous reference
    /// instead of picking one.
    pub async fn find_jobs_matching(&self, reference: &str) -> Result<Vec<Job>> {
        let names: Vec<String> = on_db!(&self.db, p => {
            let rows = sqlx::query(MATCHING).bind(reference).fetch_all(p).await.db()?;
            rows.iter().map(|r| r.text("name")).collect::<Result<Vec<_>>>()?
        });
        let mut jobs = Vec::with_capacity(names.len());
        for name in names {
            if let Some(job) = self.find_job(&name).await? {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// A job by `PLATFORM:EXTERNAL_ID`, if one matches.
    pub async fn find_job_by_external(
        &self,
        platform: &str,
        external_id: &str,
    ) -> Result<Option<Job>> {
        let name = on_db!(&self.db, p => {
            let row = sqlx::query(JOB_BY_EXTERNAL)
                .bind(platform)
                .bind(external_id)
                .fetch_optional(p)
                .await
                .db()?;
            match row {
                Some(r) => r.text("name")?,
                None => return Ok(None),
            }
        });
        self.find_job(&name).await
    }

    /// Jobs (with parameters) matching `filter`, by name.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let job_type = filter.job_type.map(JobType::as_str);
        on_db!(&self.db, p => {
            let jobs = sqlx::query(LIST_JOBS)
                .bind(&filter.platform)
                .bind(job_type)
                .bind(filter.include_removed)
                .fetch_all(p)
                .await
                .db()?;
            let params = sqlx::query(LIST_PARAMS)
                .bind(&filter.platform)
                .bind(job_type)
                .bind(filter.include_removed)
                .fetch_all(p)
                .await
                .db()?;
            let jobs = jobs.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
            let params = params.iter().map(param_from_row).collect::<Result<Vec<_>>>()?;
            Ok(attach(jobs, params).into_iter().map(|s| s.job).collect())
        })
    }

    /// Creates a hand-made job (`polysync jobs add`), parameters as given.
    /// A plain insert on the unique name: of two concurrent adds of one
    /// name exactly one succeeds, the other gets [`Error::AlreadyExists`];
    /// a job that already refers to the same Databricks object is a
    /// [`Error::Conflict`] naming it.
    pub async fn add_job(&self, job: &Job) -> Result<Job> {
        job.validate()?;
        self.get_platform(&job.platform).await?;
        let now = now_ms();
        let id = uuid::Uuid::now_v7().to_string();
        let mut t = self.begin().await?;
        on_tx!(t, c => {
            let tx = &mut **c;
            if let Some(other) = sqlx::query(SAME_IDENTITY)
                .bind(&job.platform)
                .bind(&job.external_id)
                .bind(job.job_type.as_str())
                .fetch_optional(&mut *tx)
                .await
                .db()?
            {
                let other = other.text("name")?;
                return Err(if other == job.name {
                    Error::already_exists("job", &job.name)
                } else {
                    Error::Conflict(format!(
                        "job {other:?} already refers to {} {}:{}; edit that job instead",
                        job.job_type, job.platform, job.external_id
                    ))
                });
            }
            let inserted = sqlx::query(INSERT_JOB)
                .bind(&id)
                .bind(&job.name)
                .bind(job.job_type.as_str())
                .bind(&job.external_id)
                .bind(&job.platform)
                .bind(mapping_text(job.parameter_mapping)?)
                .bind(ORIGIN_MANUAL)
                .bind(now)
                .bind(i64::from(job.task_count))
                .execute(&mut *tx)
                .await;
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::already_exists("job", &job.name));
                }
                Err(e) => return Err(e.into_store()),
            }
            replace_params!(tx, &id, job.parameters);
        });
        t.commit().await?;
        self.get_job(&job.name).await
    }

    /// Replaces a job's definition (`polysync jobs edit`), compare-and-set
    /// on `job.version` (the one read): a concurrent edit or re-import
    /// makes this [`Update::Stale`] instead of being overwritten.
    pub async fn update_job(&self, job: &Job) -> Result<Update<Job>> {
        job.validate()?;
        let stored = self.stored_by_name(&job.name).await?;
        if stored.job.platform != job.platform {
            return Err(Error::Conflict(format!(
                "job {:?} belongs to platform {:?}; a job cannot move between platforms",
                job.name, stored.job.platform
            )));
        }
        let now = now_ms();
        let mut t = self.begin().await?;
        let applied = on_tx!(t, c => {
            let tx = &mut **c;
            let same_identity = sqlx::query(SAME_IDENTITY)
                .bind(&job.platform)
                .bind(&job.external_id)
                .bind(job.job_type.as_str())
                .fetch_optional(&mut *tx)
                .await
                .db()?;
            if let Some(other) = same_identity {
                let other = other.text("name")?;
                if other != job.name {
                    return Err(Error::Conflict(format!(
                        "job {other:?} already refers to {} {}:{}; edit that job instead",
                        job.job_type, job.platform, job.external_id
                    )));
                }
            }
            let done = sqlx::query(UPDATE_JOB)
                .bind(&stored.id)
                .bind(&job.name)
                .bind(job.job_type.as_str())
                .bind(&job.external_id)
                .bind(mapping_text(job.parameter_mapping)?)
                .bind(&stored.origin)
                .bind(now)
                .bind(job.removed_at)
                .bind(job.version)
                .bind(i64::from(job.task_count))
                .execute(&mut *tx)
                .await
                .db()?
                .rows_affected();
            if done == 1 {
                replace_params!(tx, &stored.id, job.parameters);
            }
            done == 1
        });
        t.commit().await?;
        let current = self.get_job(&job.name).await?;
        Ok(if applied {
            Update::Applied(current)
        } else {
            Update::Stale { current }
        })
    }

    /// Sync Parameters: replaces a job's parameter schema with a fresh one
    /// from Databricks, keeping user-set values of parameters that still
    /// exist, and reports what was added and removed.
    pub async fn update_job_parameters(
        &self,
        name: &str,
        parameters: Vec<Parameter>,
        mapping: Option<ParameterMapping>,
    ) -> Result<SyncSummary> {
        let stored = self.stored_by_name(name).await?;
        let (merged, summary) = merge_parameters(&stored.job.parameters, parameters);
        let job = Job {
            parameters: merged,
            parameter_mapping: mapping,
            ..stored.job
        };
        job.validate()?;
        let now = now_ms();
        let mut t = self.begin().await?;
        on_tx!(t, c => {
            let tx = &mut **c;
            sqlx::query(
                "UPDATE jobs SET parameter_mapping = $2, updated_at = $3, version = version + 1 WHERE id = $1",
            )
            .bind(&stored.id)
            .bind(mapping_text(job.parameter_mapping)?)
            .bind(now)
            .execute(&mut *tx)
            .await
            .db()?;
            replace_params!(tx, &stored.id, job.parameters);
        });
        t.commit().await?;
        Ok(summary)
    }

    /// Deletes a job and its parameters; its runs keep their copy of the
    /// job's name.
    pub async fn delete_job(&self, name: &str) -> Result<()> {
        let mut t = self.begin().await?;
        t.delete_job(name).await?;
        t.commit().await
    }
}

impl Tx {
    /// Deletes a job and its parameters inside the transaction;
    /// [`Error::NotFound`] when there is no job of that name. Its runs keep
    /// their copy of the job's name (their link to the job becomes NULL).
    pub async fn delete_job(&mut self, name: &str) -> Result<()> {
        on_tx!(self, c => {
            let done = sqlx::query("DELETE FROM jobs WHERE name = $1")
                .bind(name)
                .execute(&mut **c)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("job", name));
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polysync_core::DataType;

    #[test]
    fn merge_keeps_user_values_and_types() {
        let old = vec![
            Parameter {
                data_type: DataType::Date,
                current_value: Some("2025-01-01".into()),
                ..Parameter::input("day", Some("2024-01-01".into()))
            },
            Parameter::input("gone", None),
        ];
        let new = vec![
            Parameter::input("day", Some("2024-02-02".into())),
            Parameter::input("fresh", Some("1".into())),
        ];
        let (merged, s) = merge_parameters(&old, new);
        assert_eq!(merged[0].data_type, DataType::Date);
        assert_eq!(merged[0].current_value.as_deref(), Some("2025-01-01"));
        assert_eq!(s.added, vec!["fresh"]);
        assert_eq!(s.removed, vec!["gone"]);
        assert_eq!(s.kept_values, vec!["day"]);
    }

    #[test]
    fn unique_names_fall_back_to_platform_prefix() {
        let taken: HashSet<String> = ["/a".to_owned(), "p:/a".to_owned()].into();
        assert_eq!(unique_name("/b", "p", "/b", &taken), "/b");
        assert_eq!(unique_name("/a", "q", "/a", &taken), "q:/a");
        assert_eq!(unique_name("/a", "p", "/a", &taken), "p:/a#/a");
    }
}
