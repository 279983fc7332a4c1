//! Issue 8, items 14-17 and 19 as a user meets them through the binary: `runs list --refresh`
//! (one listing per platform), unknown filter values, run references, `cancel` wording and
//! `--wait`, Ctrl-C during `run --wait`, tables fitted to `COLUMNS`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use polysync_emulator::EmulatorHandle;
use polysync_testkit::TestDb;
use support::{Out, polysync};

const TOKEN_VAR: &str = "POLYSYNC_RUNS_CLI_TOKEN";
const TOKEN: &str = "runs-cli-token-0123";

struct Env {
    emulator: EmulatorHandle,
    db: TestDb,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let dir = polysync_testkit::write_files(&[
            (
                "Tests/slow.py",
                "# Databricks notebook source\n# emulator: duration=2h\nprint(1)\n",
            ),
            (
                "Tests/quick.py",
                "# Databricks notebook source\n# emulator: duration=1s\nprint(1)\n",
            ),
        ]);
        let emulator = polysync_testkit::start_emulator(TOKEN, |c| {
            c.workspace_dir = Some(dir.path().to_path_buf());
            c.time_scale = 10.0;
        })
        .await;
        let env = Env {
            emulator,
            db: TestDb::sqlite(),
            _dir: dir,
        };
        let url = env.emulator.url();
        env.run(&[
            "platform",
            "add",
            "emu",
            "--host",
            &url,
            "--token-env",
            TOKEN_VAR,
        ])
        .await
        .ok();
        env.run(&["import", "emu"]).await.ok();
        env
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = polysync();
        cmd.arg("--database-url")
            .arg(self.db.url())
            .args(args)
            .env(TOKEN_VAR, TOKEN)
            .env_remove("COLUMNS");
        cmd
    }

    async fn run(&self, args: &[&str]) -> Out {
        Out::of_async(self.cmd(args)).await
    }

    async fn start(&self, job: &str) -> String {
        let out = self.run(&["run", job, "--json"]).await.ok();
        out.json()["id"].as_str().unwrap().to_owned()
    }

    fn count(&self, endpoint: &str) -> usize {
        self.emulator
            .requests()
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_refresh_is_one_listing_and_fits_the_terminal() {
    let env = Env::new().await;
    let a = env.start("/Tests/slow").await;
    let b = env.start("/Tests/slow").await;
    let c = env.start("/Tests/quick").await;
    let listed = env.run(&["runs", "list", "--json"]).await.ok().json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] != "Success"),
        "{listed}"
    );
    // Every run ends in Databricks; only a refresh can tell.
    env.emulator.set_time_scale(1_000_000.0);
    env.emulator.clear_requests();
    let refreshed = env
        .run(&["runs", "list", "--refresh", "--json"])
        .await
        .ok()
        .json();
    let runs = refreshed.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for r in runs {
        assert_eq!(r["status"], "Success", "{r}");
        assert!(r["started_at"].is_i64(), "Databricks start time: {r}");
    }
    assert_eq!(env.count("GET jobs/runs/list"), 1);
    assert_eq!(env.count("GET jobs/runs/get"), 0);

    // Tables fit COLUMNS even on a pipe; the full values stay in --json.
    let mut cmd = env.cmd(&["runs", "list"]);
    cmd.env("COLUMNS", "120");
    let table = Out::of_async(cmd).await.ok();
    assert!(table.stdout.contains("Duration"), "{}", table.stdout);
    for line in table.stdout.lines() {
        assert!(
            line.chars().count() <= 120,
            "{} chars: {line}",
            line.chars().count()
        );
    }

    // Run references: a unique prefix, the Databricks run id.
    let shown = env
        .run(&["runs", "show", &c[..c.len() - 4], "--json"])
        .await
        .ok()
        .json();
    assert_eq!(shown["run"]["id"], c.as_str());
    let dbx = shown["run"]["databricks_run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_dbx = env.run(&["runs", "show", &dbx, "--json"]).await.ok().json();
    assert_eq!(by_dbx["run"]["id"], c.as_str());
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    if common > 0 {
        let amb = env.run(&["runs", "show", &a[..common]]).await;
        assert_eq!(amb.code, 2, "{}", amb.stderr);
        assert!(
            amb.stderr.contains(&a) && amb.stderr.contains(&b),
            "{}",
            amb.stderr
        );
    }

    // Unknown filter values are exit 2 naming them; PLATFORM:EXTERNAL_ID works as a job.
    for args in [
        vec!["runs", "list", "--job", "nope"],
        vec!["runs", "list", "--platform", "nope"],
        vec!["jobs", "list", "--platform", "nope"],
    ] {
        let out = env.run(&args).await;
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("nope"), "{}", out.stderr);
    }
    let slow = env
        .run(&["runs", "list", "--job", "emu:/Tests/slow", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(slow.as_array().unwrap().len(), 2, "{slow}");
    env.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_says_what_happens_waits_and_is_a_no_op_on_an_ended_run() {
    let env = Env::new().await;
    let id = env.start("/Tests/slow").await;
    let out = env.run(&["cancel", &id]).await.ok();
    assert!(!out.stdout.contains(": Running"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("cancelling; Databricks is terminating the run")
            || out.stdout.contains(": Cancelled"),
        "{}",
        out.stdout
    );
    let waited = env
        .run(&["cancel", &id, "--wait", "--poll-interval", "0.1"])
        .await
        .ok();
    assert!(waited.stdout.contains("Cancelled"), "{}", waited.stdout);
    let again = env.run(&["cancel", &id]).await.ok();
    assert!(
        again.stdout.contains("already ended as Cancelled"),
        "{}",
        again.stdout
    );
    // A second run cancelled with --wait straight away ends Cancelled, exit 0.
    let id2 = env.start("/Tests/slow").await;
    let waited = env
        .run(&["cancel", &id2, "--wait", "--json", "--poll-interval", "0.1"])
        .await
        .ok()
        .json();
    assert_eq!(waited["status"], "Cancelled", "{waited}");
    env.emulator.shutdown().await;
}

/// Starts `run /Tests/slow --wait` (plus `extra`), sends SIGINT once it is waiting, and
/// returns what it printed.
async fn interrupt_wait(env: &Env, extra: &[&str]) -> Out {
    let mut args = vec!["run", "/Tests/slow", "--wait", "--poll-interval", "0.2"];
    args.extend_from_slice(extra);
    let mut cmd = env.cmd(&args);
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).expect("first status line");
        assert!(!first.is_empty(), "no status line");
        let killed = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).expect("stderr");
        let out = child.wait_with_output().expect("wait");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: first + &rest,
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_run_wait_names_the_run_and_can_cancel_it() {
    let env = Env::new().await;
    let out = interrupt_wait(&env, &[]).await;
    assert_eq!(out.code, 130, "{}", out.stderr);
    let id = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("interrupted: run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("run id printed: {}", out.stderr))
        .to_owned();
    assert!(
        out.stderr.contains(&format!("polysync cancel {id}")),
        "{}",
        out.stderr
    );
    assert_eq!(env.count("POST jobs/runs/cancel"), 0);
    let shown = env.run(&["runs", "show", &id, "--json"]).await.ok().json();
    assert!(shown["run"]["status"] != "Cancelled", "{shown}");

    let out = interrupt_wait(&env, &["--cancel-on-interrupt"]).await;
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert!(
        out.stderr.contains("interrupted: cancelling run"),
        "{}",
        out.stderr
    );
    assert_eq!(env.count("POST jobs/runs/cancel"), 1);
    env.emulator.shutdown().await;
}
