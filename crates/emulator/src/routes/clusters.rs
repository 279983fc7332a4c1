//! Clusters API 2.0: lifecycle PENDING → RUNNING (→ RESIZING/RESTARTING) → TERMINATING →
//! TERMINATED, computed from an operation history and the simulated clock.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Map, Value, json};

use super::body;
use crate::error::{ApiError, ApiResult};
use crate::state::{Cluster, ClusterOp, Shared, read_lock, write_lock};

const LIFECYCLE: &[&str] = &[
    "CREATING",
    "STARTING",
    "RESTARTING",
    "RESIZING",
    "TERMINATING",
];

fn missing(id: &str) -> ApiError {
    ApiError::invalid(format!("Cluster {id} does not exist"))
}

fn id_of(b: &Value) -> ApiResult<String> {
    b.get("cluster_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid("Missing required field: cluster_id"))
}

/// Current state string of a cluster.
pub fn state(c: &Cluster, now: i64) -> &'static str {
    let Some(op) = c.ops.iter().rev().find(|o| LIFECYCLE.contains(&o.kind)) else {
        return "PENDING";
    };
    let done = now >= op.until;
    match (op.kind, done) {
        ("TERMINATING", true) => "TERMINATED",
        ("TERMINATING", false) => "TERMINATING",
        ("RESTARTING", false) => "RESTARTING",
        ("RESIZING", false) => "RESIZING",
        (_, false) => "PENDING",
        (_, true) => "RUNNING",
    }
}

fn cluster_json(c: &Cluster, now: i64) -> Value {
    let mut m = c.spec.as_object().cloned().unwrap_or_default();
    let st = state(c, now);
    m.insert("cluster_id".into(), json!(c.id));
    m.insert("state".into(), json!(st));
    let msg = match st {
        "PENDING" => "Finding instances for new nodes, acquiring more instances if necessary",
        "RESTARTING" => "Restarting Spark",
        "RESIZING" => "Resizing cluster",
        "TERMINATING" => "Terminating cluster",
        "TERMINATED" => "Terminated by user",
        _ => "",
    };
    m.insert("state_message".into(), json!(msg));
    m.insert("cluster_source".into(), json!("API"));
    m.insert("creator_user_name".into(), json!("emulator@example.com"));
    m.entry("autotermination_minutes").or_insert(json!(120));
    m.entry("spark_conf").or_insert(json!({}));
    m.insert("default_tags".into(), json!({"Vendor": "Databricks", "Creator": "emulator@example.com", "ClusterName": m.get("cluster_name").cloned().unwrap_or(json!("")), "ClusterId": c.id}));
    let started = c
        .ops
        .iter()
        .rev()
        .find(|o| matches!(o.kind, "CREATING" | "STARTING"))
        .map(|o| o.at)
        .unwrap_or(c.created);
    m.insert("start_time".into(), json!(started));
    if st == "RUNNING" || st == "RESIZING" || st == "RESTARTING" {
        m.insert("driver".into(), json!({"node_id": format!("{}-driver", c.id), "private_ip": "10.0.0.4", "start_timestamp": started}));
        let n = m.get("num_workers").and_then(Value::as_u64).unwrap_or(0);
        m.insert("executors".into(), Value::Array((0..n).map(|i| json!({"node_id": format!("{}-w{i}", c.id), "private_ip": format!("10.0.1.{}", i + 4)})).collect()));
        m.insert("spark_context_id".into(), json!(started % 1_000_000_007));
    }
    if st == "TERMINATED" {
        let t = c
            .ops
            .iter()
            .rev()
            .find(|o| o.kind == "TERMINATING")
            .map(|o| o.until)
            .unwrap_or(now);
        m.insert("terminated_time".into(), json!(t));
        m.insert("termination_reason".into(), json!({"code": "USER_REQUEST", "type": "SUCCESS", "parameters": {"username": "emulator@example.com"}}));
    }
    m.insert("last_state_loss_time".into(), json!(0));
    Value::Object(m)
}

fn op(kind: &'static str, at: i64, len: u64, details: Value) -> ClusterOp {
    ClusterOp {
        kind,
        at,
        until: at + len as i64,
        details,
    }
}

fn with_cluster<T>(
    s: &Shared,
    id: &str,
    f: impl FnOnce(&mut Cluster, i64) -> ApiResult<T>,
) -> ApiResult<T> {
    let now = s.clock.now_ms();
    let mut cs = write_lock(&s.clusters);
    let c = cs.get_mut(id).ok_or_else(|| missing(id))?;
    f(c, now)
}

fn unexpected(c: &Cluster, now: i64) -> ApiError {
    let st = state(c, now);
    let mut pretty = st.to_lowercase();
    if let Some(f) = pretty.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    ApiError::invalid_state(format!("Cluster {} is in unexpected state {pretty}.", c.id))
}

