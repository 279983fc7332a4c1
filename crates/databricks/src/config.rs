//! Client configuration: an explicit builder, a named profile, or SDK-style unified resolution.
//!
//! Precedence in [`Config::resolve`] (as in the official SDKs): explicit attributes >
//! environment variables > one `~/.databrickscfg` profile. The profile is skipped when a host
//! or any credential was already set and no profile was requested.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::databrickscfg::{self, Profile};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
pub use crate::version::JobsApiVersion;

/// Azure Databricks first-party application id, the AAD resource tokens are requested for.
pub const AZURE_DATABRICKS_RESOURCE_ID: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";

/// Default client-side rate limit, the Go SDK's default (requests/second per workspace).
pub const DEFAULT_RATE_LIMIT: u32 = 15;

/// Azure cloud, selecting the Entra ID authority and management endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AzureEnvironment {
    /// Public cloud.
    #[default]
    Public,
    /// US Government cloud.
    UsGovernment,
    /// China cloud.
    China,
}

impl AzureEnvironment {
    fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "" | "PUBLIC" | "AZUREPUBLICCLOUD" => Ok(Self::Public),
            "USGOVERNMENT" | "USGOV" | "AZUREUSGOVERNMENTCLOUD" => Ok(Self::UsGovernment),
            "CHINA" | "AZURECHINACLOUD" => Ok(Self::China),
            other => Err(Error::Config(format!("unknown ARM_ENVIRONMENT {other}"))),
        }
    }

    /// Entra ID authority (login host) of this cloud.
    pub fn authority(self) -> &'static str {
        match self {
            Self::Public => "https://login.microsoftonline.com/",
            Self::UsGovernment => "https://login.microsoftonline.us/",
            Self::China => "https://login.chinacloudapi.cn/",
        }
    }

    /// Service-management resource, for the `X-Databricks-Azure-SP-Management-Token` header.
    pub fn management_endpoint(self) -> &'static str {
        match self {
            Self::Public => "https://management.core.windows.net/",
            Self::UsGovernment => "https://management.core.usgovcloudapi.net/",
            Self::China => "https://management.core.chinacloudapi.cn/",
        }
    }
}

/// Azure service principal (client secret) settings.
#[derive(Debug, Clone)]
pub struct AzureServicePrincipal {
    /// Entra tenant id.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
    /// Authority base URL; the token endpoint is `{authority}/{tenant_id}/oauth2/token`.
    pub authority: String,
    /// Resource the workspace token is requested for.
    pub resource: String,
    /// Resource of the management token; `None` skips the management-token header.
    pub management_resource: Option<String>,
    /// Sent as `X-Databricks-Azure-Workspace-Resource-Id` when set.
    pub workspace_resource_id: Option<String>,
}

/// How the client authenticates. Exactly one method per client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// Personal access token (`auth_type = pat`).
    Pat {
        /// The token.
        token: SecretString,
    },
    /// OAuth machine-to-machine (`auth_type = oauth-m2m`): client credentials against
    /// `{host}/oidc/v1/token` unless `token_url` overrides it.
    OAuthM2M {
        /// Service principal application id.
        client_id: String,
        /// OAuth secret.
        client_secret: SecretString,
        /// Token endpoint override.
        token_url: Option<String>,
    },
    /// Azure service principal (`auth_type = azure-client-secret`).
    AzureClientSecret(AzureServicePrincipal),
}

impl Credentials {
    /// SDK name of the method (`pat`, `oauth-m2m`, `azure-client-secret`).
    pub fn auth_type(&self) -> &'static str {
        match self {
            Credentials::Pat { .. } => "pat",
            Credentials::OAuthM2M { .. } => "oauth-m2m",
            Credentials::AzureClientSecret(_) => "azure-client-secret",
        }
    }
}

/// A fully resolved client configuration. Secrets are `SecretString`, so `Debug` is safe.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) host: String,
    pub(crate) credentials: Credentials,
    pub(crate) jobs_api_version: JobsApiVersion,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) read_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) retry: RetryPolicy,
}

