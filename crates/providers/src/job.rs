//! Databricks Job and Workflow: what differs between them and a notebook is
//! only discovery and the start request. `jobs/list?expand_tasks=true`
//! classifies by `tasks.len() > 1`, then `jobs/get` gives the parameter
//! schema; runs go through `run-now`, a Job's parameters mapped by its
//! single task's type (AppKit table) or sent as `job_parameters` when it
//! declares job-level ones, a Workflow's always as `job_parameters`
//! (task-level `base_parameters` are reference only, the seed's best
//! practice).

use futures_util::TryStreamExt;
use polysync_core::job_params::{
    ParameterMapping, classify_job, discover_job_parameters, run_now_fields,
};
use polysync_core::{Job, JobType, Platform};
use polysync_databricks::models::ListJobsRequest;
use serde_json::{Map, Value, json};

use crate::connection::{Connection, to_json};
use crate::error::{Operation, ProviderError, Result};
use crate::progress::{Discovery, ImportProgress};
use crate::request::{ApiRequest, jobs_path};

/// The `run-now` body (pure) for a Job or Workflow: `job_id`, the parameter
/// fields of the job's mapping (workflows and hand-made jobs without a
/// mapping use `job_parameters`), an idempotency token.
pub fn run_now_body(job: &Job, idempotency_token: &str) -> polysync_core::Result<Value> {
    let job_id = job.job_type.parse_job_id(&job.external_id)?;
    let mapping = match job.job_type {
        JobType::DatabricksWorkflow => ParameterMapping::JobParameters,
        _ => job
            .parameter_mapping
            .unwrap_or(ParameterMapping::JobParameters),
    };
    let mut body = Map::new();
    body.insert("job_id".into(), json!(job_id));
    body.extend(run_now_fields(mapping, &job.wire_parameters()?)?);
    body.insert("idempotency_token".into(), json!(idempotency_token));
    Ok(Value::Object(body))
}

/// The `run-now` request (pure); idempotent thanks to the token.
pub(crate) fn build_request(
    platform: &Platform,
    job: &Job,
    idempotency_token: &str,
) -> polysync_core::Result<ApiRequest> {
    Ok(ApiRequest::post(
        jobs_path(platform, "run-now"),
        run_now_body(job, idempotency_token)?,
        true,
    ))
}

/// A job from a `jobs/get` response (pure): type by classification, name
/// from `settings.name` (the id when unnamed), parameters and mapping.
pub fn job_from_get(platform: &str, response: &Value) -> Option<Job> {
    let job_id = response.get("job_id").and_then(Value::as_i64)?;
    let empty = Value::Object(Map::new());
    let settings = response.get("settings").unwrap_or(&empty);
    let job_type = classify_job(settings);
    let name = settings
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map_or_else(|| format!("job-{job_id}"), str::to_owned);
    let (parameters, mapping) = discover_job_parameters(job_type, settings);
    let mut job = Job::new(name, job_type, job_id.to_string(), platform);
    job.task_count = settings
        .get("tasks")
        .and_then(Value::as_array)
        .map_or(1, |t| u32::try_from(t.len()).unwrap_or(u32::MAX).max(1));
    job.parameters = parameters;
    job.parameter_mapping = mapping;
    Some(job)
}

/// Reads one job through the typed client: on Jobs API 2.2 `jobs/get` caps
/// `tasks` and `parameters` at 100 per response, and the typed client
/// follows `next_page_token` and merges the pages, so a large workflow's
/// schema is imported whole.
async fn get_job(conn: &Connection, job_type: JobType, job_id: i64) -> Result<Job> {
    let target = job_id.to_string();
    let job = conn
        .client
        .jobs()
        .get(job_id)
        .await
        .map_err(ProviderError::api(Operation::Describe, job_type, &target))?;
    let response = to_json(&job, Operation::Describe, &target)?;
    job_from_get(&conn.platform.name, &response).ok_or_else(|| ProviderError::Unexpected {
        operation: Operation::Describe,
        target,
        message: "jobs/get returned no job_id".into(),
    })
}

