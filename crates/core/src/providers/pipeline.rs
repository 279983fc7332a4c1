//! Databricks Pipeline (DLT): `GET pipelines` + `GET pipelines/{id}` for
//! discovery, `POST pipelines/{id}/updates` with `{"pipeline_id",
//! "full_refresh"}` to run, the composite run id `{pipeline_id}:{update_id}`,
//! and cancel through the real `POST /api/2.0/pipelines/{id}/stop` — which
//! stops whatever update is active, so we first check that the active
//! update is the run's own.

use serde_json::Value;

use super::{
    ApiRequest, BoxFuture, Connection, Discovery, ImportProgress, Operation, Polled, Provider,
    ProviderError, Result, Submitted,
};
use crate::job::{Job, JobType};
use crate::pipeline_params::{pipeline_parameters, update_body};
use crate::platform::Platform;
use crate::run::{PipelineRunId, Run};
use crate::status::{RunStatus, StateObservation, decode_update_state, observe_pipeline_update};

/// The Databricks Pipeline provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipelineProvider;

const T: JobType = JobType::DatabricksPipeline;

/// A job from a `GET pipelines/{id}` response (pure).
pub fn job_from_get(platform: &str, pipeline_id: &str, response: &Value) -> Job {
    let name = response
        .get("name")
        .or_else(|| response.pointer("/spec/name"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(pipeline_id);
    let mut job = Job::new(name, T, pipeline_id, platform);
    job.parameters = pipeline_parameters(response);
    job
}

async fn get_pipeline(conn: &Connection, pipeline_id: &str, op: Operation) -> Result<Value> {
    let req = ApiRequest::get(format!("/api/2.0/pipelines/{pipeline_id}"), Vec::new());
    conn.call(&req, op, T, pipeline_id).await
}

fn run_id(run: &Run) -> Result<PipelineRunId> {
    match run.pipeline_run_id() {
        Some(Ok(id)) => Ok(id),
        Some(Err(e)) => Err(e.into()),
        None => Err(ProviderError::Unexpected {
            operation: Operation::Poll,
            target: run.id.clone(),
            message: "the run has no pipeline update id (it was never submitted)".into(),
        }),
    }
}

/// Whether a DLT update state is final.
fn update_is_terminal(state: Option<&str>) -> bool {
    decode_update_state(state).is_terminal()
}

impl Provider for PipelineProvider {
    fn job_type(&self) -> JobType {
        T
    }

    fn discover<'a>(
        &'a self,
        conn: &'a Connection,
        progress: &'a dyn ImportProgress,
    ) -> BoxFuture<'a, Result<Discovery>> {
        Box::pin(async move {
            progress.phase("listing pipelines");
            let mut ids = Vec::new();
            let mut page_token: Option<String> = None;
            loop {
                let mut query = vec![("max_results".to_owned(), "100".to_owned())];
                if let Some(t) = &page_token {
                    query.push(("page_token".into(), t.clone()));
                }
                let req = ApiRequest::get("/api/2.0/pipelines".into(), query);
                let response = conn.call(&req, Operation::Discover, T, "pipelines").await?;
                for s in response
                    .get("statuses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(id) = s.get("pipeline_id").and_then(Value::as_str) {
                        ids.push(id.to_owned());
                    }
                }
                page_token = response
                    .get("next_page_token")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
                if page_token.is_none() {
                    break;
                }
            }
            progress.total(ids.len() as u64);
            progress.phase("reading pipeline configurations");
            let mut out = Discovery::default();
            for id in ids {
                let response = get_pipeline(conn, &id, Operation::Describe).await?;
                let job = job_from_get(&conn.platform.name, &id, &response);
                progress.discovered(T, &job.name);
                out.jobs.push(job);
            }
            Ok(out)
        })
    }

    fn describe<'a>(
        &'a self,
        conn: &'a Connection,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Job>> {
        Box::pin(async move {
            let response = get_pipeline(conn, external_id, Operation::Describe).await?;
            Ok(job_from_get(&conn.platform.name, external_id, &response))
        })
    }

    fn build_request(
        &self,
        _platform: &Platform,
        job: &Job,
        _idempotency_token: &str,
    ) -> crate::Result<ApiRequest> {
        T.validate_external_id(&job.external_id)?;
        // The updates API has no idempotency token; a lost response is not
        // retried (the client treats this POST as non-idempotent).
        Ok(ApiRequest::post(
            format!("/api/2.0/pipelines/{}/updates", job.external_id),
            update_body(&job.external_id, &job.parameters)?,
            false,
        ))
    }

    fn submit<'a>(
        &'a self,
        conn: &'a Connection,
        job: &'a Job,
        request: &'a ApiRequest,
    ) -> BoxFuture<'a, Result<Submitted>> {
        Box::pin(async move {
            let response = conn
                .call(request, Operation::Submit, T, &job.external_id)
                .await?;
            let update_id = response
                .get("update_id")
                .and_then(Value::as_str)
                .ok_or_else(|| ProviderError::Unexpected {
                    operation: Operation::Submit,
                    target: job.external_id.clone(),
                    message: "the response has no update_id".into(),
                })?;
            Ok(Submitted {
                databricks_run_id: PipelineRunId {
                    pipeline_id: job.external_id.clone(),
                    update_id: update_id.to_owned(),
                }
                .to_string(),
                run_page_url: None,
            })
        })
    }

    fn decode_status(&self, response: &Value) -> StateObservation {
        observe_pipeline_update(response)
    }

    fn poll<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<Polled>> {
        Box::pin(async move {
            let id = run_id(run)?;
            let req = ApiRequest::get(
                format!(
                    "/api/2.0/pipelines/{}/updates/{}",
                    id.pipeline_id, id.update_id
                ),
                Vec::new(),
            );
            let response = conn.call(&req, Operation::Poll, T, &id.to_string()).await?;
            let observation = observe_pipeline_update(&response);
            let mut error = None;
            if observation.status == Some(RunStatus::Failed) {
                error = failure_message(conn, &id).await;
            }
            Ok(Polled {
                observation,
                exit_value: None,
                error,
            })
        })
    }

    fn cancel<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let id = run_id(run)?;
            let pipeline = get_pipeline(conn, &id.pipeline_id, Operation::Cancel).await?;
            let latest: Vec<(&str, Option<&str>)> = pipeline
                .get("latest_updates")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|u| {
                    Some((
                        u.get("update_id")?.as_str()?,
                        u.get("state").and_then(Value::as_str),
                    ))
                })
                .collect();
            let ours = latest.iter().find(|(u, _)| *u == id.update_id);
            let others_active: Vec<&str> = latest
                .iter()
                .filter(|(u, s)| *u != id.update_id && !update_is_terminal(*s))
                .map(|(u, _)| *u)
                .collect();
            match ours {
                // Already finished: nothing of ours to stop; the next poll
                // records the final state.
                Some((_, s)) if update_is_terminal(*s) => return Ok(()),
                Some(_) if others_active.is_empty() => {}
                _ => {
                    return Err(ProviderError::Refused {
                        target: id.to_string(),
                        message: format!(
                            "not stopping pipeline {}: its active update is {} , not this run's update {} — stopping would cancel someone else's update; stop it in the Delta Live Tables UI if intended",
                            id.pipeline_id,
                            if others_active.is_empty() {
                                "unknown".to_owned()
                            } else {
                                others_active.join(", ")
                            },
                            id.update_id
                        ),
                    });
                }
            }
            let req = ApiRequest::post(
                format!("/api/2.0/pipelines/{}/stop", id.pipeline_id),
                serde_json::json!({}),
                true,
            );
            conn.call(&req, Operation::Cancel, T, &id.to_string())
                .await?;
            Ok(())
        })
    }

    fn monitor_url(&self, platform: &Platform, run: &Run, _run_page_url: Option<&str>) -> String {
        crate::monitor_url::pipeline_url(platform.base_url(), &run.job_external_id)
    }
}

