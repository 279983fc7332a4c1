//! Exactly one tracker per workspace: a server takes the tracking lease
//! dispatchers take, so two servers on one store never both poll a
//! workspace, and the one without the lease still streams the runs'
//! changes (read from the store); a server beside its own process's
//! dispatcher leaves tracking to it.

use std::time::Duration;

use polysync_testkit::each_backend;
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Env, config, read_sse, stream_run};

const TRACK: Duration = Duration::from_millis(20);

async fn metric(http: &reqwest::Client, url: &str, name: &str) -> f64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Waits (bounded by a count, not a time) until `name` of `url` is `want`.
async fn until_metric(http: &reqwest::Client, url: &str, name: &str, want: f64) {
    for _ in 0..3000 {
        if metric(http, url, name).await == want {
            return;
        }
        tokio::time::sleep(TRACK).await;
    }
    panic!("{name} of {url} never became {want}");
}

#[tokio::test]
async fn two_servers_on_one_store_track_each_workspace_once() {
    each_backend("one_tracker_servers", async |db| {
        let mut env = Env::new(db).await;
        let http = env.http.clone();
        let toml = config(env.jobs);
        let a = env.server(env.job_env(), &toml, TRACK).await;
        until_metric(&http, &a, "polysync_server_tracked_workspaces", 1.0).await;
        // B: another process's engine on the same store.
        let other = env.other_engine(db).await;
        let b = env
            .server_with(
                other,
                env.job_env(),
                &toml,
                TRACK,
                polysync_server::own_tracking(),
            )
            .await;
        until_metric(&http, &b, "polysync_server_observed_workspaces", 1.0).await;

        let started: Value = http
            .post(format!("{a}/api/jobs/long/run"))
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        let run_id = started["runId"].as_i64().expect("runId");
        // B streams a run only A tracks: it sees the end through the store.
        let stream = http
            .get(format!("{b}/api/jobs/long/runs/{run_id}/stream"))
            .send()
            .await
            .expect("stream");
        let reading = tokio::spawn(read_sse(stream, |e| e.data["status"] == "TERMINATED"));
        let r = http
            .delete(format!("{a}/api/jobs/long/runs/{run_id}"))
            .send()
            .await
            .expect("cancel");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let events = reading.await.expect("stream");
        let last = events.last().expect("events");
        assert_eq!(last.data["status"], "TERMINATED");
        assert_eq!(last.data["run"]["state"]["result_state"], "CANCELED");

        // One tracker: A tracked every round, B never asked Databricks.
        assert_eq!(
            metric(&http, &b, "polysync_server_tracking_rounds_total").await,
            0.0
        );
        assert_eq!(
            metric(&http, &b, "polysync_server_tracked_workspaces").await,
            0.0
        );
        assert!(metric(&http, &a, "polysync_server_tracking_rounds_total").await > 0.0);
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_server_beside_its_dispatcher_leaves_tracking_to_it() {
    each_backend("one_tracker_dispatcher", async |db| {
        let mut env = Env::new(db).await;
        let http = env.http.clone();
        let dispatching = env.dispatcher(TRACK).await;
        let engine = env.engine.clone();
        let role = dispatching.role.clone();
        let url = env
            .server_with(engine, env.job_env(), &config(env.jobs), TRACK, role)
            .await;
        let before = env.calls("jobs/runs/list").len();
        let body = serde_json::json!({"params": {"startDate": "2025-01-01"}});
        let events = stream_run(&http, &url, "etl", &body).await;
        assert_eq!(events.last().expect("events").data["status"], "TERMINATED");
        // The dispatcher tracked the run to its end (its listings); the
        // server's loop tracked nothing.
        assert!(env.calls("jobs/runs/list").len() > before);
        assert_eq!(
            metric(&http, &url, "polysync_server_tracking_rounds_total").await,
            0.0
        );
        assert_eq!(
            metric(&http, &url, "polysync_server_tracked_workspaces").await,
            0.0
        );
        dispatching.stop().await;
        env.stop().await;
    })
    .await;
}
