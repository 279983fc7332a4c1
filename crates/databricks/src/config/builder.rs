//! The explicit builder: every setting is given by the caller, nothing ambient is read, which
//! is what Polysync platforms need.

use std::time::Duration;

use secrecy::SecretString;

use super::{
    AZURE_DATABRICKS_RESOURCE_ID, AzureEnvironment, AzureServicePrincipal, Config, Credentials,
    DEFAULT_RATE_LIMIT, JobsApiVersion,
};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

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
    write_retry: Option<RetryPolicy>,
    retry_observer: Option<crate::observe::ObserverSlot>,
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

    /// Retry policy of mutating requests (POST, PUT, DELETE, PATCH) when
    /// they must differ from reads, e.g. a server tier that never repeats a
    /// write; default: the [`ConfigBuilder::retry_policy`].
    pub fn write_retry_policy(mut self, p: RetryPolicy) -> Self {
        self.write_retry = Some(p);
        self
    }

    /// Called before each retry with what is retried and why (see [`crate::RetryNotice`]).
    pub fn retry_observer(mut self, observer: crate::observe::RetryObserver) -> Self {
        self.retry_observer = Some(crate::observe::ObserverSlot(observer));
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
            write_retry: self.write_retry,
            retry_observer: self.retry_observer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_RATE_LIMIT;

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
}
