//! Connection failures: a host that never answered fails in a few quick attempts naming
//! itself; a host that answered before gets the whole budget; every retry is announced.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use polysync_databricks::{Config, DatabricksClient, Error, RetryNotice, RetryPolicy};

use crate::emulator;

/// A loopback URL nothing listens on (the port was just released).
fn refused_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// A client on `host` with a fast policy, recording every retry notice.
fn observed(host: &str) -> (DatabricksClient, Arc<Mutex<Vec<RetryNotice>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let cfg = Config::builder()
        .host(host)
        .token("dapi-emulator".to_string())
        .rate_limit(None)
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            total_timeout: Duration::from_secs(2),
            ..RetryPolicy::default()
        })
        .retry_observer(Arc::new(move |n: &RetryNotice| {
            sink.lock().expect("lock").push(n.clone());
        }))
        .build()
        .expect("config");
    (DatabricksClient::new(cfg).expect("client"), seen)
}

#[tokio::test]
async fn refused_host_that_never_answered_fails_fast_naming_it() {
    let url = refused_url();
    // The default policy (300 s budget): only the "never answered" rule can end this quickly.
    let cfg = Config::builder()
        .host(&url)
        .token("dapi-emulator".to_string())
        .build()
        .expect("config");
    let client = DatabricksClient::new(cfg).expect("client");
    let started = std::time::Instant::now();
    let err = client.jobs().get_run(1).await.expect_err("nothing listens");
    assert!(
        matches!(err, Error::Unreachable { attempts: 3, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&url) && msg.contains("connection refused"),
        "{msg}"
    );
    // Generous bound: the old behaviour spent the whole 300 s budget.
    assert!(started.elapsed() < Duration::from_secs(60));

    let (client, seen) = observed(&url);
    let _ = client.jobs().get_run(1).await.expect_err("refused");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].reason, "connection refused");
    assert!(
        seen[0]
            .to_string()
            .starts_with("retrying GET /api/2.1/jobs/runs/get in "),
        "{}",
        seen[0]
    );
}

#[tokio::test]
async fn host_that_answered_before_keeps_the_retry_budget() {
    let emu = emulator().await;
    let (client, seen) = observed(&emu.url());
    // Any HTTP answer counts, even a 404.
    let _ = client.jobs().get_run(424_242).await;
    emu.shutdown().await;
    let err = client.jobs().get_run(1).await.expect_err("gone");
    assert!(
        matches!(err, Error::Transport { connect: true, .. }),
        "{err:?}"
    );
    let seen = seen.lock().expect("lock").clone();
    assert!(seen.len() > 3, "retried within the budget: {seen:?}");
}
