//! Client configuration: an explicit builder (`builder.rs`), a named profile, or SDK-style
//! unified resolution (`resolve.rs`); this module holds what they all produce.
//!
//! Precedence in [`Config::resolve`] (as in the official SDKs): explicit attributes >
//! environment variables > one `~/.databrickscfg` profile. The profile is skipped when a host
//! or any credential was already set and no profile was requested.

mod azure;
mod builder;
mod resolve;

use std::time::Duration;

use secrecy::SecretString;

use crate::retry::RetryPolicy;
pub use crate::version::JobsApiVersion;
pub use azure::{AZURE_DATABRICKS_RESOURCE_ID, AzureEnvironment, AzureServicePrincipal};
pub use builder::{ConfigBuilder, normalize_host};
pub use resolve::config_file_location;

/// Default client-side rate limit, the Go SDK's default (requests/second per workspace).
pub const DEFAULT_RATE_LIMIT: u32 = 15;

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
    /// Mutating requests' policy when it differs from `retry`.
    pub(crate) write_retry: Option<RetryPolicy>,
    pub(crate) retry_observer: Option<crate::observe::ObserverSlot>,
}

impl Config {
    /// Starts an explicit configuration: nothing is read from the environment or files, which
    /// is what Polysync platforms need (a platform's credentials come only from what it names).
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
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

    /// Retry policy of mutating requests (the read policy unless one was set).
    pub fn write_retry_policy(&self) -> &RetryPolicy {
        self.write_retry.as_ref().unwrap_or(&self.retry)
    }

    /// Returns a copy whose client tells `observer` before each retry (interactive callers
    /// print it, so a slow command says what it is waiting for).
    pub fn with_retry_observer(mut self, observer: crate::observe::RetryObserver) -> Self {
        self.retry_observer = Some(crate::observe::ObserverSlot(observer));
        self
    }

    /// Returns a copy speaking another Jobs API version.
    pub fn with_jobs_api_version(mut self, v: JobsApiVersion) -> Self {
        self.jobs_api_version = v;
        self
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
