//! Databricks Pipeline (DLT): `GET pipelines` + `GET pipelines/{id}` for
//! discovery, `POST pipelines/{id}/updates` with `{"pipeline_id",
//! "full_refresh"}` to run, the composite run id `{pipeline_id}:{update_id}`,
//! and cancel through the real `POST /api/2.0/pipelines/{id}/stop` — which
//! stops whatever update is active, so we first check that the active
//! update is the run's own.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use polysync_core::pipeline_params::{pipeline_parameters, update_body};
use polysync_core::run::PipelineRunId;
use polysync_core::status::{RunStatus, decode_update_state, observe_pipeline_update};
use polysync_core::{Job, JobType, Platform, Run};
use polysync_databricks::models::{ListPipelinesRequest, UpdateCause, UpdateState};
use serde_json::Value;

use crate::connection::{Connection, to_json};
use crate::error::{Operation, ProviderError, Result};
use crate::progress::{Discovery, ImportProgress};
use crate::provider::{Polled, Submitted};
use crate::request::ApiRequest;

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

/// The start-update request (pure). The updates API has no idempotency
/// token, so a lost response is not retried.
pub(crate) fn build_request(job: &Job) -> polysync_core::Result<ApiRequest> {
    T.validate_external_id(&job.external_id)?;
    Ok(ApiRequest::post(
        format!("/api/2.0/pipelines/{}/updates", job.external_id),
        update_body(&job.external_id, &job.parameters)?,
        false,
    ))
}

