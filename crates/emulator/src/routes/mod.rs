//! Route table and small helpers shared by the API modules.

pub mod clusters;
pub mod jobs;
pub mod misc;
pub mod oauth;
pub mod pipelines;
pub mod runs;
pub mod workspace;

use axum::Router;
use axum::http::Uri;
use axum::routing::{get, post};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::state::Shared;

/// Routes that require a bearer token (all under `/api/{v}/`).
pub fn api_routes() -> Router<Shared> {
    Router::new()
        .route("/api/{v}/jobs/create", post(jobs::create))
        .route("/api/{v}/jobs/list", get(jobs::list))
        .route("/api/{v}/jobs/get", get(jobs::get))
        .route("/api/{v}/jobs/delete", post(jobs::delete))
        .route("/api/{v}/jobs/reset", post(jobs::reset))
        .route("/api/{v}/jobs/update", post(jobs::update))
        .route("/api/{v}/jobs/run-now", post(runs::run_now))
        .route("/api/{v}/jobs/runs/submit", post(runs::submit))
        .route("/api/{v}/jobs/runs/get", get(runs::get))
        .route("/api/{v}/jobs/runs/list", get(runs::list))
        .route("/api/{v}/jobs/runs/cancel", post(runs::cancel))
        .route("/api/{v}/jobs/runs/cancel-all", post(runs::cancel_all))
        .route("/api/{v}/jobs/runs/delete", post(runs::delete))
        .route("/api/{v}/jobs/runs/get-output", get(runs::get_output))
        .route("/api/{v}/workspace/list", get(workspace::list))
        .route("/api/{v}/workspace/get-status", get(workspace::get_status))
        .route("/api/{v}/workspace/export", get(workspace::export))
        .route("/api/{v}/workspace/import", post(workspace::import))
        .route("/api/{v}/workspace/mkdirs", post(workspace::mkdirs))
        .route("/api/{v}/workspace/delete", post(workspace::delete))
        .route(
            "/api/{v}/pipelines",
            get(pipelines::list).post(pipelines::create),
        )
        .route(
            "/api/{v}/pipelines/{pipeline_id}",
            get(pipelines::get)
                .put(pipelines::edit)
                .delete(pipelines::delete),
        )
        .route(
            "/api/{v}/pipelines/{pipeline_id}/updates",
            get(pipelines::list_updates).post(pipelines::start_update),
        )
        .route(
            "/api/{v}/pipelines/{pipeline_id}/updates/{update_id}",
            get(pipelines::get_update),
        )
        .route(
            "/api/{v}/pipelines/{pipeline_id}/stop",
            post(pipelines::stop),
        )
        .route(
            "/api/{v}/pipelines/{pipeline_id}/events",
            get(pipelines::events),
        )
        .route("/api/{v}/clusters/create", post(clusters::create))
        .route("/api/{v}/clusters/get", get(clusters::get))
        .route("/api/{v}/clusters/list", get(clusters::list))
        .route("/api/{v}/clusters/edit", post(clusters::edit))
        .route("/api/{v}/clusters/resize", post(clusters::resize))
        .route("/api/{v}/clusters/start", post(clusters::start))
        .route("/api/{v}/clusters/restart", post(clusters::restart))
        .route("/api/{v}/clusters/delete", post(clusters::delete))
        .route(
            "/api/{v}/clusters/permanent-delete",
            post(clusters::permanent_delete),
        )
        .route("/api/{v}/clusters/pin", post(clusters::pin))
        .route("/api/{v}/clusters/unpin", post(clusters::unpin))
        .route("/api/{v}/clusters/events", post(clusters::events))
        .route(
            "/api/{v}/clusters/spark-versions",
            get(clusters::spark_versions),
        )
        .route(
            "/api/{v}/clusters/list-node-types",
            get(clusters::node_types),
        )
        .route("/api/{v}/preview/scim/v2/Me", get(misc::scim_me))
}

/// Unauthenticated routes: host metadata, OAuth discovery and token endpoints.
pub fn open_routes(azure_prefix: &str) -> Router<Shared> {
    let prefix = format!("/{}", azure_prefix.trim_matches('/'));
    Router::new()
        .route("/.well-known/databricks-config", get(misc::host_metadata))
        .route(
            "/oidc/.well-known/oauth-authorization-server",
            get(oauth::discovery),
        )
        .route("/oidc/v1/token", post(oauth::token))
        .route(
            &format!("{prefix}/{{tenant}}/oauth2/token"),
            post(oauth::azure_token),
        )
        .route(
            &format!("{prefix}/{{tenant}}/oauth2/v2.0/token"),
            post(oauth::azure_token_v2),
        )
}

/// API version segment of the request path (`2.0`, `2.1`, `2.2`).
pub fn version(uri: &Uri) -> &str {
    uri.path()
        .strip_prefix("/api/")
        .and_then(|p| p.split('/').next())
        .unwrap_or("2.0")
}

/// Parse a JSON object body; an empty body is `{}`.
pub fn body(bytes: &[u8]) -> ApiResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::malformed(format!(
            "Invalid JSON given in the body of the request - {e}"
        ))
    })?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(ApiError::malformed(
            "Invalid JSON given in the body of the request - expected an object",
        ))
    }
}

/// Read an int64 id from a JSON field (numbers or numeric strings, as the real API accepts).
pub fn int_field(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Parse a query flag (`true`/`false`).
pub fn flag(q: &std::collections::HashMap<String, String>, key: &str) -> bool {
    q.get(key)
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Opaque page token for an offset.
pub fn page_token(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

/// Decode a page token produced by [`page_token`].
pub fn parse_page_token(token: &str) -> ApiResult<usize> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::invalid(format!("Invalid page token: {token}")))
}
