//! Jobs API runs (`run-now`, `runs/submit`, `runs/get`, `runs/list`, `runs/get-output`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::{Extra, string_enum};
use super::compute::{ClusterInstance, ClusterSpec};
use super::jobs::{
    JobCluster, JobEnvironment, NotebookTask, QueueSettings, SubmitTask, TaskDependency,
};

/// Body of `jobs/run-now`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunNowRequest {
    /// Job to run.
    pub job_id: i64,
    /// Job-level parameter values (`{name: value}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_parameters: Option<BTreeMap<String, String>>,
    /// Legacy notebook widget values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_params: Option<BTreeMap<String, String>>,
    /// Legacy Python script parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_params: Option<Vec<String>>,
    /// Legacy JAR parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jar_params: Option<Vec<String>>,
    /// Legacy wheel named parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_named_params: Option<BTreeMap<String, String>>,
    /// Legacy SQL parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_params: Option<BTreeMap<String, String>>,
    /// At most one run is started per token; makes the request safe to retry, so the client
    /// only retries run-now when this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_token: Option<String>,
    /// Queue override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSettings>,
    /// Run only these task keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Vec<String>>,
    /// Fields not modelled here (pipeline_params, performance_target, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Response of `jobs/run-now`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunNowResponse {
    /// The started run.
    pub run_id: i64,
    /// Deprecated; equals `run_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_in_job: Option<i64>,
}

/// Body of `jobs/runs/submit` (one-off run, multi-task form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubmitRunRequest {
    /// Display name (server default "Untitled").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    /// Tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<SubmitTask>,
    /// Per-run timeout (0 = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// At most one run per token; the client only retries submit when this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_token: Option<String>,
    /// Serverless environments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<JobEnvironment>,
    /// Remote git source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_source: Option<serde_json::Value>,
    /// Permissions on the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_control_list: Vec<serde_json::Value>,
    /// Queue settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSettings>,
    /// Fields not modelled here (notifications, run_as, tags, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Response of `jobs/runs/submit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRunResponse {
    /// The run (existing one when the idempotency token was already used).
    pub run_id: i64,
}

/// A job run (`runs/get`) or list item (`runs/list`, without paging tokens).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Owning job (absent for some one-off runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
    /// Run id.
    #[serde(default)]
    pub run_id: i64,
    /// Deprecated; equals run_id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_in_job: Option<i64>,
    /// Parent job run of a task run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<i64>,
    /// First attempt's run id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_attempt_run_id: Option<i64>,
    /// Attempt number (0 first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_number: Option<i64>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    /// Submitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_user_name: Option<String>,
    /// How the run was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_type: Option<RunType>,
    /// Deprecated but still authoritative state (SDK waiters use it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RunState>,
    /// Newer status object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    /// UI link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_page_url: Option<String>,
    /// Start (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// End (epoch ms; 0 while running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// Cluster setup time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_duration: Option<i64>,
    /// Execution time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_duration: Option<i64>,
    /// Cleanup time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_duration: Option<i64>,
    /// Whole multi-task run duration (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_duration: Option<i64>,
    /// Time queued (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_duration: Option<i64>,
    /// Task runs (2.2: concatenated across pages by the client).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<RunTask>,
    /// Job clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_clusters: Vec<JobCluster>,
    /// Parameter values used (`{name, default, value}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_parameters: Vec<JobParameter>,
    /// Repair attempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repair_history: Vec<serde_json::Value>,
    /// For-each iterations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iterations: Vec<RunTask>,
    /// What triggered the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerType>,
    /// Cluster of a single-task legacy run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_instance: Option<ClusterInstance>,
    /// Parameters the run was started with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overriding_parameters: Option<serde_json::Value>,
    /// True in list items whose arrays were truncated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
    /// 2.2 array paging token (followed by the client; `None` after `JobsApi::get_run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `runs/list` items have the same shape as `runs/get`.
pub type BaseRun = Run;

impl Run {
    /// Life cycle state from the deprecated `state` object, which every server still sends.
    pub fn life_cycle_state(&self) -> Option<&RunLifeCycleState> {
        self.state.as_ref()?.life_cycle_state.as_ref()
    }

    /// Result state (only set in terminal states).
    pub fn result_state(&self) -> Option<&RunResultState> {
        self.state.as_ref()?.result_state.as_ref()
    }

    /// True once the run can no longer change (falls back to `status.state` when `state` is
    /// absent).
    pub fn is_terminal(&self) -> bool {
        match self.life_cycle_state() {
            Some(s) => s.is_terminal(),
            None => matches!(
                self.status.as_ref().and_then(|s| s.state.as_ref()),
                Some(RunLifecycleStateV2::Terminated)
            ),
        }
    }

