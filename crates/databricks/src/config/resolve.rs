//! SDK-style resolution: explicit attributes, then environment variables, then one
//! `~/.databrickscfg` profile, turned into a [`Config`].

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{
    AZURE_DATABRICKS_RESOURCE_ID, AzureEnvironment, AzureServicePrincipal, Config,
    ConfigAttributes, Credentials, DEFAULT_RATE_LIMIT,
};
use crate::databrickscfg::{self, Profile};
use crate::error::{Error, Result};

impl Config {
    /// Reads exactly the named profile of `config_file` (default `~/.databrickscfg`), with no
    /// environment variables involved.
    pub fn from_profile(name: &str, config_file: Option<&Path>) -> Result<Config> {
        let path = match config_file {
            Some(p) => p.to_path_buf(),
            None => databrickscfg::default_config_file()
                .ok_or_else(|| Error::Config("cannot locate the home directory".into()))?,
        };
        let profile = databrickscfg::load_profile(&path, Some(name))?
            .ok_or_else(|| Error::Config(format!("profile {name} not found")))?;
        let mut attrs = ConfigAttributes::default();
        attrs.fill_from_profile(&profile);
        attrs.into_config(Some(&path))
    }

    /// SDK-style unified resolution using the process environment.
    pub fn resolve(explicit: ConfigAttributes) -> Result<Config> {
        Self::resolve_with_env(explicit, |k| std::env::var(k).ok())
    }

