//! `polysync up`: starts with no configuration, serves `/health` and the
//! demo job keys, and stops cleanly on SIGTERM and on Ctrl-C (SIGINT).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use support::polysync;

/// One HTTP/1.1 request over a plain socket; returns the whole response.
fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

fn up_then(signal: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("up.db");
    let mut child = polysync()
        .args(["up", "--port", "0", "--database-url"])
        .arg(&db)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env_remove("DATABRICKS_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    let url = first
        .trim()
        .strip_prefix("Polysync is up: ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let addr = url.trim_start_matches("http://");
    let health = http(
        addr,
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#"{"status":"ok"}"#), "{health}");
    let status = http(
        addr,
        "GET /api/jobs/daily/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut rest = String::new();
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    stdout.read_to_string(&mut rest).expect("stdout");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    assert!(rest.contains("Try:"), "{rest}");
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
