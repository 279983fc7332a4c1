//! Platform use cases: register, change, look up, remove; and the one way
//! a use case reaches a workspace ([`Engine::connect`]), so credentials
//! always come from what the platform itself names.

use std::path::{Path, PathBuf};

use polysync_core::{Action, Auth, Hint, Platform};
use polysync_databricks::{Config, DatabricksClient};
use polysync_providers::Connection;
use polysync_store::Update;

use crate::{Engine, Error, Result};

impl Engine {
    /// Registers a platform after validation. Of two concurrent adds of one
    /// name (other processes included) exactly one succeeds; the other gets
    /// [`Error::AlreadyExists`].
    pub async fn add_platform(&self, platform: Platform) -> Result<Platform> {
        platform.validate()?;
        Ok(self.inner.store.add_platform(&platform).await?)
    }

    /// Changes a registered platform; `platform.version` must be the one
    /// read, else the change lost a race and is refused as a conflict.
    pub async fn update_platform(&self, platform: Platform) -> Result<Platform> {
        platform.validate()?;
        match self.inner.store.update_platform(&platform).await? {
            Update::Applied(p) => {
                self.forget_client(&p.name);
                Ok(p)
            }
            Update::Stale { .. } => Err(Error::Conflict(format!(
                "platform {:?} was changed by someone else since it was read; read it again and retry",
                platform.name
            ))),
        }
    }

    /// Every platform, by name.
    pub async fn list_platforms(&self) -> Result<Vec<Platform>> {
        Ok(self.inner.store.list_platforms().await?)
    }

    /// One platform by name, if it exists.
    pub async fn find_platform(&self, name: &str) -> Result<Option<Platform>> {
        Ok(self.inner.store.find_platform(name).await?)
    }

