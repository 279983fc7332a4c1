//! `/openapi.json` against the router (every route documented, every
//! documented route served) and `/metrics`' engine figures.

use std::collections::BTreeSet;

use polysync_testkit::each_backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Api, Env, config, poll_until};

const TRACK: std::time::Duration = std::time::Duration::from_millis(20);

/// Every route the server serves (the issue's seed routes, management API,
/// event feed and operations routes).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/api/events"),
    ("post", "/api/jobs/{job_key}/run"),
    ("get", "/api/jobs/{job_key}/runs"),
    ("get", "/api/jobs/{job_key}/runs/{run_id}"),
    ("delete", "/api/jobs/{job_key}/runs/{run_id}"),
    ("get", "/api/jobs/{job_key}/runs/{run_id}/stream"),
    ("get", "/api/jobs/{job_key}/status"),
    ("get", "/api/v1/dispatcher"),
    ("get", "/api/v1/platforms"),
    ("post", "/api/v1/platforms"),
    ("get", "/api/v1/platforms/{name}"),
    ("delete", "/api/v1/platforms/{name}"),
    ("post", "/api/v1/platforms/{name}/import"),
    ("get", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{job}"),
    ("post", "/api/v1/sync-params"),
    ("get", "/api/v1/runs"),
    ("post", "/api/v1/runs"),
    ("get", "/api/v1/runs/{id}"),
    ("post", "/api/v1/runs/{id}/cancel"),
    ("get", "/api/v1/tasks"),
    ("put", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{name}"),
    ("delete", "/api/v1/tasks/{name}"),
    ("get", "/api/v1/dag-runs"),
    ("post", "/api/v1/dag-runs"),
    ("get", "/api/v1/dag-runs/{id}"),
    ("post", "/api/v1/dag-runs/{id}/cancel"),
];

fn concrete(path: &str) -> String {
    path.replace("{job_key}", "long")
        .replace("{run_id}", "1")
        .replace("{name}", "emu")
        .replace("{job}", "emu:none")
        .replace("{id}", "none")
}

#[tokio::test]
async fn openapi_documents_every_route_the_router_serves() {
    each_backend("openapi_routes", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        let api = Api::new(&http, &url);
        let doc = api.get("/openapi.json").await;
        assert_eq!(doc["openapi"], "3.1.0");
        let bearer = &doc["components"]["securitySchemes"]["bearer"];
        assert_eq!(
            (bearer["type"].as_str(), bearer["scheme"].as_str()),
            (Some("http"), Some("bearer")),
            "{bearer}"
        );
        let error = &doc["components"]["schemas"]["ErrorBody"];
        for field in ["error", "error_code", "hint", "violations"] {
            assert!(
                error["properties"][field].is_object(),
                "ErrorBody.{field}: {error}"
            );
        }
        assert_eq!(error["required"], json!(["error"]));

        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    continue;
                }
                documented.insert((method.clone(), path.clone()));
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses.contains_key("default"),
                    "{method} {path}: no error response"
                );
                if path != "/health" {
                    assert!(responses.contains_key("401"), "{method} {path}: no 401");
                }
            }
        }
        let expected: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(documented, expected, "documented routes = served routes");

        // Each documented route is one the router matches: the observing
        // layer (x-request-id) only wraps matched routes, and a matched
        // path with an undocumented method would be a 405.
        for (method, path) in &documented {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let r = api.send(m, &concrete(path), None).await;
            assert_ne!(
                r.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert!(
                r.headers().contains_key("x-request-id"),
                "{method} {path} is not routed: {}",
                r.status()
            );
            if r.status().is_client_error() || r.status().is_server_error() {
                let body: Value = r
                    .json()
                    .await
                    .unwrap_or_else(|e| panic!("{method} {path}: error body is not JSON: {e}"));
                assert!(body["error"].is_string(), "{method} {path}: {body}");
            }
        }
        // A path no route serves is not matched.
        let r = api.send(Method::GET, "/api/v1/nothing", None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(!r.headers().contains_key("x-request-id"));
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bad_query_strings_and_bodies_are_json_400s() {
    each_backend("openapi_bad_input", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        let cases = [
            http.get(format!("{url}/api/v1/runs?limit=-1")),
            http.get(format!("{url}/api/v1/dag-runs?limit=x")),
            http.get(format!("{url}/api/v1/jobs?include_removed=maybe")),
            http.post(format!("{url}/api/v1/runs")).body("{}"),
            http.post(format!("{url}/api/v1/runs"))
                .json(&json!({"job": "emu:1", "extra": 1})),
            http.post(format!("{url}/api/v1/dag-runs"))
                .json(&json!({"task": 5})),
            http.post(format!("{url}/api/v1/sync-params"))
                .header("content-type", "application/json")
                .body("{"),
        ];
        for req in cases {
            let r = req.send().await.expect("send");
            let what = r.url().to_string();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
            let body: Value = r.json().await.expect("JSON error body");
            assert!(body["error"].is_string(), "{what}: {body}");
            assert!(
                body["violations"][0]["reason"].is_string(),
                "{what}: {body}"
            );
        }
        assert!(env.calls("jobs/run-now").is_empty(), "nothing was started");
        env.stop().await;
    })
    .await;
}

/// The value of the sample `name{labels…}` whose labels contain `label`.
fn sample(metrics: &str, name: &str, label: &str) -> Option<u64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_report_runs_by_status_and_databricks_calls_per_workspace() {
    each_backend("metrics_engine", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        let api = Api::new(&http, &url);
        let r = api
            .post(
                "/api/jobs/etl/run",
                Some(&json!({"params": {"startDate": "2025-01-01"}})),
            )
            .await;
        let run_id = r["runId"].as_i64().expect("runId");
        poll_until(&http, &format!("{url}/api/jobs/etl/runs/{run_id}"), |v| {
            v["state"]["result_state"] == "SUCCESS"
        })
        .await;
        let long = api.post("/api/jobs/long/run", None).await;
        assert!(long["runId"].is_i64(), "{long}");

        // A workspace refusing new runs with 429 (too many active task runs).
        env.emu.set_faults(polysync_emulator::FaultConfig {
            max_concurrent_task_runs: Some(0),
            ..Default::default()
        });
        let refused = tokio::spawn(http.post(format!("{url}/api/jobs/long/run")).send());
        let mut metrics = String::new();
        for _ in 0..3000 {
            metrics = api
                .send(Method::GET, "/metrics", None)
                .await
                .text()
                .await
                .expect("text");
            if sample(
                &metrics,
                "polysync_databricks_throttled_total",
                r#"platform="emu""#,
            )
            .is_some_and(|n| n >= 1)
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // The workspace accepts again: the refused start goes through on retry.
        env.emu
            .set_faults(polysync_emulator::FaultConfig::default());
        let _ = refused.await.expect("join").expect("post");
        assert!(metrics.contains("# TYPE polysync_runs gauge"), "{metrics}");
        assert_eq!(
            sample(&metrics, "polysync_runs", r#"status="success""#),
            Some(1),
            "{metrics}"
        );
        assert!(
            sample(&metrics, "polysync_runs", r#"status="running""#).is_some()
                || sample(&metrics, "polysync_runs", r#"status="queued""#).is_some(),
            "{metrics}"
        );
        let sent = env.emu.requests().len() as u64;
        let requests = sample(
            &metrics,
            "polysync_databricks_requests_total",
            r#"platform="emu""#,
        )
        .expect("requests");
        assert!(
            requests > 0 && requests <= sent,
            "{requests} of {sent} emulator requests: {metrics}"
        );
        let throttled = sample(
            &metrics,
            "polysync_databricks_throttled_total",
            r#"platform="emu""#,
        )
        .expect("429s");
        assert!(throttled >= 1, "{metrics}");
        assert!(metrics.contains("polysync_tracker_pass_ms "), "{metrics}");
        env.stop().await;
    })
    .await;
}
