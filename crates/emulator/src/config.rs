//! Emulator configuration. Every knob has a default that makes `EmulatorConfig::default()` a
//! usable zero-config workspace (one PAT, `dapi-emulator`, real-time clock, serverless on).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::FaultConfig;

/// The PAT accepted when the caller configures none, so the quick start needs no set-up.
pub const DEFAULT_TOKEN: &str = "dapi-emulator";

/// A Databricks OAuth service principal accepted by `POST /oidc/v1/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    /// Application (client) id.
    pub client_id: String,
    /// OAuth secret.
    pub client_secret: String,
}

/// An Entra ID (Azure AD) service principal accepted by the Entra-style token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureClient {
    /// Directory (tenant) id: part of the token URL.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

/// Simulated durations used when a notebook/task declares none. All are *simulated* time; divide
/// by `time_scale` for wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Durations {
    /// PENDING time of a task on a new job cluster (`new_cluster` / `job_cluster_key`): cluster
    /// start-up dominates real runs, which is the seed's "stays in PENDING" case.
    pub pending_new_cluster_ms: u64,
    /// PENDING time on an existing cluster, an instance pool or serverless compute.
    pub pending_warm_ms: u64,
    /// RUNNING time of a task without a `duration` directive.
    pub running_ms: u64,
    /// TERMINATING (clean-up) time after a task finishes.
    pub terminating_ms: u64,
    /// Time a pipeline update spends in each start-up state (CREATED, WAITING_FOR_RESOURCES, …).
    pub pipeline_phase_ms: u64,
    /// RUNNING time of a triggered pipeline update without `emulator.duration`.
    pub pipeline_running_ms: u64,
    /// STOPPING time after `POST /pipelines/{id}/stop` without `emulator.stop_drain`.
    pub pipeline_stop_drain_ms: u64,
    /// Time a cluster spends PENDING / RESTARTING before RUNNING.
    pub cluster_start_ms: u64,
    /// Time a cluster spends RESIZING.
    pub cluster_resize_ms: u64,
    /// Time a cluster spends TERMINATING.
    pub cluster_terminate_ms: u64,
}

impl Default for Durations {
    fn default() -> Self {
        Self {
            pending_new_cluster_ms: 30_000,
            pending_warm_ms: 1_000,
            running_ms: 5_000,
            terminating_ms: 500,
            pipeline_phase_ms: 1_000,
            pipeline_running_ms: 5_000,
            pipeline_stop_drain_ms: 3_000,
            cluster_start_ms: 5_000,
            cluster_resize_ms: 3_000,
            cluster_terminate_ms: 2_000,
        }
    }
}

/// Everything [`crate::start`] needs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Listening address; port 0 picks a free port (read it back with `EmulatorHandle::addr`).
    pub bind: SocketAddr,
    /// Accepted personal access tokens. Default: `["dapi-emulator"]`; an empty list accepts
    /// only OAuth/Azure-issued tokens.
    pub tokens: Vec<String>,
    /// Service principals for `POST /oidc/v1/token` (client credentials, HTTP Basic).
    pub oauth_clients: Vec<OAuthClient>,
    /// Service principals for the Entra-style endpoint under `azure_authority_path`.
    pub azure_clients: Vec<AzureClient>,
    /// Path prefix of the Entra-style authority on this server: tokens are issued at
    /// `{url}{azure_authority_path}/{tenant}/oauth2/token` (AAD v1) and `…/oauth2/v2.0/token`.
    /// Default `/aad`, so `azure_login_app_url`/authority = `{url}/aad/`.
    pub azure_authority_path: String,
    /// Lifetime (`expires_in`) of issued OAuth/Azure tokens, in real time.
    pub token_ttl: Duration,
    /// Directory of seed notebooks (`*.py|*.scala|*.sql|*.r` SOURCE, `*.ipynb`), mirrored at `/`.
    pub workspace_dir: Option<PathBuf>,
    /// Simulated seconds per real second (6000 ⇒ a 10-minute run takes 100 ms).
    pub time_scale: f64,
    /// Workspace setting "serverless compute enabled"; when off a task without compute is
    /// refused with the real 400.
    pub serverless_enabled: bool,
    /// Fault injection (off by default).
    pub faults: FaultConfig,
    /// Default simulated durations.
    pub durations: Durations,
    /// Workspace id used in `run_page_url` (`?o=`) and `X-Databricks-Org-Id`.
    pub workspace_id: u64,
    /// Identity reported by SCIM `Me` and as `creator_user_name`.
    pub user_name: String,
    /// Capacity of the in-memory request log ring buffer.
    pub request_log_capacity: usize,
    /// Time a client has to send a request's line and headers; a slower one is disconnected.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body once its headers arrived; a slower one gets
    /// `408` and the connection is closed.
    pub body_read_timeout: Duration,
    /// Finished runs kept (newest first), as Databricks keeps only 60 days of run history:
    /// beyond it the oldest finished run (and its task runs) is forgotten, so a long benchmark
    /// does not grow the emulator's memory without bound. Active runs are never evicted.
    pub max_finished_runs: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens: vec![DEFAULT_TOKEN.to_owned()],
            oauth_clients: Vec::new(),
            azure_clients: Vec::new(),
            azure_authority_path: "/aad".to_owned(),
            token_ttl: Duration::from_secs(3600),
            workspace_dir: None,
            time_scale: 1.0,
            serverless_enabled: true,
            faults: FaultConfig::default(),
            durations: Durations::default(),
            workspace_id: 1_234_567_890_123_456,
            user_name: "emulator@example.com".to_owned(),
            request_log_capacity: 10_000,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_finished_runs: 100_000,
        }
    }
}
