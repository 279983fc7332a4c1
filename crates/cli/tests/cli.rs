//! CLI tests: drive the built `polysync` binary against an emulator started in the test
//! process (random port, `polysync-testkit`), with a temporary SQLite store (and PostgreSQL
//! in a fresh schema when `POLYSYNC_TEST_DATABASE_URL` is set).
//!
//! Every invocation goes through [`Cli::run`], which also checks the output rules: no
//! control characters on a non-TTY (stdout and stderr are pipes here), never "panicked",
//! `--json` stdout parses as JSON and nothing else, errors fit in two stderr lines.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use polysync_testkit::{SeededEmulator, TestDb};
use serde_json::Value;
use support::{Out, polysync};

const TOKEN_VAR: &str = "POLYSYNC_CLI_TEST_TOKEN";
const TOKEN: &str = "cli-test-token-0123";

const HELLO: &str = r#"# Databricks notebook source
# emulator: duration=2s
dbutils.widgets.text("name", "world", "Name")
dbutils.widgets.dropdown("mode", "fast", ["fast", "slow"], "Mode")
"#;
const FAILS: &str = r#"# Databricks notebook source
# emulator: outcome=FAILED duration=1s message="boom"
dbutils.widgets.text("x", "1")
"#;
const SLOW: &str = r#"# Databricks notebook source
# emulator: duration=2h
print("takes a while")
"#;
const SCALA: &str = r#"// Databricks notebook source
// emulator: duration=1s
dbutils.widgets.combobox("c", "1", Array("1", "2"), "C")
"#;

async fn emulator() -> SeededEmulator {
    polysync_testkit::start_seeded_emulator(
        TOKEN,
        &[
            ("Tests/hello.py", HELLO),
            ("Tests/fails.py", FAILS),
            ("Tests/slow.py", SLOW),
            ("Tests/scoring.scala", SCALA),
        ],
        |c| c.time_scale = 10.0,
    )
    .await
}

struct Cli {
    db: String,
}

impl Cli {
    fn on(db: &TestDb) -> Cli {
        Cli {
            db: db.url().to_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = Out::of(
            polysync()
                .arg("--database-url")
                .arg(&self.db)
                .args(args)
                .env(TOKEN_VAR, TOKEN),
        );
        for (which, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "control character in {which} of {args:?} on a non-TTY: {text:?}"
            );
            assert!(!text.contains("panicked"), "{args:?} panicked: {text}");
        }
        if args.contains(&"--json") && out.code == 0 {
            out.json();
        }
        out
    }

    /// `platform add NAME --host URL --token-env VAR` plus `extra`, which must succeed.
    fn add_platform(&self, name: &str, url: &str, token_var: &str, extra: &[&str]) -> Out {
        let mut args = vec![
            "platform",
            "add",
            name,
            "--host",
            url,
            "--token-env",
            token_var,
        ];
        args.extend_from_slice(extra);
        self.run(&args).ok()
    }
}

fn jobs_by_name(list: &Value) -> std::collections::BTreeMap<String, Value> {
    list.as_array()
        .expect("jobs list --json is an array")
        .iter()
        .map(|j| (j["name"].as_str().unwrap().to_owned(), j.clone()))
        .collect()
}

