//! Polysync's domain: platforms, jobs, parameters, runs and the pure rules
//! that govern them (validation, status decoding, widget discovery, parameter
//! mapping).
//!
//! Nothing in this crate performs I/O or depends on the HTTP client: the
//! providers (one per job type, in `polysync-providers`) call the Databricks
//! client and feed its JSON through the pure functions here, so every rule
//! from the seeds can be unit-tested without a network, and the store (which
//! depends on this crate) never compiles the client.

pub mod compute;
pub mod dag;
pub mod error;
pub mod hint;
pub mod job;
pub mod job_params;
pub mod monitor_url;
pub mod parameter;
pub mod pipeline_params;
pub mod platform;
pub mod run;
pub mod status;
pub mod task;
pub mod widgets;

pub use compute::{Compute, ComputeType};
pub use dag::{Attempt, DagRun, DagRunStatus, Readiness, TaskRun, TaskRunStatus};
pub use error::{Error, Result};
pub use hint::{Action, Hint};
pub use job::{Job, JobType};
pub use job_params::{ParameterMapping, TaskType};
pub use parameter::{DataType, Direction, Parameter};
pub use platform::{Auth, JobsApiVersion, Platform};
pub use run::{PipelineRunId, Run};
pub use status::{RunStatus, StateObservation};
pub use task::{Condition, Dependency, RetryPolicy, Schedule, Task, TaskFileError, TaskSet};
pub use widgets::{NotebookLanguage, Widget, WidgetKind};
