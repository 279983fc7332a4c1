//! Engine errors as HTTP responses: a status from the error's kind and a
//! JSON body with the message, Databricks' own `error_code` when the
//! failure came from Databricks (never replaced by a generic reason
//! phrase), the fix when known, and every violation of a refused request.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use polysync_engine::{Error, ErrorKind, KeyRunError, Violation};
use serde_json::{Value, json};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    /// An error with `status` and a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    /// A 400 for an engine error that is the caller's input (a credential
    /// it did not provide): the error's message and hint, and the one
    /// violation at `pointer`.
    pub fn input(e: &Error, pointer: &str) -> Self {
        let mut body = json!({
            "error": e.to_string(),
            "violations": [Violation::new(pointer, e.to_string())],
        });
        if let Some(hint) = e.hint() {
            body["hint"] = json!(hint);
        }
        Self {
            status: StatusCode::BAD_REQUEST,
            body,
        }
    }

    /// A 400 listing every violation.
    pub fn invalid(message: impl Into<String>, violations: Vec<Violation>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "error": message.into(), "violations": violations }),
        }
    }

    /// A 404 naming the unknown job key.
    pub fn unknown_key(key: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Unknown job key {key:?}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::AlreadyExists | ErrorKind::Conflict | ErrorKind::RunState => {
                StatusCode::CONFLICT
            }
            ErrorKind::Store => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Credentials => StatusCode::BAD_GATEWAY,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Databricks => upstream_status(&e),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut body = json!({ "error": e.to_string() });
        if let Error::Databricks {
            error_code: Some(code),
            ..
        } = &e
        {
            body["error_code"] = json!(code);
        }
        if let Some(hint) = e.hint() {
            body["hint"] = json!(hint);
        }
        Self { status, body }
    }
}

/// Databricks' own status for a refused request (4xx passes through, so a
/// caller sees PERMISSION_DENIED as 403); failures of Databricks itself
/// or of the network are 502.
fn upstream_status(e: &Error) -> StatusCode {
    if let Error::Databricks {
        source: Some(src), ..
    } = e
        && let Some(status) = src.status()
        && (400..500).contains(&status.as_u16())
    {
        return StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    }
    StatusCode::BAD_GATEWAY
}

impl From<KeyRunError> for ApiError {
    fn from(e: KeyRunError) -> Self {
        match e {
            KeyRunError::Invalid { key, violations } => {
                Self::invalid(format!("invalid request for job key {key:?}"), violations)
            }
            e @ KeyRunError::MissingUserToken { .. } => {
                Self::new(StatusCode::UNAUTHORIZED, e.to_string())
            }
            KeyRunError::Engine(e) => e.into(),
        }
    }
}
