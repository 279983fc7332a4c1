//! The HTTP endpoints of job runs: parse and validate the request, then create, cancel,
//! delete or render runs through the sibling modules.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use serde_json::{Map, Value, json};

use super::cancel::cancel_run;
use super::create::{NewRun, create_run};
use super::render::{run_json, task_as_run};
use super::resolve::str_map;
use crate::error::{ApiError, ApiResult};
use crate::routes::jobs::{ARRAY_PAGE, check_compute, check_tasks, page_arrays, settings_tasks};
use crate::routes::{body, flag, int_field, page_token, parse_page_token, version};
use crate::state::{Run, Shared, read_lock, write_lock};

const TASK_TYPES: &[&str] = &[
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "spark_jar_task",
    "spark_submit_task",
    "sql_task",
    "dbt_task",
    "pipeline_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
];

fn idempotency_token(b: &Value) -> ApiResult<Option<String>> {
    match b.get("idempotency_token").and_then(Value::as_str) {
        Some(t) if t.len() > 64 => Err(ApiError::invalid(
            "idempotency_token must be at most 64 characters.",
        )),
        Some(t) if !t.is_empty() => Ok(Some(t.to_owned())),
        _ => Ok(None),
    }
}

/// `POST jobs/run-now`.
pub async fn run_now(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = int_field(&b, "job_id")
        .ok_or_else(|| ApiError::invalid("Missing required field: job_id"))?;
    let job = read_lock(&s.jobs)
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::invalid(format!("Job {id} does not exist.")))?;
    if b.get("notebook_params").is_some() && b.get("jar_params").is_some() {
        return Err(ApiError::invalid(
            "notebook_params and jar_params cannot be specified together.",
        ));
    }
    let overrides = str_map(b.get("job_parameters"));
    let defs = job
        .settings
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for k in overrides.keys() {
        if !defs
            .iter()
            .any(|d| d.get("name").and_then(Value::as_str) == Some(k))
        {
            return Err(ApiError::invalid(format!(
                "Job parameter {k} is not defined in the job."
            )));
        }
    }
    let mut params = HashMap::new();
    let job_parameters: Vec<Value> = defs
        .iter()
        .map(|d| {
            let name = d
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let default = d
                .get("default")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let value = overrides
                .get(&name)
                .cloned()
                .unwrap_or_else(|| default.clone());
            params.insert(name.clone(), value.clone());
            json!({"name": name, "default": default, "value": value})
        })
        .collect();
    params.extend(str_map(b.get("notebook_params")));
    let mut overriding = Map::new();
    for k in [
        "job_parameters",
        "notebook_params",
        "python_params",
        "python_named_params",
        "jar_params",
        "sql_params",
        "spark_submit_params",
        "dbt_commands",
        "pipeline_params",
    ] {
        if let Some(v) = b.get(k) {
            overriding.insert(k.to_owned(), v.clone());
        }
    }
    let tasks = settings_tasks(&job.settings);
    let timeout_s = job
        .settings
        .get("timeout_seconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let nr = NewRun {
        job: Some(&job),
        run_type: "JOB_RUN",
        run_name: job
            .settings
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("Untitled")
            .to_owned(),
        tasks,
        timeout_s,
        params,
        job_parameters,
        overriding: Value::Object(overriding),
        job_clusters: job
            .settings
            .get("job_clusters")
            .cloned()
            .unwrap_or(json!([])),
        git: job.settings.get("git_source").is_some(),
        queue: b
            .get("queue")
            .and_then(|q| q.get("enabled"))
            .and_then(Value::as_bool),
    };
    let run_id = create_run(&s, nr, idempotency_token(&b)?.map(|t| format!("{id}:{t}")))?;
    Ok(Json(json!({"run_id": run_id, "number_in_job": run_id})))
}

/// `POST jobs/runs/submit` (idempotency_token: the same token always yields the same run).
pub async fn submit(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let tasks = match b.get("tasks").and_then(Value::as_array) {
        Some(t) => t.clone(),
        None => settings_tasks(&b),
    };
    if tasks.is_empty() {
        return Err(ApiError::invalid("At least one task is required."));
    }
    for t in &tasks {
        if !TASK_TYPES.iter().any(|k| t.get(*k).is_some())
            && t.get("task_key").is_some()
            && t.as_object().is_some_and(|o| o.len() <= 2)
        {
            return Err(ApiError::invalid(format!(
                "Task {} must specify a task type such as notebook_task.",
                t.get("task_key").and_then(Value::as_str).unwrap_or("")
            )));
        }
    }
    check_tasks(&tasks)?;
    check_compute(&s, &tasks)?;
    let nr = NewRun {
        job: None,
        run_type: "SUBMIT_RUN",
        run_name: b
            .get("run_name")
            .and_then(Value::as_str)
            .unwrap_or("Untitled")
            .to_owned(),
        tasks,
        timeout_s: b
            .get("timeout_seconds")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        params: HashMap::new(),
        job_parameters: Vec::new(),
        overriding: json!({}),
        job_clusters: json!([]),
        git: b.get("git_source").is_some(),
        queue: None,
    };
    let run_id = create_run(&s, nr, idempotency_token(&b)?)?;
    Ok(Json(json!({ "run_id": run_id })))
}

