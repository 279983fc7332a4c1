//! `polysync arazzo` end to end: the seed workflow against the emulator, through the binary.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use polysync_emulator::LoggedRequest;
use polysync_testkit::{SeededEmulator, TestDb};
use serde_json::Value;
use support::{Out, corpus, polysync};

fn seed_path() -> PathBuf {
    corpus().join("arazzo/azure-databricks-create-job-and-run-workflow.yml")
}

/// The emulator accepting `token`, seeded with `/Users/me/ok` and `/Users/me/fail` (five
/// simulated minutes each, at 100× speed: the runner's real 1 s polling pace shows).
async fn emulator(token: &str) -> SeededEmulator {
    polysync_testkit::start_seeded_emulator(
        token,
        &[
        (
            "Users/me/ok.py",
            "# Databricks notebook source\n# emulator: duration=300s\ndbutils.notebook.exit(\"done\")\n",
        ),
        (
            "Users/me/fail.py",
            "# Databricks notebook source\n# emulator: outcome=FAILED duration=300s message=\"boom\"\n",
        ),
    ],
        |c| c.time_scale = 100.0,
    )
    .await
}

async fn run_cli(args: Vec<String>) -> Out {
    let mut cmd = polysync();
    cmd.arg("arazzo").args(&args);
    Out::of_async(cmd).await
}

fn seed_args(file: &Path, server: &str, notebook: &str) -> Vec<String> {
    let mut a = vec!["run".into(), file.to_str().unwrap().into()];
    for i in [
        "token=t",
        "jobName=seed",
        "taskKey=main",
        &format!("notebookPath={notebook}"),
        "existingClusterId=0000-000000-emulator",
    ] {
        a.push("--input".into());
        a.push(i.into());
    }
    a.push("--server".into());
    a.push(server.into());
    a
}

