//! The management API (`/api/v1`) and the `/api/events` feed: the CLI's
//! use cases over HTTP, and one resumable stream of every change.

use polysync_testkit::each_backend;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Api, Env, TOKEN_VAR, config, poll_until, read_sse, violation_pointers};

const TRACK: std::time::Duration = std::time::Duration::from_millis(20);

#[tokio::test]
async fn management_routes_call_the_engine_use_cases() {
    each_backend("manage_api", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        let api = Api::new(&http, &url);

        let p = api.get("/api/v1/platforms").await;
        assert_eq!(p["platforms"][0]["name"], "emu");
        api.get("/api/v1/platforms/emu").await;
        assert_eq!(
            api.status(Method::GET, "/api/v1/platforms/nope").await,
            StatusCode::NOT_FOUND
        );

        let jobs = api.get("/api/v1/jobs").await;
        assert_eq!(jobs["jobs"].as_array().expect("jobs").len(), 2);
        let job = api.get(&format!("/api/v1/jobs/emu:{}", env.jobs.etl)).await;
        assert_eq!(job["name"], "etl-job");
        assert!(job["parameters"].is_array(), "{job}");

        let report = api.post("/api/v1/platforms/emu/import", None).await;
        assert_eq!(
            report["unchanged"].as_array().expect("unchanged").len(),
            2,
            "{report}"
        );
        api.post(
            "/api/v1/sync-params",
            Some(&json!({"job": format!("emu:{}", env.jobs.etl)})),
        )
        .await;

        // Runs: start, show, list, cancel.
        let run = api
            .post(
                "/api/v1/runs",
                Some(&json!({"job": format!("emu:{}", env.jobs.long), "params": {"a": "5"}})),
            )
            .await;
        let id = run["id"].as_str().expect("id").to_owned();
        let shown = api.get(&format!("/api/v1/runs/{id}")).await;
        assert_eq!(shown["run"]["id"], json!(id));
        let listed = api.get("/api/v1/runs?limit=5").await;
        assert_eq!(listed["runs"][0]["id"], json!(id));
        api.post(&format!("/api/v1/runs/{id}/cancel"), None).await;
        poll_until(&http, &format!("{url}/api/v1/runs/{id}"), |v| {
            v["run"]["status"] == "Cancelled"
        })
        .await;
        api.expect(
            Method::POST,
            "/api/v1/runs",
            Some(&json!({"job": "nope"})),
            StatusCode::NOT_FOUND,
        )
        .await;

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
        let tasks = api.get("/api/v1/tasks").await;
        assert_eq!(tasks["tasks"].as_array().expect("tasks").len(), 1);
        api.get("/api/v1/tasks/nightly").await;
        let r = http
            .put(format!("{url}/api/v1/tasks"))
            .body("tasks:\n  - name: x\n    job: nope\n")
            .send()
            .await
            .expect("apply");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let dag = api
            .post("/api/v1/dag-runs", Some(&json!({"task": "nightly"})))
            .await;
        let dag_id = dag["id"].as_str().expect("dag id").to_owned();
        api.get(&format!("/api/v1/dag-runs/{dag_id}")).await;
        let dags = api.get("/api/v1/dag-runs").await;
        assert_eq!(dags["dag_runs"].as_array().expect("dag runs").len(), 1);
        api.post(&format!("/api/v1/dag-runs/{dag_id}/cancel"), None)
            .await;
        api.expect(
            Method::DELETE,
            "/api/v1/tasks/nightly",
            None,
            StatusCode::NO_CONTENT,
        )
        .await;

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

/// `POST /api/v1/platforms` registers as `polysync platform add` does:
/// checked against the workspace, refused naming the field, nothing stored
/// when refused.
#[tokio::test]
async fn platforms_are_added_through_the_api() {
    each_backend("add_platform", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let api = Api::new(&env.http, &url);
        let host = env.emu.url();
        let add = |body| (Method::POST, "/api/v1/platforms", body);

        // Refused, each naming what is wrong; nothing stored.
        let (m, p, b) = add(json!({"name": "two", "host": host, "token_env": TOKEN_VAR, "profile": "x"}));
        let refused = api.expect(m, p, Some(&b), StatusCode::BAD_REQUEST).await;
        assert_eq!(violation_pointers(&refused), vec![String::new()], "{refused}");
        let (m, p, b) = add(json!({"name": "nohost", "token_env": TOKEN_VAR}));
        let refused = api.expect(m, p, Some(&b), StatusCode::BAD_REQUEST).await;
        assert_eq!(violation_pointers(&refused), vec!["/host".to_owned()], "{refused}");
        let (m, p, b) = add(json!({"name": "ftp", "host": "ftp://x", "token_env": TOKEN_VAR}));
        let refused = api.expect(m, p, Some(&b), StatusCode::BAD_REQUEST).await;
        assert!(refused["error"].as_str().expect("error").contains("workspace_url"), "{refused}");
        let (m, p, b) = add(json!({"name": "emu", "host": host, "token_env": TOKEN_VAR}));
        api.expect(m, p, Some(&b), StatusCode::CONFLICT).await;
        // A token variable the server does not have: the check fails, nothing is stored.
        let (m, p, b) = add(json!({"name": "unset", "host": host, "token_env": "POLYSYNC_IT_UNSET_VAR"}));
        let r = api.send(m, p, Some(&b)).await;
        assert!(!r.status().is_success(), "{}", r.status());
        let text = r.text().await.expect("body");
        assert!(text.contains("POLYSYNC_IT_UNSET_VAR"), "{text}");
        for name in ["two", "nohost", "ftp", "unset"] {
            assert_eq!(
                api.status(Method::GET, &format!("/api/v1/platforms/{name}")).await,
                StatusCode::NOT_FOUND,
                "{name} was stored"
            );
        }

        // Checked against the workspace (one SCIM `Me` read), then stored.
        let before = env.calls("preview/scim/v2/Me").len();
        let (m, p, b) = add(json!({"name": "second", "host": host, "token_env": TOKEN_VAR}));
        let saved = api.expect(m, p, Some(&b), StatusCode::CREATED).await;
        assert_eq!(saved["name"], "second", "{saved}");
        assert!(env.calls("preview/scim/v2/Me").len() > before, "the workspace was checked");
        let shown = api.get("/api/v1/platforms/second").await;
        assert_eq!(shown["workspace_url"], saved["workspace_url"]);
        // Without the check: stored as given.
        let (m, p, b) = add(json!({"name": "later", "host": "https://adb-1.2.azuredatabricks.net", "token_env": "LATER_TOKEN", "verify": false}));
        api.expect(m, p, Some(&b), StatusCode::CREATED).await;
        let all = api.get("/api/v1/platforms").await;
        assert_eq!(all["platforms"].as_array().expect("platforms").len(), 3, "{all}");
        env.stop().await;
    })
    .await;
}

/// `DELETE /api/v1/platforms/{name}` removes as `polysync platform remove`
/// does: refused (409, naming the jobs) while jobs reference the platform,
/// unless `with_jobs`; runs are kept.
#[tokio::test]
async fn platforms_are_removed_through_the_api() {
    each_backend("remove_platform", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        let api = Api::new(&http, &url);

        assert_eq!(
            api.status(Method::DELETE, "/api/v1/platforms/nope").await,
            StatusCode::NOT_FOUND
        );
        let spare = json!({"name": "spare", "host": "https://adb-1.2.azuredatabricks.net", "token_env": "SPARE_TOKEN", "verify": false});
        api.expect(Method::POST, "/api/v1/platforms", Some(&spare), StatusCode::CREATED)
            .await;
        let removed = api
            .expect(Method::DELETE, "/api/v1/platforms/spare", None, StatusCode::OK)
            .await;
        assert_eq!(removed, json!({"platform": "spare", "removed_jobs": []}));
        assert_eq!(
            api.status(Method::GET, "/api/v1/platforms/spare").await,
            StatusCode::NOT_FOUND
        );

        // A finished run on the platform, to show runs outlive it.
        let run = api
            .post("/api/v1/runs", Some(&json!({"job": format!("emu:{}", env.jobs.long)})))
            .await;
        let id = run["id"].as_str().expect("id").to_owned();
        api.post(&format!("/api/v1/runs/{id}/cancel"), None).await;
        poll_until(&http, &format!("{url}/api/v1/runs/{id}"), |v| {
            v["run"]["status"] == "Cancelled"
        })
        .await;

        // Jobs still reference it: refused, naming them; nothing removed.
        let refused = api
            .expect(Method::DELETE, "/api/v1/platforms/emu", None, StatusCode::CONFLICT)
            .await;
        let message = refused["error"].as_str().expect("error");
        assert!(
            message.contains("etl-job") && message.contains("long-job"),
            "{refused}"
        );
        api.get("/api/v1/platforms/emu").await;
        assert_eq!(api.get("/api/v1/jobs").await["jobs"].as_array().map(Vec::len), Some(2));
        let bad = api
            .expect(
                Method::DELETE,
                "/api/v1/platforms/emu?with_jobs=maybe",
                None,
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert_eq!(violation_pointers(&bad), vec!["query".to_owned()], "{bad}");

        // With its jobs: both go in one step, the run stays.
        let removed = api
            .expect(
                Method::DELETE,
                "/api/v1/platforms/emu?with_jobs=true",
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            removed,
            json!({"platform": "emu", "removed_jobs": ["etl-job", "long-job"]})
        );
        assert_eq!(
            api.status(Method::GET, "/api/v1/platforms/emu").await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(api.get("/api/v1/jobs").await["jobs"], json!([]));
        let kept = api.get(&format!("/api/v1/runs/{id}")).await;
        assert_eq!(kept["run"]["status"], "Cancelled", "{kept}");
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
        let body = Api::new(&http, &url)
            .post(
                "/api/jobs/etl/run",
                Some(&json!({"params": {"startDate": "2025-01-01"}})),
            )
            .await;
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
