use std::path::PathBuf;

use polysync_arazzo::{Mode, validate};
use serde_json::{Value, json};

use crate::support::*;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/arazzo")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn examples_are_strictly_valid() {
    for f in [
        "create-job-and-run.arazzo.yml",
        "run-existing-job.arazzo.yml",
    ] {
        let b = polysync_arazzo::load(&example(f)).await.unwrap();
        let d = validate(&b, Mode::Strict);
        assert!(d.is_empty(), "{f}: {d:#?}");
    }
}

#[tokio::test]
async fn spec_native_example_runs_with_retry_pacing() {
    let b = polysync_arazzo::load(&example("create-job-and-run.arazzo.yml"))
        .await
        .unwrap();
    let fake = fake_databricks("SUCCESS", "done");
    let mut o = strict();
    o.servers
        .insert("databricks".into(), "http://ws.test".into());
    let mut inputs: Value = serde_json::from_str(SEED_INPUTS).unwrap();
    inputs.as_object_mut().unwrap().remove("taskKey");
    let r = run_with(&b, None, inputs, o, &fake).await;
    assert!(r.succeeded(), "{:?}\n{}", r.error, r.report());
    assert_eq!(
        r.outputs,
        json!({"jobId": 42, "runId": 7, "resultState": "SUCCESS", "notebookResult": "done"})
    );
    assert_eq!(
        fake.paths()
            .iter()
            .filter(|p| p.ends_with("/runs/get"))
            .count(),
        3
    );
    assert!(fake.paths()[0].starts_with("POST /api/2.1/jobs/create"));
}