async fn seed_case(
    project_openapi: bool,
    notebook: &str,
) -> (Value, Vec<LoggedRequest>, Vec<std::time::Instant>) {
    let SeededEmulator {
        emulator: emu,
        dir: _ws,
    } = emulator("t").await;
    let tmp = tempfile::tempdir().unwrap();
    let (file, server) = if project_openapi {
        std::fs::create_dir_all(tmp.path().join("arazzo")).unwrap();
        std::fs::create_dir_all(tmp.path().join("openapi")).unwrap();
        std::fs::copy(seed_path(), tmp.path().join("arazzo/seed.yml")).unwrap();
        let ours =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/openapi/databricks.yml");
        std::fs::copy(
            ours,
            tmp.path().join("openapi/azure-databricks-openapi.yml"),
        )
        .unwrap();
        (
            tmp.path().join("arazzo/seed.yml"),
            format!("azureDatabricksApi={}", emu.url()),
        )
    } else {
        (seed_path(), format!("azureDatabricksApi={}/api", emu.url()))
    };
    // Sample the log while the CLI runs to time getJobRun requests.
    let args = seed_args(&file, &server, notebook);
    let cli = tokio::spawn(run_cli(args));
    let mut poll_times = Vec::new();
    let mut seen = 0;
    while !cli.is_finished() {
        let n = emu
            .requests()
            .iter()
            .filter(|r| r.endpoint == "GET jobs/runs/get")
            .count();
        for _ in seen..n {
            poll_times.push(std::time::Instant::now());
        }
        seen = n;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = cli.await.unwrap().ok();
    (
        serde_json::from_str(out.stdout.trim()).unwrap(),
        emu.requests(),
        poll_times,
    )
}

fn assert_pacing(times: &[std::time::Instant]) {
    assert!(
        times.len() >= 2,
        "expected several polls, got {}",
        times.len()
    );
    for w in times.windows(2) {
        // Sampled every 20 ms: allow that much jitter below the 1 s floor.
        assert!(
            w[1] - w[0] >= Duration::from_millis(950),
            "polls {:?} apart",
            w[1] - w[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_success_with_third_party_openapi() {
    let (out, _, times) = seed_case(false, "/Users/me/ok").await;
    assert_eq!(out["resultState"], "SUCCESS");
    assert_eq!(out["notebookResult"], "done");
    assert_pacing(&times);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_failure_with_third_party_openapi() {
    let (out, log, _) = seed_case(false, "/Users/me/fail").await;
    assert_eq!(out["resultState"], "FAILED");
    assert_eq!(out["notebookResult"], Value::Null);
    assert!(!log.iter().any(|r| r.endpoint.contains("get-output")));
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_success_and_failure_with_project_openapi() {
    let (out, _, _) = seed_case(true, "/Users/me/ok").await;
    assert_eq!(out["resultState"], "SUCCESS");
    assert_eq!(out["notebookResult"], "done");
    let (out, log, _) = seed_case(true, "/Users/me/fail").await;
    assert_eq!(out["resultState"], "FAILED");
    assert!(!log.iter().any(|r| r.endpoint.contains("get-output")));
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_accepts_all_20_corpus_workflows_and_strict_rejects_the_seed() {
    for e in std::fs::read_dir(corpus().join("arazzo")).unwrap() {
        let p = e.unwrap().path();
        let out = run_cli(vec!["validate".into(), p.to_str().unwrap().into()]).await;
        assert_eq!(out.code, 0, "{}: {}", p.display(), out.stderr);
    }
    let out = run_cli(vec![
        "validate".into(),
        "--strict".into(),
        seed_path().to_str().unwrap().into(),
    ])
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
}

/// Authentication and base URL injected from a registered platform: no `--server`, no token
/// input. The third-party description's server path (`/api`) is kept on the platform's URL,
/// and the platform's token (read from the variable it names) fills the seed's `token`.
#[tokio::test]
async fn seed_runs_with_credentials_and_url_from_a_platform() {
    let SeededEmulator {
        emulator: emu,
        dir: _ws,
    } = emulator("platform-secret-token").await;
    let db = TestDb::sqlite();
    let mut add = polysync();
    add.args(["--database-url", db.url(), "platform", "add", "emu"])
        .args(["--host", &emu.url(), "--token-env", "EMU_TOKEN_FOR_ARAZZO"])
        .env("EMU_TOKEN_FOR_ARAZZO", "platform-secret-token");
    Out::of_async(add).await.ok();
    let mut run = polysync();
    run.args(["--database-url", db.url(), "arazzo", "run"])
        .arg(seed_path())
        .args(["--platform", "emu", "--min-revisit-delay", "0.05"])
        .env("EMU_TOKEN_FOR_ARAZZO", "platform-secret-token")
        .env_remove("POLYSYNC_ARAZZO_TOKEN");
    for i in [
        "jobName=seed",
        "taskKey=main",
        "notebookPath=/Users/me/ok",
        "existingClusterId=0000-000000-emulator",
    ] {
        run.args(["--input", i]);
    }
    let Out { stdout, stderr, .. } = Out::of_async(run).await.ok();
    let outputs: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(outputs["resultState"], "SUCCESS");
    assert_eq!(outputs["notebookResult"], "done");
    assert!(!stdout.contains("platform-secret-token"));
    assert!(!stderr.contains("platform-secret-token"));
    let reqs = emu.requests();
    assert!(
        reqs.iter()
            .any(|r| r.path.starts_with("/api/2.1/jobs/create"))
    );
    assert!(
        reqs.iter()
            .filter(|r| r.path.starts_with("/api/"))
            .all(|r| r.caller.as_deref() == Some("platform-secret-token")),
        "every call authenticated with the platform's token"
    );
}

/// A failing step says the API's own reason on stderr, not only in `--trace`; `validate
/// --json` gives the diagnostics as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_step_shows_the_api_message_and_validate_speaks_json() {
    let openapi =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/openapi/databricks.yml");
    let doc = format!(
        "arazzo: 1.0.1\ninfo: {{title: t, version: '1'}}\nsourceDescriptions:\n  - {{name: databricks, url: '{}', type: openapi}}\nworkflows:\n  - workflowId: get\n    inputs: {{type: object, required: [token], properties: {{token: {{type: string, format: password}}}}}}\n    steps:\n      - stepId: get\n        operationId: getJob\n        parameters:\n          - {{name: Authorization, in: header, value: 'Bearer {{$inputs.token}}'}}\n          - {{name: job_id, in: query, value: 42}}\n        successCriteria:\n          - condition: $statusCode == 200\n",
        openapi.display()
    );
    let dir = polysync_testkit::write_files(&[("get.arazzo.yml", doc.as_str())]);
    let file = dir.path().join("get.arazzo.yml");
    let SeededEmulator {
        emulator: emu,
        dir: _ws,
    } = emulator("tok-arazzo-1").await;
    let out = run_cli(vec![
        "run".into(),
        file.to_str().unwrap().into(),
        "--input".into(),
        "token=tok-arazzo-1".into(),
        "--server".into(),
        format!("databricks={}", emu.url()),
    ])
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let error = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .expect("an error line");
    assert!(
        error.contains("HTTP 400 (Job 42 does not exist.)")
            && error.contains("success criteria not met"),
        "{error}"
    );

    let valid = run_cli(vec![
        "validate".into(),
        file.to_str().unwrap().into(),
        "--json".into(),
    ])
    .await;
    assert_eq!(valid.code, 0, "{}", valid.stderr);
    let v = valid.json();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert!(v["diagnostics"].is_array(), "{v}");
    let broken = dir.path().join("broken.arazzo.yml");
    std::fs::write(
        &broken,
        "arazzo: 1.0.1\ninfo: {title: t, version: '1'}\nworkflows: []\n",
    )
    .unwrap();
    let invalid = run_cli(vec![
        "validate".into(),
        broken.to_str().unwrap().into(),
        "--json".into(),
    ])
    .await;
    assert_eq!(invalid.code, 2, "{}", invalid.stderr);
    let v = invalid.json();
    assert_eq!(v["valid"], false, "{v}");
    assert!(v["diagnostics"][0]["message"].is_string(), "{v}");
    emu.shutdown().await;
}
