//! The crate's single error type and the parsing of Databricks error bodies.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a workspace.
///
/// Callers mostly branch on [`Error::is_not_found`], [`Error::is_retryable`] and
/// [`Error::error_code`] rather than matching variants, so new variants can be added without
/// breaking them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workspace answered with a non-2xx status; the body was parsed into an [`ApiError`].
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The request never produced an HTTP response (DNS, connect, reset, TLS…).
    #[error("transport error calling {endpoint}: {source}")]
    Transport {
        /// `METHOD /path` of the failed call.
        endpoint: String,
        /// Underlying HTTP client error (its URL never contains secrets: they travel in headers).
        #[source]
        source: reqwest::Error,
        /// Whether the failure happened before the request could reach the server, which makes
        /// retrying safe even for non-idempotent calls.
        connect: bool,
    },
    /// The host has never answered this client and refused (or failed) every connection of a
    /// few quick attempts: most likely a wrong URL, port or network, so the client gives up in
    /// seconds instead of spending its whole retry budget. A host that answered before gets
    /// the full budget instead (a restart or failover is then the likely cause).
    #[error("cannot connect to {host} ({reason}; {attempts} attempts, and it has never answered)")]
    Unreachable {
        /// The workspace URL.
        host: String,
        /// `METHOD /path` of the call.
        endpoint: String,
        /// Connection attempts made.
        attempts: u32,
        /// Why the last one failed, e.g. `connection refused`.
        reason: String,
    },
    /// The per-request timeout elapsed before a response arrived.
    #[error("{endpoint} timed out after {timeout:?}")]
    Timeout {
        /// `METHOD /path` of the call.
        endpoint: String,
        /// The timeout that was configured for it.
        timeout: Duration,
    },
    /// Obtaining credentials failed (token endpoint refused, malformed token response…).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The configuration is incomplete, contradictory or could not be read.
    #[error("invalid Databricks configuration: {0}")]
    Config(String),
    /// A 2xx response whose body did not match the expected shape.
    #[error("could not decode the response of {endpoint}: {source}")]
    Decode {
        /// `METHOD /path` of the call.
        endpoint: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// True when repeating the same request later may succeed (429, 503, 504, connection
    /// failures, timeouts, and the transient messages the official SDKs retry). Whether the
    /// client *does* retry also depends on the request's idempotency, see `retry`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Transport { .. } | Error::Timeout { .. } | Error::Unreachable { .. } => true,
            Error::Auth(_) | Error::Config(_) | Error::Decode { .. } => false,
        }
    }

    /// True when the addressed resource does not exist, including the legacy
    /// `400 INVALID_PARAMETER_VALUE "Job 1 does not exist."` forms the SDKs re-map.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api(e) if e.is_not_found())
    }

    /// The Databricks `error_code` (e.g. `RESOURCE_DOES_NOT_EXIST`) when the server sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.error_code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            _ => None,
        }
    }
}

/// A non-2xx answer from the workspace.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{endpoint} failed with HTTP {status}{}: {message}", .error_code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
pub struct ApiError {
    /// `METHOD /path` of the call, so logs name the endpoint without the query string.
    pub endpoint: String,
    /// HTTP status code.
    pub status: StatusCode,
    /// Databricks `error_code`; `None` when absent or not a string (legacy numeric codes).
    pub error_code: Option<String>,
    /// Human readable message (HTTP reason phrase when the body was empty).
    pub message: String,
    /// Parsed `Retry-After` header, if any.
    pub retry_after: Option<Duration>,
    /// The `details` array of the error body, kept raw for callers that need request ids.
    pub details: Vec<Value>,
}

/// Messages the official SDKs treat as transient regardless of status.
const TRANSIENT_MESSAGES: &[&str] = &[
    "com.databricks.backend.manager.util.UnknownWorkerEnvironmentException",
    "does not have any associated worker environments",
    "There is no worker environment with id",
    "Unknown worker environment",
    "ClusterNotReadyException",
    "worker env WorkerEnvId(workerenv-",
    "Timed out after ",
    "deadline exceeded",
];

