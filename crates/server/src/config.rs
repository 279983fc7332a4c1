//! The server's job keys: discovered from the environment as the seed does
//! (`DATABRICKS_JOB_ID`, `DATABRICKS_JOB_<NAME>`) and merged with the
//! `[jobs.<key>]` tables of `polysync.toml`, which win per key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polysync_engine::{JobKey, SeedTaskType, discover_job_keys, parse_duration};
use serde::Deserialize;
use serde_json::Value;

/// Why the configuration cannot be used; names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown fields.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (line and column included).
        message: String,
    },
    /// One key's table is unusable.
    #[error("{path}: [jobs.{key}]: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    jobs: BTreeMap<String, KeyTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyTable {
    job: Option<String>,
    task_type: Option<SeedTaskType>,
    params: Option<Value>,
    params_file: Option<PathBuf>,
    wait_timeout: Option<String>,
    on_behalf_of_user: Option<bool>,
}

/// The job keys: `env` (name, value pairs; pass the process environment
/// in production, a list in tests) merged with the config file at `path`,
/// if any. A key in the file without `job` takes the environment's job.
pub fn load_job_keys(
    env: impl IntoIterator<Item = (String, String)>,
    path: Option<&Path>,
) -> Result<BTreeMap<String, JobKey>, ConfigError> {
    let mut keys = discover_job_keys(env);
    let Some(path) = path else {
        return Ok(keys);
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: File = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    for (name, table) in file.jobs {
        let key_err = |message: String| ConfigError::Key {
            path: path.to_owned(),
            key: name.clone(),
            message,
        };
        let key = name.to_lowercase();
        let job = match (&table.job, keys.get(&key)) {
            (Some(job), _) => job.clone(),
            (None, Some(found)) => found.job.clone(),
            (None, None) => {
                return Err(key_err(
                    "no `job` (and no DATABRICKS_JOB_<NAME> variable for it)".into(),
                ));
            }
        };
        let mut k = JobKey::new(key.clone(), job);
        k.task_type = table.task_type;
        k.on_behalf_of_user = table.on_behalf_of_user.unwrap_or(false);
        if let Some(w) = &table.wait_timeout {
            k.wait_timeout =
                parse_duration(w).map_err(|m| key_err(format!("wait_timeout: {m}")))?;
        }
        k.params_schema = match (table.params, &table.params_file) {
            (Some(_), Some(_)) => {
                return Err(key_err("give either `params` or `params_file`".into()));
            }
            (Some(schema), None) => Some(schema),
            (None, Some(file)) => {
                let file = base.join(file);
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| key_err(format!("params_file {}: {e}", file.display())))?;
                Some(
                    serde_json::from_str(&text)
                        .map_err(|e| key_err(format!("params_file {}: {e}", file.display())))?,
                )
            }
            (None, None) => None,
        };
        if let Some(schema) = &k.params_schema
            && let Err(e) = polysync_engine::check_params_schema(schema)
        {
            return Err(key_err(format!("params is not a valid JSON Schema: {e}")));
        }
        keys.insert(key, k);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_wins_and_inherits_env_job() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("polysync.toml");
        std::fs::write(
            &path,
            r#"
[jobs.etl]
task_type = "notebook"
params = { type = "object", properties = { startDate = { type = "string" } }, required = ["startDate"] }
wait_timeout = "10m"

[jobs.other]
job = "p:7"
on_behalf_of_user = true
"#,
        )
        .expect("write");
        let keys = load_job_keys(
            vec![("DATABRICKS_JOB_ETL".to_owned(), "11".to_owned())],
            Some(&path),
        )
        .expect("keys");
        assert_eq!(keys["etl"].job, "11");
        assert_eq!(keys["etl"].task_type, Some(SeedTaskType::Notebook));
        assert_eq!(keys["etl"].wait_timeout.as_secs(), 600);
        assert!(keys["etl"].params_schema.is_some());
        assert!(keys["other"].on_behalf_of_user);
    }

    #[test]
    fn key_without_job_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("polysync.toml");
        std::fs::write(&path, "[jobs.x]\ntask_type = \"sql\"\n").expect("write");
        let err = load_job_keys(Vec::new(), Some(&path)).expect_err("no job");
        assert!(err.to_string().contains("[jobs.x]"), "{err}");
    }
}
