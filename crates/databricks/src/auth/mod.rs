//! Request authentication: PAT, OAuth M2M and Azure service principal.

mod oauth;
pub mod token_cache;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;

use crate::config::{AzureServicePrincipal, Credentials};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use oauth::{ClientAuth, request_token};
use token_cache::{Token, TokenCache};

const MGMT_HEADER: &str = "x-databricks-azure-sp-management-token";
const RESOURCE_ID_HEADER: &str = "x-databricks-azure-workspace-resource-id";

/// Produces the auth headers of each request, caching tokens.
#[derive(Debug)]
pub(crate) struct Authenticator {
    credentials: Credentials,
    host: String,
    token: TokenCache,
    management: TokenCache,
}

fn sensitive(value: String) -> Result<HeaderValue> {
    let mut v = HeaderValue::try_from(value)
        .map_err(|_| Error::Auth("token contains characters invalid in a header".into()))?;
    v.set_sensitive(true);
    Ok(v)
}

fn bearer(t: &Token) -> Result<HeaderValue> {
    sensitive(format!(
        "{} {}",
        t.token_type,
        t.access_token.expose_secret()
    ))
}

impl Authenticator {
    pub(crate) fn new(credentials: Credentials, host: &str) -> Self {
        Authenticator {
            credentials,
            host: host.to_string(),
            token: TokenCache::default(),
            management: TokenCache::default(),
        }
    }

    /// Whether a 401 may be cured by fetching a fresh token.
    pub(crate) fn refreshable(&self) -> bool {
        !matches!(self.credentials, Credentials::Pat { .. })
    }

    pub(crate) async fn invalidate(&self) {
        self.token.invalidate().await;
        self.management.invalidate().await;
    }

    pub(crate) async fn headers(
        &self,
        http: &reqwest::Client,
        policy: &RetryPolicy,
    ) -> Result<HeaderMap> {
        let mut h = HeaderMap::new();
        match &self.credentials {
            Credentials::Pat { token } => {
                h.insert(
                    AUTHORIZATION,
                    sensitive(format!("Bearer {}", token.expose_secret()))?,
                );
            }
            Credentials::OAuthM2M {
                client_id,
                client_secret,
                token_url,
            } => {
                let url = token_url
                    .clone()
                    .unwrap_or_else(|| format!("{}/oidc/v1/token", self.host));
                let t = self
                    .token
                    .get(|| {
                        request_token(
                            http,
                            policy,
                            &url,
                            ClientAuth::Basic {
                                client_id,
                                client_secret,
                            },
                            &[("scope", "all-apis")],
                        )
                    })
                    .await?;
                h.insert(AUTHORIZATION, bearer(&t)?);
            }
            Credentials::AzureClientSecret(sp) => {
                let t = self
                    .token
                    .get(|| azure_token(http, policy, sp, &sp.resource))
                    .await?;
                h.insert(AUTHORIZATION, bearer(&t)?);
                if let Some(mgmt) = &sp.management_resource {
                    // The SDK sends it; a tenant without management access should still work
                    // for workspace APIs, so failures only drop the header.
                    match self
                        .management
                        .get(|| azure_token(http, policy, sp, mgmt))
                        .await
                    {
                        Ok(m) => {
                            h.insert(
                                HeaderName::from_static(MGMT_HEADER),
                                sensitive(m.access_token.expose_secret().to_string())?,
                            );
                        }
                        Err(e) => tracing::debug!(error = %e, "no Azure management token"),
                    }
                }
                if let Some(rid) = &sp.workspace_resource_id {
                    h.insert(
                        HeaderName::from_static(RESOURCE_ID_HEADER),
                        HeaderValue::try_from(rid.as_str()).map_err(|_| {
                            Error::Config("invalid azure_workspace_resource_id".into())
                        })?,
                    );
                }
            }
        }
        Ok(h)
    }
}

async fn azure_token(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    sp: &AzureServicePrincipal,
    resource: &str,
) -> Result<Token> {
    let url = format!(
        "{}/{}/oauth2/token",
        sp.authority.trim_end_matches('/'),
        sp.tenant_id
    );
    request_token(
        http,
        policy,
        &url,
        ClientAuth::Form {
            client_id: &sp.client_id,
            client_secret: &sp.client_secret,
        },
        &[("resource", resource)],
    )
    .await
}
