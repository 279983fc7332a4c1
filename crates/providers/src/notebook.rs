//! Databricks Notebook: discovered by a recursive `workspace/list` from the
//! platform's DefaultNotebookPath plus `workspace/export` and widget
//! parsing; run once through Jobs multi-task `runs/submit` (then polled as
//! any job run, see `job_run`).

use polysync_core::widgets::{NotebookLanguage, parse_widgets};
use polysync_core::{Job, JobType, Platform};
use polysync_databricks::models::{ExportFormat, ObjectInfo, ObjectType};
use serde_json::{Map, Value, json};

use crate::connection::Connection;
use crate::error::{Operation, ProviderError, Result};
use crate::progress::{Discovery, ImportProgress};
use crate::request::{ApiRequest, jobs_path};

/// The task key of the single task Polysync submits.
pub const TASK_KEY: &str = "notebook";

const T: JobType = JobType::DatabricksNotebook;

/// The `runs/submit` body for a notebook job (pure): Jobs 2.1 multi-task
/// form, `base_parameters` as strings, the platform's compute block
/// (serverless: none), an idempotency token, `timeout_seconds` 0 (no
/// Polysync-imposed timeout; the workspace's own limits apply).
pub fn submit_body(
    platform: &Platform,
    job: &Job,
    idempotency_token: &str,
) -> polysync_core::Result<Value> {
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

/// The `runs/submit` request (pure); idempotent thanks to the token.
pub(crate) fn build_request(
    platform: &Platform,
    job: &Job,
    idempotency_token: &str,
) -> polysync_core::Result<ApiRequest> {
    Ok(ApiRequest::post(
        jobs_path(platform, "runs/submit"),
        submit_body(platform, job, idempotency_token)?,
        true,
    ))
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

fn language_of(o: &ObjectInfo) -> Option<NotebookLanguage> {
    o.language
        .as_ref()
        .and_then(|l| NotebookLanguage::parse(l.as_str()))
}

/// Exports one notebook and parses its widgets; the warning says how many
/// declarations the parser could not see.
async fn read_notebook(
    conn: &Connection,
    path: &str,
    language: Option<NotebookLanguage>,
) -> Result<(Job, Option<String>)> {
    let exported = conn
        .client
        .workspace()
        .export(path, ExportFormat::Source)
        .await
        .map_err(ProviderError::api(Operation::Describe, T, path))?;
    let content = exported.text();
    let widgets = parse_widgets(&content, language);
    let mut job = Job::new(path, T, path, &conn.platform.name);
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

/// Every notebook under the platform's DefaultNotebookPath, directories
/// listed one at a time (depth first, as before) and notebooks read in path
/// order.
pub(crate) async fn discover(
    conn: &Connection,
    progress: &dyn ImportProgress,
) -> Result<Discovery> {
    let root = conn.platform.default_notebook_path.clone();
    progress.phase(&format!("listing notebooks under {root}"));
    let mut pending = vec![root];
    let mut notebooks: Vec<(String, Option<NotebookLanguage>)> = Vec::new();
    while let Some(dir) = pending.pop() {
        let objects = conn
            .client
            .workspace()
            .list(&dir)
            .await
            .map_err(ProviderError::api(Operation::Discover, T, &dir))?;
        for o in objects {
            match o.object_type {
                Some(ObjectType::Notebook) => notebooks.push((o.path.clone(), language_of(&o))),
                Some(ObjectType::Directory | ObjectType::Repo)
                    if o.path != dir && !o.path.is_empty() =>
                {
                    pending.push(o.path);
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
        match read_notebook(conn, &path, language).await {
            Ok((job, warning)) => {
                progress.discovered(T, &job.name);
                out.jobs.push(job);
                out.warnings.extend(warning);
            }
            Err(e) => out.skip(T, &path, e),
        }
    }
    Ok(out)
}

/// The notebook's current widgets; refused when the path is not a notebook.
pub(crate) async fn describe(conn: &Connection, external_id: &str) -> Result<Job> {
    let status = conn
        .client
        .workspace()
        .get_status(external_id)
        .await
        .map_err(ProviderError::api(Operation::Describe, T, external_id))?;
    if status.object_type != Some(ObjectType::Notebook) {
        return Err(ProviderError::Unexpected {
            operation: Operation::Describe,
            target: external_id.to_owned(),
            message: "the path exists but is not a notebook".into(),
        });
    }
    Ok(read_notebook(conn, external_id, language_of(&status))
        .await?
        .0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polysync_core::platform::Auth;
    use polysync_core::{Compute, ComputeType, Parameter};

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
    fn build_request_posts_runs_submit() {
        let job = Job::new("/a/nb", JobType::DatabricksNotebook, "/a/nb", "p");
        let req = build_request(&platform(Compute::serverless()), &job, "tok").unwrap();
        assert_eq!(req.path, "/api/2.1/jobs/runs/submit");
        assert!(req.idempotent);
    }

    #[test]
    fn widget_mentions_count_every_kind() {
        let src =
            "dbutils.widgets.text('a','1')\nif x:\n    dbutils.widgets.dropdown('b','1',['1'])\n";
        assert_eq!(count_widget_mentions(src), 2);
        assert_eq!(count_widget_mentions("CREATE WIDGET TEXT a DEFAULT '1'"), 1);
    }
}
