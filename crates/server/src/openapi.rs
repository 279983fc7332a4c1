//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the
//! handlers' `#[utoipa::path]` annotations and the shapes below, so the
//! document and the code change together. Engine values (platforms, jobs,
//! runs, tasks, DAG runs) are documented as objects: their fields are the
//! engine's serde output and the CLI's `--json`, described in README.

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::{events_feed, jobs_api, manage_api, ops};

/// Every error response: the message, Databricks' own code when the
/// failure came from Databricks, the fix when known, and each violation
/// of a refused request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// Databricks' error code (`RESOURCE_DOES_NOT_EXIST`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<HintBody>,
    /// Every violation of a refused request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<ViolationBody>>,
}

/// What to do about an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct HintBody {
    /// The fix in words.
    pub text: String,
    /// The action that performs or shows the fix.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<serde_json::Value>,
}

/// One reason a request was refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationBody {
    /// JSON pointer into the request body (`/params/startDate`), or the
    /// query parameter's name.
    pub pointer: String,
    /// What is wrong there.
    pub reason: String,
}

/// `POST /api/jobs/{job_key}/run`'s body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The run's parameters, checked against the key's JSON Schema.
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
}

/// A started run's id: its Databricks run id (a number), or Polysync's
/// own id before it was sent; a `task:` key's: the DAG run id.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunIdBody {
    /// The run id.
    #[serde(rename = "runId")]
    #[schema(schema_with = id_schema)]
    pub run_id: serde_json::Value,
}

/// A run as the seed shows it: Polysync's fields plus the Databricks
/// `Run` ones (`run_id`, `job_id`, `state`, `run_page_url`, ...).
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedRun {
    /// Polysync's run id.
    pub id: String,
    /// Polysync's status (`Queued`, `Running`, `Success`, `Failed`, `Cancelled`, `Unknown`; a DAG run's: `Running`, `Success`, `Failed`, `Cancelled`).
    pub status: String,
    /// The Databricks run id (a number), or Polysync's id; a `task:` key's: the DAG run id.
    #[schema(schema_with = id_schema)]
    pub run_id: serde_json::Value,
    /// The Databricks job id (a number when it is one); a `task:` key's: `task:<root task>`.
    #[schema(schema_with = id_schema)]
    pub job_id: serde_json::Value,
    /// `life_cycle_state`, `result_state`, `state_message`.
    #[schema(value_type = Object)]
    pub state: serde_json::Value,
}

/// A Databricks id as the seed shows it: a number when it is one, else
/// the string (pipeline updates, Polysync's id before the run was sent).
fn id_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer))
            .item(ObjectBuilder::new().schema_type(Type::String))
            .build(),
    )
}

/// `GET /api/jobs/{job_key}/runs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedRuns {
    /// Newest first.
    pub runs: Vec<SeedRun>,
}

/// `GET /api/jobs/{job_key}/status`: the latest run and its status, both
/// null when the key has no run yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedStatus {
    /// The Databricks life-cycle state, else Polysync's status.
    pub status: Option<String>,
    /// The latest run.
    pub run: Option<SeedRun>,
}

/// `POST /api/v1/sync-params`'s body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRefBody {
    /// A job reference (`platform:external_id`, a name, ...).
    pub job: String,
}

/// `POST /api/v1/platforms`'s body: exactly one of `token_env` and `profile`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPlatformBody {
    /// The platform's name (letters, digits, `-`, `_`).
    pub name: String,
    /// The workspace URL; optional with a profile (its `host`).
    #[serde(default)]
    pub host: Option<String>,
    /// The name of the environment variable holding the token (never the token).
    #[serde(default)]
    pub token_env: Option<String>,
    /// A `~/.databrickscfg` profile's name.
    #[serde(default)]
    pub profile: Option<String>,
    /// Check the workspace and credentials first (default true).
    #[serde(default)]
    pub verify: Option<bool>,
}

/// `POST /api/v1/runs`'s body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunBody {
    /// A job reference.
    pub job: String,
    /// Parameter overrides, name → value.
    #[serde(default)]
    pub params: Option<std::collections::BTreeMap<String, String>>,
}

/// `POST /api/v1/dag-runs`'s body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDagBody {
    /// The task whose DAG runs.
    pub task: String,
    /// Parameters, name → value.
    #[serde(default)]
    pub params: Option<std::collections::BTreeMap<String, String>>,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// Always `ok`.
    pub status: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Polysync",
        description = "Polysync's HTTP API: the AppKit jobs seed's routes under /api/jobs, the management API under /api/v1, the event feed and operations routes."
    ),
    paths(
        ops::health,
        ops::metrics_text,
        ops::openapi_json,
        events_feed::events,
        jobs_api::run,
        jobs_api::list_runs,
        jobs_api::get_run,
        jobs_api::cancel_run,
        jobs_api::stream_run,
        jobs_api::status,
        manage_api::dispatcher,
        manage_api::platforms,
        manage_api::add_platform,
        manage_api::platform,
        manage_api::remove_platform,
        manage_api::import,
        manage_api::jobs,
        manage_api::job,
        manage_api::sync_params,
        manage_api::runs,
        manage_api::start_run,
        manage_api::run,
        manage_api::cancel_run,
        manage_api::tasks,
        manage_api::apply_tasks,
        manage_api::task,
        manage_api::remove_task,
        manage_api::dag_runs,
        manage_api::start_dag_run,
        manage_api::dag_run,
        manage_api::cancel_dag_run,
    ),
    components(schemas(ErrorBody, HintBody, ViolationBody)),
    modifiers(&Security, &CommonErrors)
)]
struct ApiDoc;

/// Bearer API tokens (`polysync tokens create`). A server with no token
/// runs open (loopback only), hence the empty alternative.
struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A Polysync API token (polysync tokens create). Required once any token exists; /health never needs one.",
                    ))
                    .build(),
            ),
        );
        api.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::default(),
        ]);
    }
}

/// Every operation can answer 401 (a token is required and missing or
/// revoked) and any error status with the [`ErrorBody`] shape
/// (`default`): engine failures map to 400/404/409/502/503/504.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let error = || {
            ResponseBuilder::new()
                .description("An error: message, Databricks error code, hint, violations.")
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "ErrorBody",
                        ))))
                        .build(),
                )
                .build()
        };
        for (path, item) in api.paths.paths.iter_mut() {
            let ops: [&mut Option<Operation>; 5] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                if path != "/health" {
                    op.responses
                        .responses
                        .entry("401".into())
                        .or_insert_with(|| RefOr::T(error()));
                }
                op.responses
                    .responses
                    .entry("default".into())
                    .or_insert_with(|| RefOr::T(error()));
            }
        }
    }
}

/// The document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}
