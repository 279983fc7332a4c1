//! Polysync's server side by side with AppKit 0.38.1's jobs plugin, on the SAME emulator, in one
//! run (issue 10): what a web app's backend costs for the seed's `/api/jobs` routes.
//!
//! The emulator runs inside this process (its request counters are the measure of what each
//! server asks of Databricks); each server runs as a process of its own, so its peak RSS
//! (`VmHWM`, reset with `/proc/PID/clear_refs` before each phase) and CPU seconds
//! (`utime + stime` of `/proc/PID/stat`) are its own:
//! - **Polysync**: this benchmark binary re-executed in the server role (`VS_APPKIT_ROLE=server`):
//!   the engine on a fresh SQLite store and `polysync_server::serve`, exactly what
//!   `polysync serve` runs, with the job key from `DATABRICKS_JOB_BENCH` as the seed says;
//! - **AppKit**: `scripts/appkit-bench/start.sh` (node, AppKit with the server and jobs plugins;
//!   `setup.sh` installs the pinned package first when it is missing).
//!
//! Phases, one server at a time (the other is not running), each after the emulator has no
//! active run left:
//! 1. `POST /api/jobs/bench/run` latency (median, p99) and throughput: `BENCH_POSTS` requests
//!    from `BENCH_CLIENTS` closed-loop clients (keep-alive), after a warm-up.
//! 2. `BENCH_STREAMS` concurrent SSE streams, each `POST …/run?stream=true` (one run per
//!    stream: the only stream AppKit has), followed until every stream closed.
//! 3. `BENCH_STREAMS` concurrent SSE streams on `BENCH_STREAM_RUNS` runs: the runs started with
//!    `POST …/run`, then `GET …/runs/:runId/stream` spread evenly. AppKit has no route that
//!    follows an existing run (every stream starts its own run and polls it), so this phase
//!    runs for Polysync only; AppKit's cost per stream is phase 2's.
//!
//! Runs last `BENCH_RUN_SECONDS` of real time (plus the emulator's 1 s PENDING and 0.5 s
//! TERMINATING). Polysync's client cap (15 requests/s per workspace by default, as the
//! official SDKs) is turned off for phases 1–3 (its per-endpoint budget stays on, see below);
//! `BENCH_CAPPED_POSTS` more requests measure phase 1 with the default cap, as
//! `polysync serve` ships. AppKit polls at its default 5 s (`BENCH_APPKIT_POLL_MS`).
//!
//! `cargo bench -p polysync-server --bench vs_appkit` — knobs (environment): `BENCH_POSTS`
//! (default 2000), `BENCH_CLIENTS` (32), `BENCH_STREAMS` (1000), `BENCH_STREAM_RUNS` (10),
//! `BENCH_RUN_SECONDS` (10), `BENCH_CAPPED_POSTS` (150; 0 skips it), `BENCH_APPKIT_POLL_MS`
//! (5000), `BENCH_SKIP_APPKIT=1`, `BENCH_LIMITS` (`none`: the emulator answers every request;
//! `published`: it enforces Databricks' published per-workspace rate limits — `run-now`
//! 20/s — with 429s, as a real workspace does).
//!
//! Polysync's client keeps every endpoint under 90% of those published limits whatever its
//! cap (`run-now`: 18/s), so phase 1 measures that budget's pacing; phase 1 reports the
//! emulator's `run-now` requests and the runs they created, which shows retries and
//! duplicates on either side.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use polysync_emulator::{EmulatorHandle, Stats};
use polysync_engine::{Auth, Engine, NoProgress, Platform};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const TOKEN: &str = "dapi-bench-vs-appkit";
const TOKEN_VAR: &str = "POLYSYNC_BENCH_TOKEN";
const ROLE_VAR: &str = "VS_APPKIT_ROLE";
const KEY: &str = "bench";
/// How long any single stream may take beyond the run's own length before it counts as failed.
const STREAM_GRACE: Duration = Duration::from_secs(120);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    if std::env::var(ROLE_VAR).as_deref() == Ok("server") {
        server_role().await;
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = Sizes::from_env();
    println!("== Polysync server vs AppKit 0.38.1 ({cfg})");
    let emu = polysync_testkit::start_emulator(TOKEN, |c| {
        c.time_scale = 1.0;
        c.request_log_capacity = 0;
        if cfg.published_limits {
            c.faults = polysync_emulator::FaultConfig::databricks_profile();
        }
    })
    .await;
    let http = reqwest::Client::new();
    let post_job = create_job(&http, &emu, "bench-post", 0).await;
    let stream_job = create_job(&http, &emu, "bench-stream", cfg.run_seconds).await;
    println!(
        "emulator {} (time scale 1); jobs: posts {post_job}, streams {stream_job}",
        emu.url()
    );

    let mut results = Vec::new();
    let polysync = polysync_side(&emu, &cfg, post_job, stream_job).await;
    results.push(polysync);
    if std::env::var("BENCH_SKIP_APPKIT").as_deref() == Ok("1") {
        println!("AppKit: skipped (BENCH_SKIP_APPKIT=1)");
    } else {
        match appkit_side(&emu, &cfg, post_job, stream_job).await {
            Ok(r) => results.push(r),
            Err(why) => println!(
                "AppKit: NOT MEASURED — {why}. The Polysync figures above stand alone (no ratio)."
            ),
        }
    }
    report(&cfg, &results);
    emu.shutdown().await;
}

