//! The management API under `/api/v1`: what the CLI does, as JSON, each
//! handler one engine use case (the same ones the CLI calls). Everything
//! runs with the platforms' own credentials.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, Router, routing};
use polysync_engine::{
    ApplyMode, ErrorKind, JobFilter, NoProgress, RunFilter, RunStatus, Violation,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::platform_input::{PlatformFields, platform_of};

type ApiResult = Result<Json<Value>, ApiError>;

fn to_json(v: impl serde::Serialize) -> ApiResult {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The `/api/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/platforms",
            routing::get(platforms).post(add_platform),
        )
        .route("/api/v1/dispatcher", routing::get(dispatcher))
        .route(
            "/api/v1/platforms/{name}",
            routing::get(platform).delete(remove_platform),
        )
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

/// The dispatcher's health: live instances, queue depth, this server's
/// tracker lag and the workspaces' 429s (what the dashboard's overview
/// shows).
#[utoipa::path(get, path = "/api/v1/dispatcher", tag = "management",
    summary = "The dispatcher's health",
    responses(
        (status = 200, description = "`{instances, queue_depth, waiting, running, requests, throttled, tracker_pass_ms, tracked_runs}`.", body = Object)))]
pub(crate) async fn dispatcher(State(s): State<AppState>) -> ApiResult {
    use std::sync::atomic::Ordering;
    let mut v = serde_json::to_value(s.engine.dispatcher_health().await?)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    v["tracker_pass_ms"] = json!(s.metrics.track_pass_ms.load(Ordering::Relaxed));
    v["tracked_runs"] = json!(s.metrics.tracked_runs.load(Ordering::Relaxed));
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/v1/platforms", tag = "management",
    summary = "List the registered platforms",
    responses(
        (status = 200, description = "`{\"platforms\": [...]}`.", body = Object)))]
pub(crate) async fn platforms(State(s): State<AppState>) -> ApiResult {
    to_json(json!({ "platforms": s.engine.list_platforms().await? }))
}

/// `POST /api/v1/platforms`'s body: exactly one of `token_env` / `profile`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddPlatform {
    name: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default = "verify_by_default")]
    verify: bool,
}

fn verify_by_default() -> bool {
    true
}

#[utoipa::path(post, path = "/api/v1/platforms", tag = "management",
    summary = "Register a platform",
    description = "As `polysync platform add`: a token environment variable's name (never the token) or a `~/.databrickscfg` profile; checked against the workspace (one SCIM `Me` read) unless `verify` is false.",
    request_body(content = crate::openapi::AddPlatformBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The platform as registered.", body = Object),
        (status = 400, description = "Invalid request: every violation listed (a token variable the server does not have, a profile it cannot read: the field named).", body = crate::openapi::ErrorBody),
        (status = 409, description = "A platform of that name exists.", body = crate::openapi::ErrorBody),
        (status = 502, description = "The workspace refused the credentials or could not be reached (`verify`).", body = crate::openapi::ErrorBody)))]
pub(crate) async fn add_platform(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<AddPlatform>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (use_profile, token_env, profile) = match (&body.token_env, &body.profile) {
        (Some(var), None) => (false, var.as_str(), ""),
        (None, Some(profile)) => (true, "", profile.as_str()),
        _ => {
            return Err(ApiError::invalid(
                "give exactly one of token_env and profile",
                vec![Violation::new(
                    "",
                    "exactly one of `token_env` (an environment variable's name) and `profile` (a ~/.databrickscfg profile) is required",
                )],
            ));
        }
    };
    let fields = PlatformFields {
        name: &body.name,
        host: body.host.as_deref().unwrap_or(""),
        use_profile,
        token_env,
        profile,
    };
    let platform = platform_of(&fields).map_err(|(field, reason)| {
        ApiError::invalid(
            format!("invalid platform: {reason}"),
            vec![Violation::new(format!("/{field}"), reason)],
        )
    })?;
    let saved = if body.verify {
        // A token variable the server does not have, a profile it cannot
        // read: the caller's input (400 naming the field), not the
        // workspace's answer (502).
        s.engine
            .check_credentials(&platform)
            .map_err(|e| match e.kind() {
                ErrorKind::Credentials => ApiError::input(
                    &e,
                    if use_profile {
                        "/profile"
                    } else {
                        "/token_env"
                    },
                ),
                _ => e.into(),
            })?;
        s.engine.add_verified_platform(platform).await?.0
    } else {
        s.engine.add_platform(platform).await?
    };
    let Json(v) = to_json(saved)?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/api/v1/platforms/{name}", tag = "management",
    summary = "Get a platform",
    params(("name" = String, Path, description = "The platform name.")),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 404, description = "No such platform.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn platform(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    to_json(s.engine.get_platform(&name).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RemovePlatformQuery {
    /// Also remove the platform's jobs (their runs are kept); without it a platform that still
    /// has jobs is refused with 409, so no job disappears by surprise.
    #[serde(default)]
    with_jobs: bool,
}

