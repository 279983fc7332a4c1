//! Extractors whose rejections are [`ApiError`]s: a malformed query string
//! or JSON body is a 400 with the usual JSON error shape and a violation
//! naming where, never axum's plain-text rejection.

use axum::extract::{FromRequest, FromRequestParts, Json, Query, Request};
use axum::http::request::Parts;
use polysync_engine::Violation;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// [`Query`] with a JSON 400 on a bad query string.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e| {
                ApiError::invalid(
                    "invalid query string",
                    vec![Violation::new("query", e.body_text())],
                )
            })
    }
}

/// [`Json`] with a JSON 400 on a missing content type or a bad body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| Self(v))
            .map_err(|e| {
                ApiError::invalid(
                    "invalid request body",
                    vec![Violation::new("", e.body_text())],
                )
            })
    }
}
