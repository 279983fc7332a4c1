//! Issue 8 hardening, driven through the built binary against an emulator started in the
//! test process: broken pipes, usage errors, removals, parameter choices, spellings.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::process::Stdio;

use polysync_testkit::{SeededEmulator, TestDb};
use support::{Out, polysync};

const TOKEN_VAR: &str = "POLYSYNC_HARDENING_TOKEN";
const TOKEN: &str = "hardening-token-0123";

const REGION: &str = r#"# Databricks notebook source
# emulator: duration=1s
dbutils.widgets.dropdown("region", "EMEA", ["EMEA", "APAC", "AMER"], "Region")
dbutils.widgets.text("note", "", "Note")
"#;
const OTHER: &str = r#"# Databricks notebook source
# emulator: duration=1s
print("x")
"#;

async fn emulator() -> SeededEmulator {
    polysync_testkit::start_seeded_emulator(
        TOKEN,
        &[
            ("H/region.py", REGION),
            ("H/other.py", OTHER),
            ("H/more/a.py", OTHER),
            ("H/more/b.py", OTHER),
        ],
        |c| c.time_scale = 20.0,
    )
    .await
}

struct Cli {
    db: String,
}

impl Cli {
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = polysync();
        cmd.arg("--database-url")
            .arg(&self.db)
            .args(args)
            .env(TOKEN_VAR, TOKEN);
        cmd
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = Out::of(&mut self.cmd(args));
        assert!(
            !out.stderr.contains("panicked") && !out.stdout.contains("panicked"),
            "{args:?} panicked: {}",
            out.stderr
        );
        out
    }
}

/// A fresh emulator and SQLite store with the emulator imported as platform `emu`; `body`
/// drives the binary on a blocking thread.
async fn imported(body: impl FnOnce(&Cli, &str) + Send + 'static) {
    let env = emulator().await;
    let db = TestDb::sqlite();
    let cli = Cli {
        db: db.url().to_owned(),
    };
    let url = env.emulator.url();
    tokio::task::spawn_blocking(move || {
        cli.run(&[
            "platform",
            "add",
            "emu",
            "--host",
            &url,
            "--token-env",
            TOKEN_VAR,
        ])
        .ok();
        cli.run(&["import", "emu"]).ok();
        body(&cli, &url);
    })
    .await
    .unwrap();
    env.emulator.shutdown().await;
}

/// Item 7: a reader that closes its end before anything is written (the extreme case of
/// `| head`): the binary must neither panic nor exit 101.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_stdout_pipe_exits_quietly() {
    imported(|cli, _| {
        for args in [
            &["jobs", "list"][..],
            &["jobs", "list", "--json"],
            &["platform", "list"],
            &["jobs", "show", "/H/region"],
        ] {
            let mut cmd = cli.cmd(args);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            // Close the reading end at once: every write of the child hits a broken pipe.
            drop(child.stdout.take());
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
                "{args:?}: {stderr}"
            );
            assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
            assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        }
    })
    .await;
}

