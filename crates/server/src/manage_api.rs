//! The management API under `/api/v1`: what the CLI does, as JSON, each
//! handler one engine use case (the same ones the CLI calls). Everything
//! runs with the platforms' own credentials.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Json, Router, routing};
use polysync_engine::{ApplyMode, JobFilter, NoProgress, RunFilter, RunStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

type ApiResult = Result<Json<Value>, ApiError>;

fn to_json(v: impl serde::Serialize) -> ApiResult {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The `/api/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/platforms", routing::get(platforms))
        .route("/api/v1/platforms/{name}", routing::get(platform))
        .route("/api/v1/platforms/{name}/import", routing::post(import))
        .route("/api/v1/jobs", routing::get(jobs))
        .route("/api/v1/jobs/{*job}", routing::get(job))
        .route("/api/v1/sync-params", routing::post(sync_params))
        .route("/api/v1/runs", routing::get(runs).post(start_run))
        .route("/api/v1/runs/{id}", routing::get(run))
        .route("/api/v1/runs/{id}/cancel", routing::post(cancel_run))
        .route("/api/v1/tasks", routing::get(tasks).put(apply_tasks))
        .route(
            "/api/v1/tasks/{name}",
            routing::get(task).delete(remove_task),
        )
        .route(
            "/api/v1/dag-runs",
            routing::get(dag_runs).post(start_dag_run),
        )
        .route("/api/v1/dag-runs/{id}", routing::get(dag_run))
        .route(
            "/api/v1/dag-runs/{id}/cancel",
            routing::post(cancel_dag_run),
        )
}

async fn platforms(State(s): State<AppState>) -> ApiResult {
    to_json(json!({ "platforms": s.engine.list_platforms().await? }))
}

async fn platform(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    to_json(s.engine.get_platform(&name).await?)
}

async fn import(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    to_json(s.engine.import(&name, &NoProgress).await?)
}

#[derive(Debug, Deserialize)]
struct JobsQuery {
    platform: Option<String>,
    #[serde(default)]
    include_removed: bool,
}

async fn jobs(State(s): State<AppState>, Query(q): Query<JobsQuery>) -> ApiResult {
    let filter = JobFilter {
        platform: q.platform,
        include_removed: q.include_removed,
        ..JobFilter::default()
    };
    to_json(json!({ "jobs": s.engine.list_jobs(&filter).await? }))
}

/// A job with its parameter schema (`parameters`: name, type, direction,
/// default, allowed values).
async fn job(State(s): State<AppState>, Path(job): Path<String>) -> ApiResult {
    to_json(s.engine.get_job(&job).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobRef {
    job: String,
}

async fn sync_params(State(s): State<AppState>, Json(body): Json<JobRef>) -> ApiResult {
    to_json(s.engine.sync_params(&body.job).await?)
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    job: Option<String>,
    platform: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
}

async fn runs(State(s): State<AppState>, Query(q): Query<RunsQuery>) -> ApiResult {
    let status = match q.status.as_deref() {
        None => None,
        Some(st) => Some(
            st.parse::<RunStatus>()
                .map_err(polysync_engine::Error::from)?,
        ),
    };
    let filter = RunFilter {
        job_name: q.job,
        platform: q.platform,
        status,
    };
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    to_json(s.engine.refresh_runs(&filter, limit).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRun {
    job: String,
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
}

async fn start_run(State(s): State<AppState>, Json(body): Json<StartRun>) -> ApiResult {
    let overrides: Vec<(String, String)> = body.params.into_iter().collect();
    to_json(s.engine.start_run(&body.job, &overrides).await?)
}

async fn run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    to_json(s.engine.get_run_details(&id, false).await?)
}

async fn cancel_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    to_json(s.engine.cancel_run(&id).await?)
}

async fn tasks(State(s): State<AppState>) -> ApiResult {
    to_json(json!({ "tasks": s.engine.list_tasks().await? }))
}

async fn task(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    to_json(s.engine.get_task(&name).await?)
}

async fn remove_task(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.engine.remove_task(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct ApplyQuery {
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    dry_run: bool,
    file: Option<String>,
}

/// Applies a tasks file sent as the body (YAML text).
async fn apply_tasks(
    State(s): State<AppState>,
    Query(q): Query<ApplyQuery>,
    body: String,
) -> ApiResult {
    let mode = ApplyMode {
        prune: q.prune,
        dry_run: q.dry_run,
    };
    let file = q.file.unwrap_or_else(|| "request body".into());
    to_json(s.engine.apply_tasks(&file, &body, mode).await?)
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<u32>,
}

async fn dag_runs(State(s): State<AppState>, Query(q): Query<Limit>) -> ApiResult {
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    to_json(json!({ "dag_runs": s.engine.list_dag_runs(limit).await? }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartDag {
    task: String,
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
}

async fn start_dag_run(State(s): State<AppState>, Json(body): Json<StartDag>) -> ApiResult {
    let params: Vec<(String, String)> = body.params.into_iter().collect();
    to_json(
        s.engine
            .start_dag_run(&body.task, &params, "api", None)
            .await?,
    )
}

async fn dag_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    to_json(s.engine.get_dag_run(&id).await?)
}

async fn cancel_dag_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    to_json(s.engine.cancel_dag_run(&id).await?)
}
