//! What every request goes through: an `x-request-id` (the caller's, or a
//! new one) echoed on the response and in the access log line, the HTTP
//! metrics, and bearer-token auth once any API token exists (the token is
//! never logged).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;

use crate::AppState;
use crate::error::ApiError;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// Counters served at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by (method, route, status).
    pub requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Active runs seen by the last tracking pass.
    pub tracked_runs: std::sync::atomic::AtomicU64,
    /// Duration of the last tracking pass, ms (how far behind the tracker is).
    pub track_pass_ms: std::sync::atomic::AtomicU64,
    /// Workspaces the server's loop tracked in its last round (held their
    /// tracking lease).
    pub tracked_workspaces: std::sync::atomic::AtomicU64,
    /// Workspaces another process (a dispatcher, another server) tracked
    /// in the last round; their changes are read from the store.
    pub observed_workspaces: std::sync::atomic::AtomicU64,
    /// Rounds in which the server's loop asked Databricks (tracked at
    /// least one workspace).
    pub tracking_rounds: std::sync::atomic::AtomicU64,
}

impl Metrics {
    /// The Prometheus text exposition: HTTP requests, tracker lag, and
    /// the engine's `snapshot` (runs by status, Databricks calls and 429s
    /// per workspace) when it could be read.
    pub fn render(&self, snapshot: Option<&polysync_engine::MetricsSnapshot>) -> String {
        use std::fmt::Write as _;
        use std::sync::atomic::Ordering;
        let mut out = String::from(
            "# HELP polysync_http_requests_total HTTP requests by route and status.\n# TYPE polysync_http_requests_total counter\n",
        );
        if let Ok(map) = self.requests.lock() {
            for ((method, route, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "polysync_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = write!(
            out,
            "# HELP polysync_tracked_runs Active runs followed by the last tracking pass.\n# TYPE polysync_tracked_runs gauge\npolysync_tracked_runs {}\n# HELP polysync_tracker_pass_ms Duration of the last tracking pass (tracker lag), ms.\n# TYPE polysync_tracker_pass_ms gauge\npolysync_tracker_pass_ms {}\n",
            self.tracked_runs.load(Ordering::Relaxed),
            self.track_pass_ms.load(Ordering::Relaxed)
        );
        let _ = write!(
            out,
            "# HELP polysync_server_tracked_workspaces Workspaces this server's loop tracks (holds the tracking lease of).\n# TYPE polysync_server_tracked_workspaces gauge\npolysync_server_tracked_workspaces {}\n# HELP polysync_server_observed_workspaces Workspaces another process tracks; their changes are read from the store.\n# TYPE polysync_server_observed_workspaces gauge\npolysync_server_observed_workspaces {}\n# HELP polysync_server_tracking_rounds_total Rounds in which this server's loop tracked (asked Databricks).\n# TYPE polysync_server_tracking_rounds_total counter\npolysync_server_tracking_rounds_total {}\n",
            self.tracked_workspaces.load(Ordering::Relaxed),
            self.observed_workspaces.load(Ordering::Relaxed),
            self.tracking_rounds.load(Ordering::Relaxed)
        );
        if let Some(snap) = snapshot {
            out.push_str(
                "# HELP polysync_runs Runs in the store by status.\n# TYPE polysync_runs gauge\n",
            );
            for (status, n) in &snap.runs_by_status {
                let _ = writeln!(
                    out,
                    "polysync_runs{{status=\"{}\"}} {n}",
                    label(&status.to_lowercase())
                );
            }
            out.push_str("# HELP polysync_databricks_requests_total Requests sent to each workspace.\n# TYPE polysync_databricks_requests_total counter\n");
            for w in &snap.workspaces {
                let _ = writeln!(
                    out,
                    "polysync_databricks_requests_total{{platform=\"{}\",host=\"{}\"}} {}",
                    label(&w.platform),
                    label(&w.host),
                    w.requests
                );
            }
            out.push_str("# HELP polysync_databricks_throttled_total 429 answers from each workspace.\n# TYPE polysync_databricks_throttled_total counter\n");
            for w in &snap.workspaces {
                let _ = writeln!(
                    out,
                    "polysync_databricks_throttled_total{{platform=\"{}\",host=\"{}\"}} {}",
                    label(&w.platform),
                    label(&w.host),
                    w.throttled
                );
            }
        }
        out
    }
}

/// A Prometheus label value, escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Request id, access log and metrics.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let mut resp = next.run(req).await;
    let status = resp.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    if let Ok(mut m) = state.metrics.requests.lock() {
        *m.entry((method.clone(), route.clone(), status))
            .or_default() += 1;
    }
    tracing::info!(
        target: "polysync::access",
        request_id = %id,
        method = %method,
        route = %route,
        status,
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

/// Bearer-token auth: open while no API token exists (the CLI refuses to
/// listen beyond loopback then), else every route but `/health` needs an
/// active token.
pub async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/health" || crate::dashboard::is_public(path) {
        return next.run(req).await;
    }
    let page = crate::dashboard::is_page(path);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| SecretString::from(t.trim().to_owned()))
        .or_else(|| crate::dashboard::cookie_token(req.headers()));
    let verdict = match bearer {
        Some(token) => match state.engine.authenticate_api_token(&token).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err("invalid or revoked API token"),
            Err(_) => Err("cannot check the API token now"),
        },
        None => match state.engine.api_tokens_required().await {
            Ok(false) => Ok(()),
            Ok(true) => {
                Err("send an API token: Authorization: Bearer <token> (polysync tokens create)")
            }
            Err(_) => Err("cannot check the API tokens now"),
        },
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(_) if page => axum::response::Redirect::to("/login").into_response(),
        Err(msg) => {
            let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, msg).into_response();
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            resp
        }
    }
}
