//! What the CLI's test binaries share (each file under `tests/` is a crate of its own and
//! includes this module): running the built `polysync` binary and finding the third-party
//! Arazzo corpus. The emulator and the databases come from `polysync-testkit`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

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
