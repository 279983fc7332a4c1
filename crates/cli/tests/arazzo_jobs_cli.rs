//! Arazzo Workflow jobs through the binary: `arazzo import` (JSON report,
//! idempotent, bad file refused), `run JOB -p k=v --wait` executing the
//! workflow against the emulator, `runs show` with the outputs; on SQLite
//! and PostgreSQL.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use polysync_testkit::TestDb;
use support::{imported, run};

const OPENAPI: &str = r#"openapi: 3.0.3
info: { title: workspace, version: "1" }
servers:
  - url: https://adb-0000.0.azuredatabricks.net
paths:
  /api/2.0/workspace/get-status:
    get:
      operationId: getStatus
      parameters:
        - { name: path, in: query, required: true, schema: { type: string } }
      responses:
        "200": { description: the object }
"#;

const ARAZZO: &str = r#"arazzo: 1.0.1
info: { title: lookup, version: "1" }
sourceDescriptions:
  - { name: ws, url: ./workspace.openapi.yaml, type: openapi }
workflows:
  - workflowId: lookup
    inputs:
      type: object
      properties:
        path: { type: string, default: /Tests/quick }
    steps:
      - stepId: status
        operationId: getStatus
        parameters:
          - { name: path, in: query, value: $inputs.path }
        successCriteria:
          - condition: $statusCode == 200
        outputs:
          found: $response.body#/path
    outputs:
      x: $steps.status.outputs.found
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arazzo_import_run_wait_and_show_outputs() {
    polysync_testkit::each_backend("arazzo_jobs_cli", async |db: &TestDb| {
        let url = db.url();
        let (emu, _dir) = imported(url).await;
        let docs = tempfile::tempdir().unwrap();
        std::fs::write(docs.path().join("workspace.openapi.yaml"), OPENAPI).unwrap();
        let file = docs.path().join("lookup.arazzo.yaml");
        std::fs::write(&file, ARAZZO).unwrap();
        let file = file.to_str().unwrap();

        let bad = docs.path().join("bad.arazzo.yaml");
        std::fs::write(&bad, "arazzo: [").unwrap();
        let refused = run(
            url,
            &[
                "arazzo",
                "import",
                bad.to_str().unwrap(),
                "--platform",
                "emu",
            ],
        )
        .await;
        assert_ne!(refused.code, 0);
        assert!(
            refused.stderr.contains("bad.arazzo.yaml"),
            "{}",
            refused.stderr
        );

        let first = run(
            url,
            &["arazzo", "import", file, "--platform", "emu", "--json"],
        )
        .await
        .ok()
        .json();
        assert_eq!(first["added"], serde_json::json!(["lookup"]), "{first}");
        let again = run(
            url,
            &["arazzo", "import", file, "--platform", "emu", "--json"],
        )
        .await
        .ok()
        .json();
        assert_eq!(again["unchanged"], serde_json::json!(["lookup"]), "{again}");

        let job = run(url, &["jobs", "show", "lookup", "--json"])
            .await
            .ok()
            .json();
        assert!(job.to_string().contains("\"x\""), "{job}");

        let done = run(
            url,
            &[
                "run",
                "lookup",
                "-p",
                "path=/Tests/medium",
                "--wait",
                "--json",
                "--poll-interval",
                "0.1",
            ],
        )
        .await
        .ok()
        .json();
        assert_eq!(done["status"], "Success", "{done}");
        assert_eq!(done["outputs"]["x"], "/Tests/medium", "{done}");
        let id = done["id"].as_str().unwrap();
        let shown = run(url, &["runs", "show", id]).await.ok();
        assert!(shown.stdout.contains("/Tests/medium"), "{}", shown.stdout);
        assert!(
            emu.requests()
                .iter()
                .any(|r| r.endpoint.contains("get-status") && r.path.contains("get-status")),
            "the workflow called the emulator"
        );
        emu.shutdown().await;
    })
    .await;
}
