//! Jobs CRUD: create, get (2.2 array paging), list (paging, expand_tasks), reset, update, delete.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::Uri;
use serde_json::{Map, Value, json};

use super::{body, flag, int_field, page_token, parse_page_token, version};
use crate::error::{ApiError, ApiResult};
use crate::state::{Job, Shared, read_lock, write_lock};

/// Page size of arrays inside `jobs/get` and `runs/get` (Jobs API 2.2).
pub const ARRAY_PAGE: usize = 100;

/// Task types that run without cluster compute.
const NO_COMPUTE: &[&str] = &[
    "sql_task",
    "pipeline_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
    "dashboard_task",
    "power_bi_task",
    "alert_task",
];

/// Refuse a task without compute when serverless is disabled (the real 400).
pub fn check_compute(s: &Shared, tasks: &[Value]) -> ApiResult<()> {
    if s.serverless.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    for t in tasks {
        let needs = !NO_COMPUTE.iter().any(|k| t.get(*k).is_some());
        let has = [
            "job_cluster_key",
            "new_cluster",
            "existing_cluster_id",
            "environment_key",
            "compute",
        ]
        .iter()
        .any(|k| t.get(*k).is_some_and(|v| !v.is_null()));
        if needs && !has {
            return Err(ApiError::invalid(
                "One of job_cluster_key, new_cluster, or existing_cluster_id must be specified.",
            ));
        }
    }
    Ok(())
}

/// Validate task keys and the dependency graph.
pub fn check_tasks(tasks: &[Value]) -> ApiResult<()> {
    if tasks.len() > 1000 {
        return Err(ApiError::invalid(format!(
            "A job can have at most 1000 tasks; got {}.",
            tasks.len()
        )));
    }
    let mut shape = Vec::with_capacity(tasks.len());
    let mut seen = std::collections::HashSet::new();
    for t in tasks {
        let key = t.get("task_key").and_then(Value::as_str).unwrap_or("");
        if key.is_empty() {
            return Err(ApiError::invalid(
                "Task key must be specified for every task.",
            ));
        }
        if !seen.insert(key.to_owned()) {
            return Err(ApiError::invalid(format!("Task key {key} is not unique.")));
        }
        shape.push((key.to_owned(), deps_of(t)));
    }
    crate::lifecycle::topo_order(&shape)
        .map(|_| ())
        .map_err(ApiError::invalid)
}

/// `depends_on[].task_key` of a task.
pub fn deps_of(t: &Value) -> Vec<String> {
    t.get("depends_on")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| d.get("task_key").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The tasks of job settings; Jobs 2.0 single-task settings become one task.
pub fn settings_tasks(settings: &Value) -> Vec<Value> {
    if let Some(t) = settings.get("tasks").and_then(Value::as_array) {
        return t.clone();
    }
    let kinds = [
        "notebook_task",
        "spark_jar_task",
        "spark_python_task",
        "spark_submit_task",
        "python_wheel_task",
        "pipeline_task",
        "sql_task",
        "dbt_task",
        "run_job_task",
    ];
    let Some(obj) = settings.as_object() else {
        return Vec::new();
    };
    if !kinds.iter().any(|k| obj.contains_key(*k)) {
        return Vec::new();
    }
    let mut t = Map::new();
    t.insert(
        "task_key".into(),
        json!(
            obj.get("name")
                .and_then(Value::as_str)
                .unwrap_or("Untitled")
        ),
    );
    for k in kinds.iter().chain(
        [
            "new_cluster",
            "existing_cluster_id",
            "libraries",
            "timeout_seconds",
            "max_retries",
            "description",
        ]
        .iter(),
    ) {
        if let Some(v) = obj.get(*k) {
            t.insert((*k).to_owned(), v.clone());
        }
    }
    vec![Value::Object(t)]
}

fn too_many(n: usize) -> ApiError {
    ApiError::invalid(format!(
        "Resources with more than 100 tasks can only be handled by API 2.2 and above. Your resource has {n} tasks."
    ))
}

/// Slice array fields for 2.2 paging; returns whether more pages exist.
pub fn page_arrays(obj: &mut Map<String, Value>, keys: &[&str], page: usize) -> bool {
    let mut more = false;
    for k in keys {
        if let Some(Value::Array(a)) = obj.get_mut(*k) {
            let start = (page * ARRAY_PAGE).min(a.len());
            let end = (start + ARRAY_PAGE).min(a.len());
            if a.len() > end {
                more = true;
            }
            *a = a[start..end].to_vec();
        }
    }
    more
}

fn job_json(s: &Shared, job: &Job) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("job_id".into(), json!(job.job_id));
    m.insert("creator_user_name".into(), json!(job.creator));
    m.insert("run_as_user_name".into(), json!(s.config.user_name));
    m.insert("created_time".into(), json!(job.created_time));
    m.insert("settings".into(), job.settings.clone());
    m
}

