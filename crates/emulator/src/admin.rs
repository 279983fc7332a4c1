//! Admin endpoints under `/__emulator/` (unauthenticated: the emulator binds loopback by default
//! and tests/benchmarks must reach them without credentials).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::faults::FaultConfig;
use crate::state::{Shared, lock};

/// Admin router (nested at `/__emulator`).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/requests", get(list_requests).delete(clear_requests))
        .route("/stats", get(stats))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/settings", get(get_settings).put(put_settings))
}

async fn list_requests(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let log = lock(&s.log);
    let items: Vec<Value> = log
        .iter()
        .filter(|e| q.get("endpoint").is_none_or(|v| *e.endpoint == **v))
        .filter(|e| {
            q.get("method")
                .is_none_or(|v| e.method.as_str().eq_ignore_ascii_case(v))
        })
        .filter(|e| {
            q.get("path_contains")
                .is_none_or(|v| e.path.contains(v.as_str()))
        })
        .filter(|e| {
            q.get("caller")
                .is_none_or(|v| e.caller.as_deref() == Some(v.as_str()))
        })
        .filter(|e| {
            q.get("since_seq")
                .and_then(|v| v.parse::<u64>().ok())
                .is_none_or(|v| e.seq >= v)
        })
        .filter_map(|e| serde_json::to_value(e.to_public()).ok())
        .collect();
    Json(json!({ "requests": items }))
}

async fn clear_requests(State(s): State<Shared>) -> Json<Value> {
    lock(&s.log).clear();
    Json(json!({}))
}

async fn stats(State(s): State<Shared>) -> Json<Value> {
    Json(serde_json::to_value(s.stats()).unwrap_or(Value::Null))
}

async fn get_faults(State(s): State<Shared>) -> Json<Value> {
    Json(serde_json::to_value(&*s.faults()).unwrap_or(Value::Null))
}

/// Body of `PUT /__emulator/faults`: a `FaultConfig`, optionally starting from a named profile.
#[derive(Deserialize)]
struct FaultsBody {
    profile: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

async fn put_faults(
    State(s): State<Shared>,
    Json(body): Json<FaultsBody>,
) -> ApiResult<Json<Value>> {
    let mut base = match &body.profile {
        Some(p) => serde_json::to_value(
            FaultConfig::profile(p)
                .ok_or_else(|| ApiError::invalid(format!("Unknown fault profile '{p}'.")))?,
        )
        .unwrap_or(Value::Null),
        None => json!({}),
    };
    if let Value::Object(map) = &mut base {
        map.extend(body.rest);
    }
    let cfg: FaultConfig =
        serde_json::from_value(base).map_err(|e| ApiError::invalid(e.to_string()))?;
    s.set_faults(cfg.clone());
    Ok(Json(serde_json::to_value(cfg).unwrap_or(Value::Null)))
}

fn settings_json(s: &Shared) -> Value {
    json!({
        "serverless_enabled": s.serverless.load(Ordering::Relaxed),
        "time_scale": s.clock.scale(),
        "now_ms": s.clock.now_ms(),
        "workspace_id": s.config.workspace_id,
        "durations": s.config.durations,
    })
}

async fn get_settings(State(s): State<Shared>) -> Json<Value> {
    Json(settings_json(&s))
}

#[derive(Deserialize)]
struct SettingsBody {
    serverless_enabled: Option<bool>,
    time_scale: Option<f64>,
}

async fn put_settings(
    State(s): State<Shared>,
    Json(b): Json<SettingsBody>,
) -> ApiResult<Json<Value>> {
    if let Some(t) = b.time_scale {
        if !(t.is_finite() && t > 0.0) {
            return Err(ApiError::invalid("time_scale must be a positive number."));
        }
        s.clock.set_scale(t);
    }
    if let Some(v) = b.serverless_enabled {
        s.serverless.store(v, Ordering::Relaxed);
    }
    Ok(Json(settings_json(&s)))
}
