//! Jobs API job definitions (`jobs/create`, `get`, `list`, `reset`, `update`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::{Extra, string_enum};
use super::compute::ClusterSpec;

/// Job settings as sent to `jobs/create` / `jobs/reset` and returned by `jobs/get`.
/// Unmodelled fields are kept in `extra` so `get` → modify → `reset` loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobSettings {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tasks (multi-task format).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    /// Shared job clusters referenced by `Task::job_cluster_key`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_clusters: Vec<JobCluster>,
    /// Job-level parameter definitions (`{name, default}`), run with `job_parameters`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<JobParameterDefinition>,
    /// Tags (≤25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Per-run timeout; 0 means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Maximum concurrent runs (0 skips every new run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_runs: Option<i64>,
    /// Cron schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<CronSchedule>,
    /// Queueing (on by default for jobs created through 2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSettings>,
    /// Remote git repository for tasks with `source: GIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_source: Option<serde_json::Value>,
    /// Serverless environments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<JobEnvironment>,
    /// Read-only format (`MULTI_TASK` under 2.1+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<JobFormat>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A task of a job (and of a one-off submit run; submit ignores `job_cluster_key`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Unique key within the job.
    pub task_key: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Upstream tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<TaskDependency>,
    /// Condition on upstream outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_if: Option<RunIf>,
    /// Run on an existing interactive cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_cluster_id: Option<String>,
    /// Run on a new job cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_cluster: Option<ClusterSpec>,
    /// Run on a shared job cluster (jobs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_cluster_key: Option<String>,
    /// Serverless environment key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_key: Option<String>,
    /// Notebook task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_task: Option<NotebookTask>,
    /// Python script task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_python_task: Option<serde_json::Value>,
    /// Python wheel task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_wheel_task: Option<serde_json::Value>,
    /// JAR task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_jar_task: Option<serde_json::Value>,
    /// Pipeline task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_task: Option<PipelineTask>,
    /// Run-job task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_job_task: Option<serde_json::Value>,
    /// SQL task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_task: Option<serde_json::Value>,
    /// dbt task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbt_task: Option<serde_json::Value>,
    /// Libraries to install.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<serde_json::Value>,
    /// Task timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Retries (-1 = forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i64>,
    /// Minimum interval between retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_retry_interval_millis: Option<i64>,
    /// Whether a timeout triggers a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on_timeout: Option<bool>,
    /// Disabled tasks are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Fields not modelled here (other task types, notifications, health…).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A one-off run's task has the same shape as a job task.
pub type SubmitTask = Task;

/// `notebook_task` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotebookTask {
    /// Absolute workspace path (or repo-relative with `source: GIT`).
    pub notebook_path: String,
    /// Widget values; merged with run-now `notebook_params`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_parameters: Option<BTreeMap<String, String>>,
    /// Where the notebook lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// SQL warehouse for SQL cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `pipeline_task` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineTask {
    /// Pipeline to update.
    pub pipeline_id: String,
    /// Full refresh instead of incremental.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_refresh: Option<bool>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An upstream dependency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDependency {
    /// Upstream task key.
    pub task_key: String,
    /// For condition tasks: `"true"`/`"false"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// A shared job cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobCluster {
    /// Key referenced by tasks.
    pub job_cluster_key: String,
    /// The cluster.
    pub new_cluster: ClusterSpec,
}

/// Job-level parameter definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobParameterDefinition {
    /// Name (alphanumerics, `_`, `-`, `.`).
    pub name: String,
    /// Default value.
    #[serde(default)]
    pub default: String,
}

/// A serverless environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobEnvironment {
    /// Key referenced by tasks.
    pub environment_key: String,
    /// Environment spec (client version, dependencies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
}

/// Cron schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronSchedule {
    /// Quartz cron expression.
    pub quartz_cron_expression: String,
    /// Java time zone id.
    pub timezone_id: String,
    /// Paused or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_status: Option<PauseStatus>,
}

/// Queue settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// Whether runs queue instead of being skipped when limits are hit.
    pub enabled: bool,
}

/// A job as returned by `jobs/get`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Job id.
    #[serde(default)]
    pub job_id: i64,
    /// Creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_user_name: Option<String>,
    /// Identity the job runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user_name: Option<String>,
    /// Creation time (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    /// Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<JobSettings>,
    /// 2.2 array paging token (the client follows it; always `None` after `JobsApi::get`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A job as listed by `jobs/list` (settings without tasks unless `expand_tasks`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaseJob {
    /// Job id.
    #[serde(default)]
    pub job_id: i64,
    /// Creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_user_name: Option<String>,
    /// Creation time (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    /// Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<JobSettings>,
    /// True when tasks/job_clusters were truncated at 100 (fetch with `get`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Response of `jobs/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateJobResponse {
    /// The new job's id.
    pub job_id: i64,
}

/// Filters for `jobs/list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListJobsRequest {
    /// Page size (1–100; the server default applies when `None`).
    pub limit: Option<u32>,
    /// Include tasks and job clusters in each job's settings.
    pub expand_tasks: bool,
    /// Exact, case-insensitive name filter.
    pub name: Option<String>,
}

/// One page of `jobs/list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListJobsResponse {
    /// Jobs on this page (absent when empty).
    #[serde(default)]
    pub jobs: Vec<BaseJob>,
    /// Legacy offset paging flag.
    #[serde(default)]
    pub has_more: bool,
    /// Token for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Token for the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_page_token: Option<String>,
}

/// Body of `jobs/update` (partial update; tasks merged by key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateJobRequest {
    /// Job to update.
    pub job_id: i64,
    /// Top-level fields to replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_settings: Option<JobSettings>,
    /// Fields to remove, e.g. `"libraries"`, `"tasks/task_1"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields_to_remove: Vec<String>,
}

string_enum! {
    /// Where a notebook's source comes from.
    Source { Workspace = "WORKSPACE", Git = "GIT" }
}

string_enum! {
    /// When a task runs relative to its dependencies.
    RunIf {
        AllSuccess = "ALL_SUCCESS",
        AtLeastOneSuccess = "AT_LEAST_ONE_SUCCESS",
        NoneFailed = "NONE_FAILED",
        AllDone = "ALL_DONE",
        AtLeastOneFailed = "AT_LEAST_ONE_FAILED",
        AllFailed = "ALL_FAILED",
    }
}

string_enum! {
    /// Schedule pause status.
    PauseStatus { Paused = "PAUSED", Unpaused = "UNPAUSED" }
}

string_enum! {
    /// Read-only job format.
    JobFormat { SingleTask = "SINGLE_TASK", MultiTask = "MULTI_TASK" }
}