/// `POST clusters/create`.
pub async fn create(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let mut spec = body(&raw)?;
    if spec.get("spark_version").and_then(Value::as_str).is_none() {
        return Err(ApiError::invalid("Missing required field: spark_version"));
    }
    if spec.get("node_type_id").is_none()
        && spec.get("instance_pool_id").is_none()
        && spec.get("policy_id").is_none()
    {
        return Err(ApiError::invalid("Missing required field: node_type_id"));
    }
    if let Value::Object(o) = &mut spec {
        if let Some(n) = o.get("node_type_id").cloned() {
            o.entry("driver_node_type_id").or_insert(n);
        }
        if !o.contains_key("autoscale") {
            o.entry("num_workers").or_insert(json!(0));
        }
    }
    let now = s.clock.now_ms();
    let n = s
        .next_object_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!(
        "{:04}-{:06}-emu{:05}",
        n % 10_000,
        (now / 1000) % 1_000_000,
        n % 100_000
    );
    let d = s.config.durations;
    let c = Cluster {
        id: id.clone(),
        spec,
        ops: vec![op("CREATING", now, d.cluster_start_ms, json!({}))],
        pinned: false,
        created: now,
    };
    write_lock(&s.clusters).insert(id.clone(), c);
    Ok(Json(json!({ "cluster_id": id })))
}

/// `GET clusters/get`.
pub async fn get(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = q
        .get("cluster_id")
        .cloned()
        .ok_or_else(|| ApiError::invalid("Missing required field: cluster_id"))?;
    let now = s.clock.now_ms();
    let cs = read_lock(&s.clusters);
    Ok(Json(cluster_json(
        cs.get(&id).ok_or_else(|| missing(&id))?,
        now,
    )))
}

/// `GET clusters/list` (most recently started first).
pub async fn list(State(s): State<Shared>) -> Json<Value> {
    let now = s.clock.now_ms();
    let cs = read_lock(&s.clusters);
    let mut all: Vec<&Cluster> = cs.values().collect();
    all.sort_by_key(|c| std::cmp::Reverse(c.ops.iter().map(|o| o.at).max().unwrap_or(c.created)));
    let list: Vec<Value> = all.into_iter().map(|c| cluster_json(c, now)).collect();
    if list.is_empty() {
        return Json(json!({}));
    }
    Json(json!({ "clusters": list }))
}

/// `POST clusters/edit` (running clusters restart to apply).
pub async fn edit(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = id_of(&b)?;
    let d = s.config.durations;
    with_cluster(&s, &id, |c, now| {
        let st = state(c, now);
        if !matches!(st, "RUNNING" | "TERMINATED") {
            return Err(unexpected(c, now));
        }
        let mut spec = b.clone();
        if let Value::Object(o) = &mut spec {
            o.remove("cluster_id");
        }
        c.spec = spec;
        c.ops.push(op("EDITED", now, 0, json!({})));
        if st == "RUNNING" {
            c.ops
                .push(op("RESTARTING", now, d.cluster_start_ms, json!({})));
        }
        Ok(Json(json!({})))
    })
}

/// `POST clusters/resize` (RUNNING only).
pub async fn resize(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = id_of(&b)?;
    let d = s.config.durations;
    with_cluster(&s, &id, |c, now| {
        if state(c, now) != "RUNNING" {
            return Err(unexpected(c, now));
        }
        let Value::Object(spec) = &mut c.spec else {
            return Err(ApiError::invalid("Invalid cluster spec."));
        };
        let mut details = Map::new();
        if let Some(n) = b.get("num_workers") {
            details.insert("target_num_workers".into(), n.clone());
            spec.insert("num_workers".into(), n.clone());
            spec.remove("autoscale");
        } else if let Some(a) = b.get("autoscale") {
            spec.insert("autoscale".into(), a.clone());
        } else {
            return Err(ApiError::invalid(
                "Either num_workers or autoscale must be specified.",
            ));
        }
        c.ops.push(op(
            "RESIZING",
            now,
            d.cluster_resize_ms,
            Value::Object(details),
        ));
        Ok(Json(json!({})))
    })
}

/// `POST clusters/start` (TERMINATED only).
pub async fn start(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let id = id_of(&body(&raw)?)?;
    let d = s.config.durations;
    with_cluster(&s, &id, |c, now| {
        match state(c, now) {
            "TERMINATED" => c
                .ops
                .push(op("STARTING", now, d.cluster_start_ms, json!({}))),
            "PENDING" | "RUNNING" => {}
            _ => return Err(unexpected(c, now)),
        }
        Ok(Json(json!({})))
    })
}

/// `POST clusters/restart` (RUNNING only).
pub async fn restart(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let id = id_of(&body(&raw)?)?;
    let d = s.config.durations;
    with_cluster(&s, &id, |c, now| {
        if state(c, now) != "RUNNING" {
            return Err(unexpected(c, now));
        }
        c.ops
            .push(op("RESTARTING", now, d.cluster_start_ms, json!({})));
        Ok(Json(json!({})))
    })
}

