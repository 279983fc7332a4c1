//! Platform records. Only credential *references* are stored.

use std::path::PathBuf;

use polysync_core::{Auth, Compute, Platform};
use sqlx::Row as _;

use crate::error::{DbResultExt, Error, IntoStore, Result, is_unique_violation};
use crate::rows::{RowExt, parse_col};
use crate::tx::{Tx, on_tx};
use crate::{Store, Update, now_ms, on_db};

const INSERT: &str = "INSERT INTO platforms (name, workspace_url, auth_kind, auth_profile, auth_config_file, \
     auth_token_env, default_notebook_path, jobs_api_version, compute_type, cluster_version, node_type, \
     num_workers, existing_cluster_id, existing_instance_pool, created_at, updated_at, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, 1)";
const UPDATE: &str = "UPDATE platforms SET workspace_url = $2, auth_kind = $3, auth_profile = $4, \
     auth_config_file = $5, auth_token_env = $6, default_notebook_path = $7, jobs_api_version = $8, \
     compute_type = $9, cluster_version = $10, node_type = $11, num_workers = $12, \
     existing_cluster_id = $13, existing_instance_pool = $14, updated_at = $15, version = version + 1 \
     WHERE name = $1 AND version = $16";

/// Binds a platform's columns as `$1..$15` (name first, the time last), in
/// the order both INSERT and UPDATE use.
macro_rules! bind_platform {
    ($q:expr, $platform:expr) => {{
        let platform: &Platform = $platform;
        let (kind, profile, config_file, token_env) = match &platform.auth {
            Auth::Profile { name, config_file } => (
                "profile",
                Some(name.clone()),
                config_file
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned()),
                None,
            ),
            Auth::TokenEnv { var } => ("token_env", None, None, Some(var.clone())),
        };
        let c = &platform.compute;
        $q.bind(platform.name.clone())
            .bind(platform.workspace_url.clone())
            .bind(kind)
            .bind(profile)
            .bind(config_file)
            .bind(token_env)
            .bind(platform.default_notebook_path.clone())
            .bind(platform.jobs_api_version.as_str())
            .bind(c.compute_type.as_str())
            .bind(c.cluster_version.clone())
            .bind(c.node_type.clone())
            .bind(c.num_workers.map(i64::from))
            .bind(c.existing_cluster_id.clone())
            .bind(c.existing_instance_pool.clone())
            .bind(now_ms())
    }};
}

fn platform_from_row(r: &impl RowExt) -> Result<Platform> {
    let auth = match r.text("auth_kind")?.as_str() {
        "profile" => Auth::Profile {
            name: r.opt_text("auth_profile")?.unwrap_or_default(),
            config_file: r.opt_text("auth_config_file")?.map(PathBuf::from),
        },
        "token_env" => Auth::TokenEnv {
            var: r.opt_text("auth_token_env")?.unwrap_or_default(),
        },
        other => {
            return Err(Error::Corrupt {
                column: "platforms.auth_kind",
                message: format!("unknown auth kind {other:?}"),
            });
        }
    };
    let num_workers = match r.opt_int("num_workers")? {
        None => None,
        Some(n) => Some(u32::try_from(n).map_err(|_| Error::Corrupt {
            column: "platforms.num_workers",
            message: format!("{n} out of range"),
        })?),
    };
    Ok(Platform {
        name: r.text("name")?,
        workspace_url: r.text("workspace_url")?,
        auth,
        default_notebook_path: r.text("default_notebook_path")?,
        jobs_api_version: parse_col("platforms.jobs_api_version", &r.text("jobs_api_version")?)?,
        compute: Compute {
            compute_type: parse_col("platforms.compute_type", &r.text("compute_type")?)?,
            cluster_version: r.opt_text("cluster_version")?,
            node_type: r.opt_text("node_type")?,
            num_workers,
            existing_cluster_id: r.opt_text("existing_cluster_id")?,
            existing_instance_pool: r.opt_text("existing_instance_pool")?,
        },
        version: r.int("version")?,
    })
}

