//! The server's configuration: job keys discovered from the environment as
//! the seed does (`DATABRICKS_JOB_ID`, `DATABRICKS_JOB_<NAME>`) and merged
//! with the `[jobs.<key>]` tables of `polysync.toml`, which win per key;
//! and the seed's execution tiers (`[tiers]`), each value optional.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polysync_engine::{ExecutionTiers, JobKey, SeedTaskType, discover_job_keys, parse_duration};
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
    /// A `[tiers]` value is unusable.
    #[error("{path}: [tiers]: {message}")]
    Tiers {
        /// The file.
        path: PathBuf,
        /// What is wrong.
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
    #[serde(default)]
    tiers: TiersTable,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TiersTable {
    #[serde(default)]
    read: TierTable,
    #[serde(default)]
    write: TierTable,
    #[serde(default)]
    stream: TierTable,
    poll: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierTable {
    cache: Option<String>,
    attempts: Option<u32>,
    timeout: Option<String>,
}

/// Everything `polysync.toml` configures for the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// The job keys served under `/api/jobs`.
    pub keys: BTreeMap<String, JobKey>,
    /// The execution tiers (the seed's defaults where the file is silent).
    pub tiers: ExecutionTiers,
}

/// The tiers of `table` over the seed's defaults; names the bad value.
fn tiers_of(table: &TiersTable) -> Result<ExecutionTiers, String> {
    let mut t = ExecutionTiers::default();
    let dur = |name: &str, v: &Option<String>, into: &mut std::time::Duration| {
        if let Some(v) = v {
            *into = parse_duration(v).map_err(|m| format!("{name}: {m}"))?;
        }
        Ok::<_, String>(())
    };
    let attempts = |name: &str, v: Option<u32>, into: &mut u32| {
        match v {
            Some(0) => return Err(format!("{name}: at least 1 (1 = no retry)")),
            Some(n) => *into = n,
            None => {}
        }
        Ok(())
    };
    dur("read.cache", &table.read.cache, &mut t.read.cache)?;
    dur("read.timeout", &table.read.timeout, &mut t.read.timeout)?;
    attempts("read.attempts", table.read.attempts, &mut t.read.attempts)?;
    if table.write.cache.is_some() {
        return Err("write.cache: writes are never cached".into());
    }
    dur("write.timeout", &table.write.timeout, &mut t.write.timeout)?;
    attempts(
        "write.attempts",
        table.write.attempts,
        &mut t.write.attempts,
    )?;
    if table.stream.cache.is_some() || table.stream.attempts.is_some() {
        return Err("stream: only `timeout` is set for streams".into());
    }
    dur("stream.timeout", &table.stream.timeout, &mut t.stream)?;
    dur("poll", &table.poll, &mut t.poll)?;
    for (name, d) in [
        ("read.timeout", t.read.timeout),
        ("write.timeout", t.write.timeout),
        ("stream.timeout", t.stream),
        ("poll", t.poll),
    ] {
        if d.is_zero() {
            return Err(format!("{name}: must be longer than 0"));
        }
    }
    Ok(t)
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

/// The job keys of [`load_server_config`].
pub fn load_job_keys(
    env: impl IntoIterator<Item = (String, String)>,
    path: Option<&Path>,
) -> Result<BTreeMap<String, JobKey>, ConfigError> {
    Ok(load_server_config(env, path)?.keys)
}

/// The server's configuration: `env` (name, value pairs; pass the process
/// environment in production, a list in tests) merged with the config file
/// at `path`, if any. A key in the file without `job` takes the
/// environment's job; tiers the file does not set keep the seed's values.
pub fn load_server_config(
    env: impl IntoIterator<Item = (String, String)>,
    path: Option<&Path>,
) -> Result<ServerConfig, ConfigError> {
    let mut keys = discover_job_keys(env);
    let Some(path) = path else {
        return Ok(ServerConfig {
            keys,
            tiers: ExecutionTiers::default(),
        });
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: File = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let tiers = tiers_of(&file.tiers).map_err(|message| ConfigError::Tiers {
        path: path.to_owned(),
        message,
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
        if let Some(task) = k.task() {
            if task.is_empty() {
                return Err(key_err("job = \"task:\" names no task".into()));
            }
            if k.on_behalf_of_user {
                return Err(key_err(
                    "on_behalf_of_user does not apply to a task: key (the dispatcher starts a DAG run's runs as the platform)".into(),
                ));
            }
            if k.task_type.is_some() {
                return Err(key_err(
                    "task_type does not apply to a task: key (its parameters are the root task's values)".into(),
                ));
            }
        }
        if let Some(schema) = &k.params_schema
            && let Err(e) = polysync_engine::check_params_schema(schema)
        {
            return Err(key_err(format!("params is not a valid JSON Schema: {e}")));
        }
        keys.insert(key, k);
    }
    Ok(ServerConfig { keys, tiers })
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
    fn tiers_default_to_the_seed_and_are_configurable() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("polysync.toml");
        std::fs::write(&path, "").expect("write");
        let cfg = load_server_config(Vec::new(), Some(&path)).expect("empty");
        assert_eq!(cfg.tiers, ExecutionTiers::default());
        assert_eq!(cfg.tiers.read.cache.as_secs(), 60);
        assert_eq!(cfg.tiers.read.attempts, 3);
        assert_eq!(cfg.tiers.write.attempts, 1);
        assert_eq!(cfg.tiers.write.timeout.as_secs(), 120);
        assert_eq!(cfg.tiers.stream.as_secs(), 600);
        assert_eq!(cfg.tiers.poll.as_millis(), 5000);
        std::fs::write(
            &path,
            "[tiers]\nread = { cache = \"0s\", attempts = 2, timeout = \"5s\" }\nwrite = { attempts = 3 }\nstream = { timeout = \"2s\" }\npoll = \"250ms\"\n",
        )
        .expect("write");
        let t = load_server_config(Vec::new(), Some(&path))
            .expect("tiers")
            .tiers;
        assert!(t.read.cache.is_zero());
        assert_eq!((t.read.attempts, t.read.timeout.as_secs()), (2, 5));
        assert_eq!((t.write.attempts, t.write.timeout.as_secs()), (3, 120));
        assert_eq!((t.stream.as_secs(), t.poll.as_millis()), (2, 250));
        for bad in [
            "[tiers]\nwrite = { cache = \"1s\" }\n",
            "[tiers]\nread = { attempts = 0 }\n",
            "[tiers]\npoll = \"soon\"\n",
            "[tiers]\nstream = { timeout = \"0s\" }\n",
        ] {
            std::fs::write(&path, bad).expect("write");
            let err = load_server_config(Vec::new(), Some(&path)).expect_err(bad);
            assert!(err.to_string().contains("[tiers]"), "{err}");
        }
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
