//! The seed's routes under `/api/jobs` (AppKit's jobs plugin shapes): parse,
//! call one engine use case, render. Runs are started as the platform
//! unless the key opts in to on-behalf-of-user; reads use the platform.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing};
use polysync_engine::{JobKey, Violation};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::{AppState, sse, views};

/// The header Databricks Apps put the signed-in user's token in.
pub const FORWARDED_TOKEN: &str = "x-forwarded-access-token";

/// The `/api/jobs` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/jobs/{job_key}/run", routing::post(run))
        .route("/api/jobs/{job_key}/runs", routing::get(list_runs))
        .route(
            "/api/jobs/{job_key}/runs/{run_id}",
            routing::get(get_run).delete(cancel_run),
        )
        .route(
            "/api/jobs/{job_key}/runs/{run_id}/stream",
            routing::get(stream_run),
        )
        .route("/api/jobs/{job_key}/status", routing::get(status))
}

fn key_of<'a>(state: &'a AppState, key: &str) -> Result<&'a JobKey, ApiError> {
    state
        .keys
        .get(&key.to_lowercase())
        .ok_or_else(|| ApiError::unknown_key(key))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunQuery {
    /// `true` (or `1`): answer with an SSE stream of the run's status events until it ends.
    stream: Option<String>,
}

/// The `params` of a run request, or every violation of its envelope:
/// JSON only (a body sent as anything else is refused, never ignored),
/// an object with `params` and nothing else. An empty body = no params.
fn parse_run_body(headers: &HeaderMap, body: &Bytes) -> Result<Option<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(ApiError::invalid(
            "the body must be JSON",
            vec![Violation::new(
                "",
                "send Content-Type: application/json with a body { \"params\": {...} }",
            )],
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            "the body is not valid JSON",
            vec![Violation::new("", e.to_string())],
        )
    })?;
    let Value::Object(mut obj) = value else {
        return Err(ApiError::invalid(
            "the body must be a JSON object",
            vec![Violation::new(
                "",
                "must be an object { \"params\": {...} }",
            )],
        ));
    };
    let unknown: Vec<Violation> = obj
        .keys()
        .filter(|k| *k != "params")
        .map(|k| {
            Violation::new(
                format!("/{k}"),
                "unknown field; the body is { \"params\": {...} }",
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid("the body has unknown fields", unknown));
    }
    Ok(obj.remove("params"))
}

