//! `polysync tasks`, `dag-runs` and `dispatcher` as a user drives them: a tasks file applied
//! (and refused with file, line, task and field), a DAG run started and followed with
//! `tasks run --wait --json` (an in-process dispatcher when none is alive), a background
//! `polysync dispatcher` doing the work for `tasks run`, and exit codes 0 / 2 / 3.

mod support;

use std::process::Stdio;
use std::time::Duration;

use polysync_testkit::TestDb;
use serde_json::Value;
use support::{cli, imported, run};

const TASKS: &str = r#"limits:
  warehouse-a: 1
tasks:
  - name: first
    job: /Tests/quick
    params: { name: "${dag_run.logical_date}" }
    limits: [warehouse-a]
  - name: second
    job: emu:/Tests/quick
    after: [first]
    retry: { attempts: 2, backoff: 10ms }
  - name: on_failure
    job: /Tests/quick
    after: [{ task: first, on: failure }]
"#;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write tasks file");
    path.display().to_string()
}

fn task_statuses(view: &Value) -> Vec<(String, String)> {
    view["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["task"].as_str().unwrap_or_default().to_owned(),
                t["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_run_and_follow_a_dag_from_the_command_line() {
    let db = TestDb::sqlite();
    let (emu, _ws) = imported(db.url()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(&dir, "tasks.yaml", TASKS);

    let applied = run(db.url(), &["tasks", "apply", &file, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(
        applied["summary"]["added"].as_array().map(Vec::len),
        Some(3),
        "{applied}"
    );
    let again = run(db.url(), &["tasks", "apply", &file]).await.ok();
    assert!(
        again.stdout.contains("0 added, 0 changed, 3 unchanged"),
        "{}",
        again.stdout
    );
    let listed = run(db.url(), &["tasks", "list", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    let shown = run(db.url(), &["tasks", "show", "first", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(
        shown["dag"],
        serde_json::json!(["first", "on_failure", "second"])
    );

    // A bad file: exit 2, every problem located, nothing changed.
    let bad = write(
        &dir,
        "bad.yaml",
        "tasks:\n  - name: x\n    job: /Tests/quick\n    timeout: soon\n  - name: y\n    job: nope\n",
    );
    let refused = run(db.url(), &["tasks", "apply", &bad]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("{bad}:4: task \"x\", field `timeout`")),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains(&format!("{bad}:6: task \"y\", field `job`: unknown job")),
        "{}",
        refused.stderr
    );
    let still = run(db.url(), &["tasks", "list", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(still, listed, "nothing changed");

    // No dispatcher alive: `tasks run --wait` runs one in-process.
    let out = run(db.url(), &["tasks", "run", "first", "--wait", "--json"]).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("two JSON documents");
    assert_eq!(docs.len(), 2, "printed once started and once at the end");
    let end = &docs[1];
    assert_eq!(end["status"], "Success", "{end}");
    for key in ["id", "status", "started_at", "ended_at", "tasks"] {
        assert!(end.get(key).is_some(), "DAG run JSON has {key}: {end}");
    }
    assert_eq!(
        task_statuses(end),
        vec![
            ("first".into(), "Success".into()),
            ("on_failure".into(), "Skipped".into()),
            ("second".into(), "Success".into())
        ]
    );
    let attempt = &end["tasks"][0]["attempts"][0];
    for key in [
        "attempt",
        "status",
        "databricks_run_id",
        "monitor_url",
        "started_at",
        "ended_at",
        "message",
    ] {
        assert!(
            attempt.get(key).is_some(),
            "attempt JSON has {key}: {attempt}"
        );
    }
    let id = end["id"].as_str().expect("id").to_owned();
    let listed = run(db.url(), &["dag-runs", "list", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(listed[0]["id"], id.as_str());
    let shown = run(db.url(), &["dag-runs", "show", &id]).await.ok();
    assert!(shown.stdout.contains("Success"), "{}", shown.stdout);
    assert_eq!(run(db.url(), &["dag-runs", "show", "nope"]).await.code, 2);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_dispatcher_runs_what_tasks_run_enqueues() {
    let db = TestDb::sqlite();
    let (emu, _ws) = imported(db.url()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        &dir,
        "tasks.yaml",
        "tasks:\n  - name: long\n    job: /Tests/slow\n  - name: quick\n    job: /Tests/quick\n",
    );
    run(db.url(), &["tasks", "apply", &file]).await.ok();
    let mut dispatcher = cli(db.url(), &["dispatcher"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dispatcher");
    // Once it says it runs, a second dispatcher on the same SQLite file is refused.
    let stderr = dispatcher.stderr.take().expect("stderr");
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let mut reader = std::io::BufReader::new(stderr);
        std::io::BufRead::read_line(&mut reader, &mut line).map(|_| (line, reader))
    })
    .await
    .expect("join")
    .expect("read");
    assert!(first_line.0.contains("running"), "{}", first_line.0);
    let second = run(db.url(), &["dispatcher"]).await;
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("one dispatcher runs per SQLite file"),
        "{}",
        second.stderr
    );

    let quick = run(db.url(), &["tasks", "run", "quick", "--wait", "--json"]).await;
    assert_eq!(quick.code, 0, "{}\n{}", quick.stdout, quick.stderr);
    // A long one, cancelled: exit 3 from the waiting command.
    let started = run(db.url(), &["tasks", "run", "long", "--json"])
        .await
        .ok()
        .json();
    let id = started["id"].as_str().expect("id").to_owned();
    let mut status = String::new();
    for _ in 0..200 {
        let v = run(db.url(), &["dag-runs", "show", &id, "--json"])
            .await
            .ok()
            .json();
        if v["tasks"][0]["attempts"][0]["databricks_run_id"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run(db.url(), &["dag-runs", "cancel", &id]).await.ok();
    for _ in 0..200 {
        let v = run(db.url(), &["dag-runs", "show", &id, "--json"])
            .await
            .ok()
            .json();
        status = v["status"].as_str().unwrap_or_default().to_owned();
        if status == "Cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "Cancelled");

    // SIGTERM drains and stops the dispatcher.
    let pid = dispatcher.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let (status, rest) = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        let mut reader = first_line.1;
        let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
        (dispatcher.wait(), rest)
    })
    .await
    .expect("join");
    assert!(status.expect("wait").success(), "{rest}");
    assert!(rest.contains("stopped"), "{rest}");
    emu.shutdown().await;
}

/// A root task and `leaves` tasks of `/Tests/medium` after it (each taking a slot of `pool`
/// when `pool` is given), applied; returns the started DAG run's id.
async fn fan_out(db: &str, dir: &tempfile::TempDir, leaves: usize, pool: Option<u32>) -> String {
    let mut file = String::new();
    if let Some(cap) = pool {
        file.push_str(&format!("limits:\n  pool: {cap}\n"));
    }
    file.push_str("tasks:\n  - name: root\n    job: /Tests/quick\n");
    for i in 0..leaves {
        file.push_str(&format!(
            "  - name: leaf{i}\n    job: /Tests/medium\n    after: [root]\n"
        ));
        if pool.is_some() {
            file.push_str("    limits: [pool]\n");
        }
    }
    let path = write(dir, "tasks.yaml", &file);
    run(db, &["tasks", "apply", &path]).await.ok();
    let started = run(db, &["tasks", "run", "root", "--json"])
        .await
        .ok()
        .json();
    started["id"].as_str().expect("id").to_owned()
}

/// `polysync dispatcher` with short leases and heartbeats, so a dead one is replaced quickly,
/// and `extra` options.
fn quick_dispatcher(db: &str, extra: &[&str]) -> std::process::Command {
    let mut args = vec![
        "dispatcher",
        "--lease",
        "2s",
        "--heartbeat",
        "300ms",
        "--track-interval",
        "100ms",
    ];
    args.extend_from_slice(extra);
    let mut cmd = cli(db, &args);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Polls `dag-runs show` until `done` says so; returns the last view (Null on time-out).
async fn wait_dag(db: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..1_500 {
        let v = run(db, &["dag-runs", "show", id, "--json"])
            .await
            .ok()
            .json();
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    Value::Null
}

fn count_status(view: &Value, status: &str) -> usize {
    view["tasks"]
        .as_array()
        .map_or(0, |ts| ts.iter().filter(|t| t["status"] == status).count())
}

/// The crash test's 500 active tasks, each kind in its own notebook so its true end is known:
/// most succeed, some fail (no retry), some fail their first run and succeed on a retry.
const CRASH_OK: usize = 400;
const CRASH_FAILING: usize = 50;
const CRASH_FLAKY: usize = 50;
/// How many of the flaky notebook's first runs fail; each costs its task one more attempt.
const FLAKY_FAILURES: usize = 5;

/// An emulator (x100 clock, a request log big enough for the whole test) with the crash test's
/// notebooks under `/Crash`, registered as `emu` on `db` and imported. The long runs take 10
/// simulated minutes (6 s), so many are in flight when the dispatcher dies.
async fn crash_workspace(db: &str) -> (polysync_emulator::EmulatorHandle, tempfile::TempDir) {
    let notebook = |directive: &str| {
        format!("# Databricks notebook source\n# emulator: {directive}\nprint(1)\n")
    };
    let dir = polysync_testkit::write_files(&[
        ("Crash/root.py", &notebook("duration=1s")),
        ("Crash/ok.py", &notebook("duration=10m")),
        (
            "Crash/failing.py",
            &notebook("outcome=FAILED duration=5m message=\"broken on purpose\""),
        ),
        (
            "Crash/flaky.py",
            &notebook(&format!("fail_first={FLAKY_FAILURES} duration=5m")),
        ),
    ]);
    let emu = polysync_testkit::start_emulator(support::TOKEN, |c| {
        c.workspace_dir = Some(dir.path().to_path_buf());
        c.time_scale = 100.0;
        c.request_log_capacity = 65_536;
    })
    .await;
    run(
        db,
        &[
            "platform",
            "add",
            "emu",
            "--host",
            &emu.url(),
            "--token-env",
            support::TOKEN_VAR,
        ],
    )
    .await
    .ok();
    run(db, &["import", "emu"]).await.ok();
    (emu, dir)
}

/// `root`, then the 500 tasks after it; applied, and a DAG run of `root` started (enqueued
/// only: no dispatcher runs yet). Returns the DAG run's id.
async fn crash_dag(db: &str, dir: &tempfile::TempDir) -> String {
    let mut file = String::from("tasks:\n  - name: root\n    job: /Crash/root\n");
    let kinds = [
        ("ok", CRASH_OK, ""),
        ("failing", CRASH_FAILING, ""),
        (
            "flaky",
            CRASH_FLAKY,
            "    retry: { attempts: 3, backoff: 10ms }\n",
        ),
    ];
    for (kind, count, extra) in kinds {
        for i in 0..count {
            file.push_str(&format!(
                "  - name: {kind}{i}\n    job: /Crash/{kind}\n    after: [root]\n{extra}"
            ));
        }
    }
    let path = write(dir, "crash.yaml", &file);
    run(db, &["tasks", "apply", &path]).await.ok();
    let started = run(db, &["tasks", "run", "root", "--json"])
        .await
        .ok()
        .json();
    started["id"].as_str().expect("id").to_owned()
}

fn is_terminal(view: &Value) -> bool {
    matches!(
        view["status"].as_str(),
        Some("Success" | "Failed" | "Cancelled")
    )
}

/// A dispatcher SIGKILLed in the middle of 500 active tasks (many attempts in flight in
/// Databricks, others not yet sent), then restarted as a supervisor would: every task reaches
/// its true final status and the emulator saw exactly one Databricks run per attempt (a start
/// re-sent after the crash carries the attempt's idempotency token and gets the run Databricks
/// already made). On SQLite (about 45 s here); PostgreSQL's crash and takeover path is the
/// three-dispatcher test below, as the 500 tasks there take minutes on this 2-core machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_among_500_active_tasks_loses_nothing() {
    let db = TestDb::sqlite();
    let (emu, _ws) = crash_workspace(db.url()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let id = crash_dag(db.url(), &dir).await;
    let total = 1 + CRASH_OK + CRASH_FAILING + CRASH_FLAKY;

    // The first dispatcher sends at most 40 requests/s, so the kill lands while it is
    // still starting runs; the second has no client-side cap (the emulator's limits are
    // off), so the rest start at once.
    let mut first = quick_dispatcher(db.url(), &["--rate-limit", "40"])
        .spawn()
        .expect("spawn");
    // Killed once the emulator runs 100 of them (it counts what really reached Databricks).
    for _ in 0..12_000 {
        if emu.stats().active_runs >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().expect("kill -9");
    let _ = first.wait();
    let killed_at = jiff::Timestamp::now().as_millisecond();
    let at_kill = emu.stats();
    eprintln!(
        "at the kill: {} Databricks runs in flight, {} of at least {} created",
        at_kill.active_runs,
        at_kill.runs_created,
        total + FLAKY_FAILURES
    );
    assert!(
        at_kill.active_runs >= 100,
        "killed with many attempts in flight: {at_kill:?}"
    );
    assert!(
        at_kill.runs_created < total as u64,
        "killed mid-way, before every task started: {at_kill:?}"
    );

    // What a supervisor does: restart it. On SQLite the dead one's heartbeat must go stale
    // first (a live one would be refused), so retry until one stays up.
    let mut second = loop {
        let mut child = quick_dispatcher(db.url(), &["--rate-limit", "0"])
            .spawn()
            .expect("spawn");
        tokio::time::sleep(Duration::from_millis(400)).await;
        match child.try_wait().expect("try_wait") {
            None => break child,
            Some(status) => assert_eq!(
                status.code(),
                Some(2),
                "refused while the dead one looks alive"
            ),
        }
    };
    // Watched through the cheap DAG-run listing (no task runs), so the watcher does not
    // take the dispatcher's CPU on this small machine; then read once in full.
    let mut status = String::new();
    for _ in 0..1_500 {
        let listed = run(db.url(), &["dag-runs", "list", "--json"])
            .await
            .ok()
            .json();
        status = listed
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["id"] == id.as_str()))
            .and_then(|r| r["status"].as_str())
            .unwrap_or_default()
            .to_owned();
        if status != "Running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status();
    let _ = second.wait();
    let end = run(db.url(), &["dag-runs", "show", &id, "--json"])
        .await
        .ok()
        .json();
    assert!(is_terminal(&end), "ended in time ({status}): {end}");

    // Every task at its true end.
    assert_eq!(
        end["status"], "Failed",
        "the failing tasks fail the DAG run"
    );
    let tasks = end["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), total);
    let mut attempts = 0;
    let mut run_ids = std::collections::BTreeSet::new();
    for t in tasks {
        let name = t["task"].as_str().unwrap_or_default();
        let want = if name.starts_with("failing") {
            "Failed"
        } else {
            "Success"
        };
        assert_eq!(t["status"], want, "{t}");
        let tried = t["attempts"].as_array().expect("attempts");
        if !name.starts_with("flaky") {
            assert_eq!(tried.len(), 1, "one attempt: {t}");
        }
        attempts += tried.len();
        run_ids.extend(tried.iter().filter_map(|a| a["databricks_run_id"].as_str()));
    }
    assert_eq!(
        attempts,
        total + FLAKY_FAILURES,
        "one attempt per task, plus one retry per failed flaky run"
    );
    assert_eq!(
        run_ids.len(),
        attempts,
        "each attempt its own Databricks run"
    );

    // The emulator's view: exactly one run per attempt, whatever was re-sent.
    assert_eq!(
        emu.stats().runs_created,
        attempts as u64,
        "exactly one Databricks run per attempt"
    );
    let submits: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == "POST jobs/runs/submit")
        .collect();
    let tokens: std::collections::BTreeSet<_> = submits
        .iter()
        .filter_map(|r| r.body["idempotency_token"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(tokens.len(), attempts, "one idempotency token per attempt");
    let sent_before: std::collections::BTreeSet<_> = submits
        .iter()
        .filter(|r| r.timestamp_ms < killed_at)
        .filter_map(|r| r.body["idempotency_token"].as_str())
        .collect();
    let resent = submits
        .iter()
        .filter(|r| r.timestamp_ms >= killed_at)
        .filter_map(|r| r.body["idempotency_token"].as_str())
        .filter(|t| sent_before.contains(t))
        .count();
    eprintln!(
        "{} submits for {attempts} attempts: {} sent before the kill, {resent} re-sent after it \
             (answered with the run already made)",
        submits.len(),
        sent_before.len()
    );
    emu.shutdown().await;
}

/// Three dispatchers share the work on PostgreSQL; one is SIGKILLed mid-way. Every task ends
/// Success, no Databricks run is duplicated, and the limit held across processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_dispatchers_on_postgres_one_killed() {
    let Ok(admin) = std::env::var(polysync_testkit::DATABASE_URL_VAR) else {
        eprintln!("skipped: {} is not set", polysync_testkit::DATABASE_URL_VAR);
        return;
    };
    let db = TestDb::postgres(admin.trim()).await;
    let (emu, _ws) = imported(db.url()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let id = fan_out(db.url(), &dir, 24, Some(4)).await;
    let mut dispatchers: Vec<_> = (0..3)
        .map(|_| quick_dispatcher(db.url(), &[]).spawn().expect("spawn"))
        .collect();
    // Kill one once a few leaves have ended.
    wait_dag(db.url(), &id, |v| count_status(v, "Success") >= 6).await;
    dispatchers[0].kill().expect("kill -9");
    let _ = dispatchers[0].wait();
    let end = wait_dag(db.url(), &id, |v| v["status"] != "Running").await;
    for d in dispatchers.iter_mut().skip(1) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &d.id().to_string()])
            .status();
        let _ = d.wait();
    }
    assert_eq!(end["status"], "Success", "{end}");
    assert_eq!(emu.stats().runs_created, 25, "no duplicate Databricks run");
    assert!(
        emu.stats().max_concurrent_task_runs <= 4,
        "the limit held across three dispatchers: {:?}",
        emu.stats()
    );
    emu.shutdown().await;
    db.cleanup().await;
}