/// platform add → import → jobs list → run --wait → runs show; then a re-import changes nothing.
fn session(cli: &Cli, url: &str) {
    let out = cli.add_platform("emu", url, TOKEN_VAR, &[]);
    assert!(out.stdout.contains("emu"), "{}", out.stdout);
    let shown = cli.run(&["platform", "show", "emu", "--json"]).ok().json();
    assert_eq!(shown["auth"]["var"], TOKEN_VAR);
    assert!(!shown.to_string().contains(TOKEN), "token stored: {shown}");

    let first = cli.run(&["import", "emu", "--json"]).ok().json();
    let added = first["added"].as_array().unwrap();
    assert!(
        added.iter().any(|n| n == "/Tests/hello"),
        "import report: {first}"
    );
    let human = cli.run(&["jobs", "list"]).ok();
    assert!(human.stdout.contains("/Tests/hello"), "{}", human.stdout);

    let list = cli.run(&["jobs", "list", "--json"]).ok().json();
    let jobs = jobs_by_name(&list);
    let hello = &jobs["/Tests/hello"];
    assert_eq!(hello["type"], "notebook");
    assert_eq!(hello["external_id"], "/Tests/hello");
    assert_eq!(hello["platform"], "emu");
    let params = hello["parameters"].as_array().unwrap();
    let name = params.iter().find(|p| p["name"] == "name").unwrap();
    assert_eq!(name["data_type"], "String");
    assert_eq!(name["direction"], "Input");
    assert_eq!(name["default"], "world");
    assert!(
        jobs.contains_key("/Tests/scoring"),
        "scala notebook imported"
    );

    // JOB as PLATFORM:EXTERNAL_ID.
    let by_ref = cli
        .run(&["jobs", "show", "emu:/Tests/hello", "--json"])
        .ok()
        .json();
    assert_eq!(by_ref["name"], "/Tests/hello");

    // --dry-run shows the request and sends nothing.
    let preview = cli
        .run(&["run", "/Tests/hello", "-p", "name=dry", "--dry-run"])
        .ok()
        .json();
    assert!(preview.to_string().contains("\"dry\""), "{preview}");

    let run = cli
        .run(&[
            "run",
            "/Tests/hello",
            "-p",
            "name=cli",
            "--wait",
            "--json",
            "--poll-interval",
            "0.2",
        ])
        .ok()
        .json();
    assert_eq!(run["status"], "Success", "{run}");
    assert!(
        run["monitor_url"].as_str().unwrap().starts_with(url),
        "{run}"
    );
    let id = run["id"].as_str().unwrap();
    assert!(run["databricks_run_id"].is_string(), "{run}");

    let details = cli.run(&["runs", "show", id, "--json"]).ok().json();
    assert_eq!(details["run"]["id"], id);
    assert_eq!(details["run"]["status"], "Success");
    assert_eq!(details["run"]["parameters"]["name"], "cli");
    assert!(!details["history"].as_array().unwrap().is_empty());
    let human = cli.run(&["runs", "show", id]).ok();
    assert!(human.stdout.contains("Success"), "{}", human.stdout);
    let runs = cli.run(&["runs", "list", "--json"]).ok().json();
    assert!(runs.as_array().unwrap().iter().any(|r| r["id"] == id));

    // Re-import: nothing added or updated, jobs list unchanged.
    let second = cli.run(&["import", "emu", "--json"]).ok().json();
    assert_eq!(second["added"].as_array().unwrap().len(), 0, "{second}");
    assert_eq!(second["updated"].as_array().unwrap().len(), 0, "{second}");
    let human = cli.run(&["import", "emu"]).ok();
    assert!(
        human.stdout.contains("0 added, 0 updated"),
        "{}",
        human.stdout
    );
    let again = cli.run(&["jobs", "list", "--json"]).ok().json();
    assert_eq!(again, list, "jobs list changed after a re-import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_on_each_backend() {
    polysync_testkit::each_backend("session", async |db| {
        let env = emulator().await;
        let cli = Cli::on(db);
        let url = env.emulator.url();
        let result = tokio::task::spawn_blocking(move || session(&cli, &url)).await;
        env.emulator.shutdown().await;
        result.unwrap();
    })
    .await;
}

/// A fresh emulator and SQLite store, the emulator added as platform `emu` and imported; then
/// `body` drives the binary (on a blocking thread) with the CLI and the emulator's URL.
async fn imported(body: impl FnOnce(&Cli, &str) + Send + 'static) {
    let env = emulator().await;
    let db = TestDb::sqlite();
    let cli = Cli::on(&db);
    let url = env.emulator.url();
    tokio::task::spawn_blocking(move || {
        cli.add_platform("emu", &url, TOKEN_VAR, &[]);
        cli.run(&["import", "emu"]).ok();
        body(&cli, &url);
    })
    .await
    .unwrap();
    env.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_in_two_lines() {
    imported(|cli, url| {
        let url = url.to_owned();
        cli.add_platform(
            "notoken",
            &url,
            "POLYSYNC_CLI_TEST_UNSET_VARIABLE",
            &["--no-verify"],
        );
        // `platform add c` with a valid host and token variable, plus one bad option.
        let add_c = |extra: &[&'static str]| {
            let mut args = vec!["platform", "add", "c", "--host", &url, "--token-env", "X"];
            args.extend_from_slice(extra);
            args
        };
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("unknown job", vec!["run", "no-such-job", "--wait"]),
            ("unknown job ref", vec!["jobs", "show", "emu:/nope"]),
            ("-p without =", vec!["run", "/Tests/hello", "-p", "name"]),
            (
                "-p unknown parameter",
                vec!["run", "/Tests/hello", "-p", "nope=1"],
            ),
            ("unknown platform", vec!["import", "ghost"]),
            ("unknown platform show", vec!["platform", "show", "ghost"]),
            ("missing token env var", vec!["import", "notoken"]),
            (
                "platform name with ':'",
                vec!["platform", "add", "a:b", "--host", &url, "--token-env", "X"],
            ),
            (
                "existing cluster without id",
                add_c(&["--compute", "existing-cluster"]),
            ),
            (
                "new job cluster without version",
                add_c(&["--compute", "new-job-cluster"]),
            ),
            ("unknown compute", add_c(&["--compute", "gpu"])),
            ("bad jobs api", add_c(&["--jobs-api", "3.0"])),
            (
                "bad host",
                vec![
                    "platform",
                    "add",
                    "c",
                    "--host",
                    "not a url",
                    "--token-env",
                    "X",
                ],
            ),
            (
                "no credentials",
                vec!["platform", "add", "c", "--host", &url],
            ),
            (
                "duplicate platform",
                vec!["platform", "add", "emu", "--host", &url, "--token-env", "X"],
            ),
            (
                "non-numeric workflow id",
                vec![
                    "jobs",
                    "add",
                    "wf",
                    "--type",
                    "workflow",
                    "--external-id",
                    "abc",
                    "--platform",
                    "emu",
                ],
            ),
            (
                "bad job type",
                vec![
                    "jobs",
                    "add",
                    "x",
                    "--type",
                    "spark",
                    "--external-id",
                    "1",
                    "--platform",
                    "emu",
                ],
            ),
            ("unknown run", vec!["runs", "show", "no-such-run"]),
            ("cancel unknown run", vec!["cancel", "no-such-run"]),
            (
                "unknown status filter",
                vec!["runs", "list", "--status", "Done"],
            ),
            (
                "bad poll interval",
                vec!["run", "/Tests/hello", "--wait", "--poll-interval", "x"],
            ),
            ("unknown subcommand", vec!["frobnicate"]),
            ("missing argument", vec!["run"]),
            ("unknown flag", vec!["jobs", "list", "--colour"]),
        ];
        for (label, args) in cases {
            let out = cli.run(&args);
            assert_ne!(out.code, 0, "{label}: {args:?} succeeded: {}", out.stdout);
            let lines: Vec<&str> = out.stderr.lines().collect();
            assert!(
                !lines.is_empty() && lines.len() <= 2,
                "{label}: {args:?} stderr must be 1-2 lines, got:\n{}",
                out.stderr
            );
            assert!(lines[0].starts_with("error: "), "{label}: {}", out.stderr);
            eprintln!("{label}: {}", out.stderr.trim_end().replace('\n', " | "));
        }
        // The missing variable is named in the message.
        let out = cli.run(&["import", "notoken"]);
        assert!(
            out.stderr.contains("POLYSYNC_CLI_TEST_UNSET_VARIABLE"),
            "{}",
            out.stderr
        );
        // A Workflow External Id is validated before any request: nothing was created.
        let list = cli.run(&["jobs", "list", "--json"]).ok().json();
        assert!(!jobs_by_name(&list).contains_key("wf"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_notebook_exits_non_zero_and_cancel_works() {
    imported(|cli, _| {
        let failed = cli.run(&[
            "run",
            "/Tests/fails",
            "--wait",
            "--json",
            "--poll-interval",
            "0.2",
        ]);
        assert_ne!(failed.code, 0, "a FAILED notebook must not exit 0");
        let run = failed.json();
        assert_eq!(run["status"], "Failed", "{run}");
        // Human form of the same: non-zero too.
        let human = cli.run(&["run", "/Tests/fails", "--wait", "--poll-interval", "0.2"]);
        assert_ne!(human.code, 0);
        assert!(human.stdout.contains("Failed"), "{}", human.stdout);

        // Start a long run without waiting, then cancel it by its Polysync id.
        let started = cli.run(&["run", "/Tests/slow", "--json"]).ok().json();
        let id = started["id"].as_str().unwrap().to_owned();
        let cancelled = cli.run(&["cancel", &id, "--json"]).ok().json();
        assert_eq!(cancelled["id"], id.as_str());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = cli
                .run(&["runs", "show", &id, "--refresh", "--json"])
                .ok()
                .json();
            if d["run"]["status"] == "Cancelled" {
                break;
            }
            assert!(Instant::now() < deadline, "run not cancelled: {d}");
            std::thread::sleep(Duration::from_millis(200));
        }
        // Cancelling an ended run is a no-op that says so (exit 0, as the Databricks CLI).
        let again = cli.run(&["cancel", &id]).ok();
        assert!(
            again.stdout.contains("already ended as Cancelled"),
            "{}",
            again.stdout
        );
    })
    .await;
}

#[test]
fn quickstart_completes_and_leaves_nothing_running() {
    let db = TestDb::sqlite();
    let cli = Cli::on(&db);
    let started = Instant::now();
    let out = cli.run(&["quickstart"]).ok();
    let elapsed = started.elapsed();
    eprintln!("quickstart took {:.1} s", elapsed.as_secs_f64());
    for job_type in [
        "Databricks Notebook",
        "Databricks Job",
        "Databricks Workflow",
        "Databricks Pipeline",
    ] {
        let row = out
            .stdout
            .lines()
            .find(|l| l.starts_with('|') && l.contains(job_type) && l.contains("Success"));
        assert!(
            row.is_some(),
            "no Success row for {job_type}:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("Try next"), "{}", out.stdout);
    // The embedded emulator is gone: its port refuses connections.
    let url = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("emulator listening on "))
        .and_then(|l| l.split_whitespace().next())
        .expect("emulator URL printed");
    let addr = url.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the emulator at {addr} is still running"
    );
    // The store it used is a normal one: the imported jobs are there.
    let list = cli.run(&["jobs", "list", "--json"]).ok().json();
    assert!(list.as_array().unwrap().len() >= 8, "{list}");
}

#[test]
fn help_and_demo_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let cli = Cli::on(&db);
    let help = cli.run(&["--help"]).ok();
    for cmd in [
        "quickstart",
        "platform",
        "import",
        "jobs",
        "run",
        "runs",
        "cancel",
    ] {
        assert!(help.stdout.contains(cmd), "{cmd} missing from --help");
    }
    let ws = dir.path().join("ws");
    cli.run(&["quickstart", "--write-demo-workspace", ws.to_str().unwrap()])
        .ok();
    for f in [
        "Demo/sales_report.py",
        "Demo/customer_scoring.scala",
        "Demo/daily_kpis.sql",
        "Demo/forecast.r",
    ] {
        assert!(ws.join(f).is_file(), "{f} not written");
    }
}

/// The seed's "Run stays in PENDING for a long time" case, as a user waiting sees it: a run
/// on a new job cluster that stays PENDING makes `run --wait` print the engine's hint while it
/// waits (no state change happens, so only the periodic check can surface it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_prints_the_pending_hint_while_a_new_cluster_spins_up() {
    let dir = polysync_testkit::write_files(&[(
        "Tests/stuck.py",
        "# Databricks notebook source\n# emulator: pending=10m duration=1s\nprint(1)\n",
    )]);
    let emulator = polysync_testkit::start_emulator(TOKEN, |c| {
        c.workspace_dir = Some(dir.path().to_path_buf());
    })
    .await;
    let db = TestDb::sqlite();
    let cli = Cli::on(&db);
    let url = emulator.url();
    tokio::task::spawn_blocking(move || {
        cli.add_platform(
            "emu",
            &url,
            TOKEN_VAR,
            &[
                "--compute",
                "new-job-cluster",
                "--cluster-version",
                "15.4.x-scala2.12",
                "--node-type",
                "Standard_DS3_v2",
            ],
        );
        cli.run(&["import", "emu"]).ok();
        let out = cli.run(&[
            "run",
            "/Tests/stuck",
            "--wait",
            "--poll-interval",
            "0.2",
            "--pending-hint-after",
            "1",
            "--wait-timeout",
            "3",
        ]);
        assert_eq!(out.code, 3, "a wait that times out exits 3: {}", out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        let hint = lines
            .iter()
            .position(|l| l.starts_with("hint: the run is PENDING"))
            .expect("a PENDING hint");
        let error = lines
            .iter()
            .position(|l| l.starts_with("error: "))
            .expect("the timeout error");
        assert!(
            hint < error,
            "shown while waiting, before the timeout:\n{}",
            out.stderr
        );
        let hints = [lines[hint]];
        assert!(hints[0].contains("serverless"), "{}", hints[0]);
    })
    .await
    .unwrap();
    emulator.shutdown().await;
}
