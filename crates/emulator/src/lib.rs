//! `polysync-emulator`: an in-process HTTP server that emulates a Databricks workspace (Jobs,
//! Workspace, Pipelines, Clusters, OAuth/Azure token endpoints) closely enough that the official
//! clients run against it unmodified. Run states are computed lazily from a simulated clock, so
//! thousands of runs cost no background work. See `README.md` for the behaviour directives.

mod admin;
mod auth;
mod behaviour;
mod clock;
mod config;
pub mod demo;
mod error;
mod faults;
mod history;
mod lifecycle;
mod notebook_format;
mod routes;
mod seed;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{AzureClient, DEFAULT_TOKEN, Durations, EmulatorConfig, OAuthClient};
pub use demo::DemoWorkspace;
pub use error::Error;
pub use faults::FaultConfig;
pub use state::{LoggedRequest, Stats};

/// A running emulator. Dropping it stops the server (graceful shutdown is signalled; use
/// [`EmulatorHandle::shutdown`] to also wait for it).
#[derive(Debug)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    state: Arc<state::AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Bind, seed the workspace and start serving; returns once the socket accepts connections.
pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, Error> {
    let bind = config.bind;
    let state = Arc::new(state::AppState::new(config));
    seed::seed_workspace(&state)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| Error::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr: bind, source })?;
    let _ = state.url.set(format!("http://{addr}"));
    let (stop, task) = server::serve(listener, state.clone());
    Ok(EmulatorHandle {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

impl EmulatorHandle {
    /// Workspace host URL, e.g. `http://127.0.0.1:41234` (use as `DATABRICKS_HOST`).
    pub fn url(&self) -> String {
        self.state.url().to_owned()
    }
    /// Bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The request log (oldest first; bounded ring buffer).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        state::lock(&self.state.log)
            .iter()
            .map(state::LogEntry::to_public)
            .collect()
    }
    /// Clear the request log.
    pub fn clear_requests(&self) {
        state::lock(&self.state.log).clear();
    }
    /// Request counters and concurrency figures.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }
    /// Replace the fault configuration (takes effect for the next request).
    pub fn set_faults(&self, f: FaultConfig) {
        self.state.set_faults(f);
    }
    /// Current fault configuration.
    pub fn faults(&self) -> FaultConfig {
        (*self.state.faults()).clone()
    }
    /// Change the simulated clock speed.
    pub fn set_time_scale(&self, scale: f64) {
        self.state.clock.set_scale(scale);
    }
    /// Stop the simulated clock until the next [`EmulatorHandle::set_time_scale`], so a state
    /// that lasts a few simulated seconds cannot pass before a slow (loaded) reader sees it.
    pub fn freeze_clock(&self) {
        self.state.clock.freeze();
    }
    /// Move simulated time forward by `by` at once (on a frozen clock: step exactly from one
    /// state to the next).
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.state
            .clock
            .advance(u64::try_from(by.as_millis()).unwrap_or(u64::MAX));
    }
    /// Toggle the workspace's "serverless enabled" setting.
    pub fn set_serverless_enabled(&self, enabled: bool) {
        self.state
            .serverless
            .store(enabled, std::sync::atomic::Ordering::Relaxed);
    }
    /// Stop accepting connections, finish in-flight requests, and wait for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // Connections that never go idle must not keep the server alive forever.
            let abort = task.abort_handle();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    abort.abort();
                });
            } else {
                abort.abort();
            }
        }
    }
}
