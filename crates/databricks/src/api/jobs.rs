//! Jobs API (2.1 or 2.2, per [`crate::JobsApiVersion`]).
//!
//! Retry classes: GETs, `reset`, `update`, `delete` and `runs/cancel` are idempotent;
//! `create` is not (a repeat creates a second job); `run-now` and `runs/submit` are idempotent
//! only when they carry an `idempotency_token`.

use std::time::Duration;

use futures_util::Stream;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::DatabricksClient;
use crate::models::*;
use crate::pagination::{Cursor, merge_array_page, next_cursor, page_token, paginate};
use crate::retry::Idempotency;

/// Jobs endpoints; obtained from [`DatabricksClient::jobs`].
#[derive(Debug, Clone, Copy)]
pub struct JobsApi<'a> {
    pub(crate) client: &'a DatabricksClient,
}

fn token_idempotency(token: &Option<String>) -> Idempotency {
    if token.as_deref().is_some_and(|t| !t.is_empty()) {
        Idempotency::Idempotent
    } else {
        Idempotency::NonIdempotent
    }
}

impl<'a> JobsApi<'a> {
    fn path(&self, op: &str) -> String {
        format!(
            "/api/{}/jobs/{op}",
            self.client.inner.config.jobs_api_version.as_str()
        )
    }

    /// Creates a job. Not retried after it may have reached the server (no idempotency key).
    pub async fn create(&self, settings: &JobSettings) -> Result<CreateJobResponse> {
        self.client
            .post(&self.path("create"), settings, Idempotency::NonIdempotent)
            .await
    }

    /// Fetches a job, following Jobs 2.2 array pages (`next_page_token`) so `settings.tasks`
    /// etc. are complete.
    pub async fn get(&self, job_id: i64) -> Result<Job> {
        self.get_all_pages("get", "job_id", job_id).await
    }

