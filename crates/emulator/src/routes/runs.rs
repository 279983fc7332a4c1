//! Job runs: run-now, runs/submit, get, list, cancel, cancel-all, delete, get-output.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use serde_json::{Map, Value, json};

use super::jobs::{ARRAY_PAGE, check_compute, check_tasks, deps_of, page_arrays, settings_tasks};
use super::{body, flag, int_field, page_token, parse_page_token, version};
use crate::behaviour::{Effect, ExitExpr, Outcome, description_directive};
use crate::error::{ApiError, ApiResult};
use crate::faults::roll;
use crate::lifecycle::{
    Cut, TaskBehaviour, TaskPlan, TaskRun, plan, run_state, skipped_plan, task_state,
};
use crate::state::{AppState, Job, ObjectKind, Run, Shared, m, r, w};

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

fn str_map(v: Option<&Value>) -> HashMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Resolve what a task will do: notebook source directives and code, description directive,
/// compute-dependent PENDING time, injected INTERNAL_ERROR.
fn resolve(
    s: &AppState,
    task: &Value,
    params: &HashMap<String, String>,
    git: bool,
) -> (TaskBehaviour, bool) {
    let d = &s.config.durations;
    let new_cluster = task.get("new_cluster").is_some() || task.get("job_cluster_key").is_some();
    let pending = if new_cluster {
        d.pending_new_cluster_ms
    } else {
        d.pending_warm_ms
    };
    let mut b = TaskBehaviour {
        outcome: Outcome::Success,
        pending_ms: pending,
        running_ms: d.running_ms,
        message: None,
        exit: None,
        error_trace: None,
    };
    let mut directive = crate::behaviour::Directive::default();
    let nb = task.get("notebook_task");
    if let Some(nb) = nb {
        let path = nb
            .get("notebook_path")
            .and_then(Value::as_str)
            .unwrap_or("");
        let from_git = git || nb.get("source").and_then(Value::as_str) == Some("GIT");
        let info = if from_git {
            None
        } else {
            match r(&s.workspace)
                .get(&super::workspace::normalise(path))
                .map(|o| o.kind.clone())
            {
                Some(ObjectKind::Notebook(info)) => Some(info),
                _ => {
                    b.outcome = Outcome::Failed;
                    b.running_ms = 0;
                    b.message = Some(format!(
                        "Unable to access the notebook \"{path}\". Either it does not exist, or the identity used to run this job, {}, lacks the required permissions.",
                        s.config.user_name
                    ));
                    b.error_trace = Some(format!(
                        "com.databricks.WorkflowException: com.databricks.common.client.DatabricksServiceHttpClientException: RESOURCE_DOES_NOT_EXIST: Notebook not found: {path}"
                    ));
                    return (b, true);
                }
            }
        };
        if let Some(info) = info {
            directive = info.directive.clone();
            let mut values: HashMap<String, String> = info
                .widgets
                .iter()
                .map(|w| (w.name.clone(), w.default.clone()))
                .collect();
            values.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
            match &info.effect {
                Some(Effect::Exit(ExitExpr::Literal(v))) => b.exit = Some(v.clone()),
                Some(Effect::Exit(ExitExpr::Widget(name))) => match values.get(name) {
                    Some(v) => b.exit = Some(v.clone()),
                    None => {
                        b.outcome = Outcome::Failed;
                        b.message = Some(format!(
                            "com.databricks.dbutils_v1.InputWidgetNotDefined: No input widget named {name} is defined"
                        ));
                    }
                },
                Some(Effect::Raise(msg)) => {
                    b.outcome = Outcome::Failed;
                    b.message = Some(msg.clone());
                    b.error_trace = Some(format!(
                        "---------------------------------------------------------------------------\n{msg}"
                    ));
                }
                None => {}
            }
        }
    }
    if let Some(desc) = task.get("description").and_then(Value::as_str) {
        let dd = description_directive(desc);
        if dd != Default::default() {
            directive = dd;
        }
    }
    if let Some(o) = directive.outcome {
        b.outcome = o;
        if o == Outcome::Success {
            b.message = None;
        }
    }
    if let Some(ms) = directive.duration_ms {
        b.running_ms = ms;
    }
    if let Some(ms) = directive.pending_ms {
        b.pending_ms = ms;
    }
    if directive.message.is_some() {
        b.message = directive.message.clone();
    }
    if directive.exit.is_some() {
        b.exit = directive.exit.clone();
    }
    let rate = s.faults().internal_error_rate;
    if rate > 0.0 && roll() < rate {
        b.outcome = Outcome::InternalError;
        b.message = Some("Run encountered an unexpected internal error (injected).".to_owned());
    }
    if b.outcome == Outcome::Failed && b.error_trace.is_none() {
        b.error_trace = b.message.clone();
    }
    (b, nb.is_some())
}

