//! Databricks Notebook: discovered by a recursive `workspace/list` from the
//! platform's DefaultNotebookPath plus `workspace/export` and widget
//! parsing; run once through Jobs 2.1 multi-task `runs/submit`.

use serde_json::{Map, Value, json};

use super::{
    ApiRequest, BoxFuture, Connection, Discovery, ImportProgress, Operation, Polled, Provider,
    ProviderError, Result, Submitted,
};
use crate::job::{Job, JobType};
use crate::platform::Platform;
use crate::run::Run;
use crate::status::StateObservation;
use crate::widgets::{NotebookLanguage, parse_widgets};

/// The task key of the single task Polysync submits.
pub const TASK_KEY: &str = "notebook";

/// The Databricks Notebook provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotebookProvider;

/// The `runs/submit` body for a notebook job (pure): Jobs 2.1 multi-task
/// form, `base_parameters` as strings, the platform's compute block
/// (serverless: none), an idempotency token, `timeout_seconds` 0 (no
/// Polysync-imposed timeout; the workspace's own limits apply).
pub fn submit_body(
    platform: &Platform,
    job: &Job,
    idempotency_token: &str,
) -> crate::Result<Value> {
    let params: Map<String, Value> = job
        .wire_parameters()?
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let mut task = Map::new();
    task.insert("task_key".into(), json!(TASK_KEY));
    task.insert(
        "notebook_task".into(),
        json!({"notebook_path": job.external_id, "base_parameters": params}),
    );
    task.extend(platform.compute_block());
    Ok(json!({
        "run_name": job.name,
        "tasks": [Value::Object(task)],
        "idempotency_token": idempotency_token,
        "timeout_seconds": 0,
    }))
}

/// Counts widget declarations in a notebook's text, wherever they are, so
/// import can warn when the parser (top level only) found fewer.
pub fn count_widget_mentions(content: &str) -> usize {
    let lower = content.to_ascii_lowercase();
    let calls = ["text", "dropdown", "combobox", "multiselect"]
        .iter()
        .map(|k| lower.matches(&format!("dbutils.widgets.{k}(")).count())
        .sum::<usize>();
    calls + lower.matches("create widget").count()
}

async fn describe_notebook(
    conn: &Connection,
    path: &str,
    language: Option<NotebookLanguage>,
) -> Result<(Job, Option<String>)> {
    let req = ApiRequest::get(
        "/api/2.0/workspace/export".into(),
        vec![
            ("path".into(), path.to_owned()),
            ("format".into(), "SOURCE".into()),
        ],
    );
    let response = conn
        .call(&req, Operation::Describe, JobType::DatabricksNotebook, path)
        .await?;
    let content = response
        .get("content")
        .and_then(Value::as_str)
        .map(decode_base64)
        .unwrap_or_default();
    let widgets = parse_widgets(&content, language);
    let mut job = Job::new(path, JobType::DatabricksNotebook, path, &conn.platform.name);
    job.parameters = widgets.iter().map(|w| w.to_parameter()).collect();
    let mentions = count_widget_mentions(&content);
    let warning = (mentions > widgets.len()).then(|| {
        format!(
            "{path}: {} widget declaration(s) were not picked up — they are not at the top level of a cell (inside a conditional block or a function?). Move the dbutils.widgets calls to the top level of a cell and re-import",
            mentions - widgets.len()
        )
    });
    Ok((job, warning))
}

fn decode_base64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

impl Provider for NotebookProvider {
    fn job_type(&self) -> JobType {
        JobType::DatabricksNotebook
    }