    /// `jobs/get` and `runs/get` page their arrays the same way on Jobs 2.2 (at most 100
    /// elements per response): re-call with `page_token` until no `next_page_token` is left,
    /// concatenating the arrays, then decode the merged object. A runaway server is cut off
    /// after 1,000 pages (far beyond the 1,000-task limit of a job).
    async fn get_all_pages<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        id_key: &str,
        id: i64,
    ) -> Result<T> {
        let path = self.path(op);
        let endpoint = format!("GET {path}");
        let id = id.to_string();
        let mut acc: Value = self.client.get(&path, &[(id_key, id.clone())]).await?;
        let mut pages = 0;
        while let Some(token) = page_token(&acc) {
            pages += 1;
            if pages > 1000 {
                break;
            }
            let page: Value = self
                .client
                .get(&path, &[(id_key, id.clone()), ("page_token", token)])
                .await?;
            merge_array_page(&mut acc, page);
        }
        if let Some(o) = acc.as_object_mut() {
            o.remove("next_page_token");
        }
        serde_json::from_value(acc).map_err(|source| Error::Decode { endpoint, source })
    }

    /// Lists jobs as a stream, following `next_page_token` (or offset when a server only
    /// sends `has_more`).
    pub fn list(
        &self,
        req: ListJobsRequest,
    ) -> impl Stream<Item = Result<BaseJob>> + Send + 'static {
        let path = self.path("list");
        list_jobs(self.client.clone(), path, req)
    }

    /// Lists jobs through the legacy `/api/2.0/jobs/list` path (offset + has_more).
    pub fn list_2_0(
        &self,
        req: ListJobsRequest,
    ) -> impl Stream<Item = Result<BaseJob>> + Send + 'static {
        list_jobs(self.client.clone(), "/api/2.0/jobs/list".into(), req)
    }

    /// Deletes a job. Idempotent in effect; a retry after a lost response may report
    /// not-found, which callers can treat as success via [`Error::is_not_found`].
    pub async fn delete(&self, job_id: i64) -> Result<()> {
        let _: Value = self
            .client
            .post(
                &self.path("delete"),
                &json!({"job_id": job_id}),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(())
    }

    /// Replaces a job's settings (full replace; safe to repeat).
    pub async fn reset(&self, job_id: i64, new_settings: &JobSettings) -> Result<()> {
        let _: Value = self
            .client
            .post(
                &self.path("reset"),
                &json!({"job_id": job_id, "new_settings": new_settings}),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(())
    }

    /// Partially updates a job (same update twice yields the same job).
    pub async fn update(&self, req: &UpdateJobRequest) -> Result<()> {
        let _: Value = self
            .client
            .post(&self.path("update"), req, Idempotency::Idempotent)
            .await?;
        Ok(())
    }

    /// Triggers a run. Retried on transient failures only when `idempotency_token` is set.
    pub async fn run_now(&self, req: &RunNowRequest) -> Result<RunNowResponse> {
        self.client
            .post(
                &self.path("run-now"),
                req,
                token_idempotency(&req.idempotency_token),
            )
            .await
    }

    /// Submits a one-off run. Retried on transient failures only when `idempotency_token` is
    /// set (the server then returns the same run).
    pub async fn submit(&self, req: &SubmitRunRequest) -> Result<SubmitRunResponse> {
        self.client
            .post(
                &self.path("runs/submit"),
                req,
                token_idempotency(&req.idempotency_token),
            )
            .await
    }

    /// Fetches a run, following Jobs 2.2 array pages.
    pub async fn get_run(&self, run_id: i64) -> Result<Run> {
        self.get_all_pages("runs/get", "run_id", run_id).await
    }

    /// Lists runs as a stream (newest first as the server orders them).
    pub fn list_runs(
        &self,
        req: ListRunsRequest,
    ) -> impl Stream<Item = Result<BaseRun>> + Send + 'static + use<> {
        let client = self.client.clone();
        let path = self.path("runs/list");
        let offset = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        paginate(move |cursor: Option<Cursor>| {
            let client = client.clone();
            let path = path.clone();
            let offset = offset.clone();
            let mut q: Vec<(&'static str, String)> = Vec::new();
            if let Some(j) = req.job_id {
                q.push(("job_id", j.to_string()));
            }
            if req.active_only {
                q.push(("active_only", "true".into()));
            }
            if req.completed_only {
                q.push(("completed_only", "true".into()));
            }
            if let Some(t) = &req.run_type {
                q.push(("run_type", t.to_string()));
            }
            if let Some(t) = req.start_time_from {
                q.push(("start_time_from", t.to_string()));
            }
            if let Some(t) = req.start_time_to {
                q.push(("start_time_to", t.to_string()));
            }
            if req.expand_tasks {
                q.push(("expand_tasks", "true".into()));
            }
            if let Some(l) = req.limit {
                q.push(("limit", l.to_string()));
            }
            match &cursor {
                Some(Cursor::Token(t)) => q.push(("page_token", t.clone())),
                Some(Cursor::Offset(o)) => q.push(("offset", o.to_string())),
                None => {}
            }
            async move {
                let page: ListRunsResponse = client.get(&path, &q).await?;
                let n = page.runs.len() as u64;
                let total = offset.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n;
                let next = next_cursor(page.next_page_token, page.has_more && n > 0, total);
                Ok((page.runs, next))
            }
        })
    }

    /// Requests cancellation (asynchronous server side; poll [`JobsApi::get_run`]).
    /// Safe to repeat.
    pub async fn cancel_run(&self, run_id: i64) -> Result<()> {
        let _: Value = self
            .client
            .post(
                &self.path("runs/cancel"),
                &json!({"run_id": run_id}),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(())
    }

    /// Output of a *task* run (a multi-task parent answers 400 INVALID_PARAMETER_VALUE).
    pub async fn get_run_output(&self, run_id: i64) -> Result<RunOutput> {
        self.client
            .get(
                &self.path("runs/get-output"),
                &[("run_id", run_id.to_string())],
            )
            .await
    }

    /// Polls `runs/get` until the run is terminal (TERMINATED, SKIPPED, INTERNAL_ERROR),
    /// sleeping `poll` between calls, failing with [`Error::Timeout`] after `timeout`.
    pub async fn wait_for_run(
        &self,
        run_id: i64,
        poll: Duration,
        timeout: Duration,
    ) -> Result<Run> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let run = self.get_run(run_id).await?;
            if run.is_terminal() {
                return Ok(run);
            }
            if tokio::time::Instant::now() + poll > deadline {
                return Err(Error::Timeout {
                    endpoint: format!("waiting for run {run_id}"),
                    timeout,
                });
            }
            tokio::time::sleep(poll).await;
        }
    }
}

fn list_jobs(
    client: DatabricksClient,
    path: String,
    req: ListJobsRequest,
) -> impl Stream<Item = Result<BaseJob>> + Send + 'static {
    let offset = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    paginate(move |cursor: Option<Cursor>| {
        let client = client.clone();
        let path = path.clone();
        let offset = offset.clone();
        let mut q: Vec<(&'static str, String)> = Vec::new();
        if let Some(l) = req.limit {
            q.push(("limit", l.to_string()));
        }
        if req.expand_tasks {
            q.push(("expand_tasks", "true".into()));
        }
        if let Some(n) = &req.name {
            q.push(("name", n.clone()));
        }
        match &cursor {
            Some(Cursor::Token(t)) => q.push(("page_token", t.clone())),
            Some(Cursor::Offset(o)) => q.push(("offset", o.to_string())),
            None => {}
        }
        async move {
            let page: ListJobsResponse = client.get(&path, &q).await?;
            let n = page.jobs.len() as u64;
            let total = offset.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n;
            let next = next_cursor(page.next_page_token, page.has_more && n > 0, total);
            Ok((page.jobs, next))
        }
    })
}
