//! The client core: one HTTP attempt (rate limit → auth → send → classify) wrapped in the
//! retry loop.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Authenticator;
use crate::budget::Budget;
use crate::config::Config;
use crate::error::{ApiError, Error, Result};
use crate::rate_limit::{Lane, RateLimiter};
use crate::retry::{Idempotency, RetryHooks, parse_retry_after, with_retry_hooks};

/// Installs ring as rustls' process-wide crypto provider. The workspace builds reqwest with
/// `rustls-no-provider` (no aws-lc C build), and reqwest panics without a provider; calling
/// this more than once is harmless. [`DatabricksClient::new`] calls it for you.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A Databricks workspace client. Cheap to clone (an `Arc`); clones share the connection pool,
/// token cache and rate limiter.
#[derive(Clone, Debug)]
pub struct DatabricksClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    http: reqwest::Client,
    auth: Authenticator,
    limiter: Option<RateLimiter>,
    /// The workspace's shared request budget (one per host per process).
    budget: Arc<Budget>,
    /// Set at the first HTTP response of any status: from then on, connection failures are
    /// outages worth the whole retry budget rather than a wrong host.
    answered: AtomicBool,
}

pub(crate) fn transport_error(endpoint: &str, e: reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            endpoint: endpoint.to_string(),
            timeout,
        }
    } else {
        let connect = e.is_connect();
        Error::Transport {
            endpoint: endpoint.to_string(),
            source: e.without_url(),
            connect,
        }
    }
}

pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// A request body already serialised once, re-sent as-is on retries.
pub(crate) type Body = Option<Vec<u8>>;

impl DatabricksClient {
    /// Builds a client. Installs the ring crypto provider (see [`install_crypto_provider`]).
    pub fn new(config: Config) -> Result<Self> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("polysync-databricks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))?;
        let limiter = config
            .rate_limit
            .and_then(NonZeroU32::new)
            .map(RateLimiter::new);
        let auth = Authenticator::new(config.credentials.clone(), &config.host);
        let config_host = config.host.clone();
        Ok(DatabricksClient {
            inner: Arc::new(Inner {
                config,
                http,
                auth,
                limiter,
                budget: Budget::for_host(&config_host),
                answered: AtomicBool::new(false),
            }),
        })
    }

    /// The normalised workspace URL.
    pub fn host(&self) -> &str {
        &self.inner.config.host
    }

    /// The workspace's request budget this client shares with every other
    /// client of the same host in the process (counters for metrics).
    pub fn budget(&self) -> &Arc<Budget> {
        &self.inner.budget
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The `Authorization` header value this client sends right now: the PAT, or a cached (and
    /// refreshed when due) OAuth M2M / Azure access token. Lets another HTTP client, such as
    /// the Arazzo runner, call the same workspace with a platform's own credentials without
    /// ever seeing the underlying secret. Returned as a secret so it is never logged.
    pub async fn authorization(&self) -> Result<SecretString> {
        let inner = &self.inner;
        let headers = inner.auth.headers(&inner.http, &inner.config.retry).await?;
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| SecretString::from(v.to_owned()))
            .ok_or_else(|| Error::Auth("no Authorization header for these credentials".into()))
    }

    /// Calls an endpoint that is not modelled, with auth, retries and rate limiting. GET, PUT,
    /// DELETE and HEAD are treated as idempotent; POST/PATCH are retried only when provably
    /// not processed (use [`DatabricksClient::request`] to override).
    pub async fn request_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let idem = if matches!(
            method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD
        ) {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        self.request(method, path, &[], body, idem).await
    }

    /// Typed escape hatch: any path, query, body and idempotency class.
    pub async fn request<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        idempotency: Idempotency,
    ) -> Result<T> {
        let endpoint = format!("{method} {path}");
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|source| Error::Decode {
                endpoint: endpoint.clone(),
                source,
            })?;
        let bytes = self
            .send_with_retry(&method, path, query, &body, idempotency)
            .await?;
        decode(&endpoint, &bytes)
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        self.request::<T, ()>(Method::GET, path, query, None, Idempotency::Idempotent)
            .await
    }

    pub(crate) async fn post<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        idempotency: Idempotency,
    ) -> Result<T> {
        self.request(Method::POST, path, &[], Some(body), idempotency)
            .await
    }

    async fn send_with_retry(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body,
        idempotency: Idempotency,
    ) -> Result<bytes::Bytes> {
        let inner = &self.inner;
        let hooks = RetryHooks {
            host: &inner.config.host,
            method: method.as_str(),
            path,
            observer: inner.config.retry_observer.as_ref().map(|o| &o.0),
            answered: Some(&inner.answered),
        };
        let policy = if *method == Method::GET || *method == Method::HEAD {
            &inner.config.retry
        } else {
            inner.config.write_retry_policy()
        };
        with_retry_hooks(policy, idempotency, &hooks, |attempt| {
            self.attempt(method, path, query, body, attempt)
        })
        .await
    }

    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body,
        attempt: u32,
    ) -> Result<bytes::Bytes> {
        let inner = &self.inner;
        let endpoint = format!("{method} {path}");
        let timeout = if *method == Method::GET || *method == Method::HEAD {
            inner.config.read_timeout
        } else {
            inner.config.write_timeout
        };
        let mut refreshed = false;
        loop {
            inner.budget.acquire(method, path).await;
            if let Some(l) = &inner.limiter {
                l.acquire(Lane::of(method)).await;
            }
            let headers = inner.auth.headers(&inner.http, &inner.config.retry).await?;
            let url = format!("{}{}", inner.config.host, path);
            let mut rb = inner
                .http
                .request(method.clone(), &url)
                .headers(headers)
                .timeout(timeout);
            if !query.is_empty() {
                rb = rb.query(query);
            }
            if let Some(b) = body {
                rb = rb.header(CONTENT_TYPE, "application/json").body(b.clone());
            }
            tracing::trace!(%endpoint, attempt, "sending");
            let resp = rb
                .send()
                .await
                .map_err(|e| transport_error(&endpoint, e, timeout))?;
            inner.answered.store(true, Ordering::Relaxed);
            let status = resp.status();
            let ra = retry_after(resp.headers());
            if status == StatusCode::TOO_MANY_REQUESTS {
                inner.budget.throttled_for(ra);
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| transport_error(&endpoint, e, timeout))?;
            if status.is_success() {
                return Ok(bytes);
            }
            if status == StatusCode::UNAUTHORIZED && inner.auth.refreshable() && !refreshed {
                // An OAuth token may have been revoked or expired early: retry once with a
                // fresh one. PATs cannot be refreshed, so their 401 is final.
                inner.auth.invalidate().await;
                refreshed = true;
                continue;
            }
            let err = ApiError::from_response(endpoint, status, &bytes, ra);
            tracing::debug!(error = %err, attempt, "Databricks API error");
            return Err(Error::Api(err));
        }
    }
}

fn decode<T: DeserializeOwned>(endpoint: &str, bytes: &[u8]) -> Result<T> {
    let slice: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(slice).map_err(|source| Error::Decode {
        endpoint: endpoint.to_string(),
        source,
    })
}