/// Starts a run of a key.
#[utoipa::path(post, path = "/api/jobs/{job_key}/run", tag = "jobs",
    summary = "Start a run of a job key",
    params(("job_key" = String, Path, description = "A job key (`default`, or the lowercased `<name>` of `DATABRICKS_JOB_<NAME>` / `[jobs.<name>]`)."), RunQuery),
    request_body(content = Option<crate::openapi::RunRequest>, content_type = "application/json", description = "`{\"params\": {...}}`, checked against the key's schema; an empty body = no parameters."),
    responses(
        (status = 200, description = "Started (`{\"runId\": N}`), or with `stream=true` the run's SSE events.", content(
            (crate::openapi::RunIdBody = "application/json"),
            (String = "text/event-stream"))),
        (status = 400, description = "Invalid body or parameters: every violation listed, nothing triggered.", body = crate::openapi::ErrorBody),
        (status = 404, description = "Unknown job key.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn run(
    State(state): State<AppState>,
    Path(job_key): Path<String>,
    ApiQuery(q): ApiQuery<RunQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = key_of(&state, &job_key)?;
    let params = parse_run_body(&headers, &body)?;
    // Read only when the key opts in: otherwise a forwarded token is never used.
    let user_token = key
        .on_behalf_of_user
        .then(|| headers.get(FORWARDED_TOKEN))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.trim().is_empty())
        .map(|t| SecretString::from(t.trim().to_owned()));
    let run = state
        .engine
        .start_key_run(key, params.as_ref(), user_token.as_ref())
        .await?;
    if q.stream.as_deref().is_some_and(|s| s == "true" || s == "1") {
        return Ok(sse::follow(state.clone(), key.clone(), run, None).into_response());
    }
    Ok(Json(json!({ "runId": views::key_run_id(&run) })).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// How many runs, clamped to 1–100 (default 20).
    #[param(value_type = Option<i64>)]
    limit: Option<String>,
}

/// The key's runs, newest first.
#[utoipa::path(get, path = "/api/jobs/{job_key}/runs", tag = "jobs",
    summary = "List a job key's runs",
    params(("job_key" = String, Path, description = "A job key (`default`, or the lowercased `<name>` of `DATABRICKS_JOB_<NAME>` / `[jobs.<name>]`)."), ListQuery),
    responses(
        (status = 200, description = "Newest first.", body = crate::openapi::SeedRuns),
        (status = 400, description = "`limit` is not an integer.", body = crate::openapi::ErrorBody),
        (status = 404, description = "Unknown job key.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    Path(job_key): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let key = key_of(&state, &job_key)?;
    let limit = match q.limit.as_deref() {
        None | Some("") => 20,
        Some(s) => s.trim().parse::<i64>().map_err(|_| {
            ApiError::invalid(
                "invalid limit",
                vec![Violation::new("limit", format!("{s:?} is not an integer"))],
            )
        })?,
    };
    let limit = u32::try_from(limit.clamp(1, 100)).unwrap_or(20);
    let runs = state.engine.key_runs(key, limit).await?;
    Ok(Json(
        json!({ "runs": runs.iter().map(views::key_run).collect::<Vec<_>>() }),
    ))
}

/// One run of the key.
#[utoipa::path(get, path = "/api/jobs/{job_key}/runs/{run_id}", tag = "jobs",
    summary = "Get a run of a job key",
    params(("job_key" = String, Path, description = "A job key (`default`, or the lowercased `<name>` of `DATABRICKS_JOB_<NAME>` / `[jobs.<name>]`)."), ("run_id" = String, Path, description = "The Databricks run id (or Polysync's run id) of a run of this key.")),
    responses(
        (status = 200, description = "The run, fresh from the store.", body = crate::openapi::SeedRun),
        (status = 404, description = "Unknown key, or no such run of this key.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Path((job_key, run_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let key = key_of(&state, &job_key)?;
    let run = state.engine.key_run(key, &run_id).await?;
    Ok(Json(views::key_run(&run)))
}

/// A run's status events.
#[utoipa::path(get, path = "/api/jobs/{job_key}/runs/{run_id}/stream", tag = "jobs",
    summary = "Follow a run (SSE) until it ends",
    params(("job_key" = String, Path, description = "A job key (`default`, or the lowercased `<name>` of `DATABRICKS_JOB_<NAME>` / `[jobs.<name>]`)."), ("run_id" = String, Path, description = "The Databricks run id (or Polysync's run id) of a run of this key."), ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id.")),
    responses(
        (status = 200, description = "SSE `status` events `{status, timestamp, run}` on each change, until the run ends.", content_type = "text/event-stream", body = String),
        (status = 404, description = "Unknown key, or no such run of this key.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn stream_run(
    State(state): State<AppState>,
    Path((job_key, run_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = key_of(&state, &job_key)?;
    // As stored: the tracker's events bring every change after it.
    let run = state.engine.key_run_stored(key, &run_id).await?;
    let last = sse::last_seen_version(headers.get("last-event-id").and_then(|v| v.to_str().ok()));
    Ok(sse::follow(state.clone(), key.clone(), run, last).into_response())
}

/// The key's latest run.
#[utoipa::path(get, path = "/api/jobs/{job_key}/status", tag = "jobs",
    summary = "Status of a job key's latest run",
    params(("job_key" = String, Path, description = "A job key (`default`, or the lowercased `<name>` of `DATABRICKS_JOB_<NAME>` / `[jobs.<name>]`).")),
    responses(
        (status = 200, description = "`{status, run}`, both null before the first run.", body = crate::openapi::SeedStatus),
        (status = 404, description = "Unknown job key.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn status(
    State(state): State<AppState>,
    Path(job_key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = key_of(&state, &job_key)?;
    let run = state.engine.key_status(key).await?;
    Ok(Json(match run {
        Some(r) => json!({ "status": views::key_status(&r), "run": views::key_run(&r) }),
        None => json!({ "status": null, "run": null }),
    }))
}

/// Cancels a run of the key.
#[utoipa::path(delete, path = "/api/jobs/{job_key}/runs/{run_id}", tag = "jobs",
    summary = "Cancel a run of a job key",
    params(("job_key" = String, Path, description = "A job key (`default`, or the lowercased `<name>` of `DATABRICKS_JOB_<NAME>` / `[jobs.<name>]`)."), ("run_id" = String, Path, description = "The Databricks run id (or Polysync's run id) of a run of this key.")),
    responses(
        (status = 204, description = "Cancelled (or already ended)."),
        (status = 404, description = "Unknown key, or no such run of this key.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn cancel_run(
    State(state): State<AppState>,
    Path((job_key, run_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let key = key_of(&state, &job_key)?;
    state.engine.cancel_key_run(key, &run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
