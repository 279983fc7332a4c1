//! Databricks Workflow: a multi-task job (`settings.tasks.len() > 1`),
//! discovered with the jobs (see [`super::job`]) and run through `run-now`
//! with `job_parameters` only; task-level `base_parameters` are reference
//! only (the seed's best practice).

use serde_json::Value;

use super::{
    ApiRequest, BoxFuture, Connection, Discovery, ImportProgress, Polled, Provider, Result,
    Submitted,
};
use crate::job::{Job, JobType};
use crate::platform::Platform;
use crate::run::Run;
use crate::status::StateObservation;

/// The Databricks Workflow provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkflowProvider;

impl Provider for WorkflowProvider {
    fn job_type(&self) -> JobType {
        JobType::DatabricksWorkflow
    }

    fn discover<'a>(
        &'a self,
        conn: &'a Connection,
        progress: &'a dyn ImportProgress,
    ) -> BoxFuture<'a, Result<Discovery>> {
        Box::pin(super::job::discover_jobs(
            conn,
            progress,
            Some(JobType::DatabricksWorkflow),
        ))
    }

    fn describe<'a>(
        &'a self,
        conn: &'a Connection,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Job>> {
        Box::pin(super::job::describe_job(
            conn,
            JobType::DatabricksWorkflow,
            external_id,
        ))
    }

    fn build_request(
        &self,
        platform: &Platform,
        job: &Job,
        idempotency_token: &str,
    ) -> crate::Result<ApiRequest> {
        Ok(ApiRequest::post(
            super::jobs_path(platform, "run-now"),
            super::job::run_now_body(job, idempotency_token)?,
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
        Box::pin(super::poll_job_run(conn, JobType::DatabricksWorkflow, run))
    }

    fn cancel<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::cancel_job_run(
            conn,
            JobType::DatabricksWorkflow,
            run,
        ))
    }

    fn monitor_url(&self, platform: &Platform, run: &Run, run_page_url: Option<&str>) -> String {
        super::job_monitor_url(platform, run, run_page_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parameter::Parameter;
    use serde_json::json;

    #[test]
    fn workflow_sends_job_parameters_only() {
        let mut job = Job::new("wf", JobType::DatabricksWorkflow, "9", "p");
        job.parameters = vec![
            Parameter::input("env", Some("prod".into())),
            Parameter::reference("task_only", Some("x".into())),
        ];
        let p = Platform::new(
            "p",
            "https://w",
            crate::platform::Auth::TokenEnv { var: "T".into() },
        );
        let req = WorkflowProvider.build_request(&p, &job, "t").unwrap();
        assert_eq!(req.path, "/api/2.1/jobs/run-now");
        assert_eq!(
            req.body.unwrap(),
            json!({"job_id": 9, "job_parameters": {"env": "prod"}, "idempotency_token": "t"})
        );
    }
}
