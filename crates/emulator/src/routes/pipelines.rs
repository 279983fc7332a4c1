//! Pipelines API 2.0 with simulated updates. Behaviour comes from `spec.configuration` keys under
//! `emulator.`: `outcome` (COMPLETED|FAILED), `duration`, `phase`, `state` (report an arbitrary
//! state string while running), `stop_drain`, `storage_missing`, `message`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{body, page_token, parse_page_token};
use crate::behaviour::parse_duration_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Pipeline, Shared, Update, read_lock, write_lock};

const PHASES: [&str; 5] = [
    "QUEUED",
    "CREATED",
    "WAITING_FOR_RESOURCES",
    "INITIALIZING",
    "SETTING_UP_TABLES",
];

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("The specified pipeline {id} was not found."))
}

fn conf<'a>(spec: &'a Value, key: &str) -> Option<&'a str> {
    spec.get("configuration")
        .and_then(|c| c.get(format!("emulator.{key}")))
        .and_then(Value::as_str)
}

/// State of an update at `now`.
pub fn update_state(u: &Update, now: i64) -> String {
    if let Some(stop) = u.stop_at {
        let natural_end = u.finish_at.unwrap_or(i64::MAX);
        if stop < natural_end && now >= stop {
            return if now < stop + u.drain_ms {
                "STOPPING".into()
            } else {
                "CANCELED".into()
            };
        }
    }
    if now < u.running_from {
        let idx = ((now - u.created).max(0) / u.phase_ms.max(1)) as usize;
        return PHASES[idx.min(PHASES.len() - 1)].into();
    }
    if let Some(forced) = &u.forced_state {
        return forced.clone();
    }
    match u.finish_at {
        Some(f) if now >= f => u.outcome.into(),
        _ => "RUNNING".into(),
    }
}

fn is_terminal(state: &str) -> bool {
    matches!(state, "COMPLETED" | "FAILED" | "CANCELED")
}

fn pipeline_state(p: &Pipeline, now: i64) -> (&'static str, &'static str) {
    match p.updates.last().map(|u| update_state(u, now)) {
        Some(s) if s == "STOPPING" => ("STOPPING", "HEALTHY"),
        Some(s) if s == "FAILED" => ("IDLE", "UNHEALTHY"),
        Some(s) if is_terminal(&s) => ("IDLE", "HEALTHY"),
        Some(s) if PHASES.contains(&s.as_str()) => ("STARTING", "HEALTHY"),
        Some(_) => ("RUNNING", "HEALTHY"),
        None => ("IDLE", "HEALTHY"),
    }
}

fn latest(p: &Pipeline, now: i64) -> Value {
    Value::Array(
        p.updates
            .iter()
            .rev()
            .take(5)
            .map(|u| json!({"update_id": u.update_id, "state": update_state(u, now), "creation_time": rfc3339(u.created)}))
            .collect(),
    )
}

fn pipeline_json(s: &Shared, p: &Pipeline, now: i64, with_spec: bool) -> Value {
    let (state, health) = pipeline_state(p, now);
    let mut m = Map::new();
    m.insert("pipeline_id".into(), json!(p.id));
    m.insert(
        "name".into(),
        p.spec.get("name").cloned().unwrap_or(json!("")),
    );
    m.insert("state".into(), json!(state));
    m.insert("health".into(), json!(health));
    m.insert("creator_user_name".into(), json!(s.config.user_name));
    m.insert("run_as_user_name".into(), json!(s.config.user_name));
    m.insert("latest_updates".into(), latest(p, now));
    if state == "RUNNING" || state == "STARTING" || state == "STOPPING" {
        m.insert(
            "cluster_id".into(),
            json!(format!("dlt-{}", &p.id[..8.min(p.id.len())])),
        );
    }
    if with_spec {
        m.insert("spec".into(), p.spec.clone());
        m.insert("last_modified".into(), json!(p.last_modified));
    }
    Value::Object(m)
}

