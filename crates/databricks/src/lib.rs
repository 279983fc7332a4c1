//! `polysync-databricks`: a typed Databricks REST client (Jobs 2.1/2.2, Workspace 2.0,
//! Pipelines 2.0) with unified auth, retries, rate limiting and pagination.
//!
//! # Quick start
//! ```no_run
//! # async fn demo() -> Result<(), polysync_databricks::Error> {
//! use polysync_databricks::{Config, DatabricksClient, JobsApiVersion};
//! let config = Config::builder()
//!     .host("adb-123.azuredatabricks.net")
//!     .token(std::env::var("MY_TOKEN").unwrap_or_default())
//!     .jobs_api_version(JobsApiVersion::V2_1)
//!     .build()?;
//! let client = DatabricksClient::new(config)?; // installs the ring TLS provider
//! let run = client.jobs().get_run(42).await?;
//! # Ok(()) }
//! ```
//!
//! # Public shape (stable names)
//! - [`Config`] / [`ConfigBuilder`] (explicit; nothing ambient), [`Config::from_profile`]
//!   (one `~/.databrickscfg` profile), [`Config::resolve`] / [`Config::resolve_with_env`]
//!   (SDK precedence: explicit > env > profile) with [`ConfigAttributes`].
//! - [`DatabricksClient`] (`Clone`, `Arc` inside): [`DatabricksClient::jobs`],
//!   [`DatabricksClient::workspace`], [`DatabricksClient::pipelines`],
//!   [`DatabricksClient::request_json`] / [`DatabricksClient::request`] for unmodelled
//!   endpoints.
//! - [`Error`] with [`Error::is_retryable`], [`Error::is_not_found`], [`Error::error_code`].
//! - [`models`]: serde types; every enum has an `Unknown(String)` fallback.
//!
//! # TLS
//! reqwest is built without a default TLS provider; [`install_crypto_provider`] installs
//! rustls' ring provider and [`DatabricksClient::new`] calls it.
//!
//! # Retries
//! 429, 503, 504, connection errors and timeouts are retried with exponential backoff and
//! jitter, never sooner than `Retry-After`, within [`RetryPolicy::total_timeout`]; idempotent
//! requests (reads, idempotent writes, submits with a token) also on 500 and 502. 400, 401,
//! 403 and 404 are never retried (a 401 with OAuth triggers one token refresh). Non-idempotent
//! calls (`jobs/create`, pipeline create, start update, import without overwrite, run-now and
//! runs/submit *without* `idempotency_token`) are retried only when the server provably did
//! not process them: a connection that never opened, or a 429 rejection.
//!
//! A host that has never answered this client and refuses connections fails after
//! [`RetryPolicy::connect_attempts_before_answer`] quick attempts with [`Error::Unreachable`]
//! naming it; once it answered, connection failures get the whole budget. A
//! [`RetryObserver`] set with [`ConfigBuilder::retry_observer`] hears a [`RetryNotice`]
//! before every retry, so interactive callers can say what they retry and why.

//!
//! # Features
//! `client` (default) is everything above. Without it (`default-features = false`) the crate
//! is only [`models`] and [`JobsApiVersion`], over serde alone, for crates that describe the
//! API without speaking HTTP.

#[cfg(feature = "client")]
pub mod api;
#[cfg(feature = "client")]
mod auth;
#[cfg(feature = "client")]
pub mod budget;
#[cfg(feature = "client")]
pub mod config;
#[cfg(feature = "client")]
pub mod databrickscfg;
#[cfg(feature = "client")]
pub mod error;
#[cfg(feature = "client")]
mod http;
pub mod limits;
pub mod models;
#[cfg(feature = "client")]
pub mod observe;
#[cfg(feature = "client")]
pub mod pagination;
#[cfg(feature = "client")]
pub mod rate_limit;
#[cfg(feature = "client")]
pub mod retry;
pub mod version;

#[cfg(feature = "client")]
pub use api::{JobsApi, PipelinesApi, WorkspaceApi};
#[cfg(feature = "client")]
pub use auth::token_cache::refresh_margin;
#[cfg(feature = "client")]
pub use budget::Budget;
#[cfg(feature = "client")]
pub use config::{
    AzureEnvironment, AzureServicePrincipal, Config, ConfigAttributes, ConfigBuilder, Credentials,
};
#[cfg(feature = "client")]
pub use error::{ApiError, Error, Result};
#[cfg(feature = "client")]
pub use http::{DatabricksClient, install_crypto_provider};
#[cfg(feature = "client")]
pub use observe::{RetryNotice, RetryObserver};
#[cfg(feature = "client")]
pub use reqwest::Method;
#[cfg(feature = "client")]
pub use retry::{Idempotency, RetryPolicy};
#[cfg(feature = "client")]
pub use secrecy::SecretString;
pub use version::{JobsApiVersion, UnknownJobsApiVersion};
