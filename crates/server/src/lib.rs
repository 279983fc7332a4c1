//! `polysync-server`: Polysync over HTTP. Today: the AppKit jobs seed's
//! routes under `/api/jobs` (named job keys, validated parameters, live
//! SSE run streams, on-behalf-of-user opt-in) and `/health`, backed by the
//! engine; run state is served from the store, kept fresh by one tracking
//! loop shared by every stream.

mod config;
mod dashboard;
mod error;
mod events_feed;
mod extract;
mod jobs_api;
mod manage_api;
mod middleware;
mod openapi;
mod ops;
mod sse;
mod views;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use polysync_engine::{Engine, JobKey};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{ConfigError, load_job_keys};
pub use error::ApiError;
pub use jobs_api::FORWARDED_TOKEN;
pub use middleware::REQUEST_ID;
pub use sse::HEARTBEAT;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The job keys served under `/api/jobs`.
    pub keys: BTreeMap<String, JobKey>,
    /// Delay between tracking passes over the active runs (what live
    /// streams see changes with).
    pub track_every: Duration,
    /// SSE heartbeat comment interval.
    pub heartbeat: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            keys: BTreeMap::new(),
            track_every: Duration::from_secs(1),
            heartbeat: HEARTBEAT,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    engine: Engine,
    keys: Arc<BTreeMap<String, JobKey>>,
    heartbeat: Duration,
    shutdown: CancellationToken,
    events: Arc<events_feed::EventLog>,
    metrics: Arc<middleware::Metrics>,
}

/// Largest request body accepted (a tasks file, a run's parameters).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The router and the `/api/events` feed it serves (the feed must be
/// driven with [`events_feed::EventLog::feed`]; [`serve`] does).
fn router(
    engine: Engine,
    opts: &ServerOptions,
    shutdown: CancellationToken,
    metrics: Arc<middleware::Metrics>,
) -> (Router, Arc<events_feed::EventLog>) {
    let events = events_feed::EventLog::new();
    let state = AppState {
        engine,
        keys: Arc::new(opts.keys.clone()),
        heartbeat: opts.heartbeat,
        shutdown,
        events: events.clone(),
        metrics: metrics.clone(),
    };
    let app = Router::new()
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics_text))
        .route("/openapi.json", get(ops::openapi_json))
        .route("/api/events", get(events_feed::events))
        .merge(jobs_api::routes())
        .merge(manage_api::routes())
        .merge(dashboard::routes())
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::auth,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state);
    (app, events)
}

/// Serves on `listener` until `shutdown` is cancelled: the HTTP routes and
/// the tracking loop (one [`Engine::track_active_runs`] pass every
/// `track_every`). On shutdown live streams end, in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    opts: ServerOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let metrics = Arc::new(middleware::Metrics::default());
    let tracker = tokio::spawn(track(
        engine.clone(),
        opts.track_every,
        shutdown.clone(),
        metrics.clone(),
    ));
    let (app, events) = router(engine.clone(), &opts, shutdown.clone(), metrics);
    let feed = tokio::spawn(events.feed(engine, shutdown.clone()));
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await;
    shutdown.cancel();
    let _ = tracker.await;
    let _ = feed.await;
    result
}

async fn track(
    engine: Engine,
    every: Duration,
    shutdown: CancellationToken,
    metrics: Arc<middleware::Metrics>,
) {
    use std::sync::atomic::Ordering;
    loop {
        let started = std::time::Instant::now();
        match engine.track_active_runs().await {
            Ok(n) => metrics.tracked_runs.store(n as u64, Ordering::Relaxed),
            Err(e) => tracing::warn!("tracking pass failed: {e}"),
        }
        metrics.track_pass_ms.store(
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