/// `GET pipelines` (list statuses; `max_results` ≤ 100, `page_token`, `filter name LIKE`).
pub async fn list(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let max: usize = q
        .get("max_results")
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    if max > 100 || max == 0 {
        return Err(ApiError::invalid("max_results must be between 1 and 100."));
    }
    let offset = q
        .get("page_token")
        .filter(|t| !t.is_empty())
        .map(|t| parse_page_token(t))
        .transpose()?
        .unwrap_or(0);
    let like = q.get("filter").and_then(|f| {
        let f = f.trim();
        f.strip_prefix("name LIKE '")
            .and_then(|r| r.strip_suffix('\''))
            .map(|p| p.trim_matches('%').to_lowercase())
    });
    let now = s.clock.now_ms();
    let ps = read_lock(&s.pipelines);
    let all: Vec<&Pipeline> = ps
        .values()
        .filter(|p| {
            like.as_ref().is_none_or(|l| {
                p.spec
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.to_lowercase().contains(l))
            })
        })
        .collect();
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(max)
        .map(|p| pipeline_json(&s, p, now, false))
        .collect();
    let mut out = Map::new();
    out.insert("statuses".into(), Value::Array(page));
    if offset + max < all.len() {
        out.insert("next_page_token".into(), json!(page_token(offset + max)));
    }
    Ok(Json(Value::Object(out)))
}

/// `POST pipelines` (create; `dry_run` returns the effective settings).
pub async fn create(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let spec = body(&raw)?;
    let dry = spec
        .get("dry_run")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (id, spec) = new_spec(spec);
    if dry {
        return Ok(Json(json!({ "effective_settings": spec })));
    }
    insert_pipeline(&s, id.clone(), spec);
    Ok(Json(json!({ "pipeline_id": id })))
}

/// Stores a new pipeline from a create body, as `POST pipelines` does (without `dry_run`);
/// shared with the demo seeding so a seeded pipeline is exactly what the API would create.
pub(crate) fn create_pipeline(s: &AppState, spec: Value) -> String {
    let (id, spec) = new_spec(spec);
    insert_pipeline(s, id.clone(), spec);
    id
}

/// A create body as stored: request-only fields dropped, a fresh `id` set.
fn new_spec(mut spec: Value) -> (String, Value) {
    let id = uuid::Uuid::new_v4().to_string();
    if let Value::Object(o) = &mut spec {
        o.remove("dry_run");
        o.remove("allow_duplicate_names");
        o.insert("id".into(), json!(id));
    }
    (id, spec)
}

fn insert_pipeline(s: &AppState, id: String, spec: Value) {
    let now = s.clock.now_ms();
    write_lock(&s.pipelines).insert(
        id.clone(),
        Pipeline {
            id,
            spec,
            last_modified: now,
            updates: Vec::new(),
        },
    );
}

/// `GET pipelines/{id}`.
pub async fn get(
    State(s): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let now = s.clock.now_ms();
    let ps = read_lock(&s.pipelines);
    let p = ps.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(Json(pipeline_json(&s, p, now, true)))
}

/// `PUT pipelines/{id}` (edit: full spec replacement).
pub async fn edit(
    State(s): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    raw: bytes::Bytes,
) -> ApiResult<Json<Value>> {
    let mut spec = body(&raw)?;
    if let Value::Object(o) = &mut spec {
        o.remove("pipeline_id");
        o.remove("allow_duplicate_names");
        o.insert("id".into(), json!(id));
    }
    let now = s.clock.now_ms();
    let mut ps = write_lock(&s.pipelines);
    let p = ps.get_mut(&id).ok_or_else(|| not_found(&id))?;
    p.spec = spec;
    p.last_modified = now;
    Ok(Json(json!({})))
}

/// `DELETE pipelines/{id}`.
pub async fn delete(
    State(s): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    write_lock(&s.pipelines)
        .remove(&id)
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({})))
}

