//! Platform records. Only credential *references* are stored.

use std::path::PathBuf;

use polysync_core::{Auth, Compute, Platform};
use sqlx::Row as _;

use crate::error::{DbResultExt, Error, Result};
use crate::rows::{RowExt, parse_col};
use crate::{Store, now_ms, on_db};

const UPSERT: &str = "INSERT INTO platforms (name, workspace_url, auth_kind, auth_profile, auth_config_file, \
     auth_token_env, default_notebook_path, jobs_api_version, compute_type, cluster_version, node_type, \
     num_workers, existing_cluster_id, existing_instance_pool, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
     ON CONFLICT (name) DO UPDATE SET workspace_url = excluded.workspace_url, auth_kind = excluded.auth_kind, \
     auth_profile = excluded.auth_profile, auth_config_file = excluded.auth_config_file, \
     auth_token_env = excluded.auth_token_env, default_notebook_path = excluded.default_notebook_path, \
     jobs_api_version = excluded.jobs_api_version, compute_type = excluded.compute_type, \
     cluster_version = excluded.cluster_version, node_type = excluded.node_type, \
     num_workers = excluded.num_workers, existing_cluster_id = excluded.existing_cluster_id, \
     existing_instance_pool = excluded.existing_instance_pool, updated_at = excluded.updated_at";

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
    })
}

impl Store {
    /// Creates or replaces a platform after [`Platform::validate`]; an
    /// invalid platform is refused with the offending field and nothing is
    /// written.
    pub async fn save_platform(&self, platform: &Platform) -> Result<()> {
        platform.validate()?;
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
        on_db!(&self.db, p => {
            sqlx::query(UPSERT)
                .bind(&platform.name)
                .bind(&platform.workspace_url)
                .bind(kind)
                .bind(&profile)
                .bind(&config_file)
                .bind(&token_env)
                .bind(&platform.default_notebook_path)
                .bind(platform.jobs_api_version.as_str())
                .bind(c.compute_type.as_str())
                .bind(&c.cluster_version)
                .bind(&c.node_type)
                .bind(c.num_workers.map(i64::from))
                .bind(&c.existing_cluster_id)
                .bind(&c.existing_instance_pool)
                .bind(now_ms())
                .execute(p)
                .await
                .db()?;
        });
        Ok(())
    }

    /// One platform by name.
    pub async fn get_platform(&self, name: &str) -> Result<Platform> {
        on_db!(&self.db, p => {
            let row = sqlx::query(GET).bind(name).fetch_optional(p).await.db()?;
            match row {
                Some(r) => platform_from_row(&r),
                None => Err(Error::not_found("platform", name)),
            }
        })
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
        on_db!(&self.db, p => {
            let jobs: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE platform = $1")
                .bind(name)
                .fetch_one(p)
                .await
                .db()?
                .try_get("n")
                .db()?;
            if jobs > 0 {
                return Err(Error::Conflict(format!(
                    "platform {name:?} still has {jobs} job(s); remove them first"
                )));
            }
            let done = sqlx::query("DELETE FROM platforms WHERE name = $1")
                .bind(name)
                .execute(p)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("platform", name));
            }
        });
        Ok(())
    }
}

const GET: &str = "SELECT name, workspace_url, auth_kind, auth_profile, auth_config_file, auth_token_env, \
     default_notebook_path, jobs_api_version, compute_type, cluster_version, node_type, num_workers, \
     existing_cluster_id, existing_instance_pool FROM platforms WHERE name = $1";
const LIST: &str = "SELECT name, workspace_url, auth_kind, auth_profile, auth_config_file, auth_token_env, \
     default_notebook_path, jobs_api_version, compute_type, cluster_version, node_type, num_workers, \
     existing_cluster_id, existing_instance_pool FROM platforms ORDER BY name";
