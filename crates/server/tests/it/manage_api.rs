//! The management API (`/api/v1`) and the `/api/events` feed: the CLI's
//! use cases over HTTP, and one resumable stream of every change.

use polysync_testkit::each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Env, config, poll_until, read_sse};

const TRACK: std::time::Duration = std::time::Duration::from_millis(20);

#[tokio::test]
async fn management_routes_call_the_engine_use_cases() {
    each_backend("manage_api", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        let get = |path: &str| {
            let http = http.clone();
            let u = format!("{url}{path}");
            async move { http.get(u).send().await.expect("get") }
        };

        let p: Value = get("/api/v1/platforms").await.json().await.expect("json");
        assert_eq!(p["platforms"][0]["name"], "emu");
        assert_eq!(get("/api/v1/platforms/emu").await.status(), StatusCode::OK);
        assert_eq!(
            get("/api/v1/platforms/nope").await.status(),
            StatusCode::NOT_FOUND
        );

        let jobs: Value = get("/api/v1/jobs").await.json().await.expect("json");
        assert_eq!(jobs["jobs"].as_array().expect("jobs").len(), 2);
        let job: Value = get(&format!("/api/v1/jobs/emu:{}", env.jobs.etl))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(job["name"], "etl-job");
        assert!(job["parameters"].is_array(), "{job}");

        let r = http
            .post(format!("{url}/api/v1/platforms/emu/import"))
            .send()
            .await
            .expect("import");
        assert_eq!(r.status(), StatusCode::OK);
        let report: Value = r.json().await.expect("json");
        assert_eq!(
            report["unchanged"].as_array().expect("unchanged").len(),
            2,
            "{report}"
        );
        let r = http
            .post(format!("{url}/api/v1/sync-params"))
            .json(&json!({"job": format!("emu:{}", env.jobs.etl)}))
            .send()
            .await
            .expect("sync");
        assert_eq!(r.status(), StatusCode::OK);

        // Runs: start, show, list, cancel.
        let run: Value = http
            .post(format!("{url}/api/v1/runs"))
            .json(&json!({"job": format!("emu:{}", env.jobs.long), "params": {"a": "5"}}))
            .send()
            .await
            .expect("start")
            .json()
            .await
            .expect("json");
        let id = run["id"].as_str().expect("id").to_owned();
        let shown: Value = get(&format!("/api/v1/runs/{id}"))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(shown["run"]["id"], json!(id));
        let listed: Value = get("/api/v1/runs?limit=5")
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(listed["runs"][0]["id"], json!(id));
        let r = http
            .post(format!("{url}/api/v1/runs/{id}/cancel"))
            .send()
            .await
            .expect("cancel");
        assert_eq!(r.status(), StatusCode::OK);
        poll_until(&http, &format!("{url}/api/v1/runs/{id}"), |v| {
            v["run"]["status"] == "Cancelled"
        })
        .await;
        let r = http
            .post(format!("{url}/api/v1/runs"))
            .json(&json!({"job": "nope"}))
            .send()
            .await
            .expect("start");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // Tasks and DAG runs.
        let file = format!("tasks:\n  - name: nightly\n    job: emu:{}\n", env.jobs.etl);
        let r = http
            .put(format!("{url}/api/v1/tasks"))
            .body(file)
            .send()
            .await
            .expect("apply");
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{}",
            r.text().await.expect("text")
        );
        let tasks: Value = get("/api/v1/tasks").await.json().await.expect("json");
        assert_eq!(tasks["tasks"].as_array().expect("tasks").len(), 1);
        assert_eq!(get("/api/v1/tasks/nightly").await.status(), StatusCode::OK);
        let r = http
            .put(format!("{url}/api/v1/tasks"))
            .body("tasks:\n  - name: x\n    job: nope\n")
            .send()
            .await
            .expect("apply");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let dag: Value = http
            .post(format!("{url}/api/v1/dag-runs"))
            .json(&json!({"task": "nightly"}))
            .send()
            .await
            .expect("dag")
            .json()
            .await
            .expect("json");
        let dag_id = dag["id"].as_str().expect("dag id").to_owned();
        assert_eq!(
            get(&format!("/api/v1/dag-runs/{dag_id}")).await.status(),
            StatusCode::OK
        );
        let dags: Value = get("/api/v1/dag-runs").await.json().await.expect("json");
        assert_eq!(dags["dag_runs"].as_array().expect("dag runs").len(), 1);
        let r = http
            .post(format!("{url}/api/v1/dag-runs/{dag_id}/cancel"))
            .send()
            .await
            .expect("cancel");
        assert_eq!(r.status(), StatusCode::OK);
        let r = http
            .delete(format!("{url}/api/v1/tasks/nightly"))
            .send()
            .await
            .expect("remove");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);

        // Bodies over 1 MiB are refused.
        let big = "x".repeat(2 * 1024 * 1024);
        let r = http
            .post(format!("{url}/api/jobs/long/run"))
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .expect("big");
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn events_feed_streams_every_change_and_resumes() {
    each_backend("events_feed", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        let feed = http
            .get(format!("{url}/api/events"))
            .send()
            .await
            .expect("events");
        assert!(
            feed.headers()["content-type"]
                .to_str()
                .expect("ct")
                .starts_with("text/event-stream")
        );
        let body: Value = http
            .post(format!("{url}/api/jobs/etl/run"))
            .json(&json!({"params": {"startDate": "2025-01-01"}}))
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        let run_id = body["runId"].clone();
        let is_end = |e: &crate::harness::SseEvent| {
            e.data["kind"] == "run" && e.data["run"]["status"] == "Success"
        };
        let all = read_sse(feed, is_end).await;
        assert!(all.len() >= 3, "{all:?}");
        let ids: Vec<u64> = all
            .iter()
            .map(|e| e.id.as_deref().expect("id").parse().expect("numeric id"))
            .collect();
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
        assert!(
            all.iter()
                .all(|e| e.data["run"]["databricks_run_id"].is_null()
                    || e.data["run"]["databricks_run_id"] == json!(run_id.to_string()))
        );
        // Resume after the first event: exactly the rest, in order.
        let resumed = http
            .get(format!("{url}/api/events"))
            .header("last-event-id", ids[0].to_string())
            .send()
            .await
            .expect("events");
        let rest = read_sse(resumed, is_end).await;
        let rest_ids: Vec<u64> = rest
            .iter()
            .map(|e| e.id.as_deref().expect("id").parse().expect("id"))
            .collect();
        assert_eq!(rest_ids, ids[1..].to_vec());
        env.stop().await;
    })
    .await;
}