/// `POST pipelines/{id}/updates` (start an update; refused while one is active or when the
/// pipeline declares `emulator.storage_missing`).
pub async fn start_update(
    State(s): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    raw: bytes::Bytes,
) -> ApiResult<Json<Value>> {
    let req = body(&raw)?;
    let now = s.clock.now_ms();
    let d = s.config.durations;
    let mut ps = write_lock(&s.pipelines);
    let p = ps.get_mut(&id).ok_or_else(|| not_found(&id))?;
    if conf(&p.spec, "storage_missing").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        let storage = p
            .spec
            .get("storage")
            .and_then(Value::as_str)
            .unwrap_or("dbfs:/pipelines/")
            .to_owned();
        return Err(ApiError::invalid(format!(
            "Failed to start an update for pipeline {id}: the target storage location '{storage}' does not exist or is not accessible."
        )));
    }
    if let Some(active) = p
        .updates
        .last()
        .filter(|u| !is_terminal(&update_state(u, now)))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "RESOURCE_CONFLICT",
            format!(
                "An active update {} already exists for pipeline {id}.",
                active.update_id
            ),
        ));
    }
    let ms = |key: &str, default: u64| {
        conf(&p.spec, key)
            .and_then(parse_duration_ms)
            .unwrap_or(default) as i64
    };
    let phase = ms("phase", d.pipeline_phase_ms);
    let running_from = now + phase * PHASES.len() as i64;
    let continuous = p
        .spec
        .get("continuous")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let failed = conf(&p.spec, "outcome").is_some_and(|o| o.eq_ignore_ascii_case("FAILED"));
    let update_id = uuid::Uuid::new_v4().to_string();
    p.updates.push(Update {
        update_id: update_id.clone(),
        created: now,
        full_refresh: req
            .get("full_refresh")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        request: req,
        running_from,
        finish_at: (!continuous).then(|| running_from + ms("duration", d.pipeline_running_ms)),
        outcome: if failed { "FAILED" } else { "COMPLETED" },
        message: conf(&p.spec, "message").map(str::to_owned),
        stop_at: None,
        drain_ms: ms("stop_drain", d.pipeline_stop_drain_ms),
        forced_state: conf(&p.spec, "state").map(str::to_owned),
        phase_ms: phase,
    });
    Ok(Json(
        json!({ "update_id": update_id, "request_id": update_id }),
    ))
}

