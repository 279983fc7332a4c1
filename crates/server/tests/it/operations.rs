//! Auth by API token, request ids, metrics, shutdown ending live streams.

use polysync_testkit::each_backend;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::harness::{Env, config, read_sse};

const TRACK: std::time::Duration = std::time::Duration::from_millis(20);

#[tokio::test]
async fn api_tokens_request_ids_and_metrics() {
    each_backend("operations", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        // Open while no token exists.
        let r = http.get(format!("{url}/api/jobs/etl/status")).header("x-request-id", "req-42").send().await.expect("get");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-request-id"], "req-42");
        let r = http.get(format!("{url}/api/v1/platforms")).send().await.expect("get");
        assert!(!r.headers()["x-request-id"].is_empty());

        let (stored, token) = env.engine.create_api_token("ci").await.expect("token");
        assert!(token.expose_secret().starts_with(&stored.prefix));
        let listed = env.engine.list_api_tokens().await.expect("list");
        assert!(!format!("{listed:?}").contains(token.expose_secret()), "the token is not stored in clear");
        let r = http.get(format!("{url}/api/jobs/etl/status")).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = http.get(format!("{url}/api/jobs/etl/status")).bearer_auth("pst_wrong").send().await.expect("get");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = http.get(format!("{url}/api/jobs/etl/status")).bearer_auth(token.expose_secret()).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::OK);
        let r = http.get(format!("{url}/health")).send().await.expect("health");
        assert_eq!(r.status(), StatusCode::OK);
        let r = http.post(format!("{url}/api/jobs/long/run")).json(&json!({})).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(env.calls("jobs/run-now").is_empty());

        let metrics = http.get(format!("{url}/metrics")).bearer_auth(token.expose_secret()).send().await.expect("metrics").text().await.expect("text");
        assert!(metrics.contains(r#"polysync_http_requests_total{method="GET",route="/api/jobs/{job_key}/status",status="200"} 2"#), "{metrics}");
        assert!(metrics.contains(r#"status="401""#), "{metrics}");
        assert!(metrics.contains("polysync_tracked_runs "), "{metrics}");

        env.engine.revoke_api_token("ci").await.expect("revoke");
        let r = http.get(format!("{url}/api/jobs/etl/status")).bearer_auth(token.expose_secret()).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a revoked token is refused");
        let r = http.get(format!("{url}/api/jobs/etl/status")).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::OK, "no active token left: open again");
        env.stop().await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_live_streams() {
    each_backend("shutdown_streams", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let http = env.http.clone();
        let resp = http
            .post(format!("{url}/api/jobs/long/run?stream=true"))
            .send()
            .await
            .expect("stream");
        let reader = tokio::spawn(read_sse(resp, |_| false));
        let feed = http
            .get(format!("{url}/api/events"))
            .send()
            .await
            .expect("events");
        let feed_reader = tokio::spawn(read_sse(feed, |_| false));
        // The run lasts two simulated hours; only the shutdown can end these streams.
        env.stop_servers();
        let events = reader.await.expect("stream ended");
        assert!(!events.is_empty());
        feed_reader.await.expect("feed ended");
        env.stop().await;
    })
    .await;
}