    /// The task run with the given key.
    pub fn task(&self, task_key: &str) -> Option<&RunTask> {
        self.tasks.iter().find(|t| t.task_key == task_key)
    }
}

/// A task run inside a job run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTask {
    /// Task key.
    #[serde(default)]
    pub task_key: String,
    /// Task run id: use this for `runs/get-output`.
    #[serde(default)]
    pub run_id: i64,
    /// Deprecated state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RunState>,
    /// Newer status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    /// UI link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_page_url: Option<String>,
    /// Start (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// End (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// Setup time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_duration: Option<i64>,
    /// Execution time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_duration: Option<i64>,
    /// Cleanup time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_duration: Option<i64>,
    /// Attempt number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_number: Option<i64>,
    /// Upstream tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<TaskDependency>,
    /// Notebook task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_task: Option<NotebookTask>,
    /// Existing cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_cluster_id: Option<String>,
    /// Job cluster key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_cluster_key: Option<String>,
    /// New cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_cluster: Option<ClusterSpec>,
    /// Cluster used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_instance: Option<ClusterInstance>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Deprecated but universally returned state object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// Life cycle state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub life_cycle_state: Option<RunLifeCycleState>,
    /// Result (terminal states only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_state: Option<RunResultState>,
    /// Message (error text for failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
    /// Canceled by a user or timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_cancelled_or_timedout: Option<bool>,
    /// Why the run is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_reason: Option<String>,
}

/// Newer status object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStatus {
    /// V2 life cycle state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RunLifecycleStateV2>,
    /// Why it terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_details: Option<TerminationDetails>,
    /// Why it is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_details: Option<QueueDetails>,
}

/// Termination details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminationDetails {
    /// Code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<TerminationCode>,
    /// Category.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<TerminationType>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Queue details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDetails {
    /// Code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<QueueDetailsCode>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A job parameter value in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobParameter {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Default from the job definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Value used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Filters for `runs/list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRunsRequest {
    /// Only runs of this job.
    pub job_id: Option<i64>,
    /// Only active runs.
    pub active_only: bool,
    /// Only completed runs.
    pub completed_only: bool,
    /// Only this run type.
    pub run_type: Option<RunType>,
    /// Started at or after (epoch ms).
    pub start_time_from: Option<i64>,
    /// Started at or before (epoch ms).
    pub start_time_to: Option<i64>,
    /// Include task details.
    pub expand_tasks: bool,
    /// Page size (server caps at 25).
    pub limit: Option<u32>,
}

/// One page of `runs/list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListRunsResponse {
    /// Runs (absent when empty).
    #[serde(default)]
    pub runs: Vec<BaseRun>,
    /// Legacy offset flag.
    #[serde(default)]
    pub has_more: bool,
    /// Next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_page_token: Option<String>,
}

/// Response of `runs/get-output`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// Notebook exit value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_output: Option<NotebookOutput>,
    /// Why the task failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Stack trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_trace: Option<String>,
    /// stdout/stderr for script tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    /// Whether logs were truncated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_truncated: Option<bool>,
    /// The task run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Run>,
    /// Fields not modelled here (sql_output, dbt_output, run_job_output, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Notebook exit value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookOutput {
    /// Value passed to `dbutils.notebook.exit()` (first 5 MB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Whether `result` was truncated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

string_enum! {
    /// Deprecated `state.life_cycle_state`.
    RunLifeCycleState {
        Queued = "QUEUED",
        Pending = "PENDING",
        Running = "RUNNING",
        Terminating = "TERMINATING",
        Terminated = "TERMINATED",
        Skipped = "SKIPPED",
        InternalError = "INTERNAL_ERROR",
        Blocked = "BLOCKED",
        WaitingForRetry = "WAITING_FOR_RETRY",
    }
}

impl RunLifeCycleState {
    /// Terminal states as the SDK waiters define them (TERMINATED, SKIPPED, INTERNAL_ERROR).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Terminated | Self::Skipped | Self::InternalError)
    }
}

string_enum! {
    /// `state.result_state`.
    RunResultState {
        Success = "SUCCESS",
        Failed = "FAILED",
        Timedout = "TIMEDOUT",
        Canceled = "CANCELED",
        MaximumConcurrentRunsReached = "MAXIMUM_CONCURRENT_RUNS_REACHED",
        Excluded = "EXCLUDED",
        SuccessWithFailures = "SUCCESS_WITH_FAILURES",
        UpstreamFailed = "UPSTREAM_FAILED",
        UpstreamCanceled = "UPSTREAM_CANCELED",
        Disabled = "DISABLED",
    }
}

string_enum! {
    /// `status.state`.
    RunLifecycleStateV2 {
        Blocked = "BLOCKED",
        Pending = "PENDING",
        Queued = "QUEUED",
        Running = "RUNNING",
        Terminating = "TERMINATING",
        Terminated = "TERMINATED",
        Waiting = "WAITING",
    }
}

