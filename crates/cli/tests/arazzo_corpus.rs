//! The 20 third-party Azure Databricks Arazzo workflows (api-evangelist corpus), each run end to
//! end through `polysync arazzo run` against the emulator with the ORIGINAL OpenAPI file
//! (`--server azureDatabricksApi=<emulator>/api`). Inputs are chosen here; the emulator is seeded
//! (notebooks, jobs, clusters, runs) through its HTTP API before each run; every workflow output is
//! asserted, and where it matters the emulator's request log / state after the run.
//!
//! Speed: the emulator runs at `time_scale` 1000 (a 5 s simulated cluster start takes 5 ms) and
//! the runner at `--min-revisit-delay 0.05`; the default-settings pacing check lives in
//! `arazzo_cli.rs` (the seed).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use polysync_emulator::EmulatorHandle;
use serde_json::{Value, json};
use support::{Out, corpus, polysync};

const TOKEN: &str = "corpus-token";

fn workflow(name: &str) -> PathBuf {
    let p = corpus().join(format!("arazzo/azure-databricks-{name}-workflow.yml"));
    assert!(p.is_file(), "corpus workflow missing: {}", p.display());
    p
}

const OK_NOTEBOOK: &str =
    "# Databricks notebook source\n# emulator: duration=60s\ndbutils.notebook.exit(\"done\")\n";
const FAIL_NOTEBOOK: &str =
    "# Databricks notebook source\n# emulator: outcome=FAILED duration=60s message=\"boom\"\n";
/// Runs for ten simulated hours: still active while a workflow cancels it.
const LONG_NOTEBOOK: &str = "# Databricks notebook source\n# emulator: duration=10h\n";

struct Emu {
    handle: EmulatorHandle,
    _ws: tempfile::TempDir,
}

impl Emu {
    async fn start() -> Self {
        let ws = polysync_testkit::write_files(&[
            ("Users/me/ok.py", OK_NOTEBOOK),
            ("Users/me/fail.py", FAIL_NOTEBOOK),
            ("Users/me/long.py", LONG_NOTEBOOK),
            ("Users/me/old/a.py", OK_NOTEBOOK),
            (
                "Users/me/old/sub/b.sql",
                "-- Databricks notebook source\nSELECT 1\n",
            ),
        ]);
        let handle = polysync_testkit::start_emulator(TOKEN, |c| {
            c.time_scale = polysync_testkit::FAST_CLOCK;
            c.workspace_dir = Some(ws.path().into());
        })
        .await;
        Self { handle, _ws: ws }
    }

    fn server(&self) -> String {
        format!("azureDatabricksApi={}/api", self.handle.url())
    }

