//! `polysync arazzo` end to end: the seed workflow against the emulator, through the binary.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use polysync_emulator::{EmulatorConfig, LoggedRequest, start};
use serde_json::Value;

fn corpus() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/third-party/api-evangelist-azure-databricks");
    assert!(
        p.join("arazzo").is_dir(),
        "third-party corpus missing at {}",
        p.display()
    );
    p
}

fn seed_path() -> PathBuf {
    corpus().join("arazzo/azure-databricks-create-job-and-run-workflow.yml")
}

fn workspace() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let me = d.path().join("Users/me");
    std::fs::create_dir_all(&me).unwrap();
    std::fs::write(me.join("ok.py"), "# Databricks notebook source\n# emulator: duration=300s\ndbutils.notebook.exit(\"done\")\n").unwrap();
    std::fs::write(
        me.join("fail.py"),
        "# Databricks notebook source\n# emulator: outcome=FAILED duration=300s message=\"boom\"\n",
    )
    .unwrap();
    d
}

async fn run_cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_polysync"))
            .arg("arazzo")
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
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
    let ws = workspace();
    let emu = start(EmulatorConfig {
        tokens: vec!["t".into()],
        time_scale: 100.0,
        workspace_dir: Some(ws.path().into()),
        ..Default::default()
    })
    .await
    .unwrap();
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
    let (code, stdout, stderr) = cli.await.unwrap();
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    (
        serde_json::from_str(stdout.trim()).unwrap(),
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
        let (code, _, stderr) = run_cli(vec!["validate".into(), p.to_str().unwrap().into()]).await;
        assert_eq!(code, 0, "{}: {stderr}", p.display());
    }
    let (code, _, stderr) = run_cli(vec![
        "validate".into(),
        "--strict".into(),
        seed_path().to_str().unwrap().into(),
    ])
    .await;
    assert_eq!(code, 2, "{stderr}");
}

/// Authentication and base URL injected from a registered platform: no `--server`, no token
/// input. The third-party description's server path (`/api`) is kept on the platform's URL,
/// and the platform's token (read from the variable it names) fills the seed's `token`.
#[tokio::test]
async fn seed_runs_with_credentials_and_url_from_a_platform() {
    let ws = workspace();
    let emu = start(EmulatorConfig {
        tokens: vec!["platform-secret-token".into()],
        time_scale: 100.0,
        workspace_dir: Some(ws.path().into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let db = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:{}", db.path().join("p.db").display());
    let url = emu.url();
    let add = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_polysync"))
            .args(["--database-url", &db_url, "platform", "add", "emu"])
            .args(["--host", &url, "--token-env", "EMU_TOKEN_FOR_ARAZZO"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(add.status.success(), "{add:?}");
    let db_url = format!("sqlite:{}", db.path().join("p.db").display());
    let seed = seed_path();
    let out = tokio::task::spawn_blocking(move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_polysync"));
        c.args(["--database-url", &db_url, "arazzo", "run"])
            .arg(&seed)
            .args(["--platform", "emu", "--min-revisit-delay", "0.05"])
            .env("EMU_TOKEN_FOR_ARAZZO", "platform-secret-token")
            .env_remove("POLYSYNC_ARAZZO_TOKEN");
        for i in [
            "jobName=seed",
            "taskKey=main",
            "notebookPath=/Users/me/ok",
            "existingClusterId=0000-000000-emulator",
        ] {
            c.args(["--input", i]);
        }
        c.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
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
