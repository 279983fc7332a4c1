//! One workspace as the providers see it: the platform and the client built
//! from its own credentials (the engine builds and caches the client).

use polysync_core::{JobType, Platform};
use polysync_databricks::{DatabricksClient, Idempotency};
use serde_json::Value;

use crate::error::{Operation, ProviderError, Result};
use crate::request::ApiRequest;

/// A platform plus an authenticated client for it: everything a provider
/// needs to talk to one workspace.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The platform (compute, default path, Jobs API version, URL).
    pub platform: Platform,
    /// The client built from the platform's own credentials.
    pub client: DatabricksClient,
}

impl Connection {
    /// `/api/{2.1|2.2}/jobs/{op}` for this connection's platform.
    pub fn jobs_path(&self, op: &str) -> String {
        crate::request::jobs_path(&self.platform, op)
    }

    /// Sends a raw JSON request with its idempotency class, the error
    /// wrapped with its context. Only for bodies that must stay exactly as
    /// built (run submissions) and endpoints the client does not model.
    pub(crate) async fn call(
        &self,
        req: &ApiRequest,
        operation: Operation,
        job_type: JobType,
        target: &str,
    ) -> Result<Value> {
        let query: Vec<(&str, String)> = req
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let idem = if req.idempotent {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        self.client
            .request::<Value, Value>(
                req.method.clone(),
                &req.path,
                &query,
                req.body.as_ref(),
                idem,
            )
            .await
            .map_err(ProviderError::api(operation, job_type, target))
    }
}

impl Connection {
    /// Who the platform's credentials authenticate as (`userName` of SCIM
    /// `Me`): one cheap read that proves the workspace answers and accepts
    /// the credentials, for checking a platform before it is saved.
    pub async fn current_user(&self) -> std::result::Result<String, polysync_databricks::Error> {
        let me: Value = self
            .client
            .request::<Value, Value>(
                polysync_databricks::Method::GET,
                "/api/2.0/preview/scim/v2/Me",
                &[],
                None,
                Idempotency::Idempotent,
            )
            .await?;
        Ok(me
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed identity)")
            .to_owned())
    }
}

/// A typed response as the JSON the pure rules of `polysync-core` read.
/// The models keep unknown fields, so nothing the rules look at is lost.
pub(crate) fn to_json<T: serde::Serialize>(
    value: &T,
    operation: Operation,
    target: &str,
) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| ProviderError::Unexpected {
        operation,
        target: target.to_owned(),
        message: e.to_string(),
    })
}