    /// One authenticated request to the emulator (`path` after `/api/`), JSON in and out.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let addr = self.handle.addr();
        let (method, path) = (method.to_owned(), format!("/api/{path}"));
        tokio::task::spawn_blocking(move || {
            let body = body.map(|b| b.to_string()).unwrap_or_default();
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            write!(
                s,
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).unwrap();
            let text = String::from_utf8_lossy(&raw).into_owned();
            let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
            let (head, rest) = text.split_once("\r\n\r\n").unwrap();
            let rest = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
                dechunk(rest)
            } else {
                rest.to_owned()
            };
            (status, serde_json::from_str(&rest).unwrap_or(Value::Null))
        })
        .await
        .unwrap()
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {v}");
        v
    }

    async fn create_cluster(&self, name: &str) -> String {
        let v = self
            .ok(
                "POST",
                "2.0/clusters/create",
                Some(
                    json!({"cluster_name": name, "spark_version": "15.4.x-scala2.12",
                            "node_type_id": "Standard_DS3_v2", "num_workers": 2}),
                ),
            )
            .await;
        v["cluster_id"].as_str().unwrap().to_owned()
    }

    async fn wait_cluster(&self, id: &str, state: &str) {
        for _ in 0..500 {
            let v = self
                .ok("GET", &format!("2.0/clusters/get?cluster_id={id}"), None)
                .await;
            if v["state"] == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("cluster {id} never reached {state}");
    }

    async fn running_cluster(&self, name: &str) -> String {
        let id = self.create_cluster(name).await;
        self.wait_cluster(&id, "RUNNING").await;
        id
    }

    async fn create_job(&self, name: &str, notebook: &str) -> i64 {
        let v = self
            .ok(
                "POST",
                "2.1/jobs/create",
                Some(json!({"name": name, "tasks": [{"task_key": "main",
                    "existing_cluster_id": "0000-000000-emulator",
                    "notebook_task": {"notebook_path": notebook}}]})),
            )
            .await;
        v["job_id"].as_i64().unwrap()
    }

    async fn run_now(&self, job_id: i64) -> i64 {
        let v = self
            .ok("POST", "2.1/jobs/run-now", Some(json!({"job_id": job_id})))
            .await;
        v["run_id"].as_i64().unwrap()
    }

    async fn get_run(&self, run_id: i64) -> Value {
        self.ok("GET", &format!("2.1/jobs/runs/get?run_id={run_id}"), None)
            .await
    }

    async fn wait_run(&self, run_id: i64, life_cycle_state: &str) {
        for _ in 0..500 {
            if self.get_run(run_id).await["state"]["life_cycle_state"] == life_cycle_state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("run {run_id} never reached {life_cycle_state}");
    }

    /// Request-log entries for an endpoint key (`POST jobs/runs/delete`).
    fn logged(&self, endpoint: &str) -> Vec<polysync_emulator::LoggedRequest> {
        self.handle
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == endpoint)
            .collect()
    }

    /// Runs a corpus workflow through the binary; asserts exit 0 and returns its outputs.
    async fn run(&self, name: &str, inputs: &[(&str, String)]) -> Value {
        let Out {
            code,
            stdout,
            stderr,
        } = self.run_raw(name, inputs).await;
        assert_eq!(code, 0, "{name}: stdout: {stdout}\nstderr: {stderr}");
        // The runner's warnings (compatible-mode tolerances), shown with --nocapture / on failure.
        eprintln!("--- {name} stderr:\n{stderr}");
        let out: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {stdout}"));
        assert!(out.is_object(), "{name}: {out}");
        out
    }

    async fn run_raw(&self, name: &str, inputs: &[(&str, String)]) -> Out {
        let mut args: Vec<String> = vec![
            "arazzo".into(),
            "run".into(),
            workflow(name).to_str().unwrap().into(),
            "--server".into(),
            self.server(),
            "--min-revisit-delay".into(),
            "0.05".into(),
            "--input".into(),
            format!("token={TOKEN}"),
        ];
        for (k, v) in inputs {
            args.push("--input".into());
            args.push(format!("{k}={v}"));
        }
        let mut cmd = polysync();
        cmd.args(&args);
        Out::of_async(cmd).await
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn paths(objects: &Value) -> Vec<&str> {
    objects
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {objects}"))
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Workspace

#[tokio::test(flavor = "multi_thread")]
async fn backup_notebook() {
    let emu = Emu::start().await;
    let out = emu
        .run(
            "backup-notebook",
            &[
                ("sourcePath", s("/Users/me/ok")),
                ("backupPath", s("/Users/me/ok-backup")),
                ("language", s("PYTHON")),
            ],
        )
        .await;
    assert_eq!(keys(&out), ["backupPath", "fileType", "sourcePath"]);
    assert_eq!(out["sourcePath"], "/Users/me/ok");
    assert_eq!(out["backupPath"], "/Users/me/ok-backup");
    assert_eq!(out["fileType"], "py");
    // The backup exists and holds the same source.
    let src = emu
        .ok(
            "GET",
            "2.0/workspace/export?path=/Users/me/ok&format=SOURCE",
            None,
        )
        .await;
    let bak = emu
        .ok(
            "GET",
            "2.0/workspace/export?path=/Users/me/ok-backup&format=SOURCE",
            None,
        )
        .await;
    assert_eq!(src["content"], bak["content"]);
    assert_eq!(emu.logged("POST workspace/import").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_directory_and_import_notebook() {
    let emu = Emu::start().await;
    let content = base64(b"# Databricks notebook source\nprint('hello')\n");
    let out = emu
        .run(
            "create-directory-and-import-notebook",
            &[
                ("directoryPath", s("/Users/me/new/dir")),
                ("notebookPath", s("/Users/me/new/dir/hello")),
                ("content", content),
                ("language", s("PYTHON")),
            ],
        )
        .await;
    assert_eq!(keys(&out), ["directoryPath", "notebookPath", "objects"]);
    assert_eq!(out["directoryPath"], "/Users/me/new/dir");
    assert_eq!(out["notebookPath"], "/Users/me/new/dir/hello");
    assert_eq!(paths(&out["objects"]), ["/Users/me/new/dir/hello"]);
    assert_eq!(out["objects"][0]["object_type"], "NOTEBOOK");
    assert_eq!(out["objects"][0]["language"], "PYTHON");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_workspace_directory() {
    let emu = Emu::start().await;
    let out = emu
        .run(
            "delete-workspace-directory",
            &[("directoryPath", s("/Users/me/old"))],
        )
        .await;
    assert_eq!(keys(&out), ["deletedContents", "directoryPath"]);
    assert_eq!(out["directoryPath"], "/Users/me/old");
    let mut deleted = paths(&out["deletedContents"]);
    deleted.sort_unstable();
    assert_eq!(deleted, ["/Users/me/old/a", "/Users/me/old/sub"]);
    let del = emu.logged("POST workspace/delete");
    assert_eq!(del.len(), 1);
    let (status, err) = emu
        .call("GET", "2.0/workspace/get-status?path=/Users/me/old", None)
        .await;
    assert_eq!(status, 404, "{err}");
}

// ---------------------------------------------------------------------------------------------
// Jobs and runs

#[tokio::test(flavor = "multi_thread")]
async fn create_job_and_run() {
    let emu = Emu::start().await;
    let out = emu
        .run(
            "create-job-and-run",
            &[
                ("jobName", s("corpus-seed")),
                ("taskKey", s("main")),
                ("notebookPath", s("/Users/me/ok")),
                ("existingClusterId", s("0000-000000-emulator")),
            ],
        )
        .await;
    let jobs = emu.ok("GET", "2.1/jobs/list", None).await;
    let job_id = &jobs["jobs"][0]["job_id"];
    assert_eq!(jobs["jobs"][0]["settings"]["name"], "corpus-seed");
    assert_eq!(out["jobId"], *job_id);
    let run_id = out["runId"].as_i64().unwrap();
    assert_eq!(emu.get_run(run_id).await["job_id"], *job_id);
    assert_eq!(out["resultState"], "SUCCESS");
    assert_eq!(out["notebookResult"], "done");
    for (k, v) in out.as_object().unwrap() {
        assert!(!v.is_null(), "output {k} is null: {out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_existing_job_and_wait() {
    let emu = Emu::start().await;
    let job_id = emu.create_job("existing", "/Users/me/ok").await;
    let out = emu
        .run(
            "run-existing-job-and-wait",
            &[
                ("jobId", s(job_id)),
                ("idempotencyToken", s("corpus-once")),
                ("notebookParams", s(r#"{"day":"2024-01-01"}"#)),
            ],
        )
        .await;
    assert_eq!(keys(&out), ["jobId", "resultState", "runId", "runPageUrl"]);
    assert_eq!(out["jobId"], job_id);
    let run_id = out["runId"].as_i64().unwrap();
    let run = emu.get_run(run_id).await;
    assert_eq!(run["job_id"], job_id);
    assert_eq!(
        run["overriding_parameters"]["notebook_params"]["day"],
        "2024-01-01"
    );
    assert_eq!(out["resultState"], "SUCCESS");
    assert_eq!(out["runPageUrl"], run["run_page_url"]);
    assert!(
        out["runPageUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#job/{job_id}/run/{run_id}"))
    );
    // Only the required inputs: the optional ones reach nothing and are sent as JSON null
    // (A6, with a warning), and the emulator accepts the run.
    let out = emu
        .run("run-existing-job-and-wait", &[("jobId", s(job_id))])
        .await;
    assert_eq!(out["jobId"], job_id);
    assert_ne!(out["runId"], run_id);
    assert_eq!(out["resultState"], "SUCCESS");
    let body = emu.logged("POST jobs/run-now").last().unwrap().body.clone();
    assert_eq!(
        body,
        json!({"job_id": job_id, "idempotency_token": null, "notebook_params": null})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_one_time_run() {
    let emu = Emu::start().await;
    let out = emu
        .run(
            "submit-one-time-run",
            &[
                ("runName", s("one-time")),
                ("taskKey", s("main")),
                ("notebookPath", s("/Users/me/ok")),
                ("existingClusterId", s("0000-000000-emulator")),
            ],
        )
        .await;
    assert_eq!(
        keys(&out),
        ["error", "notebookResult", "resultState", "runId"]
    );
    let run = emu.get_run(out["runId"].as_i64().unwrap()).await;
    assert_eq!(run["run_name"], "one-time");
    assert_eq!(out["resultState"], "SUCCESS");
    assert_eq!(out["notebookResult"], "done");
    assert_eq!(out["error"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_notebook_and_run() {
    let emu = Emu::start().await;
    let content = base64(b"# Databricks notebook source\ndbutils.notebook.exit(\"imported\")\n");
    let out = emu
        .run(
            "import-notebook-and-run",
            &[
                ("notebookPath", s("/Users/me/imported")),
                ("content", content),
                ("language", s("PYTHON")),
                ("taskKey", s("main")),
                ("existingClusterId", s("0000-000000-emulator")),
            ],
        )
        .await;
    assert_eq!(
        keys(&out),
        ["notebookPath", "objectId", "resultState", "runId"]
    );
    assert_eq!(out["notebookPath"], "/Users/me/imported");
    let status = emu
        .ok(
            "GET",
            "2.0/workspace/get-status?path=/Users/me/imported",
            None,
        )
        .await;
    assert_eq!(out["objectId"], status["object_id"]);
    let run_id = out["runId"].as_i64().unwrap();
    assert_eq!(out["resultState"], "SUCCESS");
    let output = emu
        .ok(
            "GET",
            &format!(
                "2.1/jobs/runs/get-output?run_id={}",
                emu.get_run(run_id).await["tasks"][0]["run_id"]
            ),
            None,
        )
        .await;
    assert_eq!(output["notebook_output"]["result"], "imported");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_active_run() {
    let emu = Emu::start().await;
    let job_id = emu.create_job("long", "/Users/me/long").await;
    let run_id = emu.run_now(job_id).await;
    emu.wait_run(run_id, "RUNNING").await;
    let out = emu.run("cancel-active-run", &[("runId", s(run_id))]).await;
    assert_eq!(keys(&out), ["finalLifeCycleState", "resultState", "runId"]);
    assert_eq!(out["runId"], run_id);
    assert_eq!(out["finalLifeCycleState"], "TERMINATED");
    assert_eq!(out["resultState"], "CANCELED");
    assert_eq!(emu.logged("POST jobs/runs/cancel").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_latest_job_run() {
    let emu = Emu::start().await;
    let job_id = emu.create_job("cleanup", "/Users/me/ok").await;
    let older = emu.run_now(job_id).await;
    emu.wait_run(older, "TERMINATED").await;
    let latest = emu.run_now(job_id).await;
    emu.wait_run(latest, "TERMINATED").await;
    let out = emu
        .run("cleanup-latest-job-run", &[("jobId", s(job_id))])
        .await;
    assert_eq!(keys(&out), ["deletedRunId", "jobId"]);
    assert_eq!(out["jobId"], job_id);
    assert_eq!(out["deletedRunId"], latest);
    let del = emu.logged("POST jobs/runs/delete");
    assert_eq!(del.len(), 1);
    let (status, _) = emu
        .call("GET", &format!("2.1/jobs/runs/get?run_id={latest}"), None)
        .await;
    assert_eq!(status, 400, "the deleted run is gone");
    assert_eq!(emu.get_run(older).await["run_id"], older);
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_job_and_verify() {
    let emu = Emu::start().await;
    let job_id = emu.create_job("before-reset", "/Users/me/ok").await;
    let out = emu
        .run(
            "reset-job-and-verify",
            &[
                ("jobId", s(job_id)),
                ("newName", s("after-reset")),
                ("taskKey", s("reset_task")),
                ("notebookPath", s("/Users/me/fail")),
                ("existingClusterId", s("0000-000000-emulator")),
            ],
        )
        .await;
    assert_eq!(keys(&out), ["jobId", "newName", "previousName"]);
    assert_eq!(out["jobId"], job_id);
    assert_eq!(out["previousName"], "before-reset");
    assert_eq!(out["newName"], "after-reset");
    let job = emu
        .ok("GET", &format!("2.1/jobs/get?job_id={job_id}"), None)
        .await;
    assert_eq!(job["settings"]["tasks"][0]["task_key"], "reset_task");
    assert_eq!(
        job["settings"]["tasks"][0]["notebook_task"]["notebook_path"],
        "/Users/me/fail"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_job_and_rerun() {
    let emu = Emu::start().await;
    let job_id = emu.create_job("to-update", "/Users/me/fail").await;
    let out = emu
        .run(
            "update-job-and-rerun",
            &[("jobId", s(job_id)), ("newTimeoutSeconds", s(900))],
        )
        .await;
    assert_eq!(keys(&out), ["jobId", "resultState", "runId"]);
    assert_eq!(out["jobId"], job_id);
    let run = emu.get_run(out["runId"].as_i64().unwrap()).await;
    assert_eq!(run["job_id"], job_id);
    // The notebook fails: the workflow still ends normally and reports it.
    assert_eq!(out["resultState"], "FAILED");
    let job = emu
        .ok("GET", &format!("2.1/jobs/get?job_id={job_id}"), None)
        .await;
    assert_eq!(job["settings"]["timeout_seconds"], 900);
    assert_eq!(job["settings"]["name"], "to-update", "update is partial");
}

// ---------------------------------------------------------------------------------------------
// Clusters

#[tokio::test(flavor = "multi_thread")]
async fn provision_cluster() {
    let emu = Emu::start().await;
    let out = emu
        .run(
            "provision-cluster",
            &[
                ("clusterName", s("provisioned")),
                ("sparkVersion", s("15.4.x-scala2.12")),
                ("nodeTypeId", s("Standard_DS3_v2")),
                ("numWorkers", s(2)),
            ],
        )
        .await;
    assert_eq!(keys(&out), ["clusterId", "failureState", "finalState"]);
    let list = emu.ok("GET", "2.0/clusters/list", None).await;
    assert_eq!(out["clusterId"], list["clusters"][0]["cluster_id"]);
    assert_eq!(out["finalState"], "RUNNING");
    assert_eq!(out["failureState"], Value::Null);
    let c = &list["clusters"][0];
    assert_eq!(c["cluster_name"], "provisioned");
    assert_eq!(c["autotermination_minutes"], 30, "the input's default");
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_create_cluster() {
    let emu = Emu::start().await;
    let out = emu
        .run(
            "preflight-create-cluster",
            &[("clusterName", s("preflight")), ("numWorkers", s(1))],
        )
        .await;
    assert_eq!(keys(&out), ["clusterId", "nodeTypeId", "sparkVersion"]);
    let versions = emu.ok("GET", "2.0/clusters/spark-versions", None).await;
    let nodes = emu.ok("GET", "2.0/clusters/list-node-types", None).await;
    assert_eq!(out["sparkVersion"], versions["versions"][0]["key"]);
    assert_eq!(out["nodeTypeId"], nodes["node_types"][0]["node_type_id"]);
    let c = emu
        .ok(
            "GET",
            &format!(
                "2.0/clusters/get?cluster_id={}",
                out["clusterId"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(c["cluster_name"], "preflight");
    assert_eq!(c["spark_version"], out["sparkVersion"]);
    assert_eq!(c["node_type_id"], out["nodeTypeId"]);
    assert_eq!(c["num_workers"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn provision_cluster_and_run_job() {
    let emu = Emu::start().await;
    let out = emu
        .run(
            "provision-cluster-and-run-job",
            &[
                ("clusterName", s("job-host")),
                ("sparkVersion", s("15.4.x-scala2.12")),
                ("nodeTypeId", s("Standard_DS3_v2")),
                ("numWorkers", s(1)),
                ("jobName", s("on-new-cluster")),
                ("taskKey", s("main")),
                ("notebookPath", s("/Users/me/ok")),
            ],
        )
        .await;
    assert_eq!(keys(&out), ["clusterId", "jobId", "resultState", "runId"]);
    let cluster_id = out["clusterId"].as_str().unwrap();
    let c = emu
        .ok(
            "GET",
            &format!("2.0/clusters/get?cluster_id={cluster_id}"),
            None,
        )
        .await;
    assert_eq!(c["state"], "RUNNING");
    let job = emu
        .ok(
            "GET",
            &format!("2.1/jobs/get?job_id={}", out["jobId"]),
            None,
        )
        .await;
    assert_eq!(job["settings"]["name"], "on-new-cluster");
    assert_eq!(
        job["settings"]["tasks"][0]["existing_cluster_id"],
        cluster_id
    );
    let run = emu.get_run(out["runId"].as_i64().unwrap()).await;
    assert_eq!(run["job_id"], out["jobId"]);
    assert_eq!(out["resultState"], "SUCCESS");
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_health_diagnostics() {
    let emu = Emu::start().await;
    let id = emu.running_cluster("diagnosed").await;
    let out = emu
        .run("cluster-health-diagnostics", &[("clusterId", s(&id))])
        .await;
    assert_eq!(
        keys(&out),
        ["clusterState", "eventCount", "events", "terminationReason"]
    );
    assert_eq!(out["clusterState"], "RUNNING");
    assert_eq!(
        out["terminationReason"],
        Value::Null,
        "a running cluster has none"
    );
    let events = out["events"].as_array().unwrap();
    assert_eq!(out["eventCount"], events.len());
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["RUNNING"], "filtered to the requested types");
    assert_eq!(events[0]["cluster_id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_most_recent_cluster() {
    let emu = Emu::start().await;
    let _older = emu.running_cluster("older").await;
    let newest = emu.create_cluster("newest").await;
    let listed = emu.ok("GET", "2.0/clusters/list", None).await;
    assert_eq!(listed["clusters"][0]["cluster_id"], newest.as_str());
    // No `canUseClient`: the query parameter reaches nothing and is left out.
    let out = emu.run("pin-most-recent-cluster", &[]).await;
    assert_eq!(keys(&out), ["pinnedClusterId", "state"]);
    assert_eq!(out["pinnedClusterId"], newest.as_str());
    let list_req = emu.logged("GET clusters/list").last().unwrap().path.clone();
    assert!(!list_req.contains("can_use_client"), "{list_req}");
    assert!(
        matches!(out["state"].as_str(), Some("PENDING" | "RUNNING")),
        "{out}"
    );
    let pins = emu.logged("POST clusters/pin");
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].body["cluster_id"], newest.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn resize_running_cluster() {
    let emu = Emu::start().await;
    let id = emu.running_cluster("to-resize").await;
    let out = emu
        .run(
            "resize-running-cluster",
            &[("clusterId", s(&id)), ("numWorkers", s(5))],
        )
        .await;
    assert_eq!(keys(&out), ["clusterId", "finalState", "finalWorkers"]);
    assert_eq!(out["clusterId"], id.as_str());
    assert_eq!(out["finalState"], "RUNNING");
    assert_eq!(out["finalWorkers"], 5);
    assert_eq!(emu.logged("POST clusters/edit").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_cluster_and_wait() {
    let emu = Emu::start().await;
    let id = emu.running_cluster("to-restart").await;
    let out = emu
        .run("restart-cluster-and-wait", &[("clusterId", s(&id))])
        .await;
    assert_eq!(keys(&out), ["clusterId", "failureState", "finalState"]);
    assert_eq!(out["clusterId"], id.as_str());
    assert_eq!(out["finalState"], "RUNNING");
    assert_eq!(out["failureState"], Value::Null);
    assert_eq!(emu.logged("POST clusters/restart").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_cluster_and_wait() {
    let emu = Emu::start().await;
    let id = emu.running_cluster("to-start").await;
    emu.ok(
        "POST",
        "2.0/clusters/delete",
        Some(json!({"cluster_id": id})),
    )
    .await;
    emu.wait_cluster(&id, "TERMINATED").await;
    let out = emu
        .run("start-cluster-and-wait", &[("clusterId", s(&id))])
        .await;
    assert_eq!(keys(&out), ["clusterId", "failureState", "finalState"]);
    assert_eq!(out["clusterId"], id.as_str());
    assert_eq!(out["finalState"], "RUNNING");
    assert_eq!(out["failureState"], Value::Null);
    assert_eq!(emu.logged("POST clusters/start").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_and_purge_cluster() {
    let emu = Emu::start().await;
    let id = emu.running_cluster("to-purge").await;
    let out = emu
        .run("terminate-and-purge-cluster", &[("clusterId", s(&id))])
        .await;
    assert_eq!(keys(&out), ["clusterId", "finalState"]);
    assert_eq!(out["clusterId"], id.as_str());
    assert_eq!(out["finalState"], "TERMINATED");
    assert_eq!(emu.logged("POST clusters/permanent-delete").len(), 1);
    let (status, _) = emu
        .call("GET", &format!("2.0/clusters/get?cluster_id={id}"), None)
        .await;
    assert_eq!(status, 400, "purged");
}

#[test]
fn the_corpus_has_exactly_these_20_workflows() {
    let mut names: Vec<String> = std::fs::read_dir(corpus().join("arazzo"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected = [
        "backup-notebook",
        "cancel-active-run",
        "cleanup-latest-job-run",
        "cluster-health-diagnostics",
        "create-directory-and-import-notebook",
        "create-job-and-run",
        "delete-workspace-directory",
        "import-notebook-and-run",
        "pin-most-recent-cluster",
        "preflight-create-cluster",
        "provision-cluster-and-run-job",
        "provision-cluster",
        "reset-job-and-verify",
        "resize-running-cluster",
        "restart-cluster-and-wait",
        "run-existing-job-and-wait",
        "start-cluster-and-wait",
        "submit-one-time-run",
        "terminate-and-purge-cluster",
        "update-job-and-rerun",
    ];
    let mut want: Vec<String> = expected
        .iter()
        .map(|n| format!("azure-databricks-{n}-workflow.yml"))
        .collect();
    want.sort();
    assert_eq!(names, want);
}