/// The knobs.
struct Sizes {
    posts: usize,
    clients: usize,
    streams: usize,
    stream_runs: usize,
    run_seconds: u64,
    capped_posts: usize,
    appkit_poll_ms: u64,
    /// The emulator enforces the published rate limits.
    published_limits: bool,
}

impl Sizes {
    fn from_env() -> Sizes {
        Sizes {
            posts: env_usize("BENCH_POSTS", 2000),
            clients: env_usize("BENCH_CLIENTS", 32).max(1),
            streams: env_usize("BENCH_STREAMS", 1000),
            stream_runs: env_usize("BENCH_STREAM_RUNS", 10).max(1),
            run_seconds: env_usize("BENCH_RUN_SECONDS", 10) as u64,
            capped_posts: env_usize("BENCH_CAPPED_POSTS", 150),
            appkit_poll_ms: env_usize("BENCH_APPKIT_POLL_MS", 5000) as u64,
            published_limits: std::env::var("BENCH_LIMITS").as_deref() == Ok("published"),
        }
    }
}

impl std::fmt::Display for Sizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BENCH_POSTS={} BENCH_CLIENTS={} BENCH_STREAMS={} BENCH_STREAM_RUNS={} \
             BENCH_RUN_SECONDS={} BENCH_CAPPED_POSTS={} BENCH_APPKIT_POLL_MS={} BENCH_LIMITS={}",
            self.posts,
            self.clients,
            self.streams,
            self.stream_runs,
            self.run_seconds,
            self.capped_posts,
            self.appkit_poll_ms,
            if self.published_limits {
                "published"
            } else {
                "none"
            }
        )
    }
}

/// A job whose runs last `seconds` (real time at time scale 1), allowing 1,000 concurrent runs
/// (the Jobs API maximum) so no stream's run is skipped.
async fn create_job(http: &reqwest::Client, emu: &EmulatorHandle, name: &str, seconds: u64) -> i64 {
    let body = json!({
        "name": name,
        "max_concurrent_runs": 1000,
        "tasks": [{"task_key": "main", "description": format!("emulator: duration={seconds}s"),
                   "spark_python_task": {"python_file": "dbfs:/bench.py"}}],
    });
    let v: Value = http
        .post(format!("{}/api/2.1/jobs/create", emu.url()))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("jobs/create")
        .json()
        .await
        .expect("jobs/create json");
    v["job_id"].as_i64().expect("job_id")
}

// ---------------------------------------------------------------------------------------------
// The two servers.