/// Item 22: typos keep clap's suggestion in the two-line error; `--database-url` is offered
/// only by commands that open the store; completions and a man page are generated.
#[test]
fn typos_suggest_and_database_url_belongs_to_store_commands() {
    let typo = Out::of(polysync().args(["jbos", "list"]));
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert_eq!(typo.stderr.lines().count(), 2, "{}", typo.stderr);
    assert!(typo.stderr.contains("`jobs`"), "{}", typo.stderr);
    let flag = Out::of(polysync().args(["run", "x", "--wiat"]));
    assert_eq!(flag.code, 2, "{}", flag.stderr);
    assert_eq!(flag.stderr.lines().count(), 2, "{}", flag.stderr);
    assert!(flag.stderr.contains("`--wait`"), "{}", flag.stderr);

    for (args, offered) in [
        (&["emulator", "--help"][..], false),
        (&["arazzo", "validate", "--help"], false),
        (&["completions", "--help"], false),
        (&["jobs", "list", "--help"], true),
        (&["platform", "remove", "--help"], true),
        (&["run", "--help"], true),
        (&["arazzo", "run", "--help"], true),
    ] {
        let help = Out::of(polysync().args(args)).ok();
        assert_eq!(
            help.stdout.contains("--database-url"),
            offered,
            "{args:?}:\n{}",
            help.stdout
        );
    }
    let refused = Out::of(polysync().args(["--database-url", "x.db", "emulator"]));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--database-url"),
        "{}",
        refused.stderr
    );

    // After the command, as well as before it.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let db = db.to_str().unwrap();
    let after = Out::of(polysync().args(["platform", "list", "--json", "--database-url", db])).ok();
    assert_eq!(after.json(), serde_json::json!([]));
    assert!(std::path::Path::new(db).exists());

    let bash = Out::of(polysync().args(["completions", "bash"])).ok();
    assert!(bash.stdout.contains("_polysync"), "{}", bash.stdout);
    let zsh = Out::of(polysync().args(["completions", "zsh"])).ok();
    assert!(zsh.stdout.contains("#compdef polysync"), "{}", zsh.stdout);
    let man = Out::of(polysync().arg("man")).ok();
    assert!(man.stdout.contains(".TH polysync 1"), "{}", man.stdout);
    let pages = dir.path().join("man");
    Out::of(polysync().args(["man", "--dir", pages.to_str().unwrap()])).ok();
    assert!(pages.join("polysync.1").is_file());
    assert!(pages.join("polysync-jobs.1").is_file());
}

