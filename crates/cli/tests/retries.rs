//! Resilience as the user sees it: a line per retry on stderr, and `--timeout` bounding any
//! command. Drives the built binary against an emulator from `polysync-testkit`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use polysync_emulator::FaultConfig;
use polysync_testkit::{SeededEmulator, TestDb};
use support::{Out, polysync};

const TOKEN_VAR: &str = "POLYSYNC_RETRY_TEST_TOKEN";
const TOKEN: &str = "retry-test-token-0123";

const SLOW: &str = "# Databricks notebook source\n# emulator: duration=2h\nprint(1)\n";
const QUICK: &str = "# Databricks notebook source\n# emulator: duration=1s\nprint(2)\n";

fn cli(db: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = polysync();
    cmd.arg("--database-url")
        .arg(db)
        .args(args)
        .env(TOKEN_VAR, TOKEN);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_announced_and_timeout_bounds_a_wait() {
    let SeededEmulator {
        emulator: emu,
        dir: _dir,
    } = polysync_testkit::start_seeded_emulator(
        TOKEN,
        &[("R/slow.py", SLOW), ("R/quick.py", QUICK)],
        |c| c.time_scale = 10.0,
    )
    .await;
    let db = TestDb::sqlite();
    let url = db.url().to_owned();
    let host = emu.url();
    Out::of_async(cli(
        &url,
        &[
            "platform",
            "add",
            "emu",
            "--host",
            &host,
            "--token-env",
            TOKEN_VAR,
        ],
    ))
    .await
    .ok();

    // Half the API requests answer 503 (+ Retry-After: 1): the import still completes and
    // says, one line per retry, what it retried and why.
    emu.set_faults(FaultConfig {
        error_rate: 0.5,
        error_status: Some(503),
        ..FaultConfig::default()
    });
    let import = Out::of_async(cli(&url, &["import", "emu"])).await.ok();
    let lines: Vec<&str> = import
        .stderr
        .lines()
        .filter(|l| l.starts_with("retrying "))
        .collect();
    assert!(!lines.is_empty(), "no retry line:\n{}", import.stderr);
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" /api/") && l.ends_with("(HTTP 503)")),
        "{lines:?}"
    );
    emu.set_faults(FaultConfig::default());

    // A run that takes 2 simulated hours, waited with --timeout 1s: exit 1, a clear message.
    let timed_out =
        Out::of_async(cli(&url, &["run", "/R/slow", "--wait", "--timeout", "1s"])).await;
    assert_eq!(
        timed_out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        timed_out.stdout, timed_out.stderr
    );
    assert!(
        timed_out
            .stderr
            .contains("did not finish within --timeout 1s"),
        "{}",
        timed_out.stderr
    );
    // A bad duration is a usage error.
    let bad = Out::of_async(cli(&url, &["jobs", "list", "--timeout", "soon"])).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    emu.shutdown().await;
}

#[test]
fn emulator_port_in_use_is_said_once_with_a_hint() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Out::of(polysync().args(["emulator", "--port", &port]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("address already in use").count(),
        1,
        "{}",
        out.stderr
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[1].starts_with("hint: try another --port"),
        "{}",
        out.stderr
    );
}
