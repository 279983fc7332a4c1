//! Troubleshooting translation: Databricks errors and run outcomes turned
//! into a message naming the cause and a hint naming the fix — the seven
//! troubleshooting cases of the seeds, plus credentials and connectivity.
//! Kept in one place so the README's table and the tests map one to one.

use std::time::Duration;

use polysync_core::{Auth, ComputeType, Job, JobType, Platform, Run, RunStatus};
use polysync_providers::{Operation, ProviderError};

use polysync_core::{Action, Hint};

use crate::Error;

/// Seed (notebook): the fix for a stale notebook path.
pub const STALE_NOTEBOOK_HINT: &str =
    "re-import the platform to pick the correct notebook path, then run the job again";
/// Seed (workflow): the fix for a deleted / non-numeric job id.
pub const STALE_JOB_HINT: &str = "re-import the platform to pick the current Job Id";
/// Seed (pipeline): where to investigate a refused update.
pub const PIPELINE_REFUSED_HINT: &str =
    "investigate in the Databricks Delta Live Tables UI (target storage, cluster policy)";
/// Seed (pipeline): a long STOPPING after cancel.
pub const STOPPING_NOTE: &str = "the pipeline is STOPPING: DLT finishes the work in flight (the update's running flows, or a continuous pipeline's micro-batches) before it stops; this is normal and the run will end as Cancelled";
/// Seed (notebook): a long PENDING on a new job cluster.
pub const PENDING_HINT: &str = "the run is PENDING while Databricks spins up a new job cluster; switch the platform's compute type to existing-cluster, instance-pool or serverless for faster starts";

/// "Re-import `platform`" with the reason.
fn reimport(text: &str, platform: &str) -> Hint {
    Hint::action(
        text,
        Action::Import {
            platform: platform.to_owned(),
        },
    )
}

/// Translates a provider failure into the engine error shown to the user.
pub(crate) fn translate(err: ProviderError, platform: &Platform, job: Option<&Job>) -> Error {
    let (operation, job_type, target, source) = match err {
        ProviderError::Domain(e) => return Error::Invalid(e),
        ProviderError::Refused { target, message } => {
            return Error::RunState {
                run_id: target,
                message,
                hint: Some(Hint::text(PIPELINE_REFUSED_HINT)),
            };
        }
        ProviderError::Unexpected {
            operation,
            target,
            message,
        } => {
            return Error::Databricks {
                operation: format!("{operation} {target}"),
                message: format!(
                    "Databricks answered unexpectedly while {operation} {target}: {message}"
                ),
                error_code: None,
                hint: None,
                source: None,
            };
        }
        ProviderError::Api {
            operation,
            job_type,
            target,
            source,
        } => (operation, job_type, target, source),
        _ => {
            return Error::Databricks {
                operation: "calling Databricks".into(),
                message: "unknown provider failure".into(),
                error_code: None,
                hint: None,
                source: None,
            };
        }
    };
    let code = source.error_code().map(str::to_owned);
    let status = source.status().map(|s| s.as_u16());
    let raw = source.to_string();
    let what = job.map_or_else(|| target.clone(), |j| format!("job {:?}", j.name));
    let op = format!("{operation} {what}");
    // The OAuth token endpoint refused the client id / secret: no API
    // status, but the same fix as a 401.
    let token_refused = matches!(source.as_ref(), polysync_databricks::Error::Auth(_));
    let unreachable = matches!(
        source.as_ref(),
        polysync_databricks::Error::Transport { .. }
            | polysync_databricks::Error::Timeout { .. }
            | polysync_databricks::Error::Unreachable { .. }
    );
    let not_found = source.is_not_found()
        || code.as_deref() == Some("RESOURCE_DOES_NOT_EXIST")
        || status == Some(404);
    // Exactly one branch below builds the error, and takes the client error
    // along as its source.
    let mut source = Some(source);
    let mut mk = |message: String, hint: Option<Hint>| Error::Databricks {
        operation: op.clone(),
        message,
        error_code: code.clone(),
        hint,
        source: source.take(),
    };
    // Credentials and connectivity first: they apply to every type.
    match (status, unreachable) {
        _ if token_refused || matches!(status, Some(401 | 403)) => {
            let hint = match &platform.auth {
                Auth::TokenEnv { var } => Hint::action(
                    format!(
                        "check that the environment variable {var} holds a valid personal access token for {}",
                        platform.workspace_url
                    ),
                    Action::SetEnv {
                        var: var.clone(),
                        value: format!("a personal access token for {}", platform.workspace_url),
                    },
                ),
                Auth::Profile { name, .. } => Hint::action(
                    format!(
                        "check the credentials of profile [{name}] in ~/.databrickscfg (or DATABRICKS_CONFIG_FILE) for {}: its token, or its client_id and client_secret",
                        platform.workspace_url
                    ),
                    Action::ShowPlatform {
                        platform: platform.name.clone(),
                    },
                ),
            };
            return mk(
                format!(
                    "Databricks refused the credentials of platform {:?} while {operation} {what}: {raw}",
                    platform.name
                ),
                Some(hint),
            );
        }
        (None, true) => {
            return mk(
                format!(
                    "cannot reach the workspace {} of platform {:?}: {raw}",
                    platform.workspace_url, platform.name
                ),
                Some(Hint::action(
                    "check the platform's workspace URL and the network, then retry",
                    Action::ShowPlatform {
                        platform: platform.name.clone(),
                    },
                )),
            );
        }
        _ => {}
    }
    match (job_type, operation) {
        (JobType::DatabricksNotebook, Operation::Submit | Operation::Describe) if not_found => mk(
            format!(
                "notebook {target} does not exist in the workspace (RESOURCE_DOES_NOT_EXIST): the External Id is not a valid notebook path — it was moved, renamed or deleted. Databricks said: {raw}"
            ),
            Some(reimport(STALE_NOTEBOOK_HINT, &platform.name)),
        ),
        (
            JobType::DatabricksJob | JobType::DatabricksWorkflow,
            Operation::Submit | Operation::Describe,
        ) if not_found || code.as_deref() == Some("INVALID_PARAMETER_VALUE") => mk(
            format!(
                "INVALID_PARAMETER_VALUE: job_id — Databricks Job {target} does not exist: the Job was deleted, or the External Id is not a valid numeric Job Id. Databricks said: {raw}"
            ),
            Some(reimport(STALE_JOB_HINT, &platform.name)),
        ),
        (JobType::DatabricksPipeline, Operation::Submit | Operation::Describe) if not_found => mk(
            format!(
                "pipeline {target} does not exist in the workspace (deleted?). Databricks said: {raw}"
            ),
            Some(reimport(
                &STALE_JOB_HINT.replace("Job Id", "pipeline id"),
                &platform.name,
            )),
        ),
        (JobType::DatabricksPipeline, Operation::Submit) if status == Some(400) => mk(
            format!(
                "pipeline {target} refused the update immediately (HTTP 400): the pipeline is IDLE and a required Databricks resource (target storage, cluster policy) is missing. Databricks said: {raw}"
            ),
            Some(Hint::text(format!(
                "{PIPELINE_REFUSED_HINT}: {}",
                polysync_core::monitor_url::pipeline_url(platform.base_url(), &target)
            ))),
        ),
        (JobType::DatabricksPipeline, Operation::Submit) if status == Some(409) => mk(
            format!("pipeline {target} already has an active update. Databricks said: {raw}"),
            Some(Hint::text(
                "wait for the active update to finish (or stop it in the Delta Live Tables UI), then run again",
            )),
        ),
        (_, Operation::Poll | Operation::Cancel) if not_found => mk(
            format!("Databricks no longer knows run {target}. Databricks said: {raw}"),
            Some(Hint::text(
                "the run (or its job) was deleted in Databricks; start a new run",
            )),
        ),
        _ => mk(
            format!("Databricks refused {operation} {what}: {raw}"),
            None,
        ),
    }
}

