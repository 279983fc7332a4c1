//! Memory follows the live state, not the step count: a long loop over a large response keeps
//! a bounded trace in memory, while a streamed trace still holds every step in full. Runs
//! against the workspace emulator over HTTP.

use std::time::Duration;

use polysync_arazzo::trace::{JsonTraceWriter, RETAINED_BODY_BYTES, RETAINED_STEPS};
use polysync_arazzo::{ReqwestSender, RunOptions};
use serde_json::{Value, json};

const TOKEN: &str = "dapi-arazzo-memory";
const STEPS: u64 = 250;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_loop_over_a_large_response_keeps_a_bounded_trace_and_streams_every_step() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = polysync_testkit::start_emulator(TOKEN, |_| {}).await;
    // A job whose `jobs/get` answer is ~150 KB, as in the measurement.
    let created: Value = reqwest::Client::new()
        .post(format!("{}/api/2.1/jobs/create", emu.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "big", "description": "x".repeat(150 * 1024)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_id = created["job_id"].as_i64().unwrap();
    let openapi = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/openapi/databricks.yml");
    let doc = format!(
        "arazzo: 1.0.1\ninfo: {{title: t, version: '1'}}\nsourceDescriptions:\n  - {{name: databricks, url: '{}', type: openapi}}\nworkflows:\n  - workflowId: loop\n    steps:\n      - stepId: get\n        operationId: getJob\n        parameters:\n          - {{name: Authorization, in: header, value: 'Bearer {TOKEN}'}}\n          - {{name: job_id, in: query, value: {job_id}}}\n        successCriteria:\n          - condition: $statusCode == 200\n        onSuccess:\n          - {{name: again, type: goto, stepId: get}}\n",
        openapi.display()
    );
    let dir = polysync_testkit::write_files(&[("loop.arazzo.yml", doc.as_str())]);
    let bundle = polysync_arazzo::load(dir.path().join("loop.arazzo.yml").to_str().unwrap())
        .await
        .unwrap();
    let mut servers = std::collections::BTreeMap::new();
    servers.insert("databricks".to_owned(), emu.url());
    let opts = RunOptions {
        servers,
        min_revisit_delay: Duration::ZERO,
        max_steps: STEPS,
        ..RunOptions::default()
    };
    let sender = ReqwestSender::new(Duration::from_secs(30)).unwrap();
    let mut writer = JsonTraceWriter::new(Vec::new()).unwrap();
    let rep = polysync_arazzo::run_with_sink(
        &bundle,
        None,
        Default::default(),
        &[],
        opts,
        &sender,
        Some(Box::new(&mut writer)),
    )
    .await
    .unwrap();
    // The loop ends at the step limit, as a runaway would.
    assert!(rep.error.is_some(), "the step limit stops the loop");
    // Retained: a bounded window, each body reduced to its size.
    assert_eq!(rep.trace.steps.len(), RETAINED_STEPS);
    assert_eq!(rep.trace.steps_omitted, STEPS - RETAINED_STEPS as u64);
    for s in &rep.trace.steps {
        let body = &s.response.as_ref().unwrap().body;
        assert!(
            serde_json::to_string(body).unwrap().len() <= RETAINED_BODY_BYTES,
            "retained body too large"
        );
    }
    // Streamed: every step, in full.
    let file = writer.finish(&rep.trace, &rep.secrets).unwrap();
    let streamed: Value = serde_json::from_slice(&file).unwrap();
    let steps = streamed["steps"].as_array().unwrap();
    assert_eq!(steps.len() as u64, STEPS);
    assert!(
        steps
            .iter()
            .all(|s| s["response"]["body"]["settings"]["description"]
                .as_str()
                .is_some_and(|d| d.len() == 150 * 1024)),
        "every streamed step keeps its full body"
    );
    assert_eq!(streamed["workflow_id"], "loop");
    assert_eq!(streamed["status"], rep.trace.status.as_str());
    emu.shutdown().await;
}