fn update_json(p: &Pipeline, u: &Update, now: i64, with_config: bool) -> Value {
    let mut m = Map::new();
    m.insert("pipeline_id".into(), json!(p.id));
    m.insert("update_id".into(), json!(u.update_id));
    m.insert("state".into(), json!(update_state(u, now)));
    m.insert(
        "cause".into(),
        u.request.get("cause").cloned().unwrap_or(json!("API_CALL")),
    );
    m.insert("creation_time".into(), json!(u.created));
    m.insert("full_refresh".into(), json!(u.full_refresh));
    for k in [
        "refresh_selection",
        "full_refresh_selection",
        "refresh_flow_selection",
        "validate_only",
        "parameters",
    ] {
        if let Some(v) = u.request.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    m.insert(
        "cluster_id".into(),
        json!(format!("dlt-{}", &p.id[..8.min(p.id.len())])),
    );
    m.insert(
        "mode".into(),
        json!(if u.finish_at.is_none() {
            "CONTINUOUS"
        } else {
            "DEFAULT"
        }),
    );
    if with_config {
        m.insert("config".into(), p.spec.clone());
    }
    Value::Object(m)
}

/// `GET pipelines/{id}/updates` (newest first; `max_results`, `page_token`).
pub async fn list_updates(
    State(s): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let now = s.clock.now_ms();
    let max: usize = q
        .get("max_results")
        .and_then(|v| v.parse().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let offset = q
        .get("page_token")
        .filter(|t| !t.is_empty())
        .map(|t| parse_page_token(t))
        .transpose()?
        .unwrap_or(0);
    let ps = read_lock(&s.pipelines);
    let p = ps.get(&id).ok_or_else(|| not_found(&id))?;
    let ups: Vec<Value> = p
        .updates
        .iter()
        .rev()
        .skip(offset)
        .take(max)
        .map(|u| update_json(p, u, now, false))
        .collect();
    let mut out = Map::new();
    out.insert("updates".into(), Value::Array(ups));
    if offset + max < p.updates.len() {
        out.insert("next_page_token".into(), json!(page_token(offset + max)));
    }
    Ok(Json(Value::Object(out)))
}

/// `GET pipelines/{id}/updates/{update_id}` → `{"update": UpdateInfo}`.
pub async fn get_update(
    State(s): State<Shared>,
    Path((_, id, uid)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let now = s.clock.now_ms();
    let ps = read_lock(&s.pipelines);
    let p = ps.get(&id).ok_or_else(|| not_found(&id))?;
    let u = p
        .updates
        .iter()
        .find(|u| u.update_id == uid)
        .ok_or_else(|| ApiError::not_found(format!("The specified update {uid} was not found.")))?;
    Ok(Json(json!({ "update": update_json(p, u, now, true) })))
}

/// `POST pipelines/{id}/stop`: cancels the active update (STOPPING, then CANCELED); no-op when idle.
pub async fn stop(
    State(s): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let now = s.clock.now_ms();
    let mut ps = write_lock(&s.pipelines);
    let p = ps.get_mut(&id).ok_or_else(|| not_found(&id))?;
    if let Some(u) = p.updates.last_mut()
        && !is_terminal(&update_state(u, now))
        && u.stop_at.is_none()
    {
        u.stop_at = Some(now);
    }
    Ok(Json(json!({})))
}

/// `GET pipelines/{id}/events`: `update_progress` events, newest first by default.
pub async fn events(
    State(s): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let now = s.clock.now_ms();
    let ps = read_lock(&s.pipelines);
    let p = ps.get(&id).ok_or_else(|| not_found(&id))?;
    let name = p.spec.get("name").cloned().unwrap_or(json!(""));
    let mut evs: Vec<(i64, Value)> = Vec::new();
    let mut seq = 0u64;
    for u in &p.updates {
        let mut times: Vec<i64> = (0..PHASES.len() as i64)
            .map(|i| u.created + i * u.phase_ms)
            .collect();
        times.push(u.running_from);
        if let Some(f) = u.finish_at {
            times.push(f);
        }
        if let Some(st) = u.stop_at {
            times.retain(|t| *t < st);
            times.push(st);
            times.push(st + u.drain_ms);
        }
        let mut last = String::new();
        for t in times.into_iter().filter(|t| *t <= now) {
            let state = update_state(u, t);
            if state == last {
                continue;
            }
            last = state.clone();
            seq += 1;
            let level = if state == "FAILED" { "ERROR" } else { "INFO" };
            let mut ev = json!({
                "id": crate::notebook_format::nuid(&format!("{}/{seq}", u.update_id)),
                "sequence": {"control_plane_seq_no": seq},
                "origin": {"pipeline_id": p.id, "pipeline_name": name, "update_id": u.update_id},
                "timestamp": rfc3339(t),
                "message": format!("Update {} is {}.", &u.update_id[..6.min(u.update_id.len())], state),
                "level": level,
                "maturity_level": "STABLE",
                "event_type": "update_progress",
                "details": {"update_progress": {"state": state}}
            });
            if state == "FAILED"
                && let Value::Object(o) = &mut ev
            {
                let msg = u
                    .message
                    .clone()
                    .unwrap_or_else(|| "Update failed.".to_owned());
                o.insert("error".into(), json!({"exceptions": [{"class_name": "PipelineException", "message": msg}], "fatal": true}));
            }
            evs.push((t, ev));
        }
    }
    let asc = q
        .get("order_by")
        .is_some_and(|o| o.to_lowercase().contains("asc"));
    if !asc {
        evs.reverse();
    }
    let max: usize = q
        .get("max_results")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    Ok(Json(
        json!({ "events": evs.into_iter().take(max).map(|e| e.1).collect::<Vec<_>>() }),
    ))
}

/// Format epoch ms as RFC 3339 UTC (`2024-01-02T03:04:05.678Z`).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}