/// Item 13: `platform remove` pointed at a missing way to remove jobs; `jobs remove` and
/// `platform remove --with-jobs` now exist, and runs survive both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_remove_and_platform_remove_with_jobs() {
    imported(|cli, _| {
        let run = cli
            .run(&["run", "/H/other", "--wait", "--json"])
            .ok()
            .json();
        let run_id = run["id"].as_str().unwrap().to_owned();

        let refused = cli.run(&["platform", "remove", "emu"]);
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert_eq!(refused.stderr.lines().count(), 2, "{}", refused.stderr);
        assert!(
            refused.stderr.contains("polysync jobs remove")
                && refused
                    .stderr
                    .contains("polysync platform remove emu --with-jobs"),
            "{}",
            refused.stderr
        );

        let removed = cli.run(&["jobs", "remove", "emu:/H/other"]).ok();
        assert!(removed.stdout.contains("/H/other"), "{}", removed.stdout);
        let missing = cli.run(&["jobs", "remove", "/H/other"]);
        assert_eq!(missing.code, 2, "{}", missing.stderr);
        let names: Vec<String> = cli
            .run(&["jobs", "list", "--all", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(!names.contains(&"/H/other".to_owned()), "{names:?}");

        let out = cli.run(&["platform", "remove", "emu", "--with-jobs"]).ok();
        assert!(out.stdout.contains("/H/region"), "{}", out.stdout);
        assert_eq!(
            cli.run(&["jobs", "list", "--all", "--json"]).ok().json(),
            serde_json::json!([])
        );
        assert_eq!(
            cli.run(&["platform", "list", "--json"]).ok().json(),
            serde_json::json!([])
        );
        let shown = cli.run(&["runs", "show", &run_id, "--json"]).ok().json();
        assert_eq!(shown["run"]["job_name"], "/H/other", "{shown}");
    })
    .await;
}

/// A raw `POST` to the emulator (no HTTP client in this crate's dependencies): what a user
/// does in the Databricks UI between two imports.
fn post(url: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}

/// Item 23: a dropdown's choices are kept, shown and enforced; a removed job's dry run warns
/// and its real run is an input error (exit 2: nothing was sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropdown_choices_and_removed_jobs() {
    imported(|cli, url| {
        let shown = cli
            .run(&["jobs", "show", "/H/region", "--json"])
            .ok()
            .json();
        let region = shown["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "region")
            .unwrap()
            .clone();
        assert_eq!(
            region["choices"],
            serde_json::json!(["EMEA", "APAC", "AMER"])
        );
        let table = cli.run(&["jobs", "show", "/H/region"]).ok();
        assert!(
            table.stdout.contains("EMEA, APAC, AMER"),
            "{}",
            table.stdout
        );

        let refused = cli.run(&["run", "/H/region", "-p", "region=MARS"]);
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert!(
            refused.stderr.contains("MARS") && refused.stderr.contains("EMEA, APAC, AMER"),
            "{}",
            refused.stderr
        );
        let dry = cli.run(&["run", "/H/region", "-p", "region=MARS", "--dry-run"]);
        assert_eq!(dry.code, 2, "{}", dry.stderr);
        cli.run(&["run", "/H/region", "-p", "region=APAC", "--dry-run"])
            .ok();
        let set = cli.run(&["jobs", "edit", "/H/region", "--set", "region=MARS"]);
        assert_eq!(set.code, 2, "{}", set.stderr);

        // The notebook disappears from the workspace; the re-import marks the job removed.
        post(url, "/api/2.0/workspace/delete", r#"{"path": "/H/other"}"#);
        let report = cli.run(&["import", "emu", "--json"]).ok().json();
        assert_eq!(
            report["removed"],
            serde_json::json!(["/H/other"]),
            "{report}"
        );
        let dry = cli.run(&["run", "/H/other", "--dry-run"]).ok();
        assert!(
            dry.stderr.starts_with("warning: ") && dry.stderr.contains("removed"),
            "{}",
            dry.stderr
        );
        assert_eq!(dry.json()["warnings"].as_array().unwrap().len(), 1);
        let run = cli.run(&["run", "/H/other"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("polysync import emu"), "{}", run.stderr);
        assert_eq!(
            cli.run(&["runs", "list", "--json"]).ok().json(),
            serde_json::json!([])
        );
    })
    .await;
}

/// Item 20: no internal names: job types spelled `notebook` in flags and JSON and
/// `Databricks Notebook` in tables; compute types as the flag spells them; the parameter
/// mapping in words; absent fields are `null`, never omitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_spelling_per_medium_and_nulls_for_absent_fields() {
    imported(|cli, url| {
        post(
            url,
            "/api/2.1/jobs/create",
            r#"{"name": "single", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/H/other"}}]}"#,
        );
        cli.run(&["import", "emu"]).ok();
        let shown = cli.run(&["jobs", "show", "single"]).ok();
        assert!(
            shown.stdout.contains("notebook task (notebook_params)")
                && !shown.stdout.contains("Task {")
                && !shown.stdout.contains("task_type"),
            "{}",
            shown.stdout
        );
        let table = cli.run(&["jobs", "list", "--type", "notebook"]).ok();
        assert!(table.stdout.contains("Databricks Notebook"), "{}", table.stdout);
        let list = cli.run(&["jobs", "list", "--type", "job", "--json"]).ok().json();
        assert_eq!(list[0]["type"], "job", "{list}");

        let run = cli.run(&["run", "/H/other", "--json"]).ok().json();
        assert_eq!(run["job_type"], "notebook", "{run}");
        for key in ["ended_at", "error_message", "notebook_exit_value", "result_state"] {
            assert!(
                run.as_object().unwrap().contains_key(key) && run[key].is_null(),
                "{key} absent or not null: {run}"
            );
        }
        let platform = cli.run(&["platform", "show", "emu", "--json"]).ok().json();
        assert_eq!(platform["compute"]["compute_type"], "serverless", "{platform}");
        assert!(
            platform["compute"].as_object().unwrap().contains_key("node_type"),
            "{platform}"
        );

        for (extra, flag_value) in [
            (&["--compute", "existing-cluster"][..], "existing-cluster"),
            (&["--node-type", "Standard_DS3_v2"], "new-job-cluster"),
        ] {
            let mut args = vec!["platform", "add", "c", "--host", url, "--token-env", "X"];
            args.extend_from_slice(extra);
            let out = cli.run(&args);
            assert_eq!(out.code, 2, "{}", out.stderr);
            assert!(
                out.stderr.contains(flag_value)
                    && !out.stderr.contains("ExistingInteractiveCluster")
                    && !out.stderr.contains("NewJobCluster"),
                "{}",
                out.stderr
            );
        }
    })
    .await;
}
