//! Platform use cases: register, change, look up, remove; and the one way
//! a use case reaches a workspace ([`Engine::connect`]), so credentials
//! always come from what the platform itself names.

use std::path::{Path, PathBuf};

use polysync_core::{Action, Auth, Hint, Platform};
use polysync_databricks::{Config, DatabricksClient};
use polysync_providers::Connection;
use polysync_store::Update;

use crate::{Engine, Error, Result};

/// How long `platform add` waits for the workspace to answer the check.
pub const VERIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

impl Engine {
    /// Registers a platform after validation. Of two concurrent adds of one
    /// name (other processes included) exactly one succeeds; the other gets
    /// [`Error::AlreadyExists`].
    pub async fn add_platform(&self, platform: Platform) -> Result<Platform> {
        platform.validate()?;
        Ok(self.inner.store.add_platform(&platform).await?)
    }

    /// Whether the platform's credentials can be read here (its token
    /// variable is set, its profile exists and is complete), without any
    /// request: so a caller can tell a credential it failed to provide (its
    /// input) from a workspace refusing one (the check of
    /// [`Engine::add_verified_platform`]). The error is the one that check
    /// would give, hint included; an invalid platform is refused as
    /// [`Engine::add_platform`] refuses it.
    pub fn check_credentials(&self, platform: &Platform) -> Result<()> {
        platform.validate()?;
        self.client_config(platform).map(|_| ())
    }

    /// Registers a platform after checking that its workspace answers and
    /// accepts its credentials (what `platform add` does unless told not
    /// to). Nothing is saved when the check fails. Returns the platform and
    /// the identity its credentials authenticate as.
    pub async fn add_verified_platform(&self, platform: Platform) -> Result<(Platform, String)> {
        platform.validate()?;
        if self.find_platform(&platform.name).await?.is_some() {
            return Err(Error::AlreadyExists {
                entity: "platform",
                key: platform.name.clone(),
            });
        }
        let identity = self.verify_platform(&platform).await?;
        let saved = self.add_platform(platform).await?;
        Ok((saved, identity))
    }

    /// Checks that a platform's workspace answers and accepts its
    /// credentials (one SCIM `Me` read, bounded by [`VERIFY_TIMEOUT`]);
    /// returns the identity. The platform need not be saved.
    pub async fn verify_platform(&self, platform: &Platform) -> Result<String> {
        let client = DatabricksClient::new(self.client_config(platform)?).map_err(|e| {
            Error::Credentials {
                platform: platform.name.clone(),
                message: format!("cannot build the Databricks client: {e}"),
                hint: Hint::text("check the workspace URL and the credentials"),
                source: Some(Box::new(e)),
            }
        })?;
        let conn = Connection {
            platform: platform.clone(),
            client,
        };
        let not_verified = Hint::text(
            "fix the workspace URL or the credentials, or add the platform without this check (--no-verify)",
        );
        match tokio::time::timeout(VERIFY_TIMEOUT, conn.current_user()).await {
            Ok(Ok(identity)) => Ok(identity),
            Ok(Err(e)) => {
                let refused = matches!(e, polysync_databricks::Error::Auth(_))
                    || e.status()
                        .is_some_and(|s| s.as_u16() == 401 || s.as_u16() == 403);
                Err(Error::Credentials {
                    platform: platform.name.clone(),
                    message: if refused {
                        format!(
                            "{} refused the platform's credentials: {e}",
                            platform.workspace_url
                        )
                    } else {
                        format!(
                            "cannot verify the platform at {}: {e}",
                            platform.workspace_url
                        )
                    },
                    hint: not_verified,
                    source: Some(Box::new(e)),
                })
            }
            Err(_) => Err(Error::Credentials {
                platform: platform.name.clone(),
                message: format!(
                    "{} did not answer within {} s",
                    platform.workspace_url,
                    VERIFY_TIMEOUT.as_secs()
                ),
                hint: not_verified,
                source: None,
            }),
        }
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

    /// Removes a platform. Without `with_jobs` it is refused while jobs
    /// reference it (so jobs are never dropped by surprise); with it, the
    /// platform's jobs and the platform are deleted in one store
    /// transaction: all or nothing, also when another process works on the
    /// store meanwhile. Runs stay, with their copy of the job's name.
    /// Returns the names of the jobs removed.
    pub async fn remove_platform(&self, name: &str, with_jobs: bool) -> Result<Vec<String>> {
        let mut tx = self.inner.store.begin().await?;
        let jobs = tx.delete_platform(name, with_jobs).await?;
        tx.commit().await?;
        self.forget_client(name);
        Ok(jobs)
    }

    /// Builds the client config from what the platform names ONLY: its
    /// profile (file from the platform, else `DATABRICKS_CONFIG_FILE` via
    /// the injectable env, else `~/.databrickscfg`) or its token variable.
    /// Ambient `DATABRICKS_HOST`/`DATABRICKS_TOKEN` are never consulted, so
    /// a token meant for another workspace cannot leak into this one.
    ///
    /// The one place every engine setting reaches the client: the request
    /// cap is the engine's explicit one (`polysync dispatcher
    /// --rate-limit`), else the profile's `rate_limit` (as the SDKs read
    /// it; 0 = none), else the SDKs' 15/s; the retry observer rides along.
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
        let mut builder = match &platform.auth {
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
                        message: e.to_string(),
                        hint: profile_hint(name, file.as_deref()),
                        source: Some(Box::new(e)),
                    }
                })?;
                builder
                    .credentials(profile.credentials().clone())
                    .rate_limit(profile.rate_limit())
            }
        };
        if let Some(limit) = self.inner.client_rate_limit {
            builder = builder.rate_limit(limit);
        }
        if let Some(tiers) = &self.inner.tiers.tiers {
            builder = tiers.configure(builder);
        }
        if let Some(observer) = &self.inner.retry_observer {
            builder = builder.retry_observer(observer.clone());
        }
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
        let config = self.client_config(platform)?;
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

/// How to fix a profile that cannot be used: name the file, and what a
/// profile needs for either kind of credentials.
fn profile_hint(name: &str, file: Option<&Path>) -> Hint {
    Hint::text(format!(
        "use one of the profiles listed, or add a [{name}] section to {} with `host` and either `token` (personal access token) or `client_id` and `client_secret` (OAuth service principal); DATABRICKS_CONFIG_FILE points at another file",
        file.map_or_else(
            || "~/.databrickscfg".to_owned(),
            |p| p.display().to_string()
        )
    ))
}

/// The workspace URL a `~/.databrickscfg` profile names, for adding a
/// platform by profile without `--host`. The file is the one given, else
/// `DATABRICKS_CONFIG_FILE` (the process environment, as for the SDKs),
/// else `~/.databrickscfg`, as the SDKs resolve it. Reads the file only: no
/// request, no store.
pub fn profile_host(platform: &str, profile: &str, config_file: Option<&Path>) -> Result<String> {
    let cred_err = |message: String, hint: Hint| Error::Credentials {
        platform: platform.to_owned(),
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
                platform: platform.to_owned(),
                message: e.to_string(),
                hint: profile_hint(profile, Some(&path)),
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