fn get_job(s: &Shared, id: Option<i64>) -> ApiResult<Job> {
    let id = id.ok_or_else(|| ApiError::invalid("Missing required field: job_id"))?;
    read_lock(&s.jobs)
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::invalid(format!("Job {id} does not exist.")))
}

fn normalise_settings(mut settings: Value) -> Value {
    if let Value::Object(o) = &mut settings {
        o.remove("access_control_list");
        o.entry("max_concurrent_runs").or_insert(json!(1));
        o.entry("format").or_insert(json!("MULTI_TASK"));
        o.entry("email_notifications").or_insert(json!({}));
        o.entry("timeout_seconds").or_insert(json!(0));
        o.entry("name").or_insert(json!("Untitled"));
    }
    settings
}

fn validate_settings(s: &Shared, settings: &Value) -> ApiResult<()> {
    let tasks = settings_tasks(settings);
    check_tasks(&tasks)?;
    check_compute(s, &tasks)?;
    if let Some(n) = settings.get("max_concurrent_runs").and_then(Value::as_i64)
        && !(0..=1000).contains(&n)
    {
        return Err(ApiError::invalid(
            "max_concurrent_runs must be between 0 and 1000.",
        ));
    }
    Ok(())
}

/// `POST jobs/create`.
pub async fn create(
    State(s): State<Shared>,
    uri: Uri,
    raw: bytes::Bytes,
) -> ApiResult<Json<Value>> {
    let settings = body(&raw)?;
    let job_id = create_job(&s, settings, version(&uri) == "2.2")?;
    Ok(Json(json!({ "job_id": job_id })))
}

/// Validates and stores a new job, as `jobs/create` does; shared with the demo seeding so a
/// seeded job is exactly what the API would have created. `queue_default` is on for jobs
/// created through API 2.2.
pub(crate) fn create_job(s: &Shared, settings: Value, queue_default: bool) -> ApiResult<i64> {
    validate_settings(s, &settings)?;
    let job_id = s
        .next_job_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let job = Job {
        job_id,
        created_time: s.clock.now_ms(),
        settings: normalise_settings(settings),
        queue_default,
        creator: s.config.user_name.clone(),
    };
    write_lock(&s.jobs).insert(job_id, job);
    Ok(job_id)
}

/// `GET jobs/get`.
pub async fn get(
    State(s): State<Shared>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let job = get_job(&s, q.get("job_id").and_then(|v| v.parse().ok()))?;
    let n = settings_tasks(&job.settings).len();
    let mut m = job_json(&s, &job);
    if version(&uri) == "2.2" {
        let page = q
            .get("page_token")
            .map(|t| parse_page_token(t))
            .transpose()?
            .unwrap_or(0);
        if let Some(Value::Object(settings)) = m.get_mut("settings")
            && page_arrays(
                settings,
                &["tasks", "job_clusters", "parameters", "environments"],
                page,
            )
        {
            m.insert("next_page_token".into(), json!(page_token(page + 1)));
        }
    } else if n > ARRAY_PAGE {
        return Err(too_many(n));
    }
    Ok(Json(Value::Object(m)))
}