/// A server process under measurement.
struct Server {
    name: &'static str,
    url: String,
    child: Child,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id().expect("server still running")
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SIGTERM: both servers shut down gracefully on it.
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Forwards every line of `r` to `tx` (and keeps draining, so the child never blocks on a full
/// pipe).
fn drain_lines(r: impl AsyncRead + Unpin + Send + 'static, tx: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
}

/// Waits for the first line for which `found` gives a URL.
async fn wait_ready(
    child: &mut Child,
    found: impl Fn(&str) -> Option<String>,
    echo: &str,
) -> Result<String, String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Some(out) = child.stdout.take() {
        drain_lines(out, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        drain_lines(err, tx);
    }
    let mut seen = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return Err(format!("not ready after 60 s; output: {}", seen.join(" | "))),
            line = rx.recv() => match line {
                Some(line) => {
                    if let Some(url) = found(&line) {
                        // Keep draining what the server prints later.
                        let echo = echo.to_owned();
                        tokio::spawn(async move {
                            while let Some(l) = rx.recv().await {
                                if std::env::var("BENCH_VERBOSE").is_ok() {
                                    eprintln!("[{echo}] {l}");
                                }
                            }
                        });
                        return Ok(url);
                    }
                    seen.push(line);
                }
                None => return Err(format!("exited before it was ready; output: {}", seen.join(" | "))),
            }
        }
    }
}

