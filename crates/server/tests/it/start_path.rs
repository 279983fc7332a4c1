//! `POST /api/jobs/:key/run`'s start path (issue 10): the run is stored
//! once with its final request and submit intent, sent once, and answered
//! without asking Databricks for its state (the tracker follows it), also
//! under concurrent callers.

use std::time::Duration;

use polysync_engine::RunFilter;
use polysync_testkit::each_backend;
use serde_json::json;

use crate::harness::{Api, Env, config};

#[tokio::test]
async fn post_run_is_stored_with_its_intent_sent_once_and_never_polled() {
    each_backend("start_path", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server_untracked(env.job_env(), &config(env.jobs)).await;
        let api = Api::new(&env.http, &url);

        let body = api
            .post(
                "/api/jobs/etl/run",
                Some(&json!({"params": {"startDate": "2025-01-01"}})),
            )
            .await;
        let run_id = body["runId"].as_i64().expect("runId");
        assert_eq!(env.calls("jobs/run-now").len(), 1);
        assert!(env.calls("jobs/runs/get").is_empty());

        // Stored once (version 1: the final request, mapped parameters in
        // its body, and the submit intent) and answered once (version 2).
        let runs = env
            .engine
            .list_runs(&RunFilter::default(), 10)
            .await
            .expect("runs");
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(run.version, 2, "{run:?}");
        assert_eq!(run.databricks_run_id, Some(run_id.to_string()));
        assert!(run.submit_attempted_at.is_some());
        // One status change recorded: the run as stored with its intent.
        let details = env.engine.get_run(&run.id).await.expect("run");
        assert_eq!(details.history.len(), 1, "{:?}", details.history);
        assert_eq!(
            details.run.request.as_ref().expect("request")["body"]["notebook_params"],
            json!({"startDate": "2025-01-01"})
        );
        // Its idempotency token is the run's id.
        let sent = env.calls("jobs/run-now");
        assert_eq!(
            sent[0].body["idempotency_token"].as_str(),
            Some(run.id.as_str())
        );
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn concurrent_posts_each_start_one_run() {
    each_backend("start_path_concurrent", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server_untracked(env.job_env(), &config(env.jobs)).await;
        let mut posts = Vec::new();
        for i in 0..16 {
            let http = env.http.clone();
            let url = url.clone();
            posts.push(tokio::spawn(async move {
                let day = format!("2025-01-{:02}", i + 1);
                let r = http
                    .post(format!("{url}/api/jobs/etl/run"))
                    .json(&json!({"params": {"startDate": day}}))
                    .send()
                    .await
                    .expect("post");
                assert!(r.status().is_success(), "{}", r.status());
                let v: serde_json::Value = r.json().await.expect("json");
                v["runId"].as_i64().expect("runId")
            }));
        }
        let mut ids = Vec::new();
        for p in posts {
            ids.push(p.await.expect("join"));
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 16);
        assert_eq!(env.calls("jobs/run-now").len(), 16);
        assert!(env.calls("jobs/runs/get").is_empty());
        let runs = env
            .engine
            .list_runs(&RunFilter::default(), 100)
            .await
            .expect("runs");
        assert_eq!(runs.len(), 16);
        assert!(runs.iter().all(|r| r.databricks_run_id.is_some()));
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_run_being_sent_is_not_re_sent_by_the_tracker() {
    each_backend("start_path_in_flight", async |db| {
        let mut env = Env::new(db).await;
        // Every Databricks answer takes 600 ms, while the tracker passes
        // every 20 ms: it sees the run stored with its intent and no
        // answer yet many times before the POST's own send returns.
        env.emu.set_faults(polysync_emulator::FaultConfig {
            latency_ms: 600,
            ..polysync_emulator::FaultConfig::default()
        });
        let url = env
            .server(env.job_env(), &config(env.jobs), Duration::from_millis(20))
            .await;
        let api = Api::new(&env.http, &url);
        let body = api
            .post(
                "/api/jobs/etl/run",
                Some(&json!({"params": {"startDate": "2025-01-01"}})),
            )
            .await;
        assert!(body["runId"].is_i64(), "{body}");
        // Let a re-send made meanwhile land in the emulator's log.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(env.calls("jobs/run-now").len(), 1);
        env.stop().await;
    })
    .await;
}
