//! A run as Polysync records it: its own id, what Databricks said, when.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::job::{Job, JobType};
use crate::status::{RunStatus, StateObservation};

/// A fresh Polysync run id (UUID v7: sortable by creation time, which keeps
/// `runs list` ordering and index locality cheap).
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Databricks' id of a pipeline run: an update of a pipeline. Rendered as
/// `{pipeline_id}:{update_id}`; pipeline ids never contain `:`, so parsing
/// splits at the first one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PipelineRunId {
    /// The pipeline (the job's External Id).
    pub pipeline_id: String,
    /// The update started by this run.
    pub update_id: String,
}

impl fmt::Display for PipelineRunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.pipeline_id, self.update_id)
    }
}

impl FromStr for PipelineRunId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.split_once(':') {
            Some((p, u)) if !p.is_empty() && !u.is_empty() => Ok(Self {
                pipeline_id: p.to_owned(),
                update_id: u.to_owned(),
            }),
            _ => Err(Error::InvalidRunId {
                value: s.to_owned(),
                message: "a pipeline run id has the form {pipeline_id}:{update_id}".into(),
            }),
        }
    }
}

/// One execution of a job.
///
/// Serialised with every field present: an absent value is `null`, never
/// an omitted key (one convention for every JSON the CLI prints, so
/// scripts can index fields without checking they exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Polysync's run id (UUID v7), what `runs show` and `cancel` take.
    pub id: String,
    /// Job name at the time of the run (kept even if the job is renamed).
    pub job_name: String,
    /// Job type at the time of the run.
    pub job_type: JobType,
    /// Job External Id at the time of the run.
    pub job_external_id: String,
    /// Platform name.
    pub platform: String,
    /// Databricks run id (`run_id`), or `{pipeline_id}:{update_id}`;
    /// `None` until the submit call answered.
    #[serde(default)]
    pub databricks_run_id: Option<String>,
    /// Decoded status.
    pub status: RunStatus,
    /// Last seen `life_cycle_state` (or `status.state`).
    #[serde(default)]
    pub life_cycle_state: Option<String>,
    /// Last seen `result_state` (or termination code).
    #[serde(default)]
    pub result_state: Option<String>,
    /// Last seen pipeline update state.
    #[serde(default)]
    pub update_state: Option<String>,
    /// Last seen state message.
    #[serde(default)]
    pub state_message: Option<String>,
    /// Parameters as sent (wire strings), for `runs show`.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
    /// When Databricks started the run (its `start_time`, a pipeline
    /// update's `creation_time`), epoch ms: what the Databricks UI shows,
    /// later than `created_at` when the run was queued or sent late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When the run reached a terminal status, epoch ms.
    #[serde(default)]
    pub ended_at: Option<i64>,
    /// Databricks UI link.
    #[serde(default)]
    pub monitor_url: Option<String>,
    /// Why the run failed or could not be submitted, in actionable words.
    #[serde(default)]
    pub error_message: Option<String>,
    /// `dbutils.notebook.exit()` value when Databricks returned one.
    #[serde(default)]
    pub notebook_exit_value: Option<String>,
    /// The run's outputs (a JSON object), for job types that return some:
    /// an Arazzo workflow's outputs, read by downstream tasks through
    /// `${tasks.NAME.outputs.PARAM}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<serde_json::Value>,
    /// The request that starts (or started) this run, built and stored when
    /// the run is enqueued so a worker resuming after a crash re-sends
    /// exactly the same call, idempotency token included. Internal: not
    /// part of the run's JSON (`parameters` shows what was sent).
    #[serde(default, skip_serializing)]
    pub request: Option<serde_json::Value>,
    /// When a submit was first attempted, epoch ms: a run with this set and
    /// no Databricks run id may exist in Databricks already (lost response).
    #[serde(default)]
    pub submit_attempted_at: Option<i64>,
    /// Row version in the store: status updates are compare-and-set on it,
    /// so a stale writer learns it lost the race instead of overwriting.
    #[serde(default)]
    pub version: i64,
}

