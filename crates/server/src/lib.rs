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
mod platform_input;
mod run_watch;
mod sse;
mod views;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use polysync_engine::{Engine, ExecutionTiers, JobKey, StoreWatch, TrackingRole};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{ConfigError, ServerConfig, load_job_keys, load_server_config};
pub use error::ApiError;
pub use jobs_api::FORWARDED_TOKEN;
pub use middleware::REQUEST_ID;
pub use sse::HEARTBEAT;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The job keys served under `/api/jobs`.
    pub keys: BTreeMap<String, JobKey>,
    /// The execution tiers: `poll` paces the tracking loop (what live
    /// streams see changes with), `stream` bounds every live stream. The
    /// read and write tiers apply to the engine's Databricks calls
    /// ([`Engine::with_tiers`], which the caller sets on the engine).
    pub tiers: ExecutionTiers,
    /// SSE heartbeat comment interval.
    pub heartbeat: Duration,
    /// How the tracking loop shares workspaces with dispatchers and other
    /// servers: by default it takes their tracking leases under its own
    /// id; `polysync up` names its in-process dispatcher instead.
    pub tracking: TrackingRole,
}

/// The tracking role of a server on its own: a fresh lease owner id.
pub fn own_tracking() -> TrackingRole {
    TrackingRole::Lease {
        owner: format!("server-{}", uuid::Uuid::now_v7()),
        lease: Duration::from_secs(30),
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            keys: BTreeMap::new(),
            tiers: ExecutionTiers::default(),
            heartbeat: HEARTBEAT,
            tracking: own_tracking(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    engine: Engine,
    keys: Arc<BTreeMap<String, JobKey>>,
    heartbeat: Duration,
    /// The stream tier: the longest any live stream follows a run.
    stream_timeout: Duration,
    /// The poll tier: how often a DAG-run stream re-reads the store.
    poll: Duration,
    shutdown: CancellationToken,
    events: Arc<events_feed::EventLog>,
    /// Each live run stream hears only its own run's changes.
    watches: Arc<run_watch::RunWatches>,
    metrics: Arc<middleware::Metrics>,
}

/// Largest request body accepted (a tasks file, a run's parameters).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The router, the `/api/events` feed it serves and the live streams'
/// event router (both must be driven: [`events_feed::EventLog::feed`],
/// [`run_watch::RunWatches::feed`]; [`serve`] does).
fn router(
    engine: Engine,
    opts: &ServerOptions,
    shutdown: CancellationToken,
    metrics: Arc<middleware::Metrics>,
) -> (
    Router,
    Arc<events_feed::EventLog>,
    Arc<run_watch::RunWatches>,
) {
    let events = events_feed::EventLog::new();
    let watches = run_watch::RunWatches::new();
    let state = AppState {
        engine,
        keys: Arc::new(opts.keys.clone()),
        heartbeat: opts.heartbeat,
        stream_timeout: opts.tiers.stream,
        poll: opts.tiers.poll,
        shutdown,
        events: events.clone(),
        watches: watches.clone(),
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
    (app, events, watches)
}

/// Serves on `listener` until `shutdown` is cancelled: the HTTP routes and
/// the tracking loop (one [`Engine::server_tracking_round`] every
/// `tiers.poll`: exactly one tracker per workspace, see
/// [`TrackingRole`]). On shutdown live streams end, in-flight requests
/// finish, the tracking leases are released.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    opts: ServerOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let metrics = Arc::new(middleware::Metrics::default());
    let tracker = tokio::spawn(track(
        engine.clone(),
        lease_for(opts.tracking.clone(), opts.tiers.poll),
        opts.tiers.poll,
        shutdown.clone(),
        metrics.clone(),
    ));
    let (app, events, watches) = router(engine.clone(), &opts, shutdown.clone(), metrics);
    let routing = tokio::spawn(watches.feed(engine.clone(), shutdown.clone()));
    let feed = tokio::spawn(events.feed(engine, shutdown.clone()));
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await;
    shutdown.cancel();
    let _ = tracker.await;
    let _ = feed.await;
    let _ = routing.await;
    result
}

/// A lease outlives a few rounds, however slow the poll tier is.
fn lease_for(role: TrackingRole, every: Duration) -> TrackingRole {
    match role {
        TrackingRole::Lease { owner, lease } => TrackingRole::Lease {
            owner,
            lease: lease.max(every.saturating_mul(3)),
        },
        other => other,
    }
}

async fn track(
    engine: Engine,
    role: TrackingRole,
    every: Duration,
    shutdown: CancellationToken,
    metrics: Arc<middleware::Metrics>,
) {
    use std::sync::atomic::Ordering;
    let mut watch = StoreWatch::default();
    loop {
        let started = std::time::Instant::now();
        match engine.server_tracking_round(&role, &mut watch).await {
            Ok(round) => {
                metrics
                    .tracked_runs
                    .store(round.active_runs as u64, Ordering::Relaxed);
                metrics
                    .tracked_workspaces
                    .store(round.tracked.len() as u64, Ordering::Relaxed);
                metrics
                    .observed_workspaces
                    .store(round.observed.len() as u64, Ordering::Relaxed);
                if !round.tracked.is_empty() {
                    metrics.tracking_rounds.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => tracing::warn!("tracking round failed: {e}"),
        }
        metrics.track_pass_ms.store(
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    if let Err(e) = engine.release_server_tracking(&role).await {
        tracing::warn!("releasing the tracking leases failed: {e}");
    }
}