fn run_missing(id: i64) -> ApiError {
    ApiError::invalid(format!("Run {id} does not exist."))
}

fn query_run_id(q: &HashMap<String, String>) -> ApiResult<i64> {
    q.get("run_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::invalid("Missing required field: run_id"))
}

/// `GET jobs/runs/get` (job run or task run id; 2.2 pages tasks beyond 100).
pub async fn get(
    State(s): State<Shared>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = query_run_id(&q)?;
    let now = s.clock.now_ms();
    let runs = read_lock(&s.runs);
    if let Some(run) = runs.get(&id) {
        let mut o = run_json(&s, run, now, true);
        if version(&uri) == "2.2" {
            let page = q
                .get("page_token")
                .map(|t| parse_page_token(t))
                .transpose()?
                .unwrap_or(0);
            if page_arrays(&mut o, &["tasks", "job_clusters", "job_parameters"], page) {
                o.insert("next_page_token".into(), json!(page_token(page + 1)));
            }
        } else if run.tasks.len() > ARRAY_PAGE {
            return Err(ApiError::invalid(format!(
                "Resources with more than 100 tasks can only be handled by API 2.2 and above. Your resource has {} tasks.",
                run.tasks.len()
            )));
        }
        return Ok(Json(Value::Object(o)));
    }
    let (parent, idx) = read_lock(&s.task_index)
        .get(&id)
        .copied()
        .ok_or_else(|| run_missing(id))?;
    let run = runs.get(&parent).ok_or_else(|| run_missing(id))?;
    Ok(Json(Value::Object(task_as_run(&s, run, idx, now))))
}

/// `GET jobs/runs/list`: unfinished runs first (newest start first), then completed runs by
/// end time, newest first; at most 25 per page.
pub async fn list(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let active_only = flag(&q, "active_only");
    let completed_only = flag(&q, "completed_only");
    if active_only && completed_only {
        return Err(ApiError::invalid(
            "active_only and completed_only cannot both be true.",
        ));
    }
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    if limit > 25 {
        return Err(ApiError::invalid(format!(
            "The limit {limit} is too large. The maximum allowed value is 25."
        )));
    }
    let limit = if limit == 0 { 25 } else { limit };
    let offset = match q.get("page_token").filter(|t| !t.is_empty()) {
        Some(t) => parse_page_token(t)?,
        None => q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
    };
    let job_id: Option<i64> = q.get("job_id").and_then(|v| v.parse().ok());
    let run_type = q.get("run_type");
    let from: Option<i64> = q.get("start_time_from").and_then(|v| v.parse().ok());
    let to: Option<i64> = q.get("start_time_to").and_then(|v| v.parse().ok());
    let expand = flag(&q, "expand_tasks");
    let now = s.clock.now_ms();
    let runs = read_lock(&s.runs);
    let ids: Vec<i64> = match job_id {
        Some(j) => read_lock(&s.job_runs).get(&j).cloned().unwrap_or_default(),
        None => runs.keys().copied().collect(),
    };
    let mut selected: Vec<(&Run, bool, i64)> = ids
        .iter()
        .filter_map(|id| runs.get(id))
        .filter(|run| run_type.is_none_or(|t| t == run.run_type))
        .filter(|run| from.is_none_or(|f| run.created >= f) && to.is_none_or(|t| run.created <= t))
        .map(|run| {
            let done = now >= run.end();
            (run, done, if done { run.end() } else { run.created })
        })
        .filter(|(_, done, _)| if *done { !active_only } else { !completed_only })
        .collect();
    let order = |a: &(&Run, bool, i64), b: &(&Run, bool, i64)| {
        a.1.cmp(&b.1)
            .then(b.2.cmp(&a.2))
            .then(b.0.run_id.cmp(&a.0.run_id))
    };
    let total = selected.len();
    // Only the first `offset + limit` in order are needed: select them in O(n), sort just those.
    let wanted = offset.saturating_add(limit);
    if wanted < selected.len() {
        selected.select_nth_unstable_by(wanted, order);
        selected.truncate(wanted);
    }
    selected.sort_by(order);
    let page: Vec<Value> = selected
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(run, _, _)| Value::Object(run_json(&s, run, now, expand)))
        .collect();
    let has_more = offset + page.len() < total;
    let mut out = Map::new();
    if !page.is_empty() {
        out.insert("runs".into(), Value::Array(page));
    }
    out.insert("has_more".into(), json!(has_more));
    if has_more {
        out.insert("next_page_token".into(), json!(page_token(offset + limit)));
    }
    if offset > 0 {
        out.insert(
            "prev_page_token".into(),
            json!(page_token(offset.saturating_sub(limit))),
        );
    }
    Ok(Json(Value::Object(out)))
}

