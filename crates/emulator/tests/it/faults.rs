use std::time::Duration;

use polysync_emulator::FaultConfig;
use serde_json::{Value, json};

use crate::{Emu, TOKEN};

#[tokio::test]
async fn rate_limit_429_with_retry_after_and_profile_via_admin() {
    let e = Emu::fast().await;
    let put: Value =
        e.c.put(format!("{}/__emulator/faults", e.url))
            .json(&json!({"profile": "databricks"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(put["rate_limits"]["GET jobs/list"], 20.0);
    assert_eq!(put["max_concurrent_task_runs"], 2000);
    let mut limited = None;
    for _ in 0..40 {
        let (s, v, h) = e.req("GET", "/api/2.1/jobs/list", None, Some(TOKEN)).await;
        if s == 429 {
            limited = Some((v, h));
            break;
        }
    }
    let (v, h) = limited.expect("rate limited within 40 requests");
    assert_eq!(v["error_code"], "REQUEST_LIMIT_EXCEEDED");
    let ra: u64 = h
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ra >= 1);
    tokio::time::sleep(Duration::from_secs(ra)).await;
    let (s, _, _) = e.req("GET", "/api/2.1/jobs/list", None, Some(TOKEN)).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn dropped_response_then_retry_with_idempotency_token_makes_one_run() {
    let e = Emu::fast().await;
    e.h.set_faults(FaultConfig {
        drop_next: 1,
        drop_endpoints: vec!["POST jobs/runs/submit".into()],
        ..FaultConfig::default()
    });
    let body = json!({"idempotency_token": "tok-1", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/x"}}]});
    let first =
        e.c.post(format!("{}/api/2.1/jobs/runs/submit", e.url))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await;
    let failed = match first {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(failed, "the first response must be dropped");
    let v = e.ok("/api/2.1/jobs/runs/submit", body.clone()).await;
    let again = e.ok("/api/2.1/jobs/runs/submit", body).await;
    assert_eq!(v["run_id"], again["run_id"]);
    assert_eq!(e.h.stats().runs_created, 1);
    let (_, log, _) = e
        .req(
            "GET",
            "/__emulator/requests?endpoint=POST%20jobs/runs/submit",
            None,
            None,
        )
        .await;
    let entries = log["requests"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["status"], 0);
    assert_eq!(entries[0]["body"]["idempotency_token"], "tok-1");
    assert_eq!(entries[0]["caller"], TOKEN);
}

#[tokio::test]
async fn error_rate_latency_internal_error_and_stats() {
    let e = Emu::start(|c| {
        c.faults = FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        };
    })
    .await;
    let (s, v) = e.get("/api/2.1/jobs/list").await;
    assert!(s == 500 || s == 503, "{s} {v}");
    e.h.set_faults(FaultConfig {
        latency_ms: 150,
        internal_error_rate: 1.0,
        ..FaultConfig::default()
    });
    let t0 = std::time::Instant::now();
    let id = e.submit_notebook("/x", json!({})).await;
    assert!(t0.elapsed() >= Duration::from_millis(150));
    e.h.set_faults(FaultConfig::default());
    let run = e.wait_run(id).await;
    assert_eq!(run["state"]["life_cycle_state"], "INTERNAL_ERROR");
    let stats: Value =
        e.c.get(format!("{}/__emulator/stats", e.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(stats["requests"]["GET jobs/runs/get"].as_u64().unwrap() >= 1);
    assert_eq!(stats["requests"]["GET jobs/list"], 1);
    e.c.delete(format!("{}/__emulator/requests", e.url))
        .send()
        .await
        .unwrap();
    assert!(e.h.requests().is_empty());
    let s: Value =
        e.c.put(format!("{}/__emulator/settings", e.url))
            .json(&json!({"serverless_enabled": false, "time_scale": 2.0}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        (s["serverless_enabled"].as_bool(), s["time_scale"].as_f64()),
        (Some(false), Some(2.0))
    );
}