string_enum! {
    /// `status.termination_details.type`.
    TerminationType {
        Success = "SUCCESS",
        InternalError = "INTERNAL_ERROR",
        ClientError = "CLIENT_ERROR",
        CloudFailure = "CLOUD_FAILURE",
    }
}

string_enum! {
    /// `status.termination_details.code`.
    TerminationCode {
        Success = "SUCCESS",
        SuccessWithFailures = "SUCCESS_WITH_FAILURES",
        UserCanceled = "USER_CANCELED",
        Canceled = "CANCELED",
        Skipped = "SKIPPED",
        Disabled = "DISABLED",
        InternalError = "INTERNAL_ERROR",
        DriverError = "DRIVER_ERROR",
        ClusterError = "CLUSTER_ERROR",
        RepositoryCheckoutFailed = "REPOSITORY_CHECKOUT_FAILED",
        InvalidClusterRequest = "INVALID_CLUSTER_REQUEST",
        WorkspaceRunLimitExceeded = "WORKSPACE_RUN_LIMIT_EXCEEDED",
        FeatureDisabled = "FEATURE_DISABLED",
        ClusterRequestLimitExceeded = "CLUSTER_REQUEST_LIMIT_EXCEEDED",
        StorageAccessError = "STORAGE_ACCESS_ERROR",
        RunExecutionError = "RUN_EXECUTION_ERROR",
        UnauthorizedError = "UNAUTHORIZED_ERROR",
        LibraryInstallationError = "LIBRARY_INSTALLATION_ERROR",
        MaxConcurrentRunsExceeded = "MAX_CONCURRENT_RUNS_EXCEEDED",
        MaxSparkContextsExceeded = "MAX_SPARK_CONTEXTS_EXCEEDED",
        ResourceNotFound = "RESOURCE_NOT_FOUND",
        InvalidRunConfiguration = "INVALID_RUN_CONFIGURATION",
        CloudFailure = "CLOUD_FAILURE",
        MaxJobQueueSizeExceeded = "MAX_JOB_QUEUE_SIZE_EXCEEDED",
        Timedout = "TIMEDOUT",
    }
}

string_enum! {
    /// `status.queue_details.code`.
    QueueDetailsCode {
        ActiveRunsLimitReached = "ACTIVE_RUNS_LIMIT_REACHED",
        MaxConcurrentRunsReached = "MAX_CONCURRENT_RUNS_REACHED",
        ActiveRunJobTasksLimitReached = "ACTIVE_RUN_JOB_TASKS_LIMIT_REACHED",
    }
}

string_enum! {
    /// How a run was started.
    RunType { JobRun = "JOB_RUN", WorkflowRun = "WORKFLOW_RUN", SubmitRun = "SUBMIT_RUN" }
}

string_enum! {
    /// What triggered a run.
    TriggerType {
        Periodic = "PERIODIC",
        OneTime = "ONE_TIME",
        Retry = "RETRY",
        RunJobTask = "RUN_JOB_TASK",
        FileArrival = "FILE_ARRIVAL",
        Continuous = "CONTINUOUS",
        Table = "TABLE",
        ContinuousRestart = "CONTINUOUS_RESTART",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_decodes_unknown_states_and_keeps_extra() {
        let json = serde_json::json!({
            "run_id": 7, "job_id": 3,
            "state": {"life_cycle_state": "HIBERNATING", "result_state": "SORT_OF", "state_message": ""},
            "status": {"state": "TERMINATED", "termination_details": {"code": "NEW_CODE", "type": "SUCCESS"}},
            "brand_new_field": {"x": 1},
            "tasks": [{"task_key": "a", "run_id": 8, "future": true}]
        });
        let run: Run = serde_json::from_value(json.clone()).expect("decode");
        assert_eq!(
            run.life_cycle_state(),
            Some(&RunLifeCycleState::Unknown("HIBERNATING".into()))
        );
        assert!(!run.is_terminal());
        assert_eq!(run.tasks[0].extra["future"], true);
        let back = serde_json::to_value(&run).expect("encode");
        assert_eq!(back["brand_new_field"], json["brand_new_field"]);
        assert_eq!(back["state"]["result_state"], "SORT_OF");
        assert_eq!(back["status"]["termination_details"]["type"], "SUCCESS");
    }

    #[test]
    fn submit_request_omits_unset_fields() {
        let req = SubmitRunRequest {
            run_name: Some("x".into()),
            tasks: vec![SubmitTask {
                task_key: "t".into(),
                notebook_task: Some(NotebookTask {
                    notebook_path: "/a".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(&req).expect("encode");
        assert_eq!(
            v,
            serde_json::json!({"run_name":"x","tasks":[{"task_key":"t","notebook_task":{"notebook_path":"/a"}}]})
        );
    }
}
