//! Arazzo Workflow jobs through the binary: `arazzo import` (JSON report,
//! idempotent, bad file refused), `run JOB -p k=v --wait` executing the
//! workflow against the emulator, `runs show` with the outputs; on SQLite
//! and PostgreSQL.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use polysync_testkit::TestDb;
use polysync_testkit::arazzo::write_lookup_docs;
use support::{imported, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arazzo_import_run_wait_and_show_outputs() {
    polysync_testkit::each_backend("arazzo_jobs_cli", async |db: &TestDb| {
        let url = db.url();
        let (emu, _dir) = imported(url).await;
        let docs = tempfile::tempdir().unwrap();
        let file = write_lookup_docs(docs.path());
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
