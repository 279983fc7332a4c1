//! A job key naming a task (`job = "task:NAME"`): the seed's routes start,
//! list, show, stream and cancel DAG runs of that task, with the shapes of
//! job runs (`runId` = the DAG run id; `status` RUNNING then TERMINATED,
//! the DAG run's own status in `run.status`).

use std::time::Duration;

use polysync_engine::ApplyMode;
use polysync_testkit::each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Env, poll_until, stream_run};

const TRACK: Duration = Duration::from_millis(20);

fn tasks_file(env: &Env) -> String {
    format!(
        r"
tasks:
  - name: nightly
    job: emu:{etl}
  - name: publish
    job: emu:{etl}
    after: [nightly]
  - name: on_failure
    job: emu:{etl}
    after: [{{ task: nightly, on: failure }}]
  - name: slow
    job: emu:{long}
",
        etl = env.jobs.etl,
        long = env.jobs.long,
    )
}

const KEYS: &str = r#"
[tiers]
stream = { timeout = "60s" }

[jobs.nightly]
job = "task:nightly"
params = { type = "object", properties = { a = { type = "string" } }, additionalProperties = false }

[jobs.slow]
job = "task:slow"
"#;

#[tokio::test]
async fn a_task_key_runs_streams_lists_and_cancels_dag_runs() {
    each_backend("task_keys", async |db| {
        let mut env = Env::new(db).await;
        env.engine
            .apply_tasks(
                "tasks.yaml",
                &tasks_file(&env),
                ApplyMode {
                    prune: false,
                    dry_run: false,
                },
            )
            .await
            .expect("apply");
        // As `polysync up`: the server beside its dispatcher.
        let dispatching = env.dispatcher(TRACK).await;
        let engine = env.engine.clone();
        let role = dispatching.role.clone();
        let url = env.server_with(engine, Vec::new(), KEYS, TRACK, role).await;
        let http = env.http.clone();

        // Invalid parameters: 400, no DAG run started.
        let r = http
            .post(format!("{url}/api/jobs/nightly/run"))
            .json(&json!({"params": {"b": "1"}}))
            .send()
            .await
            .expect("run");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let st: Value = http
            .get(format!("{url}/api/jobs/nightly/status"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        assert_eq!(st, json!({"status": null, "run": null}));

        // Streamed to its end: one event per change, the last TERMINATED.
        let events = stream_run(&http, &url, "nightly", &json!({"params": {"a": "7"}})).await;
        let last = events.last().expect("events");
        assert_eq!(last.data["status"], "TERMINATED", "{events:#?}");
        assert_eq!(last.data["run"]["status"], "Success");
        assert_eq!(last.data["run"]["state"]["result_state"], "SUCCESS");
        let dag_id = last.data["run"]["run_id"]
            .as_str()
            .expect("runId")
            .to_owned();
        assert_eq!(last.data["run"]["id"], json!(dag_id));
        let statuses: std::collections::BTreeMap<String, Value> = last.data["run"]["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| {
                (
                    t["task"].as_str().expect("task").to_owned(),
                    t["status"].clone(),
                )
            })
            .collect();
        assert_eq!(statuses["nightly"], "Success");
        assert_eq!(statuses["publish"], "Success");
        assert_eq!(statuses["on_failure"], "Skipped", "{statuses:?}");
        assert_eq!(statuses.len(), 3);
        for e in &events {
            let id = e.id.as_deref().expect("every event has an id");
            assert!(id.starts_with(&format!("{dag_id}:")), "{id}");
        }
        // The root task's run carried the parameter.
        let sent = env.calls("jobs/run-now");
        assert!(
            sent.iter().any(|r| r.body.to_string().contains("\"7\"")),
            "{sent:?}"
        );

        // Show, list, status: the same shapes.
        let one: Value = http
            .get(format!("{url}/api/jobs/nightly/runs/{dag_id}"))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(one["status"], "Success");
        assert_eq!(one["root_task"], "nightly");
        let list: Value = http
            .get(format!("{url}/api/jobs/nightly/runs"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        assert_eq!(list["runs"].as_array().expect("runs").len(), 1);
        let st: Value = http
            .get(format!("{url}/api/jobs/nightly/status"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        assert_eq!(st["status"], "TERMINATED");
        assert_eq!(st["run"]["run_id"], json!(dag_id));

        // A DAG run of another task is not this key's.
        let slow: Value = http
            .post(format!("{url}/api/jobs/slow/run"))
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        let slow_id = slow["runId"].as_str().expect("runId").to_owned();
        for (method, path) in [
            ("GET", format!("/api/jobs/nightly/runs/{slow_id}")),
            ("DELETE", format!("/api/jobs/nightly/runs/{slow_id}")),
            ("GET", format!("/api/jobs/slow/runs/{dag_id}")),
        ] {
            let r = http
                .request(method.parse().expect("method"), format!("{url}{path}"))
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
        }

        // Cancel → 204 → the DAG run ends Cancelled, its Databricks run too.
        poll_until(&http, &format!("{url}/api/jobs/slow/runs/{slow_id}"), |v| {
            v["tasks"][0]["attempts"][0]["databricks_run_id"].is_string()
        })
        .await;
        let r = http
            .delete(format!("{url}/api/jobs/slow/runs/{slow_id}"))
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let ended = poll_until(&http, &format!("{url}/api/jobs/slow/runs/{slow_id}"), |v| {
            v["state"]["life_cycle_state"] == "TERMINATED"
        })
        .await;
        assert_eq!(ended["status"], "Cancelled", "{ended}");
        assert_eq!(ended["state"]["result_state"], "CANCELED");
        assert!(!env.calls("jobs/runs/cancel").is_empty());

        dispatching.stop().await;
        env.stop().await;
    })
    .await;
}
