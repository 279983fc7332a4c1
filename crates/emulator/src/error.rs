//! Errors: the crate's own [`Error`] (start-up and demo failures) and [`ApiError`], the Databricks-shaped
//! error body every route answers with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the emulator could not start, or could not set up the demo workspace.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound (port taken, address not local…).
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Address that was requested.
        addr: std::net::SocketAddr,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The seed workspace directory could not be read.
    #[error("cannot read workspace seed {path}: {source}")]
    Seed {
        /// File or directory that failed.
        path: std::path::PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A seed notebook could not be parsed (e.g. malformed `.ipynb`).
    #[error("invalid seed notebook {path}: {message}")]
    SeedNotebook {
        /// File that failed.
        path: std::path::PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// A demo notebook could not be written.
    #[error("cannot write demo notebook {path}: {source}")]
    Demo {
        /// File or directory that failed.
        path: std::path::PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The emulator refused part of the demo, as its API would (e.g. serverless disabled).
    #[error("the emulator refused the demo {what}: {message}")]
    DemoRejected {
        /// Which piece (`job`, `workflow`).
        what: &'static str,
        /// The API's error message.
        message: String,
    },
}

/// A Databricks REST error: `{"error_code": ..., "message": ...}` with its HTTP status.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status to answer with.
    pub status: StatusCode,
    /// Databricks `error_code`.
    pub code: &'static str,
    /// Human-readable message, worded like the real service where known.
    pub message: String,
    /// `Retry-After` seconds (429/503 only).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Build an error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 400 INVALID_PARAMETER_VALUE: the workhorse of the Jobs API.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }
    /// 400 INVALID_STATE (operation not allowed in the object's current state).
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_STATE", message)
    }
    /// 404 RESOURCE_DOES_NOT_EXIST.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }
    /// 409 RESOURCE_ALREADY_EXISTS.
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "RESOURCE_ALREADY_EXISTS", message)
    }
    /// 400 MALFORMED_REQUEST for bodies that are not the JSON we expect.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", message)
    }
    /// 429 REQUEST_LIMIT_EXCEEDED with `Retry-After`.
    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "REQUEST_LIMIT_EXCEEDED",
                message,
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error_code": self.code, "message": self.message});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Result type of route handlers.
pub type ApiResult<T> = Result<T, ApiError>;