/// The pipeline's definition as the JSON the parameter rules read.
async fn get_pipeline(conn: &Connection, pipeline_id: &str, op: Operation) -> Result<Value> {
    let response = conn
        .client
        .pipelines()
        .get(pipeline_id)
        .await
        .map_err(ProviderError::api(op, T, pipeline_id))?;
    to_json(&response, op, pipeline_id)
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
fn update_is_terminal(state: Option<&UpdateState>) -> bool {
    decode_update_state(state.map(UpdateState::as_str)).is_terminal()
}

/// Every pipeline (the client follows the pages), each read for its
/// configuration.
pub(crate) async fn discover(
    conn: &Connection,
    progress: &dyn ImportProgress,
) -> Result<Discovery> {
    progress.phase("listing pipelines");
    let statuses: Vec<_> = conn
        .client
        .pipelines()
        .list_with(ListPipelinesRequest {
            filter: None,
            max_results: Some(100),
        })
        .try_collect()
        .await
        .map_err(ProviderError::api(Operation::Discover, T, "pipelines"))?;
    let ids: Vec<String> = statuses
        .into_iter()
        .map(|s| s.pipeline_id)
        .filter(|id| !id.is_empty())
        .collect();
    progress.total(ids.len() as u64);
    progress.phase("reading pipeline configurations");
    let mut out = Discovery::default();
    for id in ids {
        match get_pipeline(conn, &id, Operation::Describe).await {
            Ok(response) => {
                let job = job_from_get(&conn.platform.name, &id, &response);
                progress.discovered(T, &job.name);
                out.jobs.push(job);
            }
            Err(e) => out.skip(T, &id, e),
        }
    }
    Ok(out)
}

/// The pipeline's current configuration parameters.
pub(crate) async fn describe(conn: &Connection, external_id: &str) -> Result<Job> {
    let response = get_pipeline(conn, external_id, Operation::Describe).await?;
    Ok(job_from_get(&conn.platform.name, external_id, &response))
}

/// Starts the update (raw, so the body is exactly the one built).
pub(crate) async fn submit(
    conn: &Connection,
    job: &Job,
    request: &ApiRequest,
) -> Result<Submitted> {
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
}

/// How far a workspace's clock may lag Polysync's when matching an update's
/// creation time against the moment a start was attempted.
const CLOCK_SKEW_MS: i64 = 60_000;

/// The update a start request created, when its answer was lost: the newest
/// update of the pipeline started through the API at or after `since_ms`
/// (minus clock skew). Pipeline starts carry no idempotency token, so this
/// check is what keeps a re-send from starting a second update.
pub(crate) async fn find_started(
    conn: &Connection,
    job: &Job,
    since_ms: i64,
) -> Result<Option<Submitted>> {
    let target = job.external_id.clone();
    let mut updates = std::pin::pin!(conn.client.pipelines().list_updates(&job.external_id));
    // Newest first: only the first few can be recent enough.
    for _ in 0..5 {
        let Some(update) =
            updates
                .try_next()
                .await
                .map_err(ProviderError::api(Operation::Submit, T, &target))?
        else {
            break;
        };
        let recent = update
            .creation_time
            .is_some_and(|t| t >= since_ms - CLOCK_SKEW_MS);
        if !recent {
            break;
        }
        let by_api = update
            .cause
            .as_ref()
            .is_none_or(|c| *c == UpdateCause::ApiCall);
        if by_api && !update.update_id.is_empty() {
            return Ok(Some(Submitted {
                databricks_run_id: PipelineRunId {
                    pipeline_id: job.external_id.clone(),
                    update_id: update.update_id,
                }
                .to_string(),
                run_page_url: None,
            }));
        }
    }
    Ok(None)
}

/// One read of the run's update, plus the first ERROR event once failed.
pub(crate) async fn poll(conn: &Connection, run: &Run) -> Result<Polled> {
    let id = run_id(run)?;
    let target = id.to_string();
    let update = conn
        .client
        .pipelines()
        .get_update(&id.pipeline_id, &id.update_id)
        .await
        .map_err(ProviderError::api(Operation::Poll, T, &target))?;
    let observation = observe_pipeline_update(&to_json(&update, Operation::Poll, &target)?);
    let mut error = None;
    if observation.status == Some(RunStatus::Failed) {
        error = failure_message(conn, &id).await;
    }
    Ok(Polled {
        observation,
        exit_value: None,
        error,
    })
}

/// The state of several runs of one pipeline from its updates list
/// (newest first), paging back only until every wanted update was seen or
/// the list reaches updates created before `since_ms` (minus clock skew):
/// one call per pipeline instead of one `get_update` per run. Runs missing
/// from the list are absent from the map (keyed by the run's Databricks id).
pub(crate) async fn list_updates(
    conn: &Connection,
    pipeline_id: &str,
    wanted: &[&Run],
    since_ms: i64,
) -> Result<HashMap<String, Polled>> {
    let mut missing: HashSet<String> = wanted
        .iter()
        .filter_map(|r| run_id(r).ok())
        .filter(|id| id.pipeline_id == pipeline_id)
        .map(|id| id.update_id)
        .collect();
    let mut out = HashMap::new();
    let mut updates = std::pin::pin!(conn.client.pipelines().list_updates(pipeline_id));
    while !missing.is_empty() {
        let Some(update) = updates.try_next().await.map_err(ProviderError::api(
            Operation::Poll,
            T,
            pipeline_id,
        ))?
        else {
            break;
        };
        if update
            .creation_time
            .is_some_and(|t| t < since_ms - CLOCK_SKEW_MS)
        {
            break;
        }
        if !missing.remove(&update.update_id) {
            continue;
        }
        let id = PipelineRunId {
            pipeline_id: pipeline_id.to_owned(),
            update_id: update.update_id.clone(),
        };
        let observation =
            observe_pipeline_update(&to_json(&update, Operation::Poll, &id.to_string())?);
        let error = if observation.status == Some(RunStatus::Failed) {
            failure_message(conn, &id).await
        } else {
            None
        };
        out.insert(
            id.to_string(),
            Polled {
                observation,
                exit_value: None,
                error,
            },
        );
    }
    Ok(out)
}

/// Stops the pipeline only when the active update is the run's own.
pub(crate) async fn cancel(conn: &Connection, run: &Run) -> Result<()> {
    let id = run_id(run)?;
    let target = id.to_string();
    let pipeline = conn
        .client
        .pipelines()
        .get(&id.pipeline_id)
        .await
        .map_err(ProviderError::api(Operation::Cancel, T, &id.pipeline_id))?;
    let latest: Vec<(&str, Option<&UpdateState>)> = pipeline
        .latest_updates
        .iter()
        .filter(|u| !u.update_id.is_empty())
        .map(|u| (u.update_id.as_str(), u.state.as_ref()))
        .collect();
    let ours = latest.iter().find(|(u, _)| *u == id.update_id);
    let others_active: Vec<&str> = latest
        .iter()
        .filter(|(u, s)| *u != id.update_id && !update_is_terminal(*s))
        .map(|(u, _)| *u)
        .collect();
    match ours {
        // Already finished: nothing of ours to stop; the next poll records
        // the final state.
        Some((_, s)) if update_is_terminal(*s) => return Ok(()),
        Some(_) if others_active.is_empty() => {}
        _ => {
            return Err(ProviderError::Refused {
                target,
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
    conn.client
        .pipelines()
        .stop(&id.pipeline_id)
        .await
        .map_err(ProviderError::api(Operation::Cancel, T, target))
}

/// The seed's pipeline monitor URL (updates have no `run_page_url`).
pub(crate) fn monitor_url(platform: &Platform, run: &Run) -> String {
    polysync_core::monitor_url::pipeline_url(platform.base_url(), &run.job_external_id)
}

/// The first ERROR event of the pipeline, for a failed update's message.
/// Raw JSON: the events API is not modelled by the client.
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
    use polysync_core::platform::Auth;
    use serde_json::json;

    #[test]
    fn update_body_is_the_seed_shape() {
        let job = job_from_get(
            "p",
            "pl-1",
            &json!({"name": "sales", "spec": {"continuous": false, "configuration": {"spark.x": "1", "other": "2"}}}),
        );
        assert_eq!(job.name, "sales");
        let p = Platform::new("p", "https://w", Auth::TokenEnv { var: "T".into() });
        let req = crate::Provider::Pipeline
            .build_request(&p, &job, "t")
            .unwrap();
        assert_eq!(req.path, "/api/2.0/pipelines/pl-1/updates");
        assert!(!req.idempotent);
        assert_eq!(
            req.body.unwrap(),
            json!({"pipeline_id": "pl-1", "full_refresh": false})
        );
    }
}
