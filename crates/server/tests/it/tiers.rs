//! The seed's execution tiers, configured in `polysync.toml`, take effect
//! over real HTTP: the stream tier ends a live stream, the read tier
//! retries a 503 as often as configured while the write tier never
//! repeats one, and the read cache keeps only what cannot change (an ended
//! run's task runs) while run status is never served stale.

use std::time::Duration;

use polysync_emulator::FaultConfig;
use polysync_engine::{ExecutionTiers, NoProgress};
use polysync_testkit::each_backend;
use serde_json::{Value, json};

use crate::harness::{Env, config, create_job_from, read_sse};

const NO_TRACKING: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_stream_ends_after_the_configured_stream_timeout() {
    each_backend("tier_stream", async |db| {
        let mut env = Env::new(db).await;
        // The key follows for an hour; the stream tier says one second.
        let toml = format!(
            "{}\n[tiers]\nstream = {{ timeout = \"1s\" }}\n",
            config(env.jobs)
        );
        let url = env.server(env.job_env(), &toml, NO_TRACKING).await;
        let resp = env
            .http
            .post(format!("{url}/api/jobs/long/run?stream=true"))
            .send()
            .await
            .expect("run");
        let events = read_sse(resp, |_| false).await;
        let last = events.last().expect("events");
        assert_eq!(last.event.as_deref(), Some("error"), "{events:?}");
        assert_eq!(last.data["code"], "TIMEOUT");
        assert!(
            last.data["error"].as_str().expect("error").contains("1s"),
            "{}",
            last.data
        );
        // The run keeps going: the stream ending cancels nothing.
        let run_id = events[0].data["run"]["run_id"].as_i64().expect("run_id");
        assert!(env.calls("jobs/runs/cancel").is_empty());
        let up = env.upstream_run(run_id).await;
        assert_ne!(up["state"]["life_cycle_state"], "TERMINATED", "{up}");
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_write_is_not_retried_on_a_503_while_a_read_is_as_configured() {
    each_backend("tier_retry", async |db| {
        let mut env = Env::new(db).await;
        let toml = format!(
            "{}\n[tiers]\nread = {{ attempts = 2, timeout = \"10s\" }}\nwrite = {{ attempts = 1 }}\n",
            config(env.jobs)
        );
        // The engine takes the file's read and write tiers, as `polysync serve` does.
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("polysync.toml");
        std::fs::write(&path, &toml).expect("write");
        let tiers = polysync_server::load_server_config(env.job_env(), Some(&path))
            .expect("config")
            .tiers;
        env.engine = env.engine.clone().with_tiers(tiers);
        // No tracking loop: its first round could re-send the failed write
        // below (a transient failure leaves the run Queued for a re-send
        // under the same token) while the 503s last, and this test counts
        // what the request itself sent.
        let url = env.server_untracked(env.job_env(), &toml).await;
        let http = env.http.clone();
        let started: Value = http
            .post(format!("{url}/api/jobs/long/run"))
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        let run_id = started["runId"].as_i64().expect("runId");
        let before = env.emu.requests().len();
        env.emu.set_faults(FaultConfig {
            error_rate: 1.0,
            error_status: Some(503),
            ..FaultConfig::default()
        });
        // A write: one run-now, never repeated.
        let r = http
            .post(format!("{url}/api/jobs/long/run"))
            .send()
            .await
            .expect("run");
        assert!(!r.status().is_success(), "{}", r.status());
        // A read of the active run: runs/get as often as the read tier says.
        let _ = http
            .get(format!("{url}/api/jobs/long/runs/{run_id}"))
            .send()
            .await
            .expect("get");
        env.emu.set_faults(FaultConfig::default());
        let during: Vec<_> = env.emu.requests().split_off(before);
        let count = |endpoint: &str| {
            during
                .iter()
                .filter(|r| r.endpoint == endpoint && r.status == 503)
                .count()
        };
        assert_eq!(count("POST jobs/run-now"), 1, "writes are not retried");
        assert_eq!(count("GET jobs/runs/get"), 2, "reads: the configured 2 attempts");
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_read_cache_keeps_only_an_ended_runs_task_runs() {
    each_backend("tier_cache", async |db| {
        let mut env = Env::new(db).await;
        let workflow = create_workflow(&env).await;
        env.engine.import("emu", &NoProgress).await.expect("import");
        env.engine = env.engine.clone().with_tiers(ExecutionTiers::default());
        let url = env
            .server(env.job_env(), &config(env.jobs), Duration::from_millis(20))
            .await;
        let http = env.http.clone();
        let run: Value = http
            .post(format!("{url}/api/v1/runs"))
            .json(&json!({"job": format!("emu:{workflow}")}))
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        let id = run["id"].as_str().expect("id").to_owned();
        let databricks_id = loop {
            let v: Value = http
                .get(format!("{url}/api/v1/runs/{id}"))
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            if v["run"]["ended_at"].is_i64() {
                break v["run"]["databricks_run_id"]
                    .as_str()
                    .expect("databricks id")
                    .to_owned();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let gets = || {
            env.emu
                .requests()
                .iter()
                .filter(|r| {
                    r.endpoint == "GET jobs/runs/get"
                        && r.path.contains(&format!("run_id={databricks_id}"))
                })
                .count()
        };
        // The first read after the end asks once; the next come from the cache.
        let first: Value = http
            .get(format!("{url}/api/v1/runs/{id}"))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let after_first = gets();
        for _ in 0..3 {
            let again: Value = http
                .get(format!("{url}/api/v1/runs/{id}"))
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            assert_eq!(again["tasks"], first["tasks"]);
            assert_eq!(again["run"]["status"], "Success");
        }
        assert_eq!(first["tasks"].as_array().expect("tasks").len(), 2);
        assert_eq!(gets(), after_first, "an ended run's task runs are cached");
        env.stop().await;
    })
    .await;
}

/// A two-task workflow whose run ends in about a second.
async fn create_workflow(env: &Env) -> i64 {
    let body = json!({
        "name": "two-step",
        "tasks": [
            {"task_key": "a", "description": "emulator: duration=4s",
             "spark_python_task": {"python_file": "dbfs:/a.py"}},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], "description": "emulator: duration=4s",
             "spark_python_task": {"python_file": "dbfs:/b.py"}},
        ],
    });
    create_job_from(&env.http, &env.emu, &body).await
}
