//! Integration tests: the emulator on 127.0.0.1:0 driven over HTTP.
#![allow(missing_docs, clippy::unwrap_used)]

mod auth;
mod clusters;
mod demo;
mod faults;
mod jobs;
mod limits;
mod pipelines;
mod runs;
mod workspace;

use std::time::Duration;

use base64::Engine;
use polysync_emulator::{EmulatorConfig, EmulatorHandle};
use serde_json::{Value, json};

pub const TOKEN: &str = polysync_emulator::DEFAULT_TOKEN;

pub struct Emu {
    pub h: EmulatorHandle,
    pub c: reqwest::Client,
    pub url: String,
}

impl Emu {
    /// The emulator with a fast clock (1 real ms = 1 simulated second).
    pub async fn fast() -> Self {
        Self::start(|_| {}).await
    }

    /// The fast emulator with more configuration (clock, credentials, faults, seed).
    pub async fn start(tweak: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let h = polysync_testkit::start_emulator(TOKEN, |c| {
            c.time_scale = polysync_testkit::FAST_CLOCK;
            tweak(c);
        })
        .await;
        let url = h.url();
        Self {
            h,
            c: reqwest::Client::new(),
            url,
        }
    }
    pub async fn req(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.c.request(m, format!("{}{}", self.url, path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        )
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.req("GET", path, None, Some(TOKEN)).await;
        (s, v)
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.req("POST", path, Some(body), Some(TOKEN)).await;
        (s, v)
    }
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body).await;
        assert_eq!(s, 200, "{path}: {v}");
        v
    }
    pub async fn import(&self, path: &str, language: &str, source: &str) {
        let content = base64::engine::general_purpose::STANDARD.encode(source);
        let parent = path.rsplit_once('/').map(|p| p.0).unwrap_or("/");
        if !parent.is_empty() {
            self.ok("/api/2.0/workspace/mkdirs", json!({"path": parent}))
                .await;
        }
        self.ok(
            "/api/2.0/workspace/import",
            json!({"path": path, "language": language, "format": "SOURCE", "content": content, "overwrite": true}),
        )
        .await;
    }
    /// Poll runs/get until a terminal life cycle state.
    pub async fn wait_run(&self, run_id: i64) -> Value {
        for _ in 0..2000 {
            let (s, v) = self
                .get(&format!("/api/2.1/jobs/runs/get?run_id={run_id}"))
                .await;
            assert_eq!(s, 200, "{v}");
            let life = v["state"]["life_cycle_state"].as_str().unwrap_or("");
            if matches!(life, "TERMINATED" | "SKIPPED" | "INTERNAL_ERROR") {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("run {run_id} did not finish");
    }
    pub async fn submit_notebook(&self, path: &str, extra: Value) -> i64 {
        let mut task = json!({"task_key": "t", "notebook_task": {"notebook_path": path}});
        if let (Some(t), Some(e)) = (task.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                t.insert(k.clone(), v.clone());
            }
        }
        let v = self
            .ok(
                "/api/2.1/jobs/runs/submit",
                json!({"run_name": "x", "tasks": [task]}),
            )
            .await;
        v["run_id"].as_i64().unwrap()
    }
}