    fn discover<'a>(
        &'a self,
        conn: &'a Connection,
        progress: &'a dyn ImportProgress,
    ) -> BoxFuture<'a, Result<Discovery>> {
        Box::pin(async move {
            let root = conn.platform.default_notebook_path.clone();
            progress.phase(&format!("listing notebooks under {root}"));
            let mut pending = vec![root.clone()];
            let mut notebooks: Vec<(String, Option<NotebookLanguage>)> = Vec::new();
            while let Some(dir) = pending.pop() {
                let req = ApiRequest::get(
                    "/api/2.0/workspace/list".into(),
                    vec![("path".into(), dir.clone())],
                );
                let response = conn
                    .call(&req, Operation::Discover, JobType::DatabricksNotebook, &dir)
                    .await?;
                for o in response
                    .get("objects")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let path = o.get("path").and_then(Value::as_str).unwrap_or_default();
                    match o.get("object_type").and_then(Value::as_str) {
                        Some("NOTEBOOK") => notebooks.push((
                            path.to_owned(),
                            o.get("language")
                                .and_then(Value::as_str)
                                .and_then(NotebookLanguage::parse),
                        )),
                        Some("DIRECTORY" | "REPO") if path != dir && !path.is_empty() => {
                            pending.push(path.to_owned());
                        }
                        _ => {}
                    }
                }
            }
            notebooks.sort_by(|a, b| a.0.cmp(&b.0));
            progress.total(notebooks.len() as u64);
            progress.phase("reading notebook widgets");
            let mut out = Discovery::default();
            for (path, language) in notebooks {
                let (job, warning) = describe_notebook(conn, &path, language).await?;
                progress.discovered(JobType::DatabricksNotebook, &job.name);
                out.jobs.push(job);
                out.warnings.extend(warning);
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
            let req = ApiRequest::get(
                "/api/2.0/workspace/get-status".into(),
                vec![("path".into(), external_id.to_owned())],
            );
            let status = conn
                .call(
                    &req,
                    Operation::Describe,
                    JobType::DatabricksNotebook,
                    external_id,
                )
                .await?;
            if status.get("object_type").and_then(Value::as_str) != Some("NOTEBOOK") {
                return Err(ProviderError::Unexpected {
                    operation: Operation::Describe,
                    target: external_id.to_owned(),
                    message: "the path exists but is not a notebook".into(),
                });
            }
            let language = status
                .get("language")
                .and_then(Value::as_str)
                .and_then(NotebookLanguage::parse);
            Ok(describe_notebook(conn, external_id, language).await?.0)
        })
    }

    fn build_request(
        &self,
        platform: &Platform,
        job: &Job,
        idempotency_token: &str,
    ) -> crate::Result<ApiRequest> {
        let body = submit_body(platform, job, idempotency_token)?;
        Ok(ApiRequest::post(
            super::jobs_path(platform, "runs/submit"),
            body,
            true,
        ))
    }

    fn submit<'a>(
        &'a self,
        conn: &'a Connection,
        job: &'a Job,
        request: &'a ApiRequest,
    ) -> BoxFuture<'a, Result<Submitted>> {
        Box::pin(super::submit_job_run(conn, job, request))
    }

    fn decode_status(&self, response: &Value) -> StateObservation {
        crate::status::observe_job_run(response)
    }

    fn poll<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<Polled>> {
        Box::pin(super::poll_job_run(conn, JobType::DatabricksNotebook, run))
    }

    fn cancel<'a>(&'a self, conn: &'a Connection, run: &'a Run) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::cancel_job_run(
            conn,
            JobType::DatabricksNotebook,
            run,
        ))
    }

    fn monitor_url(&self, platform: &Platform, run: &Run, run_page_url: Option<&str>) -> String {
        super::job_monitor_url(platform, run, run_page_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::{Compute, ComputeType};
    use crate::parameter::Parameter;
    use crate::platform::Auth;

    fn platform(compute: Compute) -> Platform {
        let mut p = Platform::new("p", "https://w.example", Auth::TokenEnv { var: "T".into() });
        p.compute = compute;
        p
    }

    #[test]
    fn submit_body_serverless_sends_no_compute() {
        let mut job = Job::new("/a/nb", JobType::DatabricksNotebook, "/a/nb", "p");
        job.parameters = vec![Parameter::input("x", Some("1".into()))];
        let body = submit_body(&platform(Compute::serverless()), &job, "tok").unwrap();
        assert_eq!(
            body,
            json!({"run_name": "/a/nb", "tasks": [{"task_key": "notebook", "notebook_task": {"notebook_path": "/a/nb", "base_parameters": {"x": "1"}}}], "idempotency_token": "tok", "timeout_seconds": 0})
        );
    }

    #[test]
    fn submit_body_existing_cluster_carries_its_id() {
        let job = Job::new("/a/nb", JobType::DatabricksNotebook, "/a/nb", "p");
        let compute = Compute {
            compute_type: ComputeType::ExistingInteractiveCluster,
            existing_cluster_id: Some("c-1".into()),
            ..Compute::default()
        };
        let body = submit_body(&platform(compute), &job, "tok").unwrap();
        assert_eq!(body["tasks"][0]["existing_cluster_id"], json!("c-1"));
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(decode_base64("aGVsbG8="), "hello");
    }

    #[test]
    fn widget_mentions_count_every_kind() {
        let src =
            "dbutils.widgets.text('a','1')\nif x:\n    dbutils.widgets.dropdown('b','1',['1'])\n";
        assert_eq!(count_widget_mentions(src), 2);
        assert_eq!(count_widget_mentions("CREATE WIDGET TEXT a DEFAULT '1'"), 1);
    }
}
