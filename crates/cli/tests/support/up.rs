//! `polysync up` as a user starts it, for the tests that drive a whole instance (the `up` tests,
//! the dashboard in a browser): a fresh store and home directory, no Databricks settings from the
//! developer's shell (so `up` takes the demo path), the URL read from its first line.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{Out, polysync};

/// A running `polysync up`. Dropping it kills the process; [`Up::stop`] signals it and checks it
/// ended cleanly.
pub struct Up {
    child: Child,
    /// `http://127.0.0.1:PORT`, from `up`'s first line.
    pub url: String,
    /// The SQLite store it runs on.
    pub db: PathBuf,
    dir: tempfile::TempDir,
    stdout: Option<std::thread::JoinHandle<String>>,
}

/// What `up` printed once stopped.
pub struct Stopped {
    /// stdout after the first line (the URL).
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Up {
    /// `polysync up --port 0` on a fresh store.
    pub fn start() -> Up {
        Self::start_with(None)
    }

    /// [`Up::start`] with `config` as its `--config` file when given.
    pub fn start_with(config: Option<&str>) -> Up {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("up.db");
        let log = std::fs::File::create(dir.path().join("up.log")).expect("log file");
        let mut cmd = polysync();
        cmd.args(["up", "--port", "0", "--database-url"]).arg(&db);
        if let Some(toml) = config {
            let path = dir.path().join("polysync.toml");
            std::fs::write(&path, toml).expect("config");
            cmd.arg("--config").arg(path);
        }
        let mut child = cmd
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env_remove("DATABRICKS_HOST")
            .env_remove("DATABRICKS_TOKEN")
            .env_remove("DATABRICKS_CONFIG_PROFILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn polysync up");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("first line");
        let url = first
            .trim()
            .strip_prefix("Polysync is up: ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        // Keep reading what `up` prints so it never blocks on a full pipe.
        let stdout = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
            rest
        });
        Up {
            child,
            url,
            db,
            dir,
            stdout: Some(stdout),
        }
    }

    /// `host:port`, for plain-socket requests.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Another `polysync` command on the same store, while `up` runs.
    pub fn cli(&self, args: &[&str]) -> Out {
        let mut cmd = polysync();
        cmd.args(args).arg("--database-url").arg(&self.db);
        Out::of(&mut cmd)
    }

    /// What `up` printed on stderr so far (everything it prints before its URL is there once
    /// [`Up::start`] returned).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("up.log")).unwrap_or_default()
    }

    /// Sends `signal` (`-TERM`, `-INT`); the exit code must be 0. What it printed.
    pub fn stop_with(mut self, signal: &str) -> Stopped {
        let killed = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = self.child.wait().expect("wait");
        let stdout = self
            .stdout
            .take()
            .map(|t| t.join().expect("stdout reader"))
            .unwrap_or_default();
        let stderr = self.log();
        assert_eq!(status.code(), Some(0), "{stderr}");
        Stopped { stdout, stderr }
    }

    /// SIGTERM, then the exit code must be 0.
    pub fn stop(self) -> Stopped {
        self.stop_with("-TERM")
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
