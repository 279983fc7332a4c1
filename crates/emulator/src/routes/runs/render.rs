//! A run (or one of its task runs) as the JSON the Jobs API returns, at a given instant.

use serde_json::{Map, Value, json};

use crate::lifecycle::{TaskPlan, TaskRun, run_state, task_state};
use crate::state::{AppState, Run};

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

pub(super) fn run_json(s: &AppState, run: &Run, now: i64, tasks: bool) -> Map<String, Value> {
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

pub(super) fn task_as_run(s: &AppState, run: &Run, idx: usize, now: i64) -> Map<String, Value> {
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