impl Config {
    /// Starts an explicit configuration: nothing is read from the environment or files, which
    /// is what Polysync platforms need (a platform's credentials come only from what it names).
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

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

    /// Normalised workspace URL (scheme, no trailing slash).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The authentication method.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The Jobs API version.
    pub fn jobs_api_version(&self) -> JobsApiVersion {
        self.jobs_api_version
    }

    /// Client-side requests/second limit (`None` = unlimited).
    pub fn rate_limit(&self) -> Option<u32> {
        self.rate_limit
    }

    /// Retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Returns a copy speaking another Jobs API version.
    pub fn with_jobs_api_version(mut self, v: JobsApiVersion) -> Self {
        self.jobs_api_version = v;
        self
    }
}

/// Normalises a host: adds `https://` when the scheme is missing, strips trailing slashes, and
/// keeps `http://` only for loopback hosts (emulators, tests).
pub fn normalize_host(raw: &str) -> Result<String> {
    let raw = raw.trim().trim_end_matches('/');
    if raw.is_empty() {
        return Err(Error::Config("host is empty".into()));
    }
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|e| Error::Config(format!("invalid host {raw:?}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| Error::Config(format!("invalid host {raw:?}: no host name")))?;
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(Error::Config(format!(
                "refusing plain http for non-loopback host {host}"
            )));
        }
        other => return Err(Error::Config(format!("unsupported scheme {other}"))),
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

/// Explicit builder; one authentication method, no ambient configuration.
#[derive(Debug, Default, Clone)]
pub struct ConfigBuilder {
    host: Option<String>,
    credentials: Vec<Credentials>,
    jobs_api_version: JobsApiVersion,
    rate_limit: Option<Option<u32>>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    azure_authority: Option<String>,
}

impl ConfigBuilder {
    /// Workspace URL (normalised at build).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Personal access token.
    pub fn token(mut self, token: impl Into<SecretString>) -> Self {
        self.credentials.push(Credentials::Pat {
            token: token.into(),
        });
        self
    }

    /// OAuth M2M service principal.
    pub fn oauth_m2m(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> Self {
        self.credentials.push(Credentials::OAuthM2M {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_url: None,
        });
        self
    }

    /// Azure service principal with the public-cloud authority (override with
    /// [`ConfigBuilder::azure_authority`]).
    pub fn azure_client_secret(
        mut self,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> Self {
        let env = AzureEnvironment::Public;
        self.credentials
            .push(Credentials::AzureClientSecret(AzureServicePrincipal {
                tenant_id: tenant_id.into(),
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                authority: env.authority().into(),
                resource: AZURE_DATABRICKS_RESOURCE_ID.into(),
                management_resource: Some(env.management_endpoint().into()),
                workspace_resource_id: None,
            }));
        self
    }

    /// Any fully specified credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials.push(credentials);
        self
    }

    /// Entra ID authority for Azure auth (e.g. an emulator's `{url}/aad/`).
    pub fn azure_authority(mut self, authority: impl Into<String>) -> Self {
        self.azure_authority = Some(authority.into());
        self
    }

    /// Jobs API version (default 2.1).
    pub fn jobs_api_version(mut self, v: JobsApiVersion) -> Self {
        self.jobs_api_version = v;
        self
    }

    /// Requests/second per workspace; `None` disables the client-side limiter.
    pub fn rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// Timeout of GET requests (default 30 s).
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = Some(d);
        self
    }

    /// Timeout of mutating requests (default 120 s).
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = Some(d);
        self
    }

    /// TCP/TLS connect timeout (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(d);
        self
    }

    /// Retry policy.
    pub fn retry_policy(mut self, p: RetryPolicy) -> Self {
        self.retry = Some(p);
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<Config> {
        let host = normalize_host(
            self.host
                .as_deref()
                .ok_or_else(|| Error::Config("host is required".into()))?,
        )?;
        let mut creds = self.credentials;
        let mut credentials = match creds.len() {
            0 => return Err(Error::Config("no authentication method configured".into())),
            1 => creds.remove(0),
            _ => {
                let names: Vec<_> = creds.iter().map(Credentials::auth_type).collect();
                return Err(Error::Config(format!(
                    "validate: more than one authorization method configured: {}",
                    names.join(" and ")
                )));
            }
        };
        if let (Credentials::AzureClientSecret(sp), Some(a)) =
            (&mut credentials, self.azure_authority)
        {
            sp.authority = a;
        }
        Ok(Config {
            host,
            credentials,
            jobs_api_version: self.jobs_api_version,
            rate_limit: self
                .rate_limit
                .unwrap_or(Some(DEFAULT_RATE_LIMIT))
                .filter(|r| *r > 0),
            read_timeout: self.read_timeout.unwrap_or(Duration::from_secs(30)),
            write_timeout: self.write_timeout.unwrap_or(Duration::from_secs(120)),
            connect_timeout: self.connect_timeout.unwrap_or(Duration::from_secs(10)),
            retry: self.retry.unwrap_or_default(),
        })
    }
}

/// Raw attributes for [`Config::resolve`], named like the SDKs' config attributes. Unset
/// attributes are filled from the environment, then from a profile.
#[derive(Debug, Default, Clone)]
pub struct ConfigAttributes {
    /// `host` / `DATABRICKS_HOST`.
    pub host: Option<String>,
    /// `token` / `DATABRICKS_TOKEN`.
    pub token: Option<SecretString>,
    /// `client_id` / `DATABRICKS_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `client_secret` / `DATABRICKS_CLIENT_SECRET`.
    pub client_secret: Option<SecretString>,
    /// `profile` / `DATABRICKS_CONFIG_PROFILE`.
    pub profile: Option<String>,
    /// `config_file` / `DATABRICKS_CONFIG_FILE` (default `~/.databrickscfg`).
    pub config_file: Option<String>,
    /// `auth_type` / `DATABRICKS_AUTH_TYPE` (`pat`, `oauth-m2m`, `azure-client-secret`).
    pub auth_type: Option<String>,
    /// `azure_client_id` / `ARM_CLIENT_ID`.
    pub azure_client_id: Option<String>,
    /// `azure_client_secret` / `ARM_CLIENT_SECRET`.
    pub azure_client_secret: Option<SecretString>,
    /// `azure_tenant_id` / `ARM_TENANT_ID`.
    pub azure_tenant_id: Option<String>,
    /// `azure_environment` / `ARM_ENVIRONMENT`.
    pub azure_environment: Option<String>,
    /// `azure_workspace_resource_id` / `DATABRICKS_AZURE_RESOURCE_ID`.
    pub azure_workspace_resource_id: Option<String>,
    /// Entra ID authority override (explicit or profile key `azure_authority`; no env var).
    pub azure_authority: Option<String>,
    /// `rate_limit` / `DATABRICKS_RATE_LIMIT` (requests/second; 0 disables).
    pub rate_limit: Option<String>,
    /// Jobs API version (`2.1`/`2.2`; explicit or profile key `jobs_api_version`).
    pub jobs_api_version: Option<String>,
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
    fn host_normalisation() {
        assert_eq!(
            normalize_host("adb-1.azuredatabricks.net/").expect("ok"),
            "https://adb-1.azuredatabricks.net"
        );
        assert_eq!(
            normalize_host("http://127.0.0.1:8080/").expect("ok"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_host("http://localhost:1").expect("ok"),
            "http://localhost:1"
        );
        assert!(normalize_host("http://example.com").is_err());
        assert!(normalize_host("").is_err());
    }

    #[test]
    fn builder_rejects_two_methods_and_redacts() {
        let err = Config::builder()
            .host("h.example.com")
            .token("dapi-secret".to_string())
            .oauth_m2m("id", "sec".to_string())
            .build()
            .expect_err("two methods");
        assert!(
            err.to_string()
                .contains("more than one authorization method")
        );
        let c = Config::builder()
            .host("h.example.com")
            .token("dapi-secret".to_string())
            .build()
            .expect("ok");
        assert!(!format!("{c:?}").contains("dapi-secret"));
        assert_eq!(c.rate_limit(), Some(DEFAULT_RATE_LIMIT));
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
