//! Operations routes: `/health`, `/metrics` (Prometheus text) and
//! `/openapi.json` (the document of every route, generated from the code).

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::AppState;

/// Liveness: answers while the process serves, needs no token.
#[utoipa::path(get, path = "/health", tag = "operations", summary = "Liveness",
    security(()),
    responses((status = 200, description = "`{\"status\": \"ok\"}`.", body = crate::openapi::HealthBody)))]
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Prometheus text; the engine's part is left out (logged) when the store
/// cannot be read, so a scrape still shows the HTTP and tracker figures.
#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text exposition.", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = match state.engine.metrics_snapshot().await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("metrics: cannot read the engine's figures: {e}");
            None
        }
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(snapshot.as_ref()),
    )
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", summary = "OpenAPI 3.1 document",
    responses((status = 200, description = "The document.", body = Object)))]
pub(crate) async fn openapi_json() -> impl IntoResponse {
    Json(crate::openapi::document())
}
