//! A named Databricks workspace and how Polysync reaches it.
//!
//! A platform holds only *references* to credentials (a profile name or the
//! name of an environment variable), so the store never contains a secret
//! and a leaked database file leaks no token.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::compute::Compute;
use crate::error::{Error, Result};

/// How to obtain credentials at run time — never the credential itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Auth {
    /// A `~/.databrickscfg` profile (the file location may be overridden).
    Profile {
        /// Profile (section) name.
        name: String,
        /// Alternative config file; `None` means the SDK default resolution.
        #[serde(default)]
        config_file: Option<PathBuf>,
    },
    /// A personal access token read from this environment variable when a
    /// request is made.
    TokenEnv {
        /// The variable's name, e.g. `DATABRICKS_TOKEN_PROD`.
        var: String,
    },
}

impl Auth {
    fn validate(&self) -> Result<()> {
        match self {
            Auth::Profile { name, .. } => {
                if name.trim().is_empty() {
                    return Err(Error::platform(
                        "auth.profile",
                        "is empty; give the name of a ~/.databrickscfg section, e.g. DEFAULT",
                    ));
                }
            }
            Auth::TokenEnv { var } => {
                let valid = !var.is_empty()
                    && var
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(Error::platform(
                        "auth.token_env",
                        format!(
                            "{var:?} is not an environment variable name; give the NAME of the variable holding the token (letters, digits, _), not the token"
                        ),
                    ));
                }
                // Databricks PATs start with `dapi`; refusing them keeps a
                // pasted token from being stored as a "variable name".
                if var.to_ascii_lowercase().starts_with("dapi") {
                    return Err(Error::platform(
                        "auth.token_env",
                        "looks like a Databricks token; export it in an environment variable and give that variable's name instead",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The one Jobs API version type, shared with the client so that no conversion sits
/// between a stored platform and the paths the client builds.
pub use polysync_databricks::JobsApiVersion;

/// A Databricks workspace registered in Polysync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// Unique name; may not contain `:` so that `PLATFORM:EXTERNAL_ID`
    /// splits unambiguously at the first colon.
    pub name: String,
    /// Workspace base URL, e.g. `https://adb-123.4.azuredatabricks.net`.
    pub workspace_url: String,
    /// Credential reference.
    pub auth: Auth,
    /// Root of notebook discovery.
    #[serde(default = "default_notebook_path")]
    pub default_notebook_path: String,
    /// Jobs API version to call.
    #[serde(default)]
    pub jobs_api_version: JobsApiVersion,
    /// Compute used by notebook runs.
    #[serde(default)]
    pub compute: Compute,
    /// Row version in the store (0 before the first save): updates are
    /// compare-and-set on it, so two writers never overwrite each other.
    #[serde(default)]
    pub version: i64,
}

fn default_notebook_path() -> String {
    Platform::DEFAULT_NOTEBOOK_PATH.to_owned()
}

impl Platform {
    /// The seeds' default discovery root.
    pub const DEFAULT_NOTEBOOK_PATH: &'static str = "/";

    /// A platform with the seeds' defaults: discovery from `/`, Jobs API
    /// 2.1, serverless compute.
    pub fn new(name: impl Into<String>, workspace_url: impl Into<String>, auth: Auth) -> Self {
        Self {
            name: name.into(),
            workspace_url: workspace_url.into(),
            auth,
            default_notebook_path: default_notebook_path(),
            jobs_api_version: JobsApiVersion::default(),
            compute: Compute::default(),
            version: 0,
        }
    }

    /// Checks every attribute; the first problem is reported with its field.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::platform(
                "name",
                "is empty; give the platform a name",
            ));
        }
        if self.name.contains(':') {
            return Err(Error::platform(
                "name",
                format!(
                    "{:?} contains ':'; platform names may not contain ':' because jobs are addressed as PLATFORM:EXTERNAL_ID",
                    self.name
                ),
            ));
        }
        if self.name.chars().any(char::is_control) || self.name.trim() != self.name {
            return Err(Error::platform(
                "name",
                "contains control characters or surrounding spaces; use a plain name",
            ));
        }
        match url::Url::parse(&self.workspace_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                if !u.username().is_empty() || u.password().is_some() {
                    return Err(Error::platform(
                        "workspace_url",
                        "must not embed credentials; use --token-env or --profile",
                    ));
                }
            }
            _ => {
                return Err(Error::platform(
                    "workspace_url",
                    format!(
                        "{:?} is not an http(s) URL; use the workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net",
                        self.workspace_url
                    ),
                ));
            }
        }
        self.auth.validate()?;
        if !self.default_notebook_path.starts_with('/') {
            return Err(Error::platform(
                "default_notebook_path",
                format!(
                    "{:?} is not an absolute workspace path; start it with '/' (default '/')",
                    self.default_notebook_path
                ),
            ));
        }
        self.compute.validate()
    }

    /// The workspace URL without a trailing slash, ready for path joins.
    pub fn base_url(&self) -> &str {
        self.workspace_url.trim_end_matches('/')
    }

    /// Task-level compute fields for runs/submit (empty for serverless).
    pub fn compute_block(&self) -> Map<String, Value> {
        self.compute.compute_block()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::ComputeType;

    fn sample() -> Platform {
        Platform::new(
            "prod",
            "https://adb-1.2.azuredatabricks.net/",
            Auth::TokenEnv {
                var: "DATABRICKS_TOKEN".into(),
            },
        )
    }

    fn field(p: &Platform) -> &'static str {
        match p.validate().unwrap_err() {
            Error::InvalidPlatform { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_seeds() {
        let p = sample();
        p.validate().unwrap();
        assert_eq!(p.default_notebook_path, "/");
        assert_eq!(p.jobs_api_version, JobsApiVersion::V2_1);
        assert_eq!(p.compute.compute_type, ComputeType::Serverless);
        assert_eq!(p.base_url(), "https://adb-1.2.azuredatabricks.net");
    }

    #[test]
    fn colon_in_name_is_refused() {
        let mut p = sample();
        p.name = "a:b".into();
        assert_eq!(field(&p), "name");
    }

    #[test]
    fn bad_url_and_token_like_env_are_refused() {
        let mut p = sample();
        p.workspace_url = "adb-1.azuredatabricks.net".into();
        assert_eq!(field(&p), "workspace_url");
        let mut p = sample();
        p.auth = Auth::TokenEnv {
            var: "dapi0123456789abcdef".into(),
        };
        assert_eq!(field(&p), "auth.token_env");
        p.auth = Auth::TokenEnv {
            var: "MY TOKEN".into(),
        };
        assert_eq!(field(&p), "auth.token_env");
    }

    #[test]
    fn relative_notebook_path_is_refused() {
        let mut p = sample();
        p.default_notebook_path = "Users".into();
        assert_eq!(field(&p), "default_notebook_path");
    }

    #[test]
    fn compute_errors_surface_through_platform() {
        let mut p = sample();
        p.compute.compute_type = ComputeType::ExistingInteractiveCluster;
        assert_eq!(field(&p), "existing_cluster_id");
    }

    #[test]
    fn auth_serde_shape_is_tagged() {
        let v = serde_json::to_value(Auth::Profile {
            name: "DEFAULT".into(),
            config_file: None,
        })
        .unwrap();
        // An absent value is null, never an omitted key (one convention for all JSON output).
        assert_eq!(
            v,
            serde_json::json!({"kind": "profile", "name": "DEFAULT", "config_file": null})
        );
    }
}
