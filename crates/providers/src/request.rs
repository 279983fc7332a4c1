//! A request built purely from a job (unit-testable, previewable by
//! `run --dry-run`) before anything is sent.

use polysync_core::Platform;
use polysync_databricks::Method;
use serde_json::Value;

/// A request a provider will send: built purely (unit-testable), sent by
/// [`crate::Provider::submit`]. Raw JSON on purpose: the run bodies are
/// asserted byte for byte from the emulator's request log.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path under the workspace URL.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Value>,
    /// Safe to retry after a lost response (GETs, and run submissions that
    /// carry an `idempotency_token`).
    pub idempotent: bool,
}

impl ApiRequest {
    /// A GET, always safe to retry.
    pub(crate) fn get(path: String, query: Vec<(String, String)>) -> Self {
        Self {
            method: Method::GET,
            path,
            query,
            body: None,
            idempotent: true,
        }
    }

    /// A POST with a JSON body.
    pub(crate) fn post(path: String, body: Value, idempotent: bool) -> Self {
        Self {
            method: Method::POST,
            path,
            query: Vec::new(),
            body: Some(body),
            idempotent,
        }
    }
}

/// `/api/{version}/jobs/{op}` for a platform: the Jobs API version comes
/// from the platform so a 2.2-only workspace is usable.
pub fn jobs_path(platform: &Platform, op: &str) -> String {
    format!("/api/{}/jobs/{op}", platform.jobs_api_version.as_str())
}