struct NewRun<'a> {
    job: Option<&'a Job>,
    run_type: &'static str,
    run_name: String,
    tasks: Vec<Value>,
    timeout_s: u64,
    params: HashMap<String, String>,
    job_parameters: Vec<Value>,
    overriding: Value,
    job_clusters: Value,
    git: bool,
    queue: Option<bool>,
}

fn create_run(s: &Shared, nr: NewRun<'_>, token: Option<String>) -> ApiResult<i64> {
    let idem_key = token.map(|t| format!("{}:{t}", nr.run_type));
    let mut idem = idem_key.as_ref().map(|_| m(&s.idempotency));
    if let (Some(map), Some(k)) = (idem.as_ref(), idem_key.as_ref())
        && let Some(&existing) = map.get(k)
    {
        return Ok(existing);
    }
    let faults = s.faults();
    let now = s.clock.now_ms();
    if let Some(limit) = faults.max_concurrent_task_runs {
        let (active, _) = m(&s.concurrency).at(now);
        if active as u64 + nr.tasks.len() as u64 > limit {
            return Err(ApiError::rate_limited(
                format!(
                    "The workspace has reached its limit of {limit} concurrently running tasks. Please retry later."
                ),
                1,
            ));
        }
    }
    let mut task_runs = Vec::with_capacity(nr.tasks.len());
    for t in &nr.tasks {
        let mut params = str_map(
            t.get("notebook_task")
                .and_then(|n| n.get("base_parameters")),
        );
        params.extend(nr.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        let (behaviour, is_notebook) = resolve(s, t, &params, nr.git);
        task_runs.push(TaskRun {
            key: t
                .get("task_key")
                .and_then(Value::as_str)
                .unwrap_or("Untitled")
                .to_owned(),
            run_id: s.next_run_id.fetch_add(1, Ordering::Relaxed),
            depends_on: deps_of(t),
            run_if: t
                .get("run_if")
                .and_then(Value::as_str)
                .unwrap_or("ALL_SUCCESS")
                .to_owned(),
            timeout_ms: t
                .get("timeout_seconds")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                * 1000,
            spec: t.clone(),
            is_notebook,
            behaviour,
            plan: skipped_plan(now, ""),
        });
    }
    let run_id = s.next_run_id.fetch_add(1, Ordering::Relaxed);
    let job_id = match nr.job {
        Some(j) => j.job_id,
        None => s.next_job_id.fetch_add(1, Ordering::Relaxed),
    };
    let term = s.config.durations.terminating_ms;
    let mut runs = w(&s.runs);
    let mut queued_until = None;
    let mut skipped = false;
    if let Some(job) = nr.job {
        let max = max_concurrent_runs(&job.settings);
        let queue = nr.queue.unwrap_or_else(|| {
            job.settings
                .get("queue")
                .and_then(|q| q.get("enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(job.queue_default)
        });
        let ids = r(&s.job_runs).get(&job.job_id).cloned().unwrap_or_default();
        let intervals: Vec<(i64, i64)> = ids
            .iter()
            .filter_map(|id| runs.get(id))
            .filter(|run| !run.skipped && run.end() > now)
            .map(|run| (run.base(), run.end()))
            .collect();
        let active_at = |t: i64| intervals.iter().filter(|(a, b)| *a <= t && t < *b).count();
        if active_at(now) >= max {
            if queue && max > 0 {
                let mut candidates: Vec<i64> = intervals
                    .iter()
                    .map(|(_, e)| *e)
                    .filter(|e| *e > now)
                    .collect();
                candidates.sort_unstable();
                let start = candidates
                    .into_iter()
                    .find(|t| active_at(*t) < max)
                    .unwrap_or(now);
                queued_until = Some(start);
            } else {
                skipped = true;
            }
        }
    }
    let cut = if skipped {
        let max = nr
            .job
            .and_then(|j| j.settings.get("max_concurrent_runs"))
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let msg = format!(
            "Skipping this run because the limit of {max} maximum concurrent runs has been reached."
        );
        for t in &mut task_runs {
            t.plan = skipped_plan(now, &msg);
        }
        None
    } else {
        plan_with_timeout(
            &mut task_runs,
            queued_until.unwrap_or(now),
            term,
            nr.timeout_s * 1000,
        )
    };
    {
        let mut c = m(&s.concurrency);
        for t in &task_runs {
            c.add(t.plan.start, t.plan.end, 1);
        }
        c.compact(now);
    }
    {
        let mut idx = w(&s.task_index);
        for (i, t) in task_runs.iter().enumerate() {
            idx.insert(t.run_id, (run_id, i));
        }
    }
    if nr.job.is_some() {
        w(&s.job_runs).entry(job_id).or_default().push(run_id);
    }
    runs.insert(
        run_id,
        Run {
            run_id,
            job_id,
            run_type: nr.run_type,
            run_name: nr.run_name,
            created: now,
            queued_until,
            cut,
            timeout_ms: nr.timeout_s * 1000,
            tasks: task_runs,
            job_parameters: nr.job_parameters,
            overriding_parameters: nr.overriding,
            job_clusters: nr.job_clusters,
            skipped,
            trigger: "ONE_TIME",
        },
    );
    drop(runs);
    s.runs_created.fetch_add(1, Ordering::Relaxed);
    if let (Some(map), Some(k)) = (idem.as_mut(), idem_key) {
        map.insert(k, run_id);
    }
    Ok(run_id)
}

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
    let job = r(&s.jobs)
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

fn state_json(snap: &crate::lifecycle::Snapshot, queued: bool, queue_msg: &str) -> (Value, Value) {
    let mut st = Map::new();
    st.insert("life_cycle_state".into(), json!(snap.life));
    let mut status = Map::new();
    status.insert("state".into(), json!(snap.status));
    match &snap.fin {
        Some(f) => {
            if let Some(res) = f.result {
                st.insert("result_state".into(), json!(res));
            }
            st.insert("state_message".into(), json!(f.message));
            st.insert(
                "user_cancelled_or_timedout".into(),
                json!(f.user_cancelled_or_timedout),
            );
            status.insert(
                "termination_details".into(),
                json!({"code": f.code, "type": f.kind, "message": f.message}),
            );
        }
        None => {
            st.insert(
                "state_message".into(),
                json!(if queued { queue_msg } else { "" }),
            );
            st.insert("user_cancelled_or_timedout".into(), json!(false));
            if queued {
                st.insert("queue_reason".into(), json!(queue_msg));
                status.insert(
                    "queue_details".into(),
                    json!({"code": "MAX_CONCURRENT_RUNS_REACHED", "message": queue_msg}),
                );
            }
        }
    }
    (Value::Object(st), Value::Object(status))
}

fn page_url(s: &AppState, job_id: i64, run_id: i64) -> String {
    format!(
        "{}/?o={}#job/{}/run/{}",
        s.url(),
        s.config.workspace_id,
        job_id,
        run_id
    )
}

fn task_json(s: &AppState, run: &Run, t: &TaskRun, now: i64) -> Map<String, Value> {
    let mut o = t.spec.as_object().cloned().unwrap_or_default();
    let blocked = !t.depends_on.is_empty();
    let snap = if now < run.base() {
        crate::lifecycle::Snapshot {
            life: "QUEUED",
            status: "QUEUED",
            fin: None,
        }
    } else {
        task_state(&t.plan, now, blocked)
    };
    let (st, status) = state_json(&snap, false, "");
    let p: &TaskPlan = &t.plan;
    let started = now >= p.start && p.occupies();
    o.insert("run_id".into(), json!(t.run_id));
    o.insert("task_key".into(), json!(t.key));
    o.insert("state".into(), st);
    o.insert("status".into(), status);
    o.insert(
        "run_page_url".into(),
        json!(page_url(s, run.job_id, t.run_id)),
    );
    o.insert(
        "start_time".into(),
        json!(if started || now >= p.end { p.start } else { 0 }),
    );
    o.insert(
        "end_time".into(),
        json!(if now >= p.end { p.end } else { 0 }),
    );
    let clamp = |a: i64, b: i64| (b.min(now) - a).max(0);
    o.insert(
        "setup_duration".into(),
        json!(if started {
            clamp(p.start, p.running)
        } else {
            0
        }),
    );
    o.insert(
        "execution_duration".into(),
        json!(if started {
            clamp(p.running, p.terminating)
        } else {
            0
        }),
    );
    o.insert(
        "cleanup_duration".into(),
        json!(if started {
            clamp(p.terminating, p.end)
        } else {
            0
        }),
    );
    o.insert("attempt_number".into(), json!(0));
    o.insert("run_if".into(), json!(t.run_if));
    if started && now >= p.running {
        let cluster = t
            .spec
            .get("existing_cluster_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!("{:04}-000000-job{}", t.run_id % 10_000, t.run_id % 100_000)
            });
        o.insert("cluster_instance".into(), json!({"cluster_id": cluster, "spark_context_id": format!("{}", t.run_id * 7 % 1_000_000_007)}));
    }
    o
}

fn run_json(s: &AppState, run: &Run, now: i64, tasks: bool) -> Map<String, Value> {
    let snap = if run.skipped {
        crate::lifecycle::Snapshot {
            life: "SKIPPED",
            status: "TERMINATED",
            fin: run.tasks.first().map(|t| t.plan.fin.clone()),
        }
    } else {
        run_state(&run.tasks, now, run.queued_until, run.cut)
    };
    let queued = snap.life == "QUEUED";
    let (st, status) = state_json(
        &snap,
        queued,
        "Queued due to reaching maximum concurrent runs of the job.",
    );
    let end = run.end();
    let done = now >= end;
    let mut o = Map::new();
    o.insert("job_id".into(), json!(run.job_id));
    o.insert("run_id".into(), json!(run.run_id));
    o.insert("number_in_job".into(), json!(run.run_id));
    o.insert("original_attempt_run_id".into(), json!(run.run_id));
    o.insert("attempt_number".into(), json!(0));
    o.insert("run_name".into(), json!(run.run_name));
    o.insert("creator_user_name".into(), json!(s.config.user_name));
    o.insert("run_type".into(), json!(run.run_type));
    o.insert("state".into(), st);
    o.insert("status".into(), status);
    o.insert(
        "run_page_url".into(),
        json!(page_url(s, run.job_id, run.run_id)),
    );
    o.insert("start_time".into(), json!(run.created));
    o.insert("end_time".into(), json!(if done { end } else { 0 }));
    o.insert("setup_duration".into(), json!(0));
    o.insert("execution_duration".into(), json!(0));
    o.insert("cleanup_duration".into(), json!(0));
    o.insert(
        "run_duration".into(),
        json!((end.min(now) - run.created).max(0)),
    );
    o.insert(
        "queue_duration".into(),
        json!(
            run.queued_until
                .map(|q| (q.min(now) - run.created).max(0))
                .unwrap_or(0)
        ),
    );
    o.insert("trigger".into(), json!(run.trigger));
    o.insert("format".into(), json!("MULTI_TASK"));
    if run.timeout_ms > 0 {
        o.insert("timeout_seconds".into(), json!(run.timeout_ms / 1000));
    }
    if !run.job_parameters.is_empty() {
        o.insert(
            "job_parameters".into(),
            Value::Array(run.job_parameters.clone()),
        );
    }
    if run
        .overriding_parameters
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        o.insert(
            "overriding_parameters".into(),
            run.overriding_parameters.clone(),
        );
    }
    if run.job_clusters.as_array().is_some_and(|a| !a.is_empty()) {
        o.insert("job_clusters".into(), run.job_clusters.clone());
    }
    if tasks {
        o.insert(
            "tasks".into(),
            Value::Array(
                run.tasks
                    .iter()
                    .map(|t| Value::Object(task_json(s, run, t, now)))
                    .collect(),
            ),
        );
    }
    o
}

fn task_as_run(s: &AppState, run: &Run, idx: usize, now: i64) -> Map<String, Value> {
    let t = &run.tasks[idx];
    let mut o = task_json(s, run, t, now);
    o.insert("job_id".into(), json!(run.job_id));
    o.insert("job_run_id".into(), json!(run.run_id));
    o.insert("number_in_job".into(), json!(t.run_id));
    o.insert("run_name".into(), json!(t.key));
    o.insert("run_type".into(), json!(run.run_type));
    o.insert("creator_user_name".into(), json!(s.config.user_name));
    o
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
    let runs = r(&s.runs);
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
    let (parent, idx) = r(&s.task_index)
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
    let runs = r(&s.runs);
    let ids: Vec<i64> = match job_id {
        Some(j) => r(&s.job_runs).get(&j).cloned().unwrap_or_default(),
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

/// `settings.max_concurrent_runs` (default 1, as on Databricks).
fn max_concurrent_runs(settings: &Value) -> usize {
    settings
        .get("max_concurrent_runs")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0) as usize
}

/// Plans a run's tasks from `base` and applies the run-level timeout; returns the timeout cut
/// when it ends the run. Shared by submission and by re-planning a queued run, so both agree.
fn plan_with_timeout(tasks: &mut [TaskRun], base: i64, term: u64, timeout_ms: u64) -> Option<Cut> {
    plan(tasks, base, term, None);
    if timeout_ms == 0 {
        return None;
    }
    let limit = base + timeout_ms as i64;
    let end = tasks.iter().map(|t| t.plan.end).max().unwrap_or(base);
    if end > limit {
        plan(tasks, base, term, Some(Cut::Timeout(limit)));
    }
    tasks
        .iter()
        .any(|t| t.plan.fin.result == Some("TIMEDOUT") && t.plan.end > limit - 1)
        .then_some(Cut::Timeout(limit))
}

/// Databricks starts a queued run as soon as a slot of its job frees up. Queued runs are
/// planned, when submitted, to start when the runs ahead of them were due to end; after one of
/// those ends early (a cancel), the runs still waiting are re-planned in queue order to the
/// earliest time a slot is free.
fn release_queue(
    s: &AppState,
    runs: &mut std::collections::BTreeMap<i64, Run>,
    job_id: i64,
    max: usize,
    now: i64,
) {
    let term = s.config.durations.terminating_ms;
    let ids = r(&s.job_runs).get(&job_id).cloned().unwrap_or_default();
    for &id in &ids {
        let Some(waiting) = runs.get(&id) else {
            continue;
        };
        let Some(planned) = waiting.queued_until else {
            continue;
        };
        if planned <= now || waiting.cut.is_some() || waiting.skipped {
            continue;
        }
        let others: Vec<(i64, i64)> = ids
            .iter()
            .filter(|&&o| o != id)
            .filter_map(|o| runs.get(o))
            .filter(|o| !o.skipped && o.end() > now)
            .map(|o| (o.base(), o.end()))
            .collect();
        let active_at = |t: i64| others.iter().filter(|(a, b)| *a <= t && t < *b).count();
        let mut candidates: Vec<i64> = others
            .iter()
            .map(|(_, e)| *e)
            .filter(|e| *e > now)
            .collect();
        candidates.push(now);
        candidates.sort_unstable();
        let Some(start) = candidates.into_iter().find(|t| active_at(*t) < max) else {
            continue;
        };
        if start >= planned {
            continue;
        }
        let Some(run) = runs.get_mut(&id) else {
            continue;
        };
        let old: Vec<(i64, i64)> = run
            .tasks
            .iter()
            .map(|t| (t.plan.start, t.plan.end))
            .collect();
        run.queued_until = Some(start);
        run.cut = plan_with_timeout(&mut run.tasks, start, term, run.timeout_ms);
        let mut c = m(&s.concurrency);
        for (t, (a, b)) in run.tasks.iter().zip(old) {
            c.add(a, b, -1);
            c.add(t.plan.start, t.plan.end, 1);
        }
    }
}

/// Cancel a run at `now` (no-op when already terminal).
fn cancel_run(s: &AppState, run_id: i64, now: i64) {
    let term = s.config.durations.terminating_ms;
    // The job's limit is read before the runs lock is taken (submission takes them in the same
    // order), for releasing the runs queued behind this one.
    let job_id = r(&s.runs).get(&run_id).map(|run| run.job_id);
    let limit = job_id.and_then(|j| {
        r(&s.jobs)
            .get(&j)
            .map(|job| max_concurrent_runs(&job.settings))
    });
    let mut runs = w(&s.runs);
    let Some(run) = runs.get_mut(&run_id) else {
        return;
    };
    if now >= run.end() || run.skipped {
        return;
    }
    let old: Vec<(i64, i64)> = run
        .tasks
        .iter()
        .map(|t| (t.plan.start, t.plan.end))
        .collect();
    if let Some(q) = run.queued_until.as_mut() {
        *q = (*q).min(now);
    }
    let cut = match run.cut {
        Some(Cut::Timeout(t)) if t <= now => return,
        _ => Cut::Cancel(now),
    };
    run.cut = Some(cut);
    let base = run.base();
    plan(&mut run.tasks, base, term, Some(cut));
    {
        let mut c = m(&s.concurrency);
        for (t, (a, b)) in run.tasks.iter().zip(old) {
            c.add(a, b, -1);
            c.add(t.plan.start, t.plan.end, 1);
        }
    }
    if let (Some(job_id), Some(max)) = (job_id, limit) {
        release_queue(s, &mut runs, job_id, max, now);
    }
}

/// `POST jobs/runs/cancel` (job run or task run; asynchronous like the real service).
pub async fn cancel(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = int_field(&b, "run_id")
        .ok_or_else(|| ApiError::invalid("Missing required field: run_id"))?;
    let parent = if r(&s.runs).contains_key(&id) {
        id
    } else {
        r(&s.task_index)
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
    let targets: Vec<i64> = r(&s.runs)
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
    let mut runs = w(&s.runs);
    let run = runs.get(&id).ok_or_else(|| run_missing(id))?;
    if now < run.end() {
        return Err(ApiError::invalid_state(format!(
            "Run {id} is active and cannot be deleted. Cancel it first."
        )));
    }
    let run = runs.remove(&id).ok_or_else(|| run_missing(id))?;
    drop(runs);
    let mut idx = w(&s.task_index);
    for t in &run.tasks {
        idx.remove(&t.run_id);
    }
    drop(idx);
    if let Some(list) = w(&s.job_runs).get_mut(&run.job_id) {
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
    let runs = r(&s.runs);
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
        let (parent, idx) = r(&s.task_index)
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