/// Lists every job (the client follows the pages), classifies it, and reads
/// each one's schema; `only` keeps one of the two types.
pub(crate) async fn discover(
    conn: &Connection,
    progress: &dyn ImportProgress,
    only: Option<JobType>,
) -> Result<Discovery> {
    progress.phase("listing Databricks jobs");
    let listed: Vec<_> = conn
        .client
        .jobs()
        .list(ListJobsRequest {
            limit: Some(100),
            expand_tasks: true,
            name: None,
        })
        .try_collect()
        .await
        .map_err(ProviderError::api(
            Operation::Discover,
            JobType::DatabricksJob,
            "jobs/list",
        ))?;
    let mut ids: Vec<(i64, JobType)> = Vec::new();
    // An entry without a job id (decoded as 0) cannot be read; skip it as
    // the raw listing did.
    for j in listed.into_iter().filter(|j| j.job_id != 0) {
        let job_type = match &j.settings {
            Some(settings) => classify_job(&to_json(
                settings,
                Operation::Discover,
                &j.job_id.to_string(),
            )?),
            None => JobType::DatabricksJob,
        };
        if only.is_none_or(|t| t == job_type) {
            ids.push((j.job_id, job_type));
        }
    }
    progress.total(ids.len() as u64);
    progress.phase("reading job parameters");
    let mut out = Discovery::default();
    for (id, job_type) in ids {
        match get_job(conn, job_type, id).await {
            Ok(job) => {
                progress.discovered(job.job_type, &job.name);
                out.jobs.push(job);
            }
            Err(e) => out.skip(job_type, &id.to_string(), e),
        }
    }
    Ok(out)
}

/// `describe` for both Job and Workflow: the fresh definition, whatever
/// its current classification.
pub(crate) async fn describe(
    conn: &Connection,
    job_type: JobType,
    external_id: &str,
) -> Result<Job> {
    let id = job_type.parse_job_id(external_id)?;
    get_job(conn, job_type, id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use polysync_core::platform::Auth;
    use polysync_core::{Parameter, TaskType};

    #[test]
    fn run_now_body_maps_by_task_type() {
        let mut job = Job::new("j", JobType::DatabricksJob, "42", "p");
        job.parameters = vec![
            Parameter::input("arg1", Some("a".into())),
            Parameter::input("arg2", Some("b".into())),
        ];
        job.parameter_mapping = Some(ParameterMapping::Task {
            task_type: TaskType::SparkJar,
        });
        assert_eq!(
            run_now_body(&job, "t").unwrap(),
            json!({"job_id": 42, "jar_params": ["a", "b"], "idempotency_token": "t"})
        );
    }

    #[test]
    fn run_now_body_refuses_non_numeric_id_before_any_request() {
        let job = Job::new("j", JobType::DatabricksJob, "abc", "p");
        assert!(run_now_body(&job, "t").is_err());
    }

    #[test]
    fn job_from_get_classifies() {
        let r = json!({"job_id": 7, "settings": {"name": "wf", "tasks": [{"task_key": "a"}, {"task_key": "b"}], "parameters": [{"name": "d", "default": "42"}]}});
        let job = job_from_get("p", &r).unwrap();
        assert_eq!(job.job_type, JobType::DatabricksWorkflow);
        assert_eq!(job.task_count, 2, "a workflow counts its tasks");
        assert_eq!(job.external_id, "7");
        assert_eq!(job.parameters[0].name, "d");
    }

    #[test]
    fn workflow_sends_job_parameters_only() {
        let mut job = Job::new("wf", JobType::DatabricksWorkflow, "9", "p");
        job.parameters = vec![
            Parameter::input("env", Some("prod".into())),
            Parameter::reference("task_only", Some("x".into())),
        ];
        let p = Platform::new("p", "https://w", Auth::TokenEnv { var: "T".into() });
        let req = crate::Provider::Workflow
            .build_request(&p, &job, "t")
            .unwrap();
        assert_eq!(req.path, "/api/2.1/jobs/run-now");
        assert_eq!(
            req.body.unwrap(),
            json!({"job_id": 9, "job_parameters": {"env": "prod"}, "idempotency_token": "t"})
        );
    }
}