/// Turns a failed run's raw error into the message stored on the run
/// (troubleshooting: a stale notebook path fails the run asynchronously on
/// the real service and in the emulator).
pub(crate) fn run_error_message(run: &Run, raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    if run.job_type == JobType::DatabricksNotebook
        && (raw.contains("RESOURCE_DOES_NOT_EXIST")
            || lower.contains("unable to access the notebook")
            || lower.contains("notebook not found"))
    {
        return format!(
            "notebook {} does not exist in the workspace (RESOURCE_DOES_NOT_EXIST): the External Id is not a valid notebook path. Fix: re-import platform {:?} to pick the correct notebook path, then run the job again. Databricks said: {raw}",
            run.job_external_id, run.platform
        );
    }
    raw.to_owned()
}

/// The hint for a run in progress, from what it shows and for how long:
/// a long PENDING on a new job cluster, or a STOPPING pipeline.
pub(crate) fn run_hint(
    run: &Run,
    platform: Option<&Platform>,
    now_ms: i64,
    pending_threshold: Duration,
) -> Option<Hint> {
    if run.status.is_terminal() {
        return None;
    }
    if run.update_state.as_deref() == Some("STOPPING") {
        return Some(Hint::text(STOPPING_NOTE));
    }
    let in_state_ms = now_ms.saturating_sub(run.updated_at);
    let threshold_ms = i64::try_from(pending_threshold.as_millis()).unwrap_or(i64::MAX);
    if run.status == RunStatus::Running
        && run.life_cycle_state.as_deref() == Some("PENDING")
        && in_state_ms >= threshold_ms
        && platform.is_none_or(|p| p.compute.compute_type == ComputeType::NewJobCluster)
    {
        return Some(Hint::action(
            PENDING_HINT,
            Action::EditPlatform {
                platform: Some(run.platform.clone()),
                field: "compute_type".to_owned(),
            },
        ));
    }
    None
}
