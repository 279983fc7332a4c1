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