/// `GET jobs/list`.
pub async fn list(
    State(s): State<Shared>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let v = version(&uri);
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    if limit > 100 {
        return Err(ApiError::invalid(format!(
            "The limit {limit} is too large. The maximum allowed value is 100."
        )));
    }
    let limit = if limit == 0 { 20 } else { limit };
    let offset = match q.get("page_token").filter(|t| !t.is_empty()) {
        Some(t) => parse_page_token(t)?,
        None => q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
    };
    let expand = v != "2.0" && flag(&q, "expand_tasks");
    let name = q.get("name").map(|n| n.to_lowercase());
    let jobs = read_lock(&s.jobs);
    let matching: Vec<&Job> = jobs
        .values()
        .filter(|j| {
            name.as_ref().is_none_or(|n| {
                j.settings
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|x| x.to_lowercase() == *n)
            })
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|j| {
            let mut m = job_json(&s, j);
            if let Some(Value::Object(settings)) = m.get_mut("settings") {
                if expand {
                    if page_arrays(settings, &["tasks", "job_clusters"], 0) {
                        m.insert("has_more".into(), json!(true));
                    }
                } else {
                    settings.remove("tasks");
                    settings.remove("job_clusters");
                }
            }
            Value::Object(m)
        })
        .collect();
    let has_more = offset + page.len() < matching.len();
    let mut out = Map::new();
    if !page.is_empty() {
        out.insert("jobs".into(), Value::Array(page));
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

/// `POST jobs/delete`.
pub async fn delete(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = int_field(&b, "job_id")
        .ok_or_else(|| ApiError::invalid("Missing required field: job_id"))?;
    write_lock(&s.jobs)
        .remove(&id)
        .ok_or_else(|| ApiError::invalid(format!("Job {id} does not exist.")))?;
    Ok(Json(json!({})))
}

/// `POST jobs/reset`: full replacement of the settings.
pub async fn reset(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = int_field(&b, "job_id");
    get_job(&s, id)?;
    let settings = b
        .get("new_settings")
        .cloned()
        .ok_or_else(|| ApiError::invalid("Missing required field: new_settings"))?;
    validate_settings(&s, &settings)?;
    let settings = normalise_settings(settings);
    if let Some(j) = write_lock(&s.jobs).get_mut(&id.unwrap_or_default()) {
        j.settings = settings;
    }
    Ok(Json(json!({})))
}

fn merge_by_key(old: &mut Vec<Value>, new: &[Value], key: &str) {
    for n in new {
        let k = n.get(key);
        match old.iter_mut().find(|o| o.get(key) == k) {
            Some(o) => *o = n.clone(),
            None => old.push(n.clone()),
        }
    }
}

/// `POST jobs/update`: top-level fields replaced, `tasks`/`job_clusters` merged by key,
/// `fields_to_remove` applied first.
pub async fn update(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = int_field(&b, "job_id");
    let job = get_job(&s, id)?;
    let mut settings = job.settings.clone();
    let Value::Object(obj) = &mut settings else {
        return Err(ApiError::invalid("Invalid job settings."));
    };
    for f in b
        .get("fields_to_remove")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        match f.split_once('/') {
            Some((arr, key)) => {
                let k = if arr == "tasks" {
                    "task_key"
                } else {
                    "job_cluster_key"
                };
                if let Some(Value::Array(a)) = obj.get_mut(arr) {
                    a.retain(|t| t.get(k).and_then(Value::as_str) != Some(key));
                }
            }
            None => {
                obj.remove(f);
            }
        }
    }
    if let Some(Value::Object(new)) = b.get("new_settings") {
        for (k, v) in new {
            match (k.as_str(), v) {
                ("tasks", Value::Array(n)) | ("job_clusters", Value::Array(n)) => {
                    let key = if k == "tasks" {
                        "task_key"
                    } else {
                        "job_cluster_key"
                    };
                    let mut old = obj
                        .get(k)
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    merge_by_key(&mut old, n, key);
                    obj.insert(k.clone(), Value::Array(old));
                }
                _ => {
                    obj.insert(k.clone(), v.clone());
                }
            }
        }
    }
    validate_settings(&s, &settings)?;
    if let Some(j) = write_lock(&s.jobs).get_mut(&job.job_id) {
        j.settings = settings;
    }
    Ok(Json(json!({})))
}
