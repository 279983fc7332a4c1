//! The seed's `/api/jobs` routes: shapes and status codes, validation (400
//! with every violation, nothing sent), SSE with resume, cancel, OBO,
//! environment discovery, freshness.

use std::time::Duration;

use polysync_testkit::each_backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{
    Api, Env, SP_TOKEN, USER_TOKEN, config, poll_until, read_sse, violation_pointers,
};

/// No tracking pass during the test: reads must be fresh on their own.
const NO_TRACKING: Duration = Duration::from_secs(3600);
const FAST_TRACKING: Duration = Duration::from_millis(20);

fn terminal(v: &Value) -> bool {
    v["status"] == "TERMINATED" || v["status"] == "INTERNAL_ERROR" || v["status"] == "SKIPPED"
}

#[tokio::test]
async fn seed_routes_shapes_status_codes_and_no_stale_read() {
    each_backend("seed_routes", async |db| {
        let mut env = Env::new(db).await;
        let url = env
            .server(env.job_env(), &config(env.jobs), NO_TRACKING)
            .await;
        let api = Api::new(&env.http, &url);

        assert_eq!(api.get("/health").await, json!({"status": "ok"}));
        // Before any run: status null.
        assert_eq!(
            api.get("/api/jobs/etl/status").await,
            json!({"status": null, "run": null})
        );

        let params = json!({"params": {"startDate": "2025-01-01", "n": 3.5}});
        let body = api.post("/api/jobs/etl/run", Some(&params)).await;
        let run_id = body["runId"]
            .as_i64()
            .expect("runId is the Databricks run id");
        assert_eq!(body.as_object().expect("obj").len(), 1);

        // The mapping: notebook_params, values as strings, nothing else.
        let sent = env.calls("jobs/run-now");
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].body["notebook_params"],
            json!({"startDate": "2025-01-01", "n": "3.5"})
        );
        assert!(sent[0].body.get("job_parameters").is_none());
        assert!(sent[0].body.get("python_params").is_none());

        let run = api.get(&format!("/api/jobs/etl/runs/{run_id}")).await;
        assert_eq!(run["run_id"], json!(run_id));
        assert_eq!(run["job_id"], json!(env.jobs.etl));
        assert!(run["state"]["life_cycle_state"].is_string());

        // No stale read: once the emulator says the run ended, the very next
        // status read says so too (no tracking loop runs in this test).
        loop {
            let up = env.upstream_run(run_id).await;
            if up["state"]["life_cycle_state"] == "TERMINATED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let st = api.get("/api/jobs/etl/status").await;
        assert_eq!(st["status"], "TERMINATED", "{st}");
        assert_eq!(st["run"]["run_id"], json!(run_id));
        assert_eq!(st["run"]["state"]["result_state"], "SUCCESS");
        let run = api.get(&format!("/api/jobs/etl/runs/{run_id}")).await;
        assert_eq!(run["state"]["life_cycle_state"], "TERMINATED");

        // List: default, clamped, invalid.
        let list = api.get("/api/jobs/etl/runs").await;
        assert_eq!(list["runs"].as_array().expect("runs").len(), 1);
        for limit in ["0", "500", "-3"] {
            api.get(&format!("/api/jobs/etl/runs?limit={limit}")).await;
        }
        api.expect(
            Method::GET,
            "/api/jobs/etl/runs?limit=abc",
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;

        // Unknown key, unknown run, a run of another job: 404 naming it.
        for path in [
            "/api/jobs/nope/status",
            "/api/jobs/nope/runs",
            "/api/jobs/nope/runs/1",
        ] {
            let b = api
                .expect(Method::GET, path, None, StatusCode::NOT_FOUND)
                .await;
            assert!(b["error"].as_str().expect("error").contains("nope"), "{b}");
        }
        // A run is named exactly: an id prefix (the CLI's convenience) is no run.
        for prefix in ["0", "01"] {
            let path = format!("/api/jobs/long/runs/{prefix}");
            assert_eq!(
                api.status(Method::GET, &path).await,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        assert_eq!(
            api.status(Method::POST, "/api/jobs/nope/run").await,
            StatusCode::NOT_FOUND
        );
        let long = api.post("/api/jobs/long/run", None).await;
        let long_id = long["runId"].as_i64().expect("runId");
        let b = api
            .expect(
                Method::GET,
                &format!("/api/jobs/etl/runs/{long_id}"),
                None,
                StatusCode::NOT_FOUND,
            )
            .await;
        assert!(
            b["error"]
                .as_str()
                .expect("error")
                .contains(&long_id.to_string()),
            "{b}"
        );
        assert_eq!(
            api.status(Method::DELETE, &format!("/api/jobs/etl/runs/{long_id}"))
                .await,
            StatusCode::NOT_FOUND
        );
        assert!(
            env.calls("jobs/runs/cancel").is_empty(),
            "nothing cancelled across jobs"
        );

        // Cancel → 204 → the run ends Cancelled.
        api.expect(
            Method::DELETE,
            &format!("/api/jobs/long/runs/{long_id}"),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
        let ended = poll_until(
            &env.http,
            &format!("{url}/api/jobs/long/runs/{long_id}"),
            |v| v["state"]["life_cycle_state"] == "TERMINATED",
        )
        .await;
        assert_eq!(ended["state"]["result_state"], "CANCELED");
        assert_eq!(ended["status"], "Cancelled", "{ended}");
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn invalid_inputs_are_400_with_every_violation_and_nothing_sent() {
    each_backend("invalid_inputs", async |db| {
        let mut env = Env::new(db).await;
        let url = env
            .server(env.job_env(), &config(env.jobs), NO_TRACKING)
            .await;
        let api = Api::new(&env.http, &url);
        let http = env.http.clone();
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            // Schema: missing required, wrong type, unknown property — all listed.
            (
                "etl",
                json!({"params": {"n": "x", "extra": 1}}),
                vec!["/params", "/params/n"],
            ),
            // Nested values where the task type takes strings (AppKit: 500).
            (
                "long",
                json!({"params": {"a": {"b": 1}, "c": [1, 2]}}),
                vec!["/params/a", "/params/c"],
            ),
            // null is not a parameter value (AppKit sent "null").
            ("long", json!({"params": {"z": null}}), vec!["/params/z"]),
            // Not an object.
            ("long", json!({"params": [1, 2]}), vec!["/params"]),
            ("long", json!({"params": "x"}), vec!["/params"]),
            // Unknown envelope field.
            (
                "long",
                json!({"parameters": {"a": "1"}}),
                vec!["/parameters"],
            ),
        ];
        for (key, body, pointers) in cases {
            let b = api
                .expect(
                    Method::POST,
                    &format!("/api/jobs/{key}/run"),
                    Some(&body),
                    StatusCode::BAD_REQUEST,
                )
                .await;
            let got = violation_pointers(&b);
            for p in &pointers {
                assert!(got.iter().any(|g| g == p), "{body}: {p} missing in {b}");
            }
        }
        // The schema case lists all three problems.
        let b = api
            .expect(
                Method::POST,
                "/api/jobs/etl/run",
                Some(&json!({"params": {"n": "x", "extra": 1}})),
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert!(violation_pointers(&b).len() >= 3, "{b}");
        // A JSON body without Content-Type: application/json is refused, not ignored.
        let r = http
            .post(format!("{url}/api/jobs/long/run"))
            .header("content-type", "text/plain")
            .body(r#"{"params": {"a": "1"}}"#)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = http
            .post(format!("{url}/api/jobs/long/run"))
            .body(r#"{"params": {"a": "1"}}"#)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(
            env.calls("jobs/run-now").is_empty(),
            "nothing was triggered"
        );
        assert!(
            env.engine
                .list_runs(&Default::default(), 10)
                .await
                .expect("runs")
                .is_empty(),
            "nothing was stored"
        );

        // Without a task type, parameters go to job_parameters.
        api.post("/api/jobs/long/run", Some(&json!({"params": {"a": 7}})))
            .await;
        let sent = env.calls("jobs/run-now");
        assert_eq!(sent[0].body["job_parameters"], json!({"a": "7"}));

        // Upstream errors keep Databricks' error code and message.
        http.post(format!("{}/api/2.1/jobs/delete", env.emu.url()))
            .bearer_auth(SP_TOKEN)
            .json(&json!({"job_id": env.jobs.etl}))
            .send()
            .await
            .expect("delete job");
        let r = api
            .send(
                Method::POST,
                "/api/jobs/etl/run",
                Some(&json!({"params": {"startDate": "2025-01-01"}})),
            )
            .await;
        assert!(r.status().is_client_error(), "{}", r.status());
        let b: Value = r.json().await.expect("json");
        assert_eq!(b["error_code"], "INVALID_PARAMETER_VALUE", "{b}");
        assert!(
            b["error"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("Job {} does not exist", env.jobs.etl))),
            "{b}"
        );
        assert_ne!(b["error"], "Bad Request");
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn sse_stream_to_completion_then_resume_after_a_dropped_connection() {
    each_backend("sse", async |db| {
        let mut env = Env::new(db).await;
        let url = env
            .server(env.job_env(), &config(env.jobs), FAST_TRACKING)
            .await;
        let http = env.http.clone();

        // Streamed run, read to its end.
        let resp = http
            .post(format!("{url}/api/jobs/etl/run?stream=true"))
            .json(&json!({"params": {"startDate": "2025-01-01"}}))
            .send()
            .await
            .expect("stream");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .expect("ct")
                .starts_with("text/event-stream")
        );
        let events = read_sse(resp, |_| false).await;
        assert!(events.len() >= 2, "{events:?}");
        let last = events.last().expect("last");
        assert_eq!(last.data["status"], "TERMINATED");
        assert_eq!(last.data["run"]["state"]["result_state"], "SUCCESS");
        let run_id = last.data["run"]["run_id"].as_i64().expect("run_id");
        for e in &events {
            assert!(
                e.id.as_deref()
                    .is_some_and(|id| id.starts_with(&format!("{run_id}:"))),
                "{e:?}"
            );
            assert!(e.data["timestamp"].is_i64());
        }
        // One event per change, not per poll: consecutive statuses differ.
        for w in events.windows(2) {
            assert_ne!(
                (&w[0].data["status"], &w[0].data["run"]["status"]),
                (&w[1].data["status"], &w[1].data["run"]["status"]),
                "{events:?}"
            );
        }

        // A second run: read the first event, drop the connection.
        let resp = http
            .post(format!("{url}/api/jobs/etl/run?stream=true"))
            .json(&json!({"params": {"startDate": "2025-01-02"}}))
            .send()
            .await
            .expect("stream");
        let first = read_sse(resp, |_| true).await;
        let first = first.first().expect("first event").clone();
        let id2 = first.data["run"]["run_id"].as_i64().expect("run_id");
        // The run goes on without its client, and is not cancelled.
        let ended = poll_until(&http, &format!("{url}/api/jobs/etl/runs/{id2}"), |v| {
            terminal(&json!({"status": v["state"]["life_cycle_state"]}))
        })
        .await;
        assert_eq!(ended["state"]["result_state"], "SUCCESS");
        assert!(env.calls("jobs/runs/cancel").is_empty());
        // Resume: only what the client has not seen, ending with the end.
        let resp = http
            .get(format!("{url}/api/jobs/etl/runs/{id2}/stream"))
            .header("last-event-id", first.id.clone().expect("id"))
            .send()
            .await
            .expect("resume");
        let resumed = read_sse(resp, |_| false).await;
        assert_eq!(resumed.len(), 1, "{resumed:?}");
        assert_eq!(resumed[0].data["status"], "TERMINATED");
        assert_ne!(resumed[0].id, first.id);
        // Resuming after the last event: nothing more, the stream closes.
        let resp = http
            .get(format!("{url}/api/jobs/etl/runs/{id2}/stream"))
            .header("last-event-id", resumed[0].id.clone().expect("id"))
            .send()
            .await
            .expect("resume");
        assert!(read_sse(resp, |_| false).await.is_empty());
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn many_streams_on_one_run_cost_one_tracked_run() {
    each_backend("many_streams", async |db| {
        let mut env = Env::new(db).await;
        let url = env
            .server(env.job_env(), &config(env.jobs), FAST_TRACKING)
            .await;
        let http = env.http.clone();
        let body: Value = http
            .post(format!("{url}/api/jobs/etl/run"))
            .json(&json!({"params": {"startDate": "2025-01-01"}}))
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        let run_id = body["runId"].as_i64().expect("runId");
        let streams = 200;
        let mut tasks = Vec::new();
        for _ in 0..streams {
            let http = http.clone();
            let u = format!("{url}/api/jobs/etl/runs/{run_id}/stream");
            tasks.push(tokio::spawn(async move {
                let resp = http.get(u).send().await.expect("stream");
                read_sse(resp, |_| false).await
            }));
        }
        for t in tasks {
            let events = t.await.expect("task");
            assert_eq!(events.last().expect("last").data["status"], "TERMINATED");
        }
        // Status reads: one tracked run, not one read per stream. A stream
        // opens on the stored run and follows the tracker's change events;
        // the tracker reads this run through its listings (a `runs/get`
        // only where they cannot tell), so the count stays near zero
        // whatever the number of streams (it was one or two per stream).
        let polls = env.calls("jobs/runs/get").len();
        eprintln!("{streams} streams: {polls} runs/get");
        assert!(
            polls < 10,
            "{polls} runs/get for {streams} streams on one run"
        );
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn on_behalf_of_user_only_when_the_key_opts_in() {
    each_backend("obo", async |db| {
        let mut env = Env::new(db).await;
        let url = env
            .server(env.job_env(), &config(env.jobs), NO_TRACKING)
            .await;
        let http = env.http.clone();
        let api = Api::new(&http, &url);
        // Opted in: the user's token starts the run.
        let r = http
            .post(format!("{url}/api/jobs/obo/run"))
            .header("x-forwarded-access-token", USER_TOKEN)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::OK);
        let calls = env.calls("jobs/run-now");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].caller.as_deref(), Some(USER_TOKEN));
        // Opted in without a token: 401, nothing sent.
        assert_eq!(
            api.status(Method::POST, "/api/jobs/obo/run").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(env.calls("jobs/run-now").len(), 1);
        // Not opted in: a forwarded token is ignored; the platform runs it.
        let r = http
            .post(format!("{url}/api/jobs/long/run"))
            .header("x-forwarded-access-token", USER_TOKEN)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::OK);
        let calls = env.calls("jobs/run-now");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].caller.as_deref(), Some(SP_TOKEN));
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn env_discovery_single_and_multi_job_mode() {
    each_backend("env_discovery", async |db| {
        let mut env = Env::new(db).await;
        // Single-job mode: DATABRICKS_JOB_ID → `default`, no config file keys.
        let single = vec![("DATABRICKS_JOB_ID".to_owned(), env.jobs.etl.to_string())];
        let url = env.server(single, "", NO_TRACKING).await;
        let api = Api::new(&env.http, &url);
        api.get("/api/jobs/default/status").await;
        api.post("/api/jobs/default/run", None).await;
        assert_eq!(
            env.calls("jobs/run-now")[0].body["job_id"],
            json!(env.jobs.etl)
        );
        assert_eq!(
            api.status(Method::GET, "/api/jobs/etl/status").await,
            StatusCode::NOT_FOUND
        );
        // Multi-job mode: one key per DATABRICKS_JOB_<NAME>, lowercased.
        let url = env.server(env.job_env(), "", NO_TRACKING).await;
        let api = Api::new(&env.http, &url);
        for key in ["etl", "long", "ETL"] {
            api.get(&format!("/api/jobs/{key}/runs")).await;
        }
        assert_eq!(
            api.status(Method::GET, "/api/jobs/default/status").await,
            StatusCode::NOT_FOUND
        );
        env.stop().await;
    })
    .await;
}
