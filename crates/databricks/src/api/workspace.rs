//! Workspace API 2.0.
//!
//! Retry classes: list/get-status/export, `mkdirs` and `delete` are idempotent; `import` is
//! idempotent only with `overwrite: true` (otherwise a repeat answers RESOURCE_ALREADY_EXISTS).

use base64::Engine as _;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::DatabricksClient;
use crate::models::*;
use crate::retry::Idempotency;

/// How many directories `list_recursive` lists at once: enough to hide latency, well under
/// the 50 req/s published limit for `workspace/list`.
pub const LIST_RECURSIVE_CONCURRENCY: usize = 8;

/// Workspace endpoints; obtained from [`DatabricksClient::workspace`].
#[derive(Debug, Clone, Copy)]
pub struct WorkspaceApi<'a> {
    pub(crate) client: &'a DatabricksClient,
}

impl<'a> WorkspaceApi<'a> {
    /// Direct children of `path` (a non-directory path lists itself, as the API does).
    pub async fn list(&self, path: &str) -> Result<Vec<ObjectInfo>> {
        let r: ListObjectsResponse = self
            .client
            .get("/api/2.0/workspace/list", &[("path", path.to_string())])
            .await?;
        Ok(r.objects)
    }

    /// Every object under `path` (directories included), listing up to
    /// [`LIST_RECURSIVE_CONCURRENCY`] directories concurrently. Order is not specified.
    pub async fn list_recursive(&self, path: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        let mut pending = vec![path.to_string()];
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < LIST_RECURSIVE_CONCURRENCY
                && let Some(dir) = pending.pop()
            {
                let api = *self;
                running.push(async move { api.list(&dir).await.map(|v| (dir, v)) });
            }
            let Some(res) = running.next().await else {
                break;
            };
            let (dir, objects) = res?;
            for o in objects {
                if o.is_container() && o.path != dir {
                    pending.push(o.path.clone());
                }
                out.push(o);
            }
        }
        Ok(out)
    }

    /// Metadata of one object.
    pub async fn get_status(&self, path: &str) -> Result<ObjectInfo> {
        self.client
            .get(
                "/api/2.0/workspace/get-status",
                &[("path", path.to_string())],
            )
            .await
    }

    /// Exports an object and decodes the base64 content.
    pub async fn export(&self, path: &str, format: ExportFormat) -> Result<ExportedObject> {
        let endpoint = "GET /api/2.0/workspace/export";
        let r: ExportResponse = self
            .client
            .get(
                "/api/2.0/workspace/export",
                &[("path", path.to_string()), ("format", format.to_string())],
            )
            .await?;
        let content = base64::engine::general_purpose::STANDARD
            .decode(r.content.trim())
            .map_err(|e| Error::Decode {
                endpoint: endpoint.into(),
                source: serde::de::Error::custom(format!("invalid base64 content: {e}")),
            })?;
        Ok(ExportedObject {
            content,
            file_type: r.file_type,
        })
    }

    /// Imports an object (JSON form, base64 content).
    pub async fn import(&self, req: &ImportRequest) -> Result<()> {
        let idem = if req.overwrite {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        let _: Value = self
            .client
            .post("/api/2.0/workspace/import", req, idem)
            .await?;
        Ok(())
    }

    /// Creates a directory and its parents (no-op if it exists).
    pub async fn mkdirs(&self, path: &str) -> Result<()> {
        let _: Value = self
            .client
            .post(
                "/api/2.0/workspace/mkdirs",
                &json!({"path": path}),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(())
    }

    /// Deletes an object (`recursive` for non-empty directories).
    pub async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let _: Value = self
            .client
            .post(
                "/api/2.0/workspace/delete",
                &json!({"path": path, "recursive": recursive}),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(())
    }
}
