//! Databricks Job (single-task or non-notebook job) and the discovery shared
//! with workflows: `jobs/list?expand_tasks=true` classifies by
//! `tasks.len() > 1`, then `jobs/get` gives the parameter schema. Runs go
//! through `run-now`, parameters mapped by the single task's type (AppKit
//! table) or sent as `job_parameters` when the job declares job-level ones.

use serde_json::{Map, Value, json};

use super::{
    ApiRequest, BoxFuture, Connection, Discovery, ImportProgress, Operation, Polled, Provider,
    ProviderError, Result, Submitted,
};
use crate::job::{Job, JobType};
use crate::job_params::{ParameterMapping, classify_job, discover_job_parameters, run_now_fields};
use crate::platform::Platform;
use crate::run::Run;
use crate::status::StateObservation;

/// The Databricks Job provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobProvider;

/// The `run-now` body (pure) for a Job or Workflow: `job_id`, the parameter
/// fields of the job's mapping (workflows and hand-made jobs without a
/// mapping use `job_parameters`), an idempotency token.
pub fn run_now_body(job: &Job, idempotency_token: &str) -> crate::Result<Value> {
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
    job.parameters = parameters;
    job.parameter_mapping = mapping;
    Some(job)
}

/// Reads one job through the typed client rather than a raw call: on Jobs
/// API 2.2 `jobs/get` caps `tasks` and `parameters` at 100 per response, and
/// the typed client follows `next_page_token` and merges the pages, so a
/// large workflow's schema is imported whole.
async fn get_job(conn: &Connection, job_type: JobType, job_id: i64) -> Result<Job> {
    let job = conn
        .client
        .jobs()
        .get(job_id)
        .await
        .map_err(|source| ProviderError::Api {
            operation: Operation::Describe,
            job_type,
            target: job_id.to_string(),
            source: Box::new(source),
        })?;
    let unexpected = |message: String| ProviderError::Unexpected {
        operation: Operation::Describe,
        target: job_id.to_string(),
        message,
    };
    let response = serde_json::to_value(&job).map_err(|e| unexpected(format!("jobs/get: {e}")))?;
    job_from_get(&conn.platform.name, &response)
        .ok_or_else(|| unexpected("jobs/get returned no job_id".into()))
}

/// Lists every job (following `next_page_token`), classifies it, and reads
/// each one's schema; `only` keeps one of the two types.
pub async fn discover_jobs(
    conn: &Connection,
    progress: &dyn ImportProgress,
    only: Option<JobType>,
) -> Result<Discovery> {
    progress.phase("listing Databricks jobs");
    let mut ids: Vec<(i64, JobType)> = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut query = vec![
            ("expand_tasks".to_owned(), "true".to_owned()),
            ("limit".to_owned(), "100".to_owned()),
        ];
        if let Some(t) = &page_token {
            query.push(("page_token".into(), t.clone()));
        }
        let req = ApiRequest::get(conn.jobs_path("list"), query);
        let response = conn
            .call(
                &req,
                Operation::Discover,
                JobType::DatabricksJob,
                "jobs/list",
            )
            .await?;
        for j in response
            .get("jobs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = j.get("job_id").and_then(Value::as_i64) else {
                continue;
            };
            let job_type = j
                .get("settings")
                .map_or(JobType::DatabricksJob, classify_job);
            if only.is_none_or(|t| t == job_type) {
                ids.push((id, job_type));
            }
        }
        page_token = response
            .get("next_page_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let more = response
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(page_token.is_some());
        if !more || page_token.is_none() {
            break;
        }
    }
    progress.total(ids.len() as u64);
    progress.phase("reading job parameters");
    let mut out = Discovery::default();
    for (id, job_type) in ids {
        let job = get_job(conn, job_type, id).await?;
        progress.discovered(job.job_type, &job.name);
        out.jobs.push(job);
    }
    Ok(out)
}

/// `describe` for both Job and Workflow: the fresh definition, whatever
/// its current classification.
pub(crate) async fn describe_job(
    conn: &Connection,
    job_type: JobType,
    external_id: &str,
) -> Result<Job> {
    let id = job_type.parse_job_id(external_id)?;
    get_job(conn, job_type, id).await
}

impl Provider for JobProvider {
    fn job_type(&self) -> JobType {
        JobType::DatabricksJob
    }

    fn discover<'a>(
        &'a self,
        conn: &'a Connection,
        progress: &'a dyn ImportProgress,
    ) -> BoxFuture<'a, Result<Discovery>> {
        Box::pin(discover_jobs(conn, progress, Some(JobType::DatabricksJob)))
    }

    fn describe<'a>(
        &'a self,
        conn: &'a Connection,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Job>> {
        Box::pin(describe_job(conn, JobType::DatabricksJob, external_id))
    }

    fn build_request(
        &self,
        platform: &Platform,
        job: &Job,
        idempotency_token: &str,
    ) -> crate::Result<ApiRequest> {
        Ok(ApiRequest::post(
            super::jobs_path(platform, "run-now"),
            run_now_body(job, idempotency_token)?,
            true,
        ))
    }

    fn submit<'a>(
        &'a self,
        conn: &'a Connection,
        job: &'a Job,
        request: &'a ApiRequest,
    ) -> BoxFuture<'a, Result<Submitted>> {
        Box::pin(super::submit_job_run(conn, job, request))
    }

    fn decode_status(&self, response: &Value) -> StateObservation {
        crate::status::observe_job_run(response)
    }

    fn poll<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<Polled>> {
        Box::pin(super::poll_job_run(conn, JobType::DatabricksJob, run))
    }

    fn cancel<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::cancel_job_run(conn, JobType::DatabricksJob, run))
    }

    fn monitor_url(&self, platform: &Platform, run: &Run, run_page_url: Option<&str>) -> String {
        super::job_monitor_url(platform, run, run_page_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_params::TaskType;
    use crate::parameter::Parameter;

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
        assert_eq!(job.external_id, "7");
        assert_eq!(job.parameters[0].name, "d");
    }
}