/// As `polysync platform remove [--with-jobs]`: the one engine use case, all or nothing.
#[utoipa::path(delete, path = "/api/v1/platforms/{name}", tag = "management",
    summary = "Remove a platform",
    description = "As `polysync platform remove`: refused with 409 while jobs reference the platform (the message names them), unless `with_jobs` is true, which removes the platform and its jobs in one transaction. Runs are kept either way.",
    params(("name" = String, Path, description = "The platform name."), RemovePlatformQuery),
    responses(
        (status = 200, description = "`{\"platform\": NAME, \"removed_jobs\": [...]}`.", body = Object),
        (status = 400, description = "Invalid request: every violation listed.", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such platform.", body = crate::openapi::ErrorBody),
        (status = 409, description = "The platform still has jobs and `with_jobs` is not true.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn remove_platform(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<RemovePlatformQuery>,
) -> ApiResult {
    let jobs = s.engine.remove_platform(&name, q.with_jobs).await?;
    to_json(json!({ "platform": name, "removed_jobs": jobs }))
}

#[utoipa::path(post, path = "/api/v1/platforms/{name}/import", tag = "management",
    summary = "Import a platform's jobs",
    params(("name" = String, Path, description = "The platform name.")),
    responses(
        (status = 200, description = "What was imported, updated, removed and skipped.", body = Object),
        (status = 404, description = "No such platform.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn import(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    to_json(s.engine.import(&name, &NoProgress).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobsQuery {
    /// Only this platform's jobs.
    platform: Option<String>,
    /// Also jobs removed from the workspace.
    #[serde(default)]
    include_removed: bool,
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "management",
    summary = "List the imported jobs",
    params(JobsQuery),
    responses(
        (status = 200, description = "`{\"jobs\": [...]}`.", body = Object),
        (status = 400, description = "Invalid request: every violation listed.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn jobs(State(s): State<AppState>, ApiQuery(q): ApiQuery<JobsQuery>) -> ApiResult {
    let filter = JobFilter {
        platform: q.platform,
        include_removed: q.include_removed,
        ..JobFilter::default()
    };
    to_json(json!({ "jobs": s.engine.list_jobs(&filter).await? }))
}

/// A job with its parameter schema (`parameters`: name, type, direction,
/// default, allowed values).
#[utoipa::path(get, path = "/api/v1/jobs/{job}", tag = "management",
    summary = "Get a job with its parameter schema",
    params(("job" = String, Path, description = "A job reference (`platform:external_id`, a name, ...); may contain `/`.")),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 404, description = "No such job.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn job(State(s): State<AppState>, Path(job): Path<String>) -> ApiResult {
    to_json(s.engine.get_job(&job).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobRef {
    job: String,
}

#[utoipa::path(post, path = "/api/v1/sync-params", tag = "management",
    summary = "Re-read a job's parameters from Databricks",
    request_body(content = crate::openapi::JobRefBody, content_type = "application/json"),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 400, description = "Invalid request: every violation listed.", body = crate::openapi::ErrorBody), (status = 404, description = "No such job.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn sync_params(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<JobRef>,
) -> ApiResult {
    to_json(s.engine.sync_params(&body.job).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// Only runs of this job.
    job: Option<String>,
    /// Only runs on this platform.
    platform: Option<String>,
    /// Only runs in this status (`Queued`, `Running`, `Success`, `Failed`, `Cancelled`, `Unknown`).
    status: Option<String>,
    /// How many (1–1000, default 20).
    #[param(minimum = 0)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/runs", tag = "management",
    summary = "List runs (refreshing the active ones)",
    params(RunsQuery),
    responses(
        (status = 200, description = "Runs, newest first.", body = Object),
        (status = 400, description = "Invalid request: every violation listed.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn runs(State(s): State<AppState>, ApiQuery(q): ApiQuery<RunsQuery>) -> ApiResult {
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
pub(crate) struct StartRun {
    job: String,
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
}

#[utoipa::path(post, path = "/api/v1/runs", tag = "management",
    summary = "Start a run of a job",
    request_body(content = crate::openapi::StartRunBody, content_type = "application/json"),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 400, description = "Invalid request: every violation listed.", body = crate::openapi::ErrorBody), (status = 404, description = "No such job.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn start_run(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<StartRun>,
) -> ApiResult {
    let overrides: Vec<(String, String)> = body.params.into_iter().collect();
    to_json(s.engine.start_run(&body.job, &overrides).await?)
}

#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "management",
    summary = "Get a run",
    params(("id" = String, Path, description = "Polysync run id (or a unique prefix), or the Databricks run id.")),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 404, description = "No such run.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    to_json(s.engine.get_run_details(&id, false).await?)
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "management",
    summary = "Cancel a run",
    params(("id" = String, Path, description = "Polysync run id (or a unique prefix), or the Databricks run id.")),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 404, description = "No such run.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn cancel_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    to_json(s.engine.cancel_run(&id).await?)
}

#[utoipa::path(get, path = "/api/v1/tasks", tag = "management",
    summary = "List tasks",
    responses(
        (status = 200, description = "`{\"tasks\": [...]}`.", body = Object)))]
pub(crate) async fn tasks(State(s): State<AppState>) -> ApiResult {
    to_json(json!({ "tasks": s.engine.list_tasks().await? }))
}

#[utoipa::path(get, path = "/api/v1/tasks/{name}", tag = "management",
    summary = "Get a task",
    params(("name" = String, Path, description = "The task name.")),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 404, description = "No such task.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn task(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    to_json(s.engine.get_task(&name).await?)
}

#[utoipa::path(delete, path = "/api/v1/tasks/{name}", tag = "management",
    summary = "Remove a task",
    params(("name" = String, Path, description = "The task name.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such task.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn remove_task(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.engine.remove_task(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ApplyQuery {
    /// Remove tasks the file no longer names.
    #[serde(default)]
    prune: bool,
    /// Report what would change, change nothing.
    #[serde(default)]
    dry_run: bool,
    /// The file name errors should name (default `request body`).
    file: Option<String>,
}

/// Applies a tasks file sent as the body (YAML text).
#[utoipa::path(put, path = "/api/v1/tasks", tag = "management",
    summary = "Apply a tasks file (YAML body)",
    params(ApplyQuery),
    request_body(content = String, content_type = "application/yaml", description = "A tasks file."),
    responses(
        (status = 200, description = "What was created, changed and removed.", body = Object),
        (status = 400, description = "Invalid request: every violation listed.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn apply_tasks(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ApplyQuery>,
    body: String,
) -> ApiResult {
    let mode = ApplyMode {
        prune: q.prune,
        dry_run: q.dry_run,
    };
    let file = q.file.unwrap_or_else(|| "request body".into());
    to_json(s.engine.apply_tasks(&file, &body, mode).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Limit {
    /// How many (1–1000, default 20).
    #[param(minimum = 0)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/dag-runs", tag = "management",
    summary = "List DAG runs",
    params(Limit),
    responses(
        (status = 200, description = "`{\"dag_runs\": [...]}`.", body = Object),
        (status = 400, description = "Invalid request: every violation listed.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn dag_runs(State(s): State<AppState>, ApiQuery(q): ApiQuery<Limit>) -> ApiResult {
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    to_json(json!({ "dag_runs": s.engine.list_dag_runs(limit).await? }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartDag {
    task: String,
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
}

#[utoipa::path(post, path = "/api/v1/dag-runs", tag = "management",
    summary = "Start a task's DAG run",
    request_body(content = crate::openapi::StartDagBody, content_type = "application/json"),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 400, description = "Invalid request: every violation listed.", body = crate::openapi::ErrorBody), (status = 404, description = "No such task.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn start_dag_run(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<StartDag>,
) -> ApiResult {
    let params: Vec<(String, String)> = body.params.into_iter().collect();
    to_json(
        s.engine
            .start_dag_run(&body.task, &params, "api", None)
            .await?,
    )
}

#[utoipa::path(get, path = "/api/v1/dag-runs/{id}", tag = "management",
    summary = "Get a DAG run",
    params(("id" = String, Path, description = "The DAG run id.")),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 404, description = "No such DAG run.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn dag_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    to_json(s.engine.get_dag_run(&id).await?)
}

#[utoipa::path(post, path = "/api/v1/dag-runs/{id}/cancel", tag = "management",
    summary = "Cancel a DAG run",
    params(("id" = String, Path, description = "The DAG run id.")),
    responses(
        (status = 200, description = "OK.", body = Object),
        (status = 404, description = "No such DAG run.", body = crate::openapi::ErrorBody)))]
pub(crate) async fn cancel_dag_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    to_json(s.engine.cancel_dag_run(&id).await?)
}
