//! End-to-end tests of the client against `polysync-emulator` on a random loopback port.
#![allow(missing_docs, clippy::unwrap_used)]

mod auth;
mod faults;
mod jobs;
mod pipelines;
mod unreachable;
mod workspace;

use std::time::Duration;

use polysync_databricks::models::*;
use polysync_databricks::{Config, DatabricksClient, JobsApiVersion};
use polysync_emulator::{DEFAULT_TOKEN, EmulatorConfig, EmulatorHandle};

/// Emulator with a fast clock (1 simulated minute ≈ 60 ms), accepting the default token.
pub async fn emulator() -> EmulatorHandle {
    emulator_with(|_| {}).await
}

/// The same with more configuration (credentials, faults).
pub async fn emulator_with(tweak: impl FnOnce(&mut EmulatorConfig)) -> EmulatorHandle {
    polysync_testkit::start_emulator(DEFAULT_TOKEN, |c| {
        c.time_scale = polysync_testkit::FAST_CLOCK;
        tweak(c);
    })
    .await
}

pub fn client(emu: &EmulatorHandle) -> DatabricksClient {
    client_v(emu, JobsApiVersion::V2_1)
}

pub fn client_v(emu: &EmulatorHandle, v: JobsApiVersion) -> DatabricksClient {
    let cfg = Config::builder()
        .host(emu.url())
        .token(DEFAULT_TOKEN.to_string())
        .jobs_api_version(v)
        .rate_limit(None)
        .build()
        .expect("config");
    DatabricksClient::new(cfg).expect("client")
}

/// Imports a Python SOURCE notebook.
pub async fn notebook(c: &DatabricksClient, path: &str, body: &str) {
    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("/");
    if !parent.is_empty() {
        c.workspace().mkdirs(parent).await.expect("mkdirs");
    }
    let src = format!("# Databricks notebook source\n{body}\n");
    c.workspace()
        .import(&ImportRequest::source_notebook(
            path,
            Language::Python,
            src,
            true,
        ))
        .await
        .expect("import");
}

pub fn nb_task(key: &str, path: &str) -> Task {
    Task {
        task_key: key.into(),
        existing_cluster_id: Some("0101-emulator".into()),
        notebook_task: Some(NotebookTask {
            notebook_path: path.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub async fn wait(c: &DatabricksClient, run_id: i64) -> Run {
    c.jobs()
        .wait_for_run(run_id, Duration::from_millis(50), Duration::from_secs(30))
        .await
        .expect("run terminates")
}
