//! Client-credentials token requests shared by OAuth M2M and Azure (AAD v1).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::token_cache::Token;
use crate::error::{Error, Result};
use crate::retry::{Idempotency, RetryPolicy, with_retry};

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// How the client authenticates at the token endpoint.
pub(crate) enum ClientAuth<'a> {
    /// HTTP Basic `client_id:client_secret` (Databricks OIDC).
    Basic {
        client_id: &'a str,
        client_secret: &'a SecretString,
    },
    /// Credentials in the form body (AAD v1).
    Form {
        client_id: &'a str,
        client_secret: &'a SecretString,
    },
}

/// POSTs a client-credentials grant and parses the token. Token requests are idempotent, so
/// transient failures are retried with the client's policy.
pub(crate) async fn request_token(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    url: &str,
    auth: ClientAuth<'_>,
    extra_form: &[(&str, &str)],
) -> Result<Token> {
    with_retry(policy, Idempotency::Idempotent, |_| {
        request_once(http, url, &auth, extra_form)
    })
    .await
}

async fn request_once(
    http: &reqwest::Client,
    url: &str,
    auth: &ClientAuth<'_>,
    extra_form: &[(&str, &str)],
) -> Result<Token> {
    let endpoint = format!("POST {url}");
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra_form);
    let req = match auth {
        ClientAuth::Basic {
            client_id,
            client_secret,
        } => http
            .post(url)
            .basic_auth(client_id, Some(client_secret.expose_secret())),
        ClientAuth::Form {
            client_id,
            client_secret,
        } => {
            form.push(("client_id", client_id));
            form.push(("client_secret", client_secret.expose_secret()));
            http.post(url)
        }
    };
    let resp = req
        .form(&form)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| crate::http::transport_error(&endpoint, e, Duration::from_secs(30)))?;
    let status = resp.status();
    let retry_after = crate::http::retry_after(resp.headers());
    let body = resp
        .bytes()
        .await
        .map_err(|e| crate::http::transport_error(&endpoint, e, Duration::from_secs(30)))?;
    if !status.is_success() {
        if matches!(status.as_u16(), 429 | 503 | 504) {
            return Err(Error::Api(crate::error::ApiError::from_response(
                endpoint,
                status,
                &body,
                retry_after,
            )));
        }
        let e: TokenError = serde_json::from_slice(&body).unwrap_or_default();
        let detail = e
            .error_description
            .or(e.message)
            .or(e.error)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        return Err(Error::Auth(format!(
            "token endpoint {url} answered HTTP {status}: {detail}"
        )));
    }
    let t: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| Error::Auth(format!("malformed token response from {url}: {e}")))?;
    let secs = match t.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(3600);
    Ok(Token {
        access_token: SecretString::from(t.access_token),
        token_type: t
            .token_type
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "Bearer".into()),
        expires_in: Duration::from_secs(secs.max(1)),
    })
}