    /// SDK-style unified resolution with an injected environment lookup (tests pass a map).
    pub fn resolve_with_env(
        explicit: ConfigAttributes,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config> {
        let mut attrs = explicit;
        attrs.fill_from_env(&env);
        let file_path = attrs
            .config_file
            .as_deref()
            .map(databrickscfg::expand_home)
            .or_else(databrickscfg::default_config_file);
        let skip_file = attrs.profile.is_none() && (attrs.host.is_some() || attrs.any_auth());
        if !skip_file
            && let Some(path) = &file_path
            && let Some(profile) = databrickscfg::load_profile(path, attrs.profile.as_deref())?
        {
            attrs.fill_from_profile(&profile);
        }
        attrs.into_config(file_path.as_deref())
    }
}

fn fill<T>(slot: &mut Option<T>, v: Option<&str>, f: impl Fn(&str) -> T) {
    if slot.is_none()
        && let Some(v) = v.map(str::trim).filter(|v| !v.is_empty())
    {
        *slot = Some(f(v));
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

impl ConfigAttributes {
    fn any_auth(&self) -> bool {
        self.token.is_some()
            || self.client_id.is_some()
            || self.client_secret.is_some()
            || self.azure_client_id.is_some()
            || self.azure_client_secret.is_some()
    }

    fn fill_from_env(&mut self, env: &impl Fn(&str) -> Option<String>) {
        let e = |k: &str| env(k);
        fill(
            &mut self.host,
            e("DATABRICKS_HOST").as_deref(),
            str::to_string,
        );
        fill(&mut self.token, e("DATABRICKS_TOKEN").as_deref(), secret);
        fill(
            &mut self.client_id,
            e("DATABRICKS_CLIENT_ID").as_deref(),
            str::to_string,
        );
        fill(
            &mut self.client_secret,
            e("DATABRICKS_CLIENT_SECRET").as_deref(),
            secret,
        );
        fill(
            &mut self.profile,
            e("DATABRICKS_CONFIG_PROFILE").as_deref(),
            str::to_string,
        );
        fill(
            &mut self.config_file,
            e("DATABRICKS_CONFIG_FILE").as_deref(),
            str::to_string,
        );
        fill(
            &mut self.auth_type,
            e("DATABRICKS_AUTH_TYPE").as_deref(),
            str::to_string,
        );
        fill(
            &mut self.azure_client_id,
            e("ARM_CLIENT_ID").as_deref(),
            str::to_string,
        );
        fill(
            &mut self.azure_client_secret,
            e("ARM_CLIENT_SECRET").as_deref(),
            secret,
        );
        fill(
            &mut self.azure_tenant_id,
            e("ARM_TENANT_ID").as_deref(),
            str::to_string,
        );
        fill(
            &mut self.azure_environment,
            e("ARM_ENVIRONMENT").as_deref(),
            str::to_string,
        );
        fill(
            &mut self.azure_workspace_resource_id,
            e("DATABRICKS_AZURE_RESOURCE_ID").as_deref(),
            str::to_string,
        );
        fill(
            &mut self.rate_limit,
            e("DATABRICKS_RATE_LIMIT").as_deref(),
            str::to_string,
        );
    }

    fn fill_from_profile(&mut self, p: &Profile) {
        let s = str::to_string;
        fill(&mut self.host, p.get("host"), s);
        fill(&mut self.token, p.get("token"), secret);
        fill(&mut self.client_id, p.get("client_id"), s);
        fill(&mut self.client_secret, p.get("client_secret"), secret);
        fill(&mut self.auth_type, p.get("auth_type"), s);
        fill(&mut self.azure_client_id, p.get("azure_client_id"), s);
        fill(
            &mut self.azure_client_secret,
            p.get("azure_client_secret"),
            secret,
        );
        fill(&mut self.azure_tenant_id, p.get("azure_tenant_id"), s);
        fill(&mut self.azure_environment, p.get("azure_environment"), s);
        fill(
            &mut self.azure_workspace_resource_id,
            p.get("azure_workspace_resource_id"),
            s,
        );
        fill(&mut self.azure_authority, p.get("azure_authority"), s);
        fill(&mut self.rate_limit, p.get("rate_limit"), s);
        fill(&mut self.jobs_api_version, p.get("jobs_api_version"), s);
    }

    fn into_config(self, file: Option<&Path>) -> Result<Config> {
        let where_ = file
            .map(|p| format!(" (config file {})", p.display()))
            .unwrap_or_default();
        let host = self
            .host
            .ok_or_else(|| Error::Config(format!("host is not configured{where_}")))?;
        let azure_env = AzureEnvironment::parse(self.azure_environment.as_deref().unwrap_or(""))?;
        let pat = self.token.map(|token| Credentials::Pat { token });
        let m2m = match (self.client_id, self.client_secret) {
            (Some(client_id), Some(client_secret)) => Some(Credentials::OAuthM2M {
                client_id,
                client_secret,
                token_url: None,
            }),
            _ => None,
        };
        let azure = match (
            self.azure_client_id,
            self.azure_client_secret,
            self.azure_tenant_id,
        ) {
            (Some(client_id), Some(client_secret), Some(tenant_id)) => {
                Some(Credentials::AzureClientSecret(AzureServicePrincipal {
                    tenant_id,
                    client_id,
                    client_secret,
                    authority: self
                        .azure_authority
                        .unwrap_or_else(|| azure_env.authority().to_string()),
                    resource: AZURE_DATABRICKS_RESOURCE_ID.into(),
                    management_resource: Some(azure_env.management_endpoint().into()),
                    workspace_resource_id: self.azure_workspace_resource_id,
                }))
            }
            (Some(_), Some(_), None) => {
                return Err(Error::Config(format!(
                    "azure_client_id/azure_client_secret set but azure_tenant_id (ARM_TENANT_ID) is missing{where_}"
                )));
            }
            _ => None,
        };
        let credentials = match self.auth_type.as_deref() {
            Some("pat") => pat,
            Some("oauth-m2m") => m2m,
            Some("azure-client-secret") => azure,
            Some(other) => {
                return Err(Error::Config(format!(
                    "auth_type {other} is not supported (pat, oauth-m2m, azure-client-secret)"
                )));
            }
            None => {
                let all: Vec<Credentials> = [pat, m2m, azure].into_iter().flatten().collect();
                if all.len() > 1 {
                    let names: Vec<_> = all.iter().map(Credentials::auth_type).collect();
                    return Err(Error::Config(format!(
                        "validate: more than one authorization method configured: {}. Config: set auth_type{where_}",
                        names.join(" and ")
                    )));
                }
                all.into_iter().next()
            }
        }
        .ok_or_else(|| {
            Error::Config(format!(
                "no usable authentication configured for {host}{where_}"
            ))
        })?;
        let rate_limit = match self.rate_limit {
            None => Some(DEFAULT_RATE_LIMIT),
            Some(r) => {
                let n: u32 = r
                    .parse()
                    .map_err(|_| Error::Config(format!("invalid rate_limit {r:?}")))?;
                (n > 0).then_some(n)
            }
        };
        let mut b = Config::builder()
            .host(host)
            .credentials(credentials)
            .rate_limit(rate_limit);
        if let Some(v) = self.jobs_api_version {
            let version = v.parse().map_err(|_| {
                Error::Config(format!(
                    "unsupported Jobs API version {v:?} (expected 2.1 or 2.2)"
                ))
            })?;
            b = b.jobs_api_version(version);
        }
        b.build()
    }
}

/// Where a resolved config's profile file would be read from, exposed for diagnostics.
pub fn config_file_location(explicit: Option<&str>) -> Option<PathBuf> {
    explicit
        .map(databrickscfg::expand_home)
        .or_else(databrickscfg::default_config_file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobsApiVersion;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn cfg_file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    fn token_of(c: &Config) -> String {
        match c.credentials() {
            Credentials::Pat { token } => token.expose_secret().to_string(),
            other => panic!("expected pat, got {}", other.auth_type()),
        }
    }

    #[test]
    fn explicit_beats_env_beats_profile() {
        let f = cfg_file("[DEFAULT]\nhost = https://file\ntoken = file-token\n");
        let path = f.path().to_str().expect("utf8").to_string();
        // env only (file skipped because env already provides host+auth)
        let c = Config::resolve_with_env(
            ConfigAttributes::default(),
            env(&[
                ("DATABRICKS_HOST", "https://env"),
                ("DATABRICKS_TOKEN", "env-token"),
                ("DATABRICKS_CONFIG_FILE", &path),
            ]),
        )
        .expect("ok");
        assert_eq!(c.host(), "https://env");
        assert_eq!(token_of(&c), "env-token");
        // explicit host wins
        let c = Config::resolve_with_env(
            ConfigAttributes {
                host: Some("https://explicit".into()),
                ..Default::default()
            },
            env(&[
                ("DATABRICKS_HOST", "https://env"),
                ("DATABRICKS_TOKEN", "t"),
            ]),
        )
        .expect("ok");
        assert_eq!(c.host(), "https://explicit");
        // nothing set: DEFAULT profile
        let c = Config::resolve_with_env(
            ConfigAttributes::default(),
            env(&[("DATABRICKS_CONFIG_FILE", &path)]),
        )
        .expect("ok");
        assert_eq!(c.host(), "https://file");
        assert_eq!(token_of(&c), "file-token");
    }

    #[test]
    fn profile_named_by_env_fills_gaps_but_env_wins() {
        let f = cfg_file(
            "[DEFAULT]\nhost=https://d\ntoken=d\n[sp]\nhost = https://sp\nclient_id = cid\nclient_secret = csec\nrate_limit = 7\njobs_api_version = 2.2\n",
        );
        let path = f.path().to_str().expect("utf8").to_string();
        let c = Config::resolve_with_env(
            ConfigAttributes::default(),
            env(&[
                ("DATABRICKS_CONFIG_FILE", &path),
                ("DATABRICKS_CONFIG_PROFILE", "sp"),
                ("DATABRICKS_HOST", "https://envhost"),
            ]),
        )
        .expect("ok");
        assert_eq!(c.host(), "https://envhost");
        assert_eq!(c.credentials().auth_type(), "oauth-m2m");
        assert_eq!(c.rate_limit(), Some(7));
        assert_eq!(c.jobs_api_version(), JobsApiVersion::V2_2);
        // missing profile is an error
        let err = Config::resolve_with_env(
            ConfigAttributes {
                profile: Some("nope".into()),
                config_file: Some(path.clone()),
                ..Default::default()
            },
            env(&[]),
        )
        .expect_err("missing");
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn ambiguity_and_auth_type() {
        let f = cfg_file("[both]\nhost=https://b\ntoken=t\nclient_id=c\nclient_secret=s\n");
        let path = f.path().to_str().expect("utf8").to_string();
        let attrs = ConfigAttributes {
            profile: Some("both".into()),
            config_file: Some(path),
            ..Default::default()
        };
        let err = Config::resolve_with_env(attrs.clone(), env(&[])).expect_err("ambiguous");
        assert!(
            err.to_string()
                .contains("more than one authorization method configured")
        );
        assert!(!err.to_string().contains("=t"));
        let c =
            Config::resolve_with_env(attrs, env(&[("DATABRICKS_AUTH_TYPE", "pat")])).expect("ok");
        assert_eq!(token_of(&c), "t");
    }

    #[test]
    fn settings_default_profile_and_azure_env() {
        let f = cfg_file(
            "[__settings__]\ndefault_profile = az\n[az]\nhost = adb-1.azuredatabricks.net\nazure_tenant_id = ten\nazure_client_id = app\nazure_client_secret = shh\nazure_workspace_resource_id = /subscriptions/x\n",
        );
        let path = f.path().to_str().expect("utf8").to_string();
        let c = Config::resolve_with_env(
            ConfigAttributes::default(),
            env(&[
                ("DATABRICKS_CONFIG_FILE", &path),
                ("ARM_ENVIRONMENT", "CHINA"),
            ]),
        )
        .expect("ok");
        assert_eq!(c.host(), "https://adb-1.azuredatabricks.net");
        match c.credentials() {
            Credentials::AzureClientSecret(sp) => {
                assert_eq!(sp.tenant_id, "ten");
                assert_eq!(sp.authority, "https://login.chinacloudapi.cn/");
                assert_eq!(
                    sp.workspace_resource_id.as_deref(),
                    Some("/subscriptions/x")
                );
                assert_eq!(sp.resource, AZURE_DATABRICKS_RESOURCE_ID);
            }
            other => panic!("{}", other.auth_type()),
        }
        // ARM_* from env alone
        let c = Config::resolve_with_env(
            ConfigAttributes::default(),
            env(&[
                ("DATABRICKS_HOST", "https://x"),
                ("ARM_CLIENT_ID", "a"),
                ("ARM_CLIENT_SECRET", "b"),
                ("ARM_TENANT_ID", "c"),
                ("DATABRICKS_RATE_LIMIT", "0"),
                ("DATABRICKS_CONFIG_FILE", "/nonexistent"),
            ]),
        )
        .expect("ok");
        assert_eq!(c.credentials().auth_type(), "azure-client-secret");
        assert_eq!(c.rate_limit(), None);
    }

    #[test]
    fn from_profile_reads_only_that_profile() {
        let f = cfg_file("[p]\nhost = https://p\ntoken = tp\n");
        let c = Config::from_profile("p", Some(f.path())).expect("ok");
        assert_eq!(token_of(&c), "tp");
        assert!(Config::from_profile("q", Some(f.path())).is_err());
    }
}