    /// One platform by name; [`Error::NotFound`] when there is none.
    pub async fn get_platform(&self, name: &str) -> Result<Platform> {
        self.find_platform(name)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "platform",
                key: name.to_owned(),
            })
    }

    /// Removes a platform (refused while jobs reference it).
    pub async fn remove_platform(&self, name: &str) -> Result<()> {
        self.inner.store.delete_platform(name).await?;
        self.forget_client(name);
        Ok(())
    }

    /// Builds the client config from what the platform names ONLY: its
    /// profile (file from the platform, else `DATABRICKS_CONFIG_FILE` via
    /// the injectable env, else `~/.databrickscfg`) or its token variable.
    /// Ambient `DATABRICKS_HOST`/`DATABRICKS_TOKEN` are never consulted, so
    /// a token meant for another workspace cannot leak into this one.
    fn client_config(&self, platform: &Platform) -> Result<Config> {
        let cred_err = |message: String, hint: Hint| Error::Credentials {
            platform: platform.name.clone(),
            message,
            hint,
            source: None,
        };
        let builder = Config::builder()
            .host(platform.workspace_url.clone())
            .jobs_api_version(platform.jobs_api_version);
        let builder = match &platform.auth {
            Auth::TokenEnv { var } => {
                let token = (self.inner.env)(var)
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| {
                        cred_err(
                            format!("the environment variable {var} (the platform's token variable) is not set"),
                            Hint::action(
                                format!("set {var} to a personal access token for {} and retry", platform.workspace_url),
                                Action::SetEnv {
                                    var: var.clone(),
                                    value: format!("a personal access token for {}", platform.workspace_url),
                                },
                            ),
                        )
                    })?;
                builder.token(token)
            }
            Auth::Profile { name, config_file } => {
                let file: Option<PathBuf> = config_file
                    .clone()
                    .or_else(|| (self.inner.env)("DATABRICKS_CONFIG_FILE").map(PathBuf::from));
                let profile = Config::from_profile(name, file.as_deref()).map_err(|e| {
                    Error::Credentials {
                        platform: platform.name.clone(),
                        message: format!("cannot read profile [{name}]: {e}"),
                        hint: Hint::text(format!(
                            "add a [{name}] section with host and token to {} (or point DATABRICKS_CONFIG_FILE at the right file)",
                            file.as_deref().map_or_else(|| "~/.databrickscfg".to_owned(), |p| p.display().to_string())
                        )),
                        source: Some(Box::new(e)),
                    }
                })?;
                builder.credentials(profile.credentials().clone())
            }
        };
        builder.build().map_err(|e| Error::Credentials {
            platform: platform.name.clone(),
            message: format!("invalid client configuration: {e}"),
            hint: Hint::action(
                "check the platform's workspace URL and credentials",
                Action::ShowPlatform {
                    platform: platform.name.clone(),
                },
            ),
            source: Some(Box::new(e)),
        })
    }

    /// A platform's workspace URL and the `Authorization` value its own credentials produce
    /// (its profile or token variable; OAuth tokens fetched and refreshed as usual). For
    /// interfaces that call the workspace through another HTTP client, such as the Arazzo
    /// runner. The value is a secret: callers must not log or store it.
    pub async fn platform_authorization(
        &self,
        platform: &str,
    ) -> Result<(String, secrecy::SecretString)> {
        let conn = self.connect(platform).await?;
        let value = conn
            .client
            .authorization()
            .await
            .map_err(|e| Error::Credentials {
                platform: conn.platform.name.clone(),
                message: format!("cannot obtain a token: {e}"),
                hint: Hint::action(
                    "check the platform's credentials",
                    Action::ShowPlatform {
                        platform: conn.platform.name.clone(),
                    },
                ),
                source: Some(Box::new(e)),
            })?;
        Ok((conn.client.host().to_owned(), value))
    }

    /// The connection of a stored platform, by name: the one way use cases reach a
    /// workspace, so credentials always come from what that platform names.
    pub(crate) async fn connect(&self, platform: &str) -> Result<Connection> {
        let platform = self.get_platform(platform).await?;
        self.connection(&platform)
    }

    /// The cached client of a platform; rebuilt when the platform changed.
    pub(crate) fn connection(&self, platform: &Platform) -> Result<Connection> {
        if let Ok(cache) = self.inner.clients.lock()
            && let Some((p, c)) = cache.get(&platform.name)
            && p == platform
        {
            return Ok(Connection {
                platform: platform.clone(),
                client: c.clone(),
            });
        }
        let mut config = self.client_config(platform)?;
        if let Some(observer) = &self.inner.retry_observer {
            config = config.with_retry_observer(observer.clone());
        }
        let client = DatabricksClient::new(config).map_err(|e| Error::Credentials {
            platform: platform.name.clone(),
            message: format!("cannot build the Databricks client: {e}"),
            hint: Hint::action(
                "check the platform's workspace URL and credentials",
                Action::ShowPlatform {
                    platform: platform.name.clone(),
                },
            ),
            source: Some(Box::new(e)),
        })?;
        if let Ok(mut cache) = self.inner.clients.lock() {
            cache.insert(platform.name.clone(), (platform.clone(), client.clone()));
        }
        Ok(Connection {
            platform: platform.clone(),
            client,
        })
    }
}

/// The workspace URL a `~/.databrickscfg` profile names, for adding a
/// platform by profile without `--host`. The file is the one given, else
/// `DATABRICKS_CONFIG_FILE` (the process environment, as for the SDKs),
/// else `~/.databrickscfg`, as the SDKs resolve it. Reads the file only: no
/// request, no store.
pub fn profile_host(profile: &str, config_file: Option<&Path>) -> Result<String> {
    let cred_err = |message: String, hint: Hint| Error::Credentials {
        platform: String::new(),
        message,
        hint,
        source: None,
    };
    let env_file = std::env::var("DATABRICKS_CONFIG_FILE").ok();
    let path = match config_file {
        Some(p) => Some(p.to_path_buf()),
        None => polysync_databricks::config::config_file_location(env_file.as_deref()),
    };
    let Some(path) = path else {
        return Err(cred_err(
            "cannot locate ~/.databrickscfg".into(),
            Hint::text("give the workspace URL, or set DATABRICKS_CONFIG_FILE"),
        ));
    };
    let loaded =
        polysync_databricks::databrickscfg::load_profile(&path, Some(profile)).map_err(|e| {
            Error::Credentials {
                platform: String::new(),
                message: e.to_string(),
                hint: Hint::text("check the profile name, or give the workspace URL"),
                source: Some(Box::new(e)),
            }
        })?;
    match loaded.as_ref().and_then(|p| p.get("host")) {
        Some(h) => Ok(h.to_owned()),
        None => Err(cred_err(
            format!("profile {profile} in {} has no host", path.display()),
            Hint::text("add `host = https://…` to the profile, or give the workspace URL"),
        )),
    }
}
