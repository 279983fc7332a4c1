//! Pipelines API 2.0 (Lakeflow declarative pipelines).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::{Extra, string_enum, string_or_number};

/// Pipeline settings (create / edit / `spec` of get). Unmodelled fields kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineSpec {
    /// Pipeline id (read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Spark configuration for the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<BTreeMap<String, String>>,
    /// Continuous (runs until stopped) vs triggered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuous: Option<bool>,
    /// Development mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub development: Option<bool>,
    /// Photon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photon: Option<bool>,
    /// Serverless compute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless: Option<bool>,
    /// Clusters (raw).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<serde_json::Value>,
    /// Source libraries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<PipelineLibrary>,
    /// Unity Catalog catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// Target schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Legacy target schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Storage location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Release channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Product edition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A pipeline source library.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineLibrary {
    /// Notebook source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook: Option<PathRef>,
    /// File source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathRef>,
    /// Other library kinds (glob, jar, whl, maven).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{ "path": … }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRef {
    /// Workspace path.
    pub path: String,
}

/// Response of `POST /pipelines`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreatePipelineResponse {
    /// New pipeline id (absent on dry runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<String>,
    /// Effective settings (dry runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_settings: Option<PipelineSpec>,
}

/// List item of `GET /pipelines`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineStateInfo {
    /// Pipeline id.
    #[serde(default)]
    pub pipeline_id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Pipeline state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PipelineState>,
    /// Health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<PipelineHealth>,
    /// Cluster running the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_user_name: Option<String>,
    /// Latest updates, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_updates: Vec<UpdateStateInfo>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Response of `GET /pipelines/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetPipelineResponse {
    /// Pipeline id.
    #[serde(default)]
    pub pipeline_id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PipelineState>,
    /// Health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<PipelineHealth>,
    /// Message about the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Cluster id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_user_name: Option<String>,
    /// Last modification (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<i64>,
    /// Latest updates, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_updates: Vec<UpdateStateInfo>,
    /// Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<PipelineSpec>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One page of `GET /pipelines`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListPipelinesResponse {
    /// Pipelines.
    #[serde(default)]
    pub statuses: Vec<PipelineStateInfo>,
    /// Next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Filters for listing pipelines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPipelinesRequest {
    /// `notebook='<path>'` or `name LIKE '%x%'`.
    pub filter: Option<String>,
    /// Page size (≤100).
    pub max_results: Option<u32>,
}

/// Body of `POST /pipelines/{id}/updates`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartUpdateRequest {
    /// Reset all tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_refresh: Option<bool>,
    /// Tables to refresh.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refresh_selection: Vec<String>,
    /// Tables to fully refresh.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub full_refresh_selection: Vec<String>,
    /// Validate only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate_only: Option<bool>,
    /// Why the update was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<UpdateCause>,
    /// Pipeline parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Response of a start update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartUpdateResponse {
    /// The new update.
    pub update_id: String,
    /// Request id (some servers send it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A pipeline update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateInfo {
    /// Update id.
    #[serde(default)]
    pub update_id: String,
    /// Pipeline id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<String>,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UpdateState>,
    /// Cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<UpdateCause>,
    /// Creation (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<i64>,
    /// Cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Full refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_refresh: Option<bool>,
    /// Validate only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate_only: Option<bool>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Summary of an update in `latest_updates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStateInfo {
    /// Update id.
    #[serde(default)]
    pub update_id: String,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UpdateState>,
    /// Creation time (a string per the SDK; numbers accepted too).
    #[serde(
        default,
        with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_time: Option<String>,
}

/// Response of `GET …/updates/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetUpdateResponse {
    /// The update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateInfo>,
}

/// One page of `GET …/updates`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListUpdatesResponse {
    /// Updates, newest first.
    #[serde(default)]
    pub updates: Vec<UpdateInfo>,
    /// Next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_page_token: Option<String>,
}

string_enum! {
    /// Pipeline state.
    PipelineState {
        Deploying = "DEPLOYING",
        Starting = "STARTING",
        Running = "RUNNING",
        Stopping = "STOPPING",
        Deleted = "DELETED",
        Recovering = "RECOVERING",
        Failed = "FAILED",
        Resetting = "RESETTING",
        Idle = "IDLE",
    }
}

string_enum! {
    /// Pipeline health.
    PipelineHealth { Healthy = "HEALTHY", Unhealthy = "UNHEALTHY" }
}

string_enum! {
    /// Update state.
    UpdateState {
        Queued = "QUEUED",
        Created = "CREATED",
        WaitingForResources = "WAITING_FOR_RESOURCES",
        Initializing = "INITIALIZING",
        Resetting = "RESETTING",
        SettingUpTables = "SETTING_UP_TABLES",
        Running = "RUNNING",
        Stopping = "STOPPING",
        Completed = "COMPLETED",
        Failed = "FAILED",
        Canceled = "CANCELED",
    }
}

impl UpdateState {
    /// COMPLETED, FAILED and CANCELED end an update (what the CLI polls for).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }
}

string_enum! {
    /// Why an update started.
    UpdateCause {
        ApiCall = "API_CALL",
        JobTask = "JOB_TASK",
        RetryOnFailure = "RETRY_ON_FAILURE",
        SchemaChange = "SCHEMA_CHANGE",
        ServiceUpgrade = "SERVICE_UPGRADE",
        UserAction = "USER_ACTION",
        InfrastructureMaintenance = "INFRASTRUCTURE_MAINTENANCE",
    }
}