/// The server role: what `polysync serve` runs, on the store the parent prepared.
async fn server_role() {
    let db = std::env::var("VS_APPKIT_DB").expect("VS_APPKIT_DB");
    let mut engine = Engine::open(&db).await.expect("store");
    if std::env::var("VS_APPKIT_CAP").as_deref() != Ok("default") {
        engine = engine.with_client_rate_limit(None);
    }
    let keys = polysync_server::load_job_keys(std::env::vars(), None).expect("job keys");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!(
        "POLYSYNC_BENCH_URL http://{}",
        listener.local_addr().expect("addr")
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(polysync_server::serve(
        listener,
        engine.clone(),
        polysync_server::ServerOptions {
            keys,
            ..polysync_server::ServerOptions::default()
        },
        shutdown.clone(),
    ));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    term.recv().await;
    shutdown.cancel();
    let _ = server.await;
    engine.close().await;
}

/// A fresh SQLite store with the emulator registered as platform `emu` and imported (done
/// here, so the server process's readings hold only serving).
async fn prepare_store(emu: &EmulatorHandle, dir: &Path) -> String {
    let db = dir.join("polysync.db").to_string_lossy().into_owned();
    let engine = Engine::open(&db)
        .await
        .expect("store")
        .with_env(Arc::new(|k: &str| {
            (k == TOKEN_VAR).then(|| TOKEN.to_owned())
        }));
    engine
        .add_platform(Platform::new(
            "emu",
            emu.url(),
            Auth::TokenEnv {
                var: TOKEN_VAR.into(),
            },
        ))
        .await
        .expect("platform");
    engine.import("emu", &NoProgress).await.expect("import");
    engine.close().await;
    db
}

async fn start_polysync(db: &str, job: i64, cap: bool) -> Server {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.env_clear()
        .env(ROLE_VAR, "server")
        .env("VS_APPKIT_DB", db)
        .env(TOKEN_VAR, TOKEN)
        .env("DATABRICKS_JOB_BENCH", format!("emu:{job}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if cap {
        cmd.env("VS_APPKIT_CAP", "default");
    }
    let mut child = cmd.spawn().expect("spawn the Polysync server");
    let url = wait_ready(
        &mut child,
        |l| l.strip_prefix("POLYSYNC_BENCH_URL ").map(str::to_owned),
        "polysync",
    )
    .await
    .expect("Polysync server ready");
    Server {
        name: "Polysync",
        url,
        child,
    }
}

fn appkit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/appkit-bench")
}

async fn start_appkit(emu: &EmulatorHandle, job: i64, poll_ms: u64) -> Result<Server, String> {
    let dir = appkit_dir();
    let setup = Command::new("bash")
        .arg(dir.join("setup.sh"))
        .status()
        .await
        .map_err(|e| format!("cannot run scripts/appkit-bench/setup.sh: {e}"))?;
    if !setup.success() {
        return Err(format!(
            "scripts/appkit-bench/setup.sh failed ({setup}): AppKit could not be installed"
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut child = Command::new("bash")
        .arg(dir.join("start.sh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("NODE_ENV", "production")
        .env("DATABRICKS_HOST", emu.url())
        .env("DATABRICKS_TOKEN", TOKEN)
        .env("DATABRICKS_WORKSPACE_ID", "1")
        .env("DATABRICKS_JOB_ID", job.to_string())
        .env("DATABRICKS_JOB_BENCH", job.to_string())
        .env("APPKIT_PORT", port.to_string())
        .env("POLL_MS", poll_ms.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start scripts/appkit-bench/start.sh: {e}"))?;
    let url = wait_ready(
        &mut child,
        |l| {
            l.contains("Server running on")
                .then(|| format!("http://127.0.0.1:{port}"))
        },
        "appkit",
    )
    .await
    .map_err(|e| format!("AppKit did not start: {e}"))?;
    // The temporary HOME lives as long as the process needs it: leak it until exit.
    std::mem::forget(home);
    Ok(Server {
        name: "AppKit 0.38.1",
        url,
        child,
    })
}

// ---------------------------------------------------------------------------------------------
// /proc readings.

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name `(…)`: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // /proc reports in USER_HZ, 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// `VmHWM` (peak RSS) and `VmRSS` in MB.
fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0)
}

/// Resets the peak RSS to the current RSS (`echo 5 > /proc/PID/clear_refs`).
fn reset_peak(pid: u32) {
    if let Err(e) = std::fs::write(format!("/proc/{pid}/clear_refs"), "5") {
        eprintln!("cannot reset the peak RSS of {pid}: {e} (peak since start reported)");
    }
}

/// Waits until the emulator has no active run, so a phase's requests are its own.
async fn settle(emu: &EmulatorHandle) {
    let until = Instant::now() + Duration::from_secs(120);
    while emu.stats().active_runs > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // One more tracking round for the last ends.
    tokio::time::sleep(Duration::from_secs(2)).await;
}

// ---------------------------------------------------------------------------------------------
// Phase 1: POST …/run latency and throughput.

#[derive(Debug, Clone, Default)]
struct PostFigures {
    n: usize,
    errors: usize,
    first_error: Option<String>,
    per_second: f64,
    median_ms: f64,
    p99_ms: f64,
    cpu_s: f64,
    peak_mb: f64,
    /// `run-now` requests the emulator received during the phase.
    run_now_requests: u64,
    /// Runs the emulator created during the phase.
    runs_created: u64,
}

async fn post_once(http: &reqwest::Client, url: &str) -> Result<i64, String> {
    let r = http
        .post(format!("{url}/api/jobs/{KEY}/run"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    body["runId"]
        .as_i64()
        .ok_or_else(|| format!("no runId in {body}"))
}

async fn post_phase(
    server: &Server,
    emu: &EmulatorHandle,
    clients: usize,
    total: usize,
) -> PostFigures {
    let http = reqwest::Client::new();
    for _ in 0..clients.min(total).max(1) {
        let _ = post_once(&http, &server.url).await;
    }
    let before = emu.stats();
    let pid = server.pid();
    reset_peak(pid);
    let cpu0 = cpu_seconds(pid);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let http = http.clone();
        let url = server.url.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                match post_once(&http, &url).await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(e) => errors.push(e),
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        lat.extend(l);
        errors.extend(e);
    }
    let wall = started.elapsed().as_secs_f64();
    let after = emu.stats();
    let run_now = |s: &Stats| s.requests.get("POST jobs/run-now").copied().unwrap_or(0);
    lat.sort();
    let ms = |i: usize| lat.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    PostFigures {
        n: lat.len(),
        errors: errors.len(),
        first_error: errors.first().cloned(),
        per_second: lat.len() as f64 / wall,
        median_ms: ms(lat.len() / 2),
        p99_ms: ms((lat.len() * 99 / 100).min(lat.len().saturating_sub(1))),
        cpu_s: cpu_seconds(pid) - cpu0,
        peak_mb: rss_mb(pid).0,
        run_now_requests: run_now(&after) - run_now(&before),
        runs_created: after.runs_created - before.runs_created,
    }
}

// ---------------------------------------------------------------------------------------------
// Phases 2 and 3: concurrent SSE streams.

#[derive(Debug, Clone, Default)]
struct StreamFigures {
    streams: usize,
    runs: usize,
    /// Streams that closed after a terminal event.
    completed: usize,
    failed: usize,
    first_failure: Option<String>,
    events: usize,
    wall_s: f64,
    cpu_s: f64,
    peak_mb: f64,
    emulator_requests: u64,
    by_endpoint: BTreeMap<String, u64>,
}

impl StreamFigures {
    fn per_minute(&self) -> f64 {
        self.emulator_requests as f64 * 60.0 / self.wall_s.max(1e-9)
    }
}

/// Reads one SSE response to its end: (data events, ended with a terminal state).
async fn follow(req: reqwest::RequestBuilder, limit: Duration) -> Result<(usize, bool), String> {
    let read = async {
        let mut r = req.send().await.map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            return Err(format!("{status}: {body}"));
        }
        let mut events = 0;
        let mut last = String::new();
        let mut carry = String::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
            carry.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = carry.find('\n') {
                let line: String = carry.drain(..=i).collect();
                if let Some(data) = line.strip_prefix("data:") {
                    events += 1;
                    last = data.to_owned();
                }
            }
        }
        let terminal = ["TERMINATED", "SKIPPED", "INTERNAL_ERROR"]
            .iter()
            .any(|s| last.contains(&format!("\"status\":\"{s}\"")));
        Ok((events, terminal))
    };
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| format!("still open after {limit:?}"))?
}

async fn stream_phase(
    server: &Server,
    emu: &EmulatorHandle,
    streams: usize,
    shared_runs: Option<usize>,
    run_seconds: u64,
) -> StreamFigures {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let pid = server.pid();
    reset_peak(pid);
    let before: Stats = emu.stats();
    let cpu0 = cpu_seconds(pid);
    let started = Instant::now();
    let limit = Duration::from_secs(run_seconds) + STREAM_GRACE;
    let run_ids = match shared_runs {
        Some(n) => {
            let mut ids = Vec::new();
            for _ in 0..n {
                ids.push(post_once(&http, &server.url).await.expect("start a run"));
            }
            ids
        }
        None => Vec::new(),
    };
    let mut tasks = Vec::new();
    for i in 0..streams {
        let req = match run_ids.get(i % run_ids.len().max(1)) {
            Some(id) if shared_runs.is_some() => {
                http.get(format!("{}/api/jobs/{KEY}/runs/{id}/stream", server.url))
            }
            _ => http
                .post(format!("{}/api/jobs/{KEY}/run?stream=true", server.url))
                .header("content-type", "application/json")
                .body("{}"),
        };
        tasks.push(tokio::spawn(follow(req, limit)));
    }
    let mut fig = StreamFigures {
        streams,
        runs: shared_runs.unwrap_or(streams),
        ..StreamFigures::default()
    };
    for t in tasks {
        match t.await.expect("stream task") {
            Ok((events, terminal)) => {
                fig.events += events;
                if terminal {
                    fig.completed += 1;
                } else {
                    fig.failed += 1;
                    fig.first_failure
                        .get_or_insert_with(|| "closed before a terminal event".into());
                }
            }
            Err(e) => {
                fig.failed += 1;
                fig.first_failure.get_or_insert(e);
            }
        }
    }
    fig.wall_s = started.elapsed().as_secs_f64();
    fig.cpu_s = cpu_seconds(pid) - cpu0;
    fig.peak_mb = rss_mb(pid).0;
    let after = emu.stats();
    fig.emulator_requests = after.total_requests - before.total_requests;
    for (k, v) in &after.requests {
        let d = v - before.requests.get(k).copied().unwrap_or(0);
        if d > 0 {
            fig.by_endpoint.insert(k.clone(), d);
        }
    }
    fig
}

// ---------------------------------------------------------------------------------------------
// The sides and the report.

struct Side {
    name: &'static str,
    idle_mb: f64,
    post: PostFigures,
    capped_post: Option<PostFigures>,
    per_stream_run: StreamFigures,
    shared_runs: Option<StreamFigures>,
}

async fn polysync_side(emu: &EmulatorHandle, cfg: &Sizes, post_job: i64, stream_job: i64) -> Side {
    let dir = tempfile::tempdir().expect("dir");
    let post_db = prepare_store(emu, &dir.path().join("post")).await;
    let stream_db = prepare_store(emu, &dir.path().join("stream")).await;

    let server = start_polysync(&post_db, post_job, false).await;
    let idle_mb = rss_mb(server.pid()).1;
    println!("Polysync: phase 1, {} × POST …/run", cfg.posts);
    let post = post_phase(&server, emu, cfg.clients, cfg.posts).await;
    server.stop().await;
    settle(emu).await;

    let capped_post = if cfg.capped_posts > 0 {
        let capped_db = prepare_store(emu, &dir.path().join("capped")).await;
        let server = start_polysync(&capped_db, post_job, true).await;
        println!(
            "Polysync: phase 1 with the default 15/s client cap, {} × POST …/run",
            cfg.capped_posts
        );
        let f = post_phase(&server, emu, cfg.clients, cfg.capped_posts).await;
        server.stop().await;
        settle(emu).await;
        Some(f)
    } else {
        None
    };

    let server = start_polysync(&stream_db, stream_job, false).await;
    println!("Polysync: phase 2, {} streams, one run each", cfg.streams);
    let per_stream_run = stream_phase(&server, emu, cfg.streams, None, cfg.run_seconds).await;
    settle(emu).await;
    println!(
        "Polysync: phase 3, {} streams on {} runs",
        cfg.streams, cfg.stream_runs
    );
    let shared = stream_phase(
        &server,
        emu,
        cfg.streams,
        Some(cfg.stream_runs),
        cfg.run_seconds,
    )
    .await;
    server.stop().await;
    settle(emu).await;
    Side {
        name: "Polysync",
        idle_mb,
        post,
        capped_post,
        per_stream_run,
        shared_runs: Some(shared),
    }
}

async fn appkit_side(
    emu: &EmulatorHandle,
    cfg: &Sizes,
    post_job: i64,
    stream_job: i64,
) -> Result<Side, String> {
    let server = start_appkit(emu, post_job, cfg.appkit_poll_ms).await?;
    let idle_mb = rss_mb(server.pid()).1;
    println!("{}: phase 1, {} × POST …/run", server.name, cfg.posts);
    let post = post_phase(&server, emu, cfg.clients, cfg.posts).await;
    let name = server.name;
    server.stop().await;
    settle(emu).await;

    let server = start_appkit(emu, stream_job, cfg.appkit_poll_ms).await?;
    println!(
        "{}: phase 2, {} streams, one run each",
        server.name, cfg.streams
    );
    let per_stream_run = stream_phase(&server, emu, cfg.streams, None, cfg.run_seconds).await;
    server.stop().await;
    settle(emu).await;
    Ok(Side {
        name,
        idle_mb,
        post,
        capped_post: None,
        per_stream_run,
        shared_runs: None,
    })
}

fn ratio(p: f64, a: Option<f64>) -> String {
    match a {
        Some(a) if a > 0.0 => format!("{:.2}", p / a),
        _ => "n/a".into(),
    }
}

fn row(what: &str, p: Option<f64>, a: Option<f64>, digits: usize) {
    let cell = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"));
    let r = p.map_or_else(|| "n/a".to_owned(), |p| ratio(p, a));
    println!("| {what} | {} | {} | {r} |", cell(p), cell(a));
}

fn report(cfg: &Sizes, sides: &[Side]) {
    let p = &sides[0];
    let a = sides.get(1);
    println!();
    println!("{cfg}");
    println!(
        "| measure | {} | {} | ratio P/A |",
        p.name,
        a.map_or("AppKit 0.38.1 (not measured)", |a| a.name)
    );
    println!("|---|---:|---:|---:|");
    row(
        "idle RSS after start (MB)",
        Some(p.idle_mb),
        a.map(|a| a.idle_mb),
        1,
    );
    row(
        &format!("1. POST …/run throughput, {} clients (req/s)", cfg.clients),
        Some(p.post.per_second),
        a.map(|a| a.post.per_second),
        0,
    );
    row(
        "1. POST …/run latency median (ms)",
        Some(p.post.median_ms),
        a.map(|a| a.post.median_ms),
        2,
    );
    row(
        "1. POST …/run latency p99 (ms)",
        Some(p.post.p99_ms),
        a.map(|a| a.post.p99_ms),
        2,
    );
    row(
        &format!("1. server CPU s for {} POSTs", cfg.posts),
        Some(p.post.cpu_s),
        a.map(|a| a.post.cpu_s),
        2,
    );
    row(
        "1. server peak RSS (MB)",
        Some(p.post.peak_mb),
        a.map(|a| a.post.peak_mb),
        1,
    );
    row(
        "1. POSTs answered with an error",
        Some(p.post.errors as f64),
        a.map(|a| a.post.errors as f64),
        0,
    );
    row(
        "1. emulator run-now requests",
        Some(p.post.run_now_requests as f64),
        a.map(|a| a.post.run_now_requests as f64),
        0,
    );
    row(
        "1. emulator runs created",
        Some(p.post.runs_created as f64),
        a.map(|a| a.post.runs_created as f64),
        0,
    );
    if let Some(c) = &p.capped_post {
        row(
            "1. Polysync as shipped (15 req/s client cap): req/s",
            Some(c.per_second),
            None,
            1,
        );
        row("1. … its latency median (ms)", Some(c.median_ms), None, 0);
        row("1. … its latency p99 (ms)", Some(c.p99_ms), None, 0);
    }
    let s = |f: &StreamFigures| f.clone();
    let ps = s(&p.per_stream_run);
    let as_ = a.map(|a| s(&a.per_stream_run));
    let title = format!("2. {} streams, one run each", cfg.streams);
    row(
        &format!("{title}: streams completed"),
        Some(ps.completed as f64),
        as_.as_ref().map(|f| f.completed as f64),
        0,
    );
    row(
        &format!("{title}: SSE events received"),
        Some(ps.events as f64),
        as_.as_ref().map(|f| f.events as f64),
        0,
    );
    row(
        &format!("{title}: wall time (s)"),
        Some(ps.wall_s),
        as_.as_ref().map(|f| f.wall_s),
        1,
    );
    row(
        &format!("{title}: server peak RSS (MB)"),
        Some(ps.peak_mb),
        as_.as_ref().map(|f| f.peak_mb),
        1,
    );
    row(
        &format!("{title}: server CPU (s)"),
        Some(ps.cpu_s),
        as_.as_ref().map(|f| f.cpu_s),
        2,
    );
    row(
        &format!("{title}: emulator requests"),
        Some(ps.emulator_requests as f64),
        as_.as_ref().map(|f| f.emulator_requests as f64),
        0,
    );
    row(
        &format!("{title}: emulator requests/min"),
        Some(ps.per_minute()),
        as_.as_ref().map(StreamFigures::per_minute),
        0,
    );
    if let Some(sh) = &p.shared_runs {
        let title = format!(
            "3. {} streams on {} runs (AppKit: its phase 2, one run per stream)",
            cfg.streams, cfg.stream_runs
        );
        // AppKit's closest: phase 2 (each of its streams polls its own run).
        row(
            &format!("{title}: streams completed"),
            Some(sh.completed as f64),
            None,
            0,
        );
        row(
            &format!("{title}: SSE events received"),
            Some(sh.events as f64),
            None,
            0,
        );
        row(&format!("{title}: wall time (s)"), Some(sh.wall_s), None, 1);
        row(
            &format!("{title}: server peak RSS (MB)"),
            Some(sh.peak_mb),
            as_.as_ref().map(|f| f.peak_mb),
            1,
        );
        row(
            &format!("{title}: server CPU (s)"),
            Some(sh.cpu_s),
            as_.as_ref().map(|f| f.cpu_s),
            2,
        );
        row(
            &format!("{title}: emulator requests"),
            Some(sh.emulator_requests as f64),
            as_.as_ref().map(|f| f.emulator_requests as f64),
            0,
        );
        row(
            &format!("{title}: emulator requests/min"),
            Some(sh.per_minute()),
            as_.as_ref().map(StreamFigures::per_minute),
            0,
        );
    }
    println!();
    for side in sides {
        let phases = [Some(&side.per_stream_run), side.shared_runs.as_ref()];
        for (i, f) in phases.iter().enumerate() {
            let Some(f) = f else { continue };
            println!(
                "{} phase {}: {} streams / {} runs, emulator requests by endpoint: {:?}",
                side.name,
                i + 2,
                f.streams,
                f.runs,
                f.by_endpoint
            );
            if let Some(e) = &f.first_failure {
                println!("  {} failed streams; first: {e}", f.failed);
            }
        }
        for (what, f) in [
            ("POST", Some(&side.post)),
            ("capped POST", side.capped_post.as_ref()),
        ] {
            if let Some(f) = f
                && let Some(e) = &f.first_error
            {
                println!(
                    "{} {what}: {} errors of {}; first: {e}",
                    side.name,
                    f.errors,
                    f.n + f.errors
                );
            }
        }
    }
}
