//! Authentication: PATs from the config, tokens issued by the OAuth M2M endpoint and the
//! Entra-style Azure endpoint. Only the caller's id is ever logged, never a secret.

use std::time::Instant;

use axum::http::{HeaderMap, StatusCode, header};

use crate::error::ApiError;
use crate::state::{AppState, read_lock};

/// Identify the caller of an API request or explain (401) why not.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unauthenticated(
            "Credential was not sent or was of an unsupported type for this API.",
        ));
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
    else {
        return Err(unauthenticated(
            "Credential was not sent or was of an unsupported type for this API.",
        ));
    };
    if state.pats.contains(token) {
        return Ok(token.to_owned());
    }
    match read_lock(&state.issued).get(token) {
        Some(issued) if issued.expires > Instant::now() => Ok(issued.caller.clone()),
        Some(_) => Err(unauthenticated("Token expired. Please obtain a new token.")),
        None => Err(unauthenticated("Invalid access token.")),
    }
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
}
