//! Pipelines API 2.0.
//!
//! Retry classes: GETs, `stop` (a no-op without an active update) and `delete` are
//! idempotent; `create` and starting an update are not (a repeat would create a second
//! pipeline or be refused because an update is already active).

use futures_util::Stream;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::Value;

use crate::error::Result;
use crate::http::DatabricksClient;
use crate::models::*;
use crate::pagination::{Cursor, paginate};
use crate::retry::Idempotency;

/// Pipelines endpoints; obtained from [`DatabricksClient::pipelines`].
#[derive(Debug, Clone, Copy)]
pub struct PipelinesApi<'a> {
    pub(crate) client: &'a DatabricksClient,
}

/// Everything but RFC 3986's unreserved characters: a pipeline id (a UUID)
/// goes on the wire exactly as Databricks printed it, while a `/` or `?` in
/// an id cannot change the path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

impl<'a> PipelinesApi<'a> {
    /// All pipelines, as a stream.
    pub fn list(&self) -> impl Stream<Item = Result<PipelineStateInfo>> + Send + 'static {
        self.list_with(ListPipelinesRequest::default())
    }

    /// Pipelines matching a filter, as a stream.
    pub fn list_with(
        &self,
        req: ListPipelinesRequest,
    ) -> impl Stream<Item = Result<PipelineStateInfo>> + Send + 'static {
        let client = self.client.clone();
        paginate(move |cursor: Option<Cursor>| {
            let client = client.clone();
            let mut q: Vec<(&'static str, String)> = Vec::new();
            if let Some(f) = &req.filter {
                q.push(("filter", f.clone()));
            }
            if let Some(m) = req.max_results {
                q.push(("max_results", m.to_string()));
            }
            if let Some(Cursor::Token(t)) = cursor {
                q.push(("page_token", t));
            }
            async move {
                let page: ListPipelinesResponse = client.get("/api/2.0/pipelines", &q).await?;
                let next = page
                    .next_page_token
                    .filter(|t| !t.is_empty())
                    .map(Cursor::Token);
                Ok((page.statuses, next))
            }
        })
    }

    /// Creates a pipeline.
    pub async fn create(&self, spec: &PipelineSpec) -> Result<CreatePipelineResponse> {
        self.client
            .post("/api/2.0/pipelines", spec, Idempotency::NonIdempotent)
            .await
    }

    /// Pipeline details.
    pub async fn get(&self, pipeline_id: &str) -> Result<GetPipelineResponse> {
        self.client
            .get(&format!("/api/2.0/pipelines/{}", seg(pipeline_id)), &[])
            .await
    }

    /// Deletes a pipeline.
    pub async fn delete(&self, pipeline_id: &str) -> Result<()> {
        let _: Value = self
            .client
            .request::<Value, ()>(
                Method::DELETE,
                &format!("/api/2.0/pipelines/{}", seg(pipeline_id)),
                &[],
                None,
                Idempotency::Idempotent,
            )
            .await?;
        Ok(())
    }

    /// Starts an update.
    pub async fn start_update(
        &self,
        pipeline_id: &str,
        req: &StartUpdateRequest,
    ) -> Result<StartUpdateResponse> {
        self.client
            .post(
                &format!("/api/2.0/pipelines/{}/updates", seg(pipeline_id)),
                req,
                Idempotency::NonIdempotent,
            )
            .await
    }

    /// One update.
    pub async fn get_update(&self, pipeline_id: &str, update_id: &str) -> Result<UpdateInfo> {
        let r: GetUpdateResponse = self
            .client
            .get(
                &format!(
                    "/api/2.0/pipelines/{}/updates/{}",
                    seg(pipeline_id),
                    seg(update_id)
                ),
                &[],
            )
            .await?;
        Ok(r.update.unwrap_or_default())
    }

    /// Updates of a pipeline, newest first, as a stream.
    pub fn list_updates(
        &self,
        pipeline_id: &str,
    ) -> impl Stream<Item = Result<UpdateInfo>> + Send + 'static {
        let client = self.client.clone();
        let path = format!("/api/2.0/pipelines/{}/updates", seg(pipeline_id));
        paginate(move |cursor: Option<Cursor>| {
            let client = client.clone();
            let path = path.clone();
            let mut q: Vec<(&'static str, String)> = Vec::new();
            if let Some(Cursor::Token(t)) = cursor {
                q.push(("page_token", t));
            }
            async move {
                let page: ListUpdatesResponse = client.get(&path, &q).await?;
                let next = page
                    .next_page_token
                    .filter(|t| !t.is_empty())
                    .map(Cursor::Token);
                Ok((page.updates, next))
            }
        })
    }

    /// Stops the pipeline by canceling its active update (per pipeline; no per-update stop
    /// exists). A no-op without an active update, hence safe to retry.
    pub async fn stop(&self, pipeline_id: &str) -> Result<()> {
        let _: Value = self
            .client
            .post(
                &format!("/api/2.0/pipelines/{}/stop", seg(pipeline_id)),
                &serde_json::json!({}),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::seg;

    #[test]
    fn segment_keeps_unreserved_characters_and_escapes_the_rest() {
        assert_eq!(
            seg("fe8e30ee-b722-44dd-b1cf-7f66023cba3d"),
            "fe8e30ee-b722-44dd-b1cf-7f66023cba3d"
        );
        assert_eq!(seg("a.b_c~d"), "a.b_c~d");
        assert_eq!(seg("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
