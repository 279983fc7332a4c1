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
            .contains("task \"y\", field `job`: unknown job"),
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

/// `polysync dispatcher` with short leases and heartbeats, so a dead one is replaced quickly.
fn quick_dispatcher(db: &str) -> std::process::Command {
    let mut cmd = cli(
        db,
        &[
            "dispatcher",
            "--lease",
            "2s",
            "--heartbeat",
            "300ms",
            "--track-interval",
            "100ms",
        ],
    );
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

/// A dispatcher SIGKILLed while 30 attempts are in flight, then another started: every task
/// run reaches its true end and the emulator saw exactly one Databricks run per attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dispatcher_loses_nothing() {
    polysync_testkit::each_backend("killed_dispatcher", async |db: &TestDb| {
        let (emu, _ws) = imported(db.url()).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let id = fan_out(db.url(), &dir, 30, None).await;
        let mut first = quick_dispatcher(db.url()).spawn().expect("spawn");
        // Kill it once most leaves are running in Databricks.
        wait_dag(db.url(), &id, |v| count_status(v, "Running") >= 20).await;
        first.kill().expect("kill -9");
        let _ = first.wait();
        // What a supervisor does: restart it. On SQLite the dead one's heartbeat must go stale
        // first (a live one would be refused), so retry until one stays up.
        let mut second = loop {
            let mut child = quick_dispatcher(db.url()).spawn().expect("spawn");
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
        let end = wait_dag(db.url(), &id, |v| v["status"] != "Running").await;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &second.id().to_string()])
            .status();
        let _ = second.wait();
        assert_eq!(end["status"], "Success", "{end}");
        let attempts: usize = end["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["attempts"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(attempts, 31, "one attempt per task: {end}");
        assert_eq!(
            emu.stats().runs_created,
            31,
            "exactly one Databricks run per attempt"
        );
        emu.shutdown().await;
    })
    .await;
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
        .map(|_| quick_dispatcher(db.url()).spawn().expect("spawn"))
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