impl Run {
    /// A Queued run for `job`, before anything was sent.
    pub fn new(job: &Job, id: String, now_ms: i64) -> Self {
        Self {
            id,
            job_name: job.name.clone(),
            job_type: job.job_type,
            job_external_id: job.external_id.clone(),
            platform: job.platform.clone(),
            databricks_run_id: None,
            status: RunStatus::Queued,
            life_cycle_state: None,
            result_state: None,
            update_state: None,
            state_message: None,
            parameters: BTreeMap::new(),
            created_at: now_ms,
            updated_at: now_ms,
            started_at: None,
            ended_at: None,
            monitor_url: None,
            error_message: None,
            notebook_exit_value: None,
            outputs: None,
            request: None,
            submit_attempted_at: None,
            version: 0,
        }
    }

    /// Records a poll result; returns whether anything visible changed
    /// (the store appends history only then).
    pub fn apply_observation(&mut self, obs: &StateObservation, now_ms: i64) -> bool {
        let before = (
            self.status,
            self.life_cycle_state.clone(),
            self.result_state.clone(),
            self.update_state.clone(),
            self.state_message.clone(),
        );
        if let Some(status) = obs.status {
            self.status = status;
        }
        self.life_cycle_state.clone_from(&obs.life_cycle_state);
        self.result_state.clone_from(&obs.result_state);
        self.update_state.clone_from(&obs.update_state);
        if obs.state_message.is_some() {
            self.state_message.clone_from(&obs.state_message);
        }
        if let Some(url) = &obs.run_page_url {
            self.monitor_url = Some(url.clone());
        }
        let started = obs.start_time.is_some() && self.started_at != obs.start_time;
        if started {
            self.started_at = obs.start_time;
        }
        let changed = started
            || before
                != (
                    self.status,
                    self.life_cycle_state.clone(),
                    self.result_state.clone(),
                    self.update_state.clone(),
                    self.state_message.clone(),
                );
        if changed {
            self.updated_at = now_ms;
            if self.status.is_terminal() && self.ended_at.is_none() {
                self.ended_at = Some(now_ms);
            }
        }
        changed
    }

    /// How long the run has taken so far (or took, once ended), in ms: from
    /// Databricks' start when known, else from its creation in Polysync.
    pub fn duration_ms(&self, now_ms: i64) -> i64 {
        let from = self.started_at.unwrap_or(self.created_at);
        (self.ended_at.unwrap_or(now_ms) - from).max(0)
    }

    /// The pipeline run id, for pipeline runs that were submitted.
    pub fn pipeline_run_id(&self) -> Option<Result<PipelineRunId>> {
        if self.job_type != JobType::DatabricksPipeline {
            return None;
        }
        self.databricks_run_id.as_deref().map(str::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_run_id_round_trips() {
        let id: PipelineRunId = "p-1:u-2".parse().unwrap();
        assert_eq!(id.pipeline_id, "p-1");
        assert_eq!(id.update_id, "u-2");
        assert_eq!(id.to_string(), "p-1:u-2");
        assert!("p-1".parse::<PipelineRunId>().is_err());
        assert!(":u".parse::<PipelineRunId>().is_err());
    }

    #[test]
    fn run_ids_are_v7_and_sortable() {
        let a = new_run_id();
        let b = new_run_id();
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 7);
        assert!(a <= b);
    }

    #[test]
    fn observation_changes_and_terminal_time() {
        let job = Job::new("n", JobType::DatabricksNotebook, "/a", "p");
        let mut run = Run::new(&job, new_run_id(), 1);
        let obs = StateObservation {
            status: Some(RunStatus::Running),
            life_cycle_state: Some("RUNNING".into()),
            ..Default::default()
        };
        assert!(run.apply_observation(&obs, 2));
        assert!(!run.apply_observation(&obs, 3));
        assert_eq!(run.updated_at, 2);
        let done = StateObservation {
            status: Some(RunStatus::Success),
            life_cycle_state: Some("TERMINATED".into()),
            result_state: Some("SUCCESS".into()),
            ..Default::default()
        };
        assert!(run.apply_observation(&done, 4));
        assert_eq!(run.ended_at, Some(4));
    }
}
