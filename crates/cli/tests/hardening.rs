//! Issue 8 hardening, driven through the built binary against an emulator started in the
//! test process: broken pipes, usage errors, removals, parameter choices, spellings.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::process::Stdio;

use polysync_emulator::EmulatorHandle;
use polysync_testkit::TestDb;
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

struct Env {
    emulator: EmulatorHandle,
    _dir: tempfile::TempDir,
}

async fn emulator() -> Env {
    let dir = polysync_testkit::write_files(&[
        ("H/region.py", REGION),
        ("H/other.py", OTHER),
        ("H/more/a.py", OTHER),
        ("H/more/b.py", OTHER),
    ]);
    let emulator = polysync_testkit::start_emulator(TOKEN, |c| {
        c.workspace_dir = Some(dir.path().to_path_buf());
        c.time_scale = 20.0;
    })
    .await;
    Env {
        emulator,
        _dir: dir,
    }
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
