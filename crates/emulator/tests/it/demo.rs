//! The demo workspace: notebooks written to a directory, job/workflow/pipelines seeded
//! straight into the state, all visible (and runnable) through the API.

use serde_json::{Value, json};

use crate::Emu;

#[tokio::test]
async fn seeded_demo_is_listed_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    polysync_emulator::demo::write_notebooks(&dir).unwrap();
    let e = Emu::start(|c| c.workspace_dir = Some(dir.clone())).await;
    let demo = e.h.seed_demo().unwrap();

    let (s, v) = e.get("/api/2.1/jobs/list").await;
    assert_eq!(s, 200, "{v}");
    let jobs: Vec<(i64, &str)> = v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job_id"].as_i64().unwrap(),
                j["settings"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(jobs.contains(&(demo.job_id, "Demo: daily KPIs")), "{v}");
    assert!(
        jobs.contains(&(demo.workflow_id, "Demo: sales workflow")),
        "{v}"
    );
    let (_, w) = e
        .get(&format!("/api/2.1/jobs/get?job_id={}", demo.workflow_id))
        .await;
    assert_eq!(w["settings"]["tasks"].as_array().unwrap().len(), 3, "{w}");
    assert_eq!(w["settings"]["parameters"][1]["default"], "500", "{w}");

    let (s, v) = e.get("/api/2.0/pipelines").await;
    assert_eq!(s, 200, "{v}");
    let pipelines: Vec<(&str, &str)> = v["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["pipeline_id"].as_str().unwrap(),
                p["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        pipelines.contains(&(demo.pipeline_id.as_str(), "Demo: sales DLT")),
        "{v}"
    );
    assert!(
        pipelines.contains(&(
            demo.continuous_pipeline_id.as_str(),
            "Demo: clickstream DLT (continuous)"
        )),
        "{v}"
    );

    // The workflow runs over the written notebooks.
    let run = e
        .ok("/api/2.1/jobs/run-now", json!({"job_id": demo.workflow_id}))
        .await;
    let done = e.wait_run(run["run_id"].as_i64().unwrap()).await;
    assert_eq!(
        done["state"]["result_state"],
        Value::from("SUCCESS"),
        "{done}"
    );
}