impl Store {
    /// Registers a new platform after [`Platform::validate`]. A plain
    /// insert on the unique name: when two processes add the same name at
    /// once, exactly one succeeds and the other gets
    /// [`Error::AlreadyExists`]. Nothing is written for an invalid platform.
    pub async fn add_platform(&self, platform: &Platform) -> Result<Platform> {
        platform.validate()?;
        on_db!(&self.db, p => {
            let done = bind_platform!(sqlx::query(INSERT), platform).execute(p).await;
            match done {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::already_exists("platform", &platform.name));
                }
                Err(e) => return Err(e.into_store()),
            }
        });
        self.get_platform(&platform.name).await
    }

    /// Changes a platform, compare-and-set on `platform.version` (the one
    /// read): a concurrent change makes this [`Update::Stale`] instead of
    /// being overwritten.
    pub async fn update_platform(&self, platform: &Platform) -> Result<Update<Platform>> {
        platform.validate()?;
        let done = on_db!(&self.db, p => {
            bind_platform!(sqlx::query(UPDATE), platform)
                .bind(platform.version)
                .execute(p)
                .await
                .db()?
                .rows_affected()
        });
        let current = self.get_platform(&platform.name).await?;
        Ok(if done == 1 {
            Update::Applied(current)
        } else {
            Update::Stale { current }
        })
    }

    /// One platform by name, if it exists.
    pub async fn find_platform(&self, name: &str) -> Result<Option<Platform>> {
        on_db!(&self.db, p => {
            let row = sqlx::query(GET).bind(name).fetch_optional(p).await.db()?;
            row.as_ref().map(platform_from_row).transpose()
        })
    }

    /// One platform by name; [`Error::NotFound`] when it does not exist.
    pub async fn get_platform(&self, name: &str) -> Result<Platform> {
        self.find_platform(name)
            .await?
            .ok_or_else(|| Error::not_found("platform", name))
    }

    /// Every platform, by name.
    pub async fn list_platforms(&self) -> Result<Vec<Platform>> {
        on_db!(&self.db, p => {
            let rows = sqlx::query(LIST).fetch_all(p).await.db()?;
            rows.iter().map(platform_from_row).collect()
        })
    }

    /// Deletes a platform. Refused (Conflict) while jobs still reference
    /// it, so removing a platform never silently drops jobs.
    pub async fn delete_platform(&self, name: &str) -> Result<()> {
        let mut t = self.begin().await?;
        t.delete_platform(name, false).await?;
        t.commit().await
    }
}

impl Tx {
    /// Deletes a platform inside the transaction. Without `with_jobs` it is
    /// refused (Conflict) while jobs still reference the platform; with it,
    /// the platform's jobs (and their parameters) are deleted first, in the
    /// same transaction, so either everything goes or nothing does. Runs are
    /// kept: they hold their own copy of the job's name, type and platform.
    /// Returns the names of the jobs deleted.
    pub async fn delete_platform(&mut self, name: &str, with_jobs: bool) -> Result<Vec<String>> {
        on_tx!(self, c => {
            let tx = &mut **c;
            let rows = sqlx::query("SELECT name FROM jobs WHERE platform = $1 ORDER BY name")
                .bind(name)
                .fetch_all(&mut *tx)
                .await
                .db()?;
            let jobs = rows
                .iter()
                .map(|r| r.try_get::<String, _>("name"))
                .collect::<std::result::Result<Vec<_>, _>>()
                .db()?;
            if !jobs.is_empty() {
                if !with_jobs {
                    return Err(Error::Conflict(format!(
                        "platform {name:?} still has {} job(s) ({}); remove them first, or remove the platform with its jobs",
                        jobs.len(),
                        named(&jobs)
                    )));
                }
                sqlx::query("DELETE FROM jobs WHERE platform = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .db()?;
            }
            let done = sqlx::query("DELETE FROM platforms WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("platform", name));
            }
            Ok(jobs)
        })
    }
}

/// Job names for a refusal: the first few and how many more, so a platform with thousands of
/// jobs still gives a readable message.
fn named(jobs: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = jobs
        .iter()
        .take(SHOWN)
        .map(|j| format!("{j:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if jobs.len() > SHOWN {
        s.push_str(&format!(" and {} more", jobs.len() - SHOWN));
    }
    s
}

const GET: &str = "SELECT name, workspace_url, auth_kind, auth_profile, auth_config_file, auth_token_env, \
     default_notebook_path, jobs_api_version, compute_type, cluster_version, node_type, num_workers, \
     existing_cluster_id, existing_instance_pool, version FROM platforms WHERE name = $1";
const LIST: &str = "SELECT name, workspace_url, auth_kind, auth_profile, auth_config_file, auth_token_env, \
     default_notebook_path, jobs_api_version, compute_type, cluster_version, node_type, num_workers, \
     existing_cluster_id, existing_instance_pool, version FROM platforms ORDER BY name";
