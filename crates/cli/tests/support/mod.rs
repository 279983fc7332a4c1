//! What the CLI's test binaries share (each file under `tests/` is a crate of its own and
//! includes this module): running the built `polysync` binary, a whole `polysync up` ([`up`]),
//! and finding the third-party Arazzo corpus. The emulator and the databases come from
//! `polysync-testkit`.
#![allow(dead_code)]

pub mod up;

use std::path::PathBuf;
use std::process::Command;

use polysync_emulator::EmulatorHandle;

use serde_json::Value;

/// The built binary, without the variables of the developer's shell that would change what it
/// does or prints (a configured database, log levels, backtraces).
pub fn polysync() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_polysync"));
    cmd.env_remove("POLYSYNC_DATABASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE");
    cmd
}

/// What one invocation did.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Runs `cmd` to its end (blocking).
    pub fn of(cmd: &mut Command) -> Out {
        let out = cmd.output().expect("spawn polysync");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
        }
    }

    /// Runs `cmd` on a blocking thread, so an emulator served by the test's runtime keeps
    /// answering meanwhile.
    pub async fn of_async(mut cmd: Command) -> Out {
        tokio::task::spawn_blocking(move || Out::of(&mut cmd))
            .await
            .expect("polysync runner thread")
    }

    /// stdout as JSON; fails the test when anything else is there.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON only ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Fails the test unless the exit code is 0.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The platform token variable the helpers below set, and its value.
pub const TOKEN_VAR: &str = "POLYSYNC_CLI_TEST_TOKEN";
pub const TOKEN: &str = "cli-concurrency-token-0123";

pub const QUICK: &str = "# Databricks notebook source\n# emulator: duration=1s\ndbutils.widgets.text(\"name\", \"world\")\n";
pub const MEDIUM: &str = "# Databricks notebook source\n# emulator: duration=3m\nprint(1)\n";
pub const SLOW: &str = "# Databricks notebook source\n# emulator: duration=2h\nprint(1)\n";

/// The binary on `db`, with the platform's token variable set.
pub fn cli(db: &str, args: &[&str]) -> Command {
    let mut cmd = polysync();
    cmd.arg("--database-url")
        .arg(db)
        .args(args)
        .env(TOKEN_VAR, TOKEN);
    cmd
}

pub async fn run(db: &str, args: &[&str]) -> Out {
    Out::of_async(cli(db, args)).await
}

/// An emulator (fast clock, x100) with the notebooks `/Tests/quick` (1 s), `/Tests/medium`
/// (3 min) and `/Tests/slow` (2 h), registered as `emu` on `db` and imported.
pub async fn imported(db: &str) -> (EmulatorHandle, tempfile::TempDir) {
    let dir = polysync_testkit::write_files(&[
        ("Tests/quick.py", QUICK),
        ("Tests/medium.py", MEDIUM),
        ("Tests/slow.py", SLOW),
    ]);
    let emu = polysync_testkit::start_emulator(TOKEN, |c| {
        c.workspace_dir = Some(dir.path().to_path_buf());
        c.time_scale = 100.0;
    })
    .await;
    run(
        db,
        &[
            "platform",
            "add",
            "emu",
            "--host",
            &emu.url(),
            "--token-env",
            TOKEN_VAR,
        ],
    )
    .await
    .ok();
    run(db, &["import", "emu"]).await.ok();
    (emu, dir)
}

/// The api-evangelist Azure Databricks corpus (Arazzo workflows and the OpenAPI they use), kept
/// in `shared/` beside the repository.
pub fn corpus() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/third-party/api-evangelist-azure-databricks");
    assert!(
        p.join("arazzo").is_dir() && p.join("openapi/azure-databricks-openapi.yml").is_file(),
        "third-party corpus missing at {}",
        p.display()
    );
    p
}