/// The first ERROR event of the pipeline, for a failed update's message.
async fn failure_message(conn: &Connection, id: &PipelineRunId) -> Option<String> {
    let req = ApiRequest::get(
        format!("/api/2.0/pipelines/{}/events", id.pipeline_id),
        vec![("max_results".into(), "50".into())],
    );
    let events = conn
        .call(&req, Operation::Output, T, &id.to_string())
        .await
        .ok()?;
    events
        .get("events")
        .and_then(Value::as_array)?
        .iter()
        .filter(|e| e.get("level").and_then(Value::as_str) == Some("ERROR"))
        .filter(|e| {
            e.pointer("/origin/update_id")
                .and_then(Value::as_str)
                .is_none_or(|u| u == id.update_id)
        })
        .find_map(|e| {
            let exceptions: Vec<&str> = e
                .pointer("/error/exceptions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.get("message").and_then(Value::as_str))
                .collect();
            if exceptions.is_empty() {
                e.get("message").and_then(Value::as_str).map(str::to_owned)
            } else {
                Some(exceptions.join("; "))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_body_is_the_seed_shape() {
        let job = job_from_get(
            "p",
            "pl-1",
            &json!({"name": "sales", "spec": {"continuous": false, "configuration": {"spark.x": "1", "other": "2"}}}),
        );
        assert_eq!(job.name, "sales");
        let p = Platform::new(
            "p",
            "https://w",
            crate::platform::Auth::TokenEnv { var: "T".into() },
        );
        let req = PipelineProvider.build_request(&p, &job, "t").unwrap();
        assert_eq!(req.path, "/api/2.0/pipelines/pl-1/updates");
        assert_eq!(
            req.body.unwrap(),
            json!({"pipeline_id": "pl-1", "full_refresh": false})
        );
    }
}