/// `POST jobs/runs/cancel` (job run or task run; asynchronous like the real service).
pub async fn cancel(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = int_field(&b, "run_id")
        .ok_or_else(|| ApiError::invalid("Missing required field: run_id"))?;
    let parent = if read_lock(&s.runs).contains_key(&id) {
        id
    } else {
        read_lock(&s.task_index)
            .get(&id)
            .map(|p| p.0)
            .ok_or_else(|| run_missing(id))?
    };
    cancel_run(&s, parent, s.clock.now_ms());
    Ok(Json(json!({})))
}

/// `POST jobs/runs/cancel-all` (`job_id` and/or `all_queued_runs`).
pub async fn cancel_all(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let job = int_field(&b, "job_id");
    let queued = b
        .get("all_queued_runs")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if job.is_none() && !queued {
        return Err(ApiError::invalid(
            "Either job_id or all_queued_runs must be specified.",
        ));
    }
    let now = s.clock.now_ms();
    let targets: Vec<i64> = read_lock(&s.runs)
        .values()
        .filter(|run| now < run.end())
        .filter(|run| match job {
            Some(j) => run.job_id == j && (!queued || run.queued_until.is_some_and(|q| now < q)),
            None => run.queued_until.is_some_and(|q| now < q),
        })
        .map(|run| run.run_id)
        .collect();
    for id in targets {
        cancel_run(&s, id, now);
    }
    Ok(Json(json!({})))
}

/// `POST jobs/runs/delete` (only non-active runs).
pub async fn delete(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = int_field(&b, "run_id")
        .ok_or_else(|| ApiError::invalid("Missing required field: run_id"))?;
    let now = s.clock.now_ms();
    let mut runs = write_lock(&s.runs);
    let run = runs.get(&id).ok_or_else(|| run_missing(id))?;
    if now < run.end() {
        return Err(ApiError::invalid_state(format!(
            "Run {id} is active and cannot be deleted. Cancel it first."
        )));
    }
    let run = runs.remove(&id).ok_or_else(|| run_missing(id))?;
    drop(runs);
    let mut idx = write_lock(&s.task_index);
    for t in &run.tasks {
        idx.remove(&t.run_id);
    }
    drop(idx);
    if let Some(list) = write_lock(&s.job_runs).get_mut(&run.job_id) {
        list.retain(|r| *r != id);
    }
    Ok(Json(json!({})))
}

/// `GET jobs/runs/get-output`: by task run id, or by job run id for a single-task run.
pub async fn get_output(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = query_run_id(&q)?;
    let now = s.clock.now_ms();
    let runs = read_lock(&s.runs);
    let (run, idx) = if let Some(run) = runs.get(&id) {
        if run.tasks.len() != 1 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_PARAMETER_VALUE",
                "Retrieving the output of runs with multiple tasks is not supported. You must retrieve the output of each individual task run instead.",
            ));
        }
        (run, 0)
    } else {
        let (parent, idx) = read_lock(&s.task_index)
            .get(&id)
            .copied()
            .ok_or_else(|| run_missing(id))?;
        (runs.get(&parent).ok_or_else(|| run_missing(id))?, idx)
    };
    let t = &run.tasks[idx];
    let mut out = Map::new();
    out.insert(
        "metadata".into(),
        Value::Object(task_as_run(&s, run, idx, now)),
    );
    if now >= t.plan.end {
        let f = &t.plan.fin;
        let ok = f.result == Some("SUCCESS");
        if t.is_notebook {
            let mut nb = Map::new();
            if ok && let Some(v) = &t.behaviour.exit {
                nb.insert("result".into(), json!(v));
                nb.insert("truncated".into(), json!(false));
            }
            out.insert("notebook_output".into(), Value::Object(nb));
        } else if let Some(v) = &t.behaviour.exit {
            out.insert("logs".into(), json!(v));
            out.insert("logs_truncated".into(), json!(false));
        }
        if !ok && f.life != "SKIPPED" {
            out.insert("error".into(), json!(f.message));
            if let Some(trace) = t
                .behaviour
                .error_trace
                .as_ref()
                .filter(|_| f.result == Some("FAILED"))
            {
                out.insert("error_trace".into(), json!(trace));
            }
        }
    }
    Ok(Json(Value::Object(out)))
}
