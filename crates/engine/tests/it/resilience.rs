//! Resilience against a flaky workspace: reads (and submits under their idempotency token)
//! survive HTTP 500s, which the emulator injects at a fixed rate.

use polysync_emulator::FaultConfig;
use polysync_engine::RunStatus;

use crate::harness::e2e;

/// 20% of API requests answered `500 INTERNAL_ERROR`.
fn five_hundreds() -> FaultConfig {
    FaultConfig {
        error_rate: 0.2,
        error_status: Some(500),
        ..FaultConfig::default()
    }
}

e2e!(import_and_waited_run_survive_a_20_percent_500_rate, |env| {
    env.emu.set_faults(five_hundreds());
    let report = env.import().await;
    assert!(
        report
            .added
            .iter()
            .any(|j| j == "/Shared/etl/python_widgets"),
        "{report:?}"
    );
    let (run, _) = env
        .run_to_end("/Shared/etl/python_widgets", &[("region", "apac")])
        .await;
    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    let injected = env
        .emu
        .requests()
        .iter()
        .filter(|r| r.status == 500)
        .count();
    assert!(injected > 0, "the emulator injected no 500 at all");
    // The submit carries its idempotency token, so a retried submit made one run only.
    let submits: Vec<_> = env
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == "POST jobs/runs/submit" && r.status == 200)
        .collect();
    assert_eq!(submits.len(), 1, "{submits:?}");
});

e2e!(
    refused_port_fails_an_import_in_seconds_naming_the_host,
    |env| {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let url = format!("http://127.0.0.1:{port}");
        let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = notices.clone();
        let engine = env.engine.clone().with_retry_observer(std::sync::Arc::new(
            move |n: &polysync_engine::RetryNotice| {
                sink.lock().expect("lock").push(n.to_string());
            },
        ));
        let mut platform = env
            .engine
            .get_platform(crate::harness::PLATFORM)
            .await
            .expect("p");
        platform.name = "nowhere".into();
        platform.workspace_url = url.clone();
        engine.add_platform(platform).await.expect("add");
        let started = std::time::Instant::now();
        let err = engine
            .import("nowhere", &polysync_engine::NoProgress)
            .await
            .expect_err("nothing listens there");
        // Generous bound: before the fix the 300 s retry budget was spent in silence.
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        let msg = err.to_string();
        assert!(
            msg.contains(&url) && msg.contains("connection refused"),
            "{msg}"
        );
        let notices = notices.lock().expect("lock").clone();
        assert!(
            notices
                .iter()
                .any(|n| n.starts_with("retrying GET ") && n.ends_with("(connection refused)")),
            "{notices:?}"
        );
    }
);