impl ApiError {
    /// Builds an error from a raw response body, accepting every shape the SDKs accept:
    /// `{"error_code","message"}`, legacy `{"error": ..}`, SCIM `{"detail","status"}`,
    /// plain text `CODE: message`, and empty bodies.
    pub fn from_response(
        endpoint: impl Into<String>,
        status: StatusCode,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        let mut error_code = None;
        let mut message = None;
        let mut details = Vec::new();
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim();
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
            if let Some(Value::String(code)) = map.get("error_code") {
                error_code = Some(code.clone());
            }
            if let Some(Value::String(m)) = map.get("message") {
                message = Some(m.clone());
            } else if let Some(err) = map.get("error") {
                message = Some(match err {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            } else if let Some(Value::String(d)) = map.get("detail") {
                message = Some(d.clone());
                if let Some(Value::String(t)) = map.get("scimType") {
                    error_code.get_or_insert_with(|| t.clone());
                }
            }
            if let Some(Value::Array(d)) = map.get("details") {
                details = d.clone();
            }
        } else if !trimmed.is_empty() {
            if let Some(start) = trimmed.find("<pre>") {
                let rest = &trimmed[start + 5..];
                let end = rest.find("</pre>").unwrap_or(rest.len());
                message = Some(rest[..end].trim().to_string());
            } else if let Some((code, msg)) = trimmed.split_once(": ")
                && !code.is_empty()
                && code
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
            {
                error_code = Some(code.to_string());
                message = Some(msg.to_string());
            } else {
                message = Some(trimmed.chars().take(1000).collect());
            }
        }
        let message = message.filter(|m| !m.is_empty()).unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("unknown error")
                .to_string()
        });
        ApiError {
            endpoint: endpoint.into(),
            status,
            error_code,
            message,
            retry_after,
            details,
        }
    }

    /// See [`Error::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        matches!(self.status.as_u16(), 429 | 503 | 504)
            || matches!(
                self.error_code.as_deref(),
                Some("REQUEST_LIMIT_EXCEEDED" | "TEMPORARILY_UNAVAILABLE")
            )
            || (!matches!(self.status.as_u16(), 400 | 401 | 403 | 404)
                && TRANSIENT_MESSAGES.iter().any(|m| self.message.contains(m)))
    }

    /// See [`Error::is_not_found`].
    pub fn is_not_found(&self) -> bool {
        if self.status == StatusCode::NOT_FOUND
            || matches!(
                self.error_code.as_deref(),
                Some("RESOURCE_DOES_NOT_EXIST" | "NOT_FOUND")
            )
        {
            return true;
        }
        self.status == StatusCode::BAD_REQUEST
            && self.error_code.as_deref() == Some("INVALID_PARAMETER_VALUE")
            && is_legacy_not_found_message(&self.message)
    }
}

/// The SDK overrides re-map "Job 12 does not exist.", "Run 5 does not exist.",
/// "Run: 5 in job: 3 doesn't exist", "Cluster x does not exist" to not-found.
fn is_legacy_not_found_message(message: &str) -> bool {
    let m = message.trim_start();
    let subject = ["Job", "Run", "Cluster", "Pipeline"]
        .iter()
        .any(|p| m.starts_with(p));
    subject && (m.contains("does not exist") || m.contains("doesn't exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_standard_body() {
        let e = ApiError::from_response(
            "GET /x",
            StatusCode::NOT_FOUND,
            br#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Path (/a) doesn't exist.","details":[{"@type":"x"}]}"#,
            None,
        );
        assert_eq!(e.error_code.as_deref(), Some("RESOURCE_DOES_NOT_EXIST"));
        assert_eq!(e.message, "Path (/a) doesn't exist.");
        assert_eq!(e.details.len(), 1);
        assert!(e.is_not_found());
        assert!(!e.is_retryable());
    }

    #[test]
    fn parses_legacy_and_empty_and_text_bodies() {
        let e = ApiError::from_response(
            "GET /x",
            StatusCode::BAD_REQUEST,
            br#"{"error":"bad thing"}"#,
            None,
        );
        assert_eq!(e.message, "bad thing");
        assert_eq!(e.error_code, None);
        let e = ApiError::from_response("GET /x", StatusCode::SERVICE_UNAVAILABLE, b"", None);
        assert_eq!(e.message, "Service Unavailable");
        assert!(e.is_retryable());
        let e = ApiError::from_response(
            "GET /x",
            StatusCode::BAD_REQUEST,
            b"INVALID_STATE: nope",
            None,
        );
        assert_eq!(e.error_code.as_deref(), Some("INVALID_STATE"));
        assert_eq!(e.message, "nope");
        let e = ApiError::from_response(
            "GET /x",
            StatusCode::INTERNAL_SERVER_ERROR,
            b"<html><pre>boom</pre></html>",
            None,
        );
        assert_eq!(e.message, "boom");
        // numeric legacy error_code is treated as absent
        let e = ApiError::from_response(
            "GET /x",
            StatusCode::BAD_REQUEST,
            br#"{"error_code":400,"message":"m"}"#,
            None,
        );
        assert_eq!(e.error_code, None);
    }

    #[test]
    fn legacy_not_found_forms() {
        for msg in [
            "Job 12 does not exist.",
            "Run 5 does not exist.",
            "Run: 5 in job: 3 doesn't exist",
        ] {
            let body = serde_json::json!({"error_code":"INVALID_PARAMETER_VALUE","message":msg});
            let e = ApiError::from_response(
                "GET /x",
                StatusCode::BAD_REQUEST,
                body.to_string().as_bytes(),
                None,
            );
            assert!(e.is_not_found(), "{msg}");
        }
        let e = ApiError::from_response(
            "GET /x",
            StatusCode::BAD_REQUEST,
            br#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Invalid name"}"#,
            None,
        );
        assert!(!e.is_not_found());
    }

    #[test]
    fn retryable_statuses() {
        for (s, r) in [
            (429, true),
            (503, true),
            (504, true),
            (500, false),
            (400, false),
        ] {
            let e = ApiError::from_response(
                "GET /x",
                StatusCode::from_u16(s).expect("status"),
                b"{}",
                None,
            );
            assert_eq!(e.is_retryable(), r, "{s}");
        }
    }
}
