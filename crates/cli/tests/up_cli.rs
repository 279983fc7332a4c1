//! `polysync up`: starts with no configuration, serves `/health` and the
//! demo job keys, and stops cleanly on SIGTERM and on Ctrl-C (SIGINT).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::polysync;
use support::up::Up;

/// One HTTP/1.1 request over a plain socket; returns the whole response.
fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

fn up_then(signal: &str) {
    let up = Up::start();
    let health = http(
        up.addr(),
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#"{"status":"ok"}"#), "{health}");
    let status = http(
        up.addr(),
        "GET /api/jobs/daily/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let out = up.stop_with(signal);
    assert!(out.stderr.contains("stopped"), "{}", out.stderr);
    assert!(out.stdout.contains("Try:"), "{}", out.stdout);
}

#[test]
fn up_serves_and_stops_cleanly_on_sigterm() {
    up_then("-TERM");
}

#[test]
fn up_serves_and_stops_cleanly_on_ctrl_c() {
    up_then("-INT");
}

#[test]
fn serve_refuses_a_non_loopback_address_without_tokens() {
    let dir = tempfile::tempdir().expect("dir");
    let out = polysync()
        .args([
            "serve",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--database-url",
        ])
        .arg(dir.path().join("s.db"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to listen on 0.0.0.0"));
}

#[test]
fn tokens_are_shown_once_listed_without_secret_and_revoked() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("t.db");
    let run = |args: &[&str]| {
        polysync()
            .args(args)
            .arg("--database-url")
            .arg(&db)
            .output()
            .expect("run")
    };
    let created = run(&["tokens", "create", "ci"]);
    assert_eq!(created.status.code(), Some(0));
    let token = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(token.starts_with("pst_") && token.len() > 60, "{token}");
    let listed = run(&["tokens", "list", "--json"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("\"ci\""), "{text}");
    assert!(!text.contains(&token), "the token is never shown again");
    assert_eq!(run(&["tokens", "revoke", "ci"]).status.code(), Some(0));
    assert_ne!(run(&["tokens", "revoke", "ci"]).status.code(), Some(0));
}

/// The body of an HTTP/1.1 response (after the headers; chunk sizes of a
/// chunked body left in, which the callers' `contains` checks ignore).
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

fn get(addr: &str, path: &str) -> String {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

/// The value of an unlabelled metric in a Prometheus text exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// `polysync up` seeds and applies the demo tasks file (tasks listed at
/// once, `nightly` on a schedule, its DAG run started by the dispatcher
/// in `up`), and each workspace has exactly one tracker: the dispatcher's
/// loop tracks, the server's loop (polling every 50 ms here) asks
/// Databricks nothing itself.
#[test]
fn up_applies_the_demo_tasks_and_tracks_each_workspace_once() {
    let up = Up::start_with(Some("[tiers]\npoll = \"50ms\"\n"));
    let log = up.log();
    let emulator = log
        .lines()
        .find_map(|l| l.trim().strip_prefix("embedded emulator on "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("emulator url")
        .to_owned();
    let tasks_line = log
        .lines()
        .find(|l| l.starts_with("demo tasks: "))
        .expect("tasks line");
    assert!(tasks_line.contains("demo-tasks.yaml"), "{tasks_line}");
    let addr = up.addr().to_owned();

    // The demo tasks: listed at once, one on a schedule with a time zone.
    let tasks = get(&addr, "/api/v1/tasks");
    assert!(tasks.starts_with("HTTP/1.1 200"), "{tasks}");
    for name in ["nightly", "sales", "forecast", "alert"] {
        assert!(tasks.contains(&format!("\"name\":\"{name}\"")), "{tasks}");
    }
    assert!(tasks.contains("Europe/Amsterdam"), "{tasks}");
    assert!(tasks.contains("0 6 * * 1-5"), "{tasks}");

    // A job run streamed to its end: tracked by the dispatcher only.
    let stream = http(
        &addr,
        "POST /api/jobs/daily/run?stream=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(stream.contains("TERMINATED"), "{stream}");
    let metrics = get(&addr, "/metrics");
    assert_eq!(
        metric(&metrics, "polysync_server_tracking_rounds_total"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "polysync_server_tracked_workspaces"),
        Some(0.0)
    );
    // Someone tracked (the dispatcher): the emulator saw its listings, and
    // no `runs/get` poll loop per run.
    let emu_addr = emulator.trim_start_matches("http://");
    let listings = get(
        emu_addr,
        "/__emulator/requests?endpoint=GET%20jobs/runs/list",
    );
    assert!(listings.contains("completed_only"), "{listings}");

    // The `nightly` key starts its DAG run; the dispatcher in `up` runs it.
    let started = http(
        &addr,
        "POST /api/jobs/nightly/run HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(started.starts_with("HTTP/1.1 200"), "{started}");
    let started: serde_json::Value = serde_json::from_str(body(&started)).expect("json");
    let dag = started["runId"].as_str().expect("runId").to_owned();
    let mut sent = false;
    for _ in 0..3000 {
        let run = get(&addr, &format!("/api/jobs/nightly/runs/{dag}"));
        let run: serde_json::Value = serde_json::from_str(body(&run)).expect("json");
        let nightly = run["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .find(|t| t["task"] == "nightly")
            .cloned()
            .expect("task nightly in its DAG run");
        if nightly["attempts"][0]["databricks_run_id"].is_string() {
            sent = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(sent, "the dispatcher started the DAG's first task");

    up.stop();
}