/// `POST clusters/delete` = terminate (idempotent).
pub async fn delete(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let id = id_of(&body(&raw)?)?;
    let d = s.config.durations;
    with_cluster(&s, &id, |c, now| {
        if !matches!(state(c, now), "TERMINATED" | "TERMINATING") {
            c.ops.push(op(
                "TERMINATING",
                now,
                d.cluster_terminate_ms,
                json!({"reason": {"code": "USER_REQUEST"}}),
            ));
        }
        Ok(Json(json!({})))
    })
}

/// `POST clusters/permanent-delete`.
pub async fn permanent_delete(
    State(s): State<Shared>,
    raw: bytes::Bytes,
) -> ApiResult<Json<Value>> {
    let id = id_of(&body(&raw)?)?;
    write_lock(&s.clusters)
        .remove(&id)
        .ok_or_else(|| missing(&id))?;
    Ok(Json(json!({})))
}

/// `POST clusters/pin`.
pub async fn pin(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let id = id_of(&body(&raw)?)?;
    with_cluster(&s, &id, |c, now| {
        c.pinned = true;
        c.ops.push(op("PINNED", now, 0, json!({})));
        Ok(Json(json!({})))
    })
}

/// `POST clusters/unpin`.
pub async fn unpin(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let id = id_of(&body(&raw)?)?;
    with_cluster(&s, &id, |c, now| {
        c.pinned = false;
        c.ops.push(op("UNPINNED", now, 0, json!({})));
        Ok(Json(json!({})))
    })
}

/// `POST clusters/events` (`order` DESC default, `limit`, `offset`, `event_types`).
pub async fn events(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let id = id_of(&b)?;
    let now = s.clock.now_ms();
    let cs = read_lock(&s.clusters);
    let c = cs.get(&id).ok_or_else(|| missing(&id))?;
    let mut evs: Vec<(i64, &str, Value)> = Vec::new();
    for o in &c.ops {
        if o.at <= now {
            evs.push((o.at, o.kind, o.details.clone()));
        }
        let done = match o.kind {
            "CREATING" | "STARTING" | "RESTARTING" => Some("RUNNING"),
            "RESIZING" => Some("UPSIZE_COMPLETED"),
            "TERMINATING" => Some("TERMINATED"),
            _ => None,
        };
        if let Some(k) = done
            && o.until <= now
        {
            evs.push((o.until, k, json!({})));
        }
    }
    if let Some(types) = b.get("event_types").and_then(Value::as_array) {
        evs.retain(|e| types.iter().any(|t| t.as_str() == Some(e.1)));
    }
    evs.sort_by_key(|e| e.0);
    if b.get("order").and_then(Value::as_str) != Some("ASC") {
        evs.reverse();
    }
    let total = evs.len();
    let offset = b.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let limit = b
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 500) as usize;
    let page: Vec<Value> = evs
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(t, k, d)| json!({"cluster_id": id, "timestamp": t, "type": k, "details": d}))
        .collect();
    let mut out = Map::new();
    out.insert("events".into(), Value::Array(page));
    out.insert("total_count".into(), json!(total));
    if offset + limit < total {
        out.insert(
            "next_page".into(),
            json!({"cluster_id": id, "offset": offset + limit, "limit": limit}),
        );
    }
    Ok(Json(Value::Object(out)))
}

/// `GET clusters/spark-versions`.
pub async fn spark_versions() -> Json<Value> {
    Json(json!({"versions": [
        {"key": "16.4.x-scala2.12", "name": "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"},
        {"key": "15.4.x-scala2.12", "name": "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
        {"key": "14.3.x-scala2.12", "name": "14.3 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
        {"key": "13.3.x-scala2.12", "name": "13.3 LTS (includes Apache Spark 3.4.1, Scala 2.12)"}
    ]}))
}

/// `GET clusters/list-node-types`.
pub async fn node_types() -> Json<Value> {
    let nt = |id: &str, mem: u64, cores: f64, cat: &str| {
        json!({"node_type_id": id, "instance_type_id": id, "memory_mb": mem, "num_cores": cores,
               "description": id, "category": cat, "is_deprecated": false, "is_hidden": false,
               "support_port_forwarding": true, "photon_driver_capable": true, "photon_worker_capable": true})
    };
    Json(json!({"node_types": [
        nt("Standard_DS3_v2", 14_336, 4.0, "General Purpose"),
        nt("Standard_DS4_v2", 28_672, 8.0, "General Purpose"),
        nt("Standard_E8ds_v4", 65_536, 8.0, "Memory Optimized"),
        nt("i3.xlarge", 31_232, 4.0, "Storage Optimized")
    ]}))
}
