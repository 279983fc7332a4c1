//! Endpoint groups.

pub mod jobs;
pub mod pipelines;
pub mod workspace;

pub use jobs::JobsApi;
pub use pipelines::PipelinesApi;
pub use workspace::WorkspaceApi;

use crate::http::DatabricksClient;

impl DatabricksClient {
    /// Jobs API (version per [`crate::Config::jobs_api_version`]).
    pub fn jobs(&self) -> JobsApi<'_> {
        JobsApi { client: self }
    }

    /// Workspace API 2.0.
    pub fn workspace(&self) -> WorkspaceApi<'_> {
        WorkspaceApi { client: self }
    }

    /// Pipelines API 2.0.
    pub fn pipelines(&self) -> PipelinesApi<'_> {
        PipelinesApi { client: self }
    }
}
