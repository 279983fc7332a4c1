//! Hostile and careless clients: read timeouts, body limits with Databricks-shaped 413s, and a
//! bounded run history. Raw TCP where an HTTP client would not misbehave on purpose.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Emu, TOKEN};

/// Sends `head` (and nothing more) on a raw connection and reads until the server closes it.
/// The generous 20 s guard only keeps a regression from hanging the suite.
async fn send_raw(url: &str, head: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("the server must answer or close, not hold the connection")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

fn json_body(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {response}"))
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let e = Emu::start(|c| c.header_read_timeout = Duration::from_millis(300)).await;
    let answer = send_raw(&e.url, "GET /api/2.1/jobs/list HTTP/1.1\r\nHost: x\r\n").await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_json() {
    let e = Emu::start(|c| c.body_read_timeout = Duration::from_millis(300)).await;
    let answer = send_raw(
        &e.url,
        &format!(
            "POST /api/2.1/jobs/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\""
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(json_body(&answer)["error_code"], "REQUEST_TIMEOUT");
}

#[tokio::test]
async fn a_100_gb_content_length_gets_413_json_at_once() {
    // The body timeout is the default 30 s: only an up-front check answers within the guard.
    let e = Emu::fast().await;
    let answer = send_raw(
        &e.url,
        &format!(
            "POST /api/2.0/workspace/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 107374182400\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let v = json_body(&answer);
    assert_eq!(v["error_code"], "REQUEST_ENTITY_TOO_LARGE", "{v}");
    assert!(v["message"].as_str().unwrap().contains("10 MB"), "{v}");
}

#[tokio::test]
async fn workspace_import_accepts_10_mb_and_others_2_mb_with_json_413() {
    let e = Emu::fast().await;
    // 6 MB of notebook source (8 MB as base64): over the old 2 MB limit, under 10 MB.
    let source = format!(
        "# Databricks notebook source\n# {}\n",
        "x".repeat(6 * 1024 * 1024)
    );
    let content = base64::engine::general_purpose::STANDARD.encode(&source);
    let (s, v) = e
        .post(
            "/api/2.0/workspace/import",
            json!({"path": "/big", "format": "SOURCE", "language": "PYTHON", "content": content}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let too_big = base64::engine::general_purpose::STANDARD.encode("x".repeat(9 * 1024 * 1024));
    let (s, v) = e
        .post(
            "/api/2.0/workspace/import",
            json!({"path": "/bigger", "format": "SOURCE", "language": "PYTHON", "content": too_big}),
        )
        .await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error_code"], "REQUEST_ENTITY_TOO_LARGE", "{v}");
    let (s, v) = e
        .post(
            "/api/2.1/jobs/create",
            json!({"name": "x", "description": "d".repeat(3 * 1024 * 1024)}),
        )
        .await;
    assert_eq!(s, 413, "{v}");
    assert!(v["message"].as_str().unwrap().contains("2 MB"), "{v}");
}

#[tokio::test]
async fn finished_runs_beyond_the_history_bound_are_forgotten_oldest_first() {
    let e = Emu::start(|c| c.max_finished_runs = 5).await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        let id = e.submit_notebook("/x", json!({})).await;
        e.wait_run(id).await;
        ids.push(id);
    }
    let newest = e.submit_notebook("/x", json!({})).await;
    for old in &ids[..4] {
        let (s, v) = e.get(&format!("/api/2.1/jobs/runs/get?run_id={old}")).await;
        assert_ne!(s, 200, "run {old} should be forgotten: {v}");
    }
    for kept in &ids[4..] {
        let (s, v) = e
            .get(&format!("/api/2.1/jobs/runs/get?run_id={kept}"))
            .await;
        assert_eq!(s, 200, "run {kept} should be kept: {v}");
    }
    let (s, _) = e
        .get(&format!("/api/2.1/jobs/runs/get?run_id={newest}"))
        .await;
    assert_eq!(s, 200);
}
