use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use polysync_databricks::models::*;
use polysync_databricks::{Config, DatabricksClient};
use polysync_emulator::{DEFAULT_TOKEN, FaultConfig};

use crate::*;

#[tokio::test]
async fn honours_retry_after_on_429() {
    let emu = emulator().await;
    let c = client(&emu);
    c.workspace().list("/").await.expect("warm");
    emu.set_faults(FaultConfig {
        rate_limits: BTreeMap::from([("GET workspace/list".to_string(), 1.0)]),
        ..Default::default()
    });
    c.workspace().list("/").await.expect("first within budget");
    let t = Instant::now();
    c.workspace().list("/").await.expect("retried after 429");
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    let n429 = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint.contains("workspace/list") && r.status == 429)
        .count();
    assert!(n429 >= 1);
}

#[tokio::test]
async fn bad_request_is_never_retried() {
    let emu = emulator().await;
    let c = client(&emu);
    // With serverless off, a task without compute gets the real 400.
    emu.set_serverless_enabled(false);
    let err = c
        .jobs()
        .submit(&SubmitRunRequest {
            tasks: vec![Task {
                task_key: "x".into(),
                ..Default::default()
            }],
            idempotency_token: Some("tok-400".into()),
            ..Default::default()
        })
        .await
        .expect_err("400");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    let n = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint.contains("runs/submit"))
        .count();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn idempotent_submit_after_dropped_response_creates_one_run() {
    let emu = emulator().await;
    let c = client(&emu);
    notebook(&c, "/Shared/it/idem", "").await;
    let before = emu.stats().runs_created;
    emu.set_faults(FaultConfig {
        drop_next: 1,
        drop_endpoints: vec!["POST jobs/runs/submit".into()],
        ..Default::default()
    });
    let r = c
        .jobs()
        .submit(&SubmitRunRequest {
            tasks: vec![nb_task("i", "/Shared/it/idem")],
            idempotency_token: Some("polysync-idem-1".into()),
            ..Default::default()
        })
        .await
        .expect("submit survives dropped response");
    assert!(r.run_id > 0);
    assert_eq!(emu.stats().runs_created - before, 1);
    let attempts = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint.contains("runs/submit"))
        .count();
    assert_eq!(attempts, 2);

    // without a token a dropped response is surfaced, not retried
    emu.set_faults(FaultConfig {
        drop_next: 1,
        drop_endpoints: vec!["POST jobs/runs/submit".into()],
        ..Default::default()
    });
    let err = c
        .jobs()
        .submit(&SubmitRunRequest {
            tasks: vec![nb_task("i", "/Shared/it/idem")],
            ..Default::default()
        })
        .await
        .expect_err("not retried");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn client_rate_limiter_caps_throughput() {
    let emu = emulator().await;
    let cfg = Config::builder()
        .host(emu.url())
        .token(DEFAULT_TOKEN.to_string())
        .rate_limit(Some(5))
        .build()
        .expect("cfg");
    let c = DatabricksClient::new(cfg).expect("client");
    let t = Instant::now();
    for _ in 0..15 {
        c.workspace().list("/").await.expect("list");
    }
    // 5 burst + 10 at 5/s ⇒ ≥ 2 s
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
}
