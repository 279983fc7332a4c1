//! Dispatcher benchmarks against the emulator, side by side with baselines that do what the
//! peers do, in one run:
//!
//! 1. **Requests per run** for N concurrent runs lasting S seconds of real time, status known
//!    within 5 s, the emulator enforcing Databricks' published rate limits: Polysync's
//!    dispatcher (one batched listing per platform per 5 s round) vs per-run `runs/get` every
//!    5 s (AppKit) vs the SDK waiter's 1→10 s backoff. Every endpoint is counted by the
//!    emulator; 429s are reported.
//! 3. **Peak RSS** of a process tracking T active runs (one-off runs of a long notebook),
//!    measured in a child process (`VmHWM` of `/proc/self/status`) over three tracking rounds,
//!    the first of them the full sweep.
//! 4. **Detection latency** of the runs of benchmark 1: Databricks' `end_time` → the end
//!    stored by the dispatcher (median, p99).
//! 2. **Throughput**: M zero-duration notebook tasks, submit → terminal status, on SQLite (and
//!    PostgreSQL when `POLYSYNC_TEST_DATABASE_URL` is set), vs M concurrent `start_run` +
//!    `wait_run` loops (one poll loop per run) on the same store.
//! 5. **DAG step transition** on a chain of K zero-duration tasks (upstream terminal status
//!    stored → downstream submit sent, from the stored timestamps of the engine's events):
//!    median and p99, on SQLite (and PostgreSQL).
//!
//! Benchmarks 2 and 5 turn the client's default 15 requests/s cap off (the emulator's limits
//! are off too): they measure the dispatcher, not a rate limiter.
//!
//! `cargo bench -p polysync-engine --bench dispatcher` — knobs (environment):
//! `BENCH_RUNS` (N, default 300), `BENCH_SECONDS` (S, default 20), `BENCH_TASKS` (M, default
//! 1000), `BENCH_TRACKED` (T, default 10000), `BENCH_CHAIN` (K, default 100), `BENCH_ONLY`
//! (comma-separated benchmark numbers 1–5 to run, default all; 4 comes with 1, 4 alone skips
//! 1's baselines), `BENCH_STORES` (`sqlite`, `postgres`: which stores benchmarks 2 and 5 use,
//! default both), `BENCH_BASELINE=0` (benchmark 2 without its baseline),
//! `BENCH_LOG` (an env-filter such as `warn`: the engine's logs on stderr), `BENCH_REQLOG` (a
//! file benchmark 1 appends Polysync's requests to: arrival ms, endpoint, path), `BENCH_RSS_WRAP` (a command benchmark 3's child runs under, e.g. `heaptrack -o /tmp/track`).
//! The full sizes: `BENCH_RUNS=2000 BENCH_SECONDS=60 BENCH_TASKS=10000`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use polysync_databricks::{Config, DatabricksClient, Idempotency, Method};
use polysync_emulator::{EmulatorHandle, FaultConfig};
use polysync_engine::{
    ApplyMode, Auth, DagRunRequest, DispatcherOptions, Engine, NoProgress, Platform, WaitOptions,
};
use serde_json::{Value, json};

const TOKEN: &str = "bench-token";
const TOKEN_VAR: &str = "POLYSYNC_BENCH_TOKEN";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn emulator(notebook: &str, faults: FaultConfig) -> (EmulatorHandle, tempfile::TempDir) {
    let dir = polysync_testkit::write_files(&[("Bench/work.py", notebook)]);
    let emu = polysync_testkit::start_emulator(TOKEN, |c| {
        c.workspace_dir = Some(dir.path().to_path_buf());
        c.time_scale = 1.0;
        c.faults = faults;
        c.durations.pending_warm_ms = 0;
        c.durations.terminating_ms = 0;
        // Every request of the largest runs stays countable (429s, the breakdown).
        c.request_log_capacity = 65_536;
    })
    .await;
    (emu, dir)
}

fn client(emu: &EmulatorHandle) -> DatabricksClient {
    DatabricksClient::new(
        Config::builder()
            .host(emu.url())
            .token(TOKEN.to_owned())
            .build()
            .unwrap(),
    )
    .unwrap()
}

async fn engine_on(url: &str, emu: &EmulatorHandle) -> Engine {
    let engine = Engine::open(url)
        .await
        .unwrap()
        .with_env(Arc::new(|k: &str| {
            (k == TOKEN_VAR).then(|| TOKEN.to_owned())
        }));
    let mut p = Platform::new(
        "bench",
        emu.url(),
        Auth::TokenEnv {
            var: TOKEN_VAR.into(),
        },
    );
    p.default_notebook_path = "/Bench".into();
    engine.add_platform(p).await.unwrap();
    engine.import("bench", &NoProgress).await.unwrap();
    engine
        .apply_tasks(
            "bench.yaml",
            "tasks:\n  - name: work\n    job: /Bench/work\n",
            ApplyMode::default(),
        )
        .await
        .unwrap();
    engine
}

/// Requests and 429s the emulator counted since `before`.
fn counted(emu: &EmulatorHandle, before: u64) -> (u64, u64) {
    let stats = emu.stats();
    let throttled = emu.requests().iter().filter(|r| r.status == 429).count() as u64;
    (stats.total_requests - before, throttled)
}

/// What the emulator was asked, by endpoint (`runs/list` split by its filter), and over how
/// long the submits were spread: where a run's requests went.
fn breakdown(emu: &EmulatorHandle) -> String {
    let mut by: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for r in emu.requests() {
        let key = if r.endpoint.ends_with("runs/list") {
            if r.path.contains("active_only=true") {
                "runs/list active".to_owned()
            } else if r.path.contains("completed_only=true") {
                "runs/list completed".to_owned()
            } else {
                "runs/list".to_owned()
            }
        } else {
            r.endpoint.rsplit(' ').next().unwrap_or_default().to_owned()
        };
        if key.ends_with("runs/submit") {
            first = first.min(r.timestamp_ms);
            last = last.max(r.timestamp_ms);
        }
        if let Ok(path) = std::env::var("BENCH_REQLOG") {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .unwrap();
            writeln!(f, "{} {} {}", r.timestamp_ms, key, r.path).unwrap();
        }
        *by.entry(key).or_default() += 1;
    }
    let parts: Vec<String> = by.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!(
        "{}; submits spread over {:.0} s",
        parts.join(", "),
        (last - first).max(0) as f64 / 1000.0
    )
}

/// Median and p99 of `xs` (ms).
fn percentiles(mut xs: Vec<i64>) -> (i64, i64) {
    if xs.is_empty() {
        return (0, 0);
    }
    xs.sort_unstable();
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// `n` DAG runs of task `work`, started as a batch (one store transaction).
async fn start_all(engine: &Engine, n: usize) -> Vec<String> {
    let requests = vec![DagRunRequest::manual("work"); n];
    engine
        .start_dag_runs(&requests)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect()
}

/// Runs `d` as a service does (`Dispatcher::run_until`, tracking loop beside the passes)
/// until every DAG run of `ids` has ended (counted from the engine's events), then drains it.
async fn serve_until_ended(engine: &Engine, d: polysync_engine::Dispatcher, ids: &[String]) {
    let mut events = engine.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(async move {
        d.run_until(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let mut ended = 0;
    while ended < ids.len() {
        match events.recv().await {
            Ok(polysync_engine::Event::DagRun { dag_run }) if dag_run.status.is_terminal() => {
                ended += 1;
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                // Fell behind: count from the store instead, with one read
                // (not one per DAG run: that would be the bench's own cost).
                let wanted: std::collections::HashSet<&str> =
                    ids.iter().map(String::as_str).collect();
                ended = engine
                    .list_dag_runs(u32::MAX)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|d| d.status.is_terminal() && wanted.contains(d.id.as_str()))
                    .count();
            }
            Err(e) => panic!("{e}"),
        }
    }
    stop.send(()).unwrap();
    service.await.unwrap();
}

/// Databricks `end_time` → stored end, per run of `engine` (ms).
async fn detection_latencies(engine: &Engine, emu: &EmulatorHandle) -> Vec<(i64, i64)> {
    use futures_util::TryStreamExt;
    let c = client(emu);
    let ends: std::collections::HashMap<String, i64> = c
        .jobs()
        .list_runs(polysync_databricks::models::ListRunsRequest {
            completed_only: true,
            limit: Some(25),
            ..Default::default()
        })
        .try_filter_map(|r| async move { Ok(r.end_time.map(|e| (r.run_id.to_string(), e))) })
        .try_collect()
        .await
        .unwrap();
    engine
        .list_runs(&polysync_engine::RunFilter::default(), 1_000_000)
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            let end = ends.get(r.databricks_run_id.as_deref()?)?;
            Some((*end, r.ended_at? - end))
        })
        .collect()
}

/// Detection latency by when the runs ended (10 s buckets): where the slow ones are.
fn latency_by_end(pairs: &[(i64, i64)]) -> String {
    let first = pairs.iter().map(|p| p.0).min().unwrap_or(0);
    let mut buckets: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for (end, latency) in pairs {
        buckets
            .entry((end - first) / 10_000)
            .or_default()
            .push(*latency);
    }
    buckets
        .into_iter()
        .map(|(b, mut xs)| {
            xs.sort_unstable();
            format!(
                "{}s:{}x{}/{}",
                b * 10,
                xs.len(),
                xs[xs.len() / 2] / 1000,
                xs[xs.len() - 1] / 1000
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn dispatcher_requests(n: usize, secs: u64) -> (f64, u64, Vec<i64>) {
    let (emu, _dir) = emulator(
        &format!("# Databricks notebook source\n# emulator: duration={secs}s\nprint(1)\n"),
        FaultConfig::databricks_profile(),
    )
    .await;
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", db.path().join("bench.db").display());
    let engine = engine_on(&url, &emu).await;
    let before = emu.stats().total_requests;
    let ids = start_all(&engine, n).await;
    let d = engine
        .dispatcher(DispatcherOptions {
            // Status within 5 s: a round every 2 s (plus its own duration).
            track_interval: Duration::from_secs(2),
            max_claim: 1_000,
            ..DispatcherOptions::default()
        })
        .await
        .unwrap();
    serve_until_ended(&engine, d, &ids).await;
    let (requests, throttled) = counted(&emu, before);
    println!("   polysync requests: {}", breakdown(&emu));
    let pairs = detection_latencies(&engine, &emu).await;
    if !wanted(1) {
        println!(
            "   latency by end (10 s buckets: runs x median/max s): {}",
            latency_by_end(&pairs)
        );
    }
    let latencies = pairs.into_iter().map(|p| p.1).collect();
    emu.shutdown().await;
    (requests as f64 / n as f64, throttled, latencies)
}

/// Benchmark 3, parent side: `t` active one-off runs in a store, then a child process tracks
/// them; returns its report line.
async fn tracked_rss(t: usize) -> String {
    let (emu, _dir) = emulator(
        "# Databricks notebook source\n# emulator: duration=3600s\nprint(1)\n",
        FaultConfig::default(),
    )
    .await;
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", db.path().join("rss.db").display());
    // Setting up is not measured: sent without the client's 15 requests/s cap (the child
    // process that tracks them keeps it).
    let engine = engine_on(&url, &emu).await.with_client_rate_limit(None);
    let mut senders = Vec::new();
    for part in 0..4 {
        let e = engine.clone();
        senders.push(tokio::spawn(async move {
            for _ in (part..t).step_by(4) {
                let run = e.enqueue_run("bench:/Bench/work", &[]).await.unwrap();
                e.submit_run(&run.id).await.unwrap();
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    engine.close().await;
    // `BENCH_RSS_WRAP`: the child under a profiler, to see where its peak is.
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match std::env::var("BENCH_RSS_WRAP") {
        Ok(wrap) if !wrap.trim().is_empty() => {
            let mut words = wrap.split_whitespace();
            let mut c = std::process::Command::new(words.next().unwrap());
            c.args(words).arg(exe);
            c
        }
        _ => std::process::Command::new(exe),
    };
    let out = cmd
        .env("BENCH_RSS_CHILD", &url)
        .env(TOKEN_VAR, TOKEN)
        .output()
        .unwrap();
    emu.shutdown().await;
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Benchmark 3, child side: three tracking rounds over every active run of the store.
async fn rss_child(url: &str) {
    let engine = Engine::open(url).await.unwrap();
    // Counted, not loaded: loading every full run here would be the bench's own peak.
    let tracked: u64 = engine
        .metrics_snapshot()
        .await
        .unwrap()
        .runs_by_status
        .iter()
        .filter(|(s, _)| matches!(s.as_str(), "Queued" | "Running" | "Unknown"))
        .map(|(_, n)| n)
        .sum();
    let opened = status_kb("VmRSS:");
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let failures = engine.track_runs(None).await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        rounds.push(format!("{:.2}", t.elapsed().as_secs_f64()));
    }
    println!(
        "tracking {tracked} active runs: peak RSS {:.1} MB (after opening the store {:.1} MB); rounds {} s",
        status_kb("VmHWM:") as f64 / 1024.0,
        opened as f64 / 1024.0,
        rounds.join(" / ")
    );
}

async fn submit(c: &DatabricksClient, i: usize) -> i64 {
    let v: Value = c
        .request(
            Method::POST,
            "/api/2.1/jobs/runs/submit",
            &[],
            Some(&json!({
                "run_name": "/Bench/work",
                "idempotency_token": format!("baseline-{i}"),
                "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Bench/work"}}]
            })),
            Idempotency::Idempotent,
        )
        .await
        .unwrap();
    v["run_id"].as_i64().unwrap()
}

async fn terminal(c: &DatabricksClient, id: i64) -> bool {
    let v: Value = c
        .request::<Value, Value>(
            Method::GET,
            "/api/2.1/jobs/runs/get",
            &[("run_id", id.to_string())],
            None,
            Idempotency::Idempotent,
        )
        .await
        .unwrap();
    matches!(
        v["state"]["life_cycle_state"].as_str(),
        Some("TERMINATED" | "INTERNAL_ERROR" | "SKIPPED")
    )
}

/// One poll loop per run: a fixed interval (AppKit) or the SDK waiter's 1→10 s backoff.
async fn polling_requests(n: usize, secs: u64, backoff: bool) -> (f64, u64) {
    let (emu, _dir) = emulator(
        &format!("# Databricks notebook source\n# emulator: duration={secs}s\nprint(1)\n"),
        FaultConfig::databricks_profile(),
    )
    .await;
    let c = client(&emu);
    let before = emu.stats().total_requests;
    let mut loops = Vec::new();
    for i in 0..n {
        let c = c.clone();
        loops.push(tokio::spawn(async move {
            let id = submit(&c, i).await;
            let mut wait = if backoff { 1 } else { 5 };
            loop {
                if terminal(&c, id).await {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(wait)).await;
                if backoff {
                    wait = (wait + 1).min(10);
                }
            }
        }));
    }
    for l in loops {
        l.await.unwrap();
    }
    let (requests, throttled) = counted(&emu, before);
    emu.shutdown().await;
    (requests as f64 / n as f64, throttled)
}

/// (end to end incl. starting the DAG runs, dispatch only, baseline) in tasks per second;
/// the baseline is skipped with `BENCH_BASELINE=0`.
async fn throughput(url: &str, m: usize) -> (f64, f64, Option<f64>) {
    let quick = "# Databricks notebook source\n# emulator: duration=0s\nprint(1)\n";
    // Dispatcher.
    let (emu, _dir) = emulator(quick, FaultConfig::default()).await;
    let engine = engine_on(url, &emu).await.with_client_rate_limit(None);
    let started = Instant::now();
    let ids = start_all(&engine, m).await;
    let dispatch_started = Instant::now();
    let d = engine
        .dispatcher(DispatcherOptions {
            idle_tick: Duration::from_millis(5),
            track_interval: Duration::from_millis(50),
            max_claim: 1_000,
            ..DispatcherOptions::default()
        })
        .await
        .unwrap();
    let before = emu.stats().requests;
    serve_until_ended(&engine, d, &ids).await;
    let dispatch_only = m as f64 / dispatch_started.elapsed().as_secs_f64();
    let dispatched = m as f64 / started.elapsed().as_secs_f64();
    // What the dispatcher asked the workspace, per task: a re-sent start or
    // a listing page too many shows here.
    let per_task: Vec<String> = emu
        .stats()
        .requests
        .iter()
        .map(|(endpoint, n)| (endpoint, n - before.get(endpoint).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .map(|(endpoint, n)| format!("{endpoint} {:.2}", n as f64 / m as f64))
        .collect();
    println!("   requests per task: {}", per_task.join(", "));
    emu.shutdown().await;
    if std::env::var("BENCH_BASELINE").is_ok_and(|v| v == "0") {
        engine.close().await;
        return (dispatched, dispatch_only, None);
    }
    // Baseline: one start + poll loop per run, all at once, on the same store.
    let (emu, _dir) = emulator(quick, FaultConfig::default()).await;
    let mut p = Platform::new(
        "bench2",
        emu.url(),
        Auth::TokenEnv {
            var: TOKEN_VAR.into(),
        },
    );
    p.default_notebook_path = "/Bench".into();
    engine.add_platform(p).await.unwrap();
    engine.import("bench2", &NoProgress).await.unwrap();
    let started = Instant::now();
    let mut loops = Vec::new();
    for _ in 0..m {
        let e = engine.clone();
        loops.push(tokio::spawn(async move {
            let run = e.start_run("bench2:/Bench/work", &[]).await.unwrap();
            e.wait_run(
                &run.id,
                WaitOptions {
                    poll_interval: Duration::from_millis(50),
                    timeout: None,
                },
                &mut |_| {},
            )
            .await
            .unwrap();
        }));
    }
    for l in loops {
        l.await.unwrap();
    }
    let polled = m as f64 / started.elapsed().as_secs_f64();
    emu.shutdown().await;
    engine.close().await;
    (dispatched, dispatch_only, Some(polled))
}

/// A chain of `k` zero-duration tasks run once by a dispatcher; returns each step's
/// transition in ms (upstream's terminal status stored → downstream's submit sent), sorted.
async fn chain_steps(url: &str, k: usize) -> Vec<i64> {
    let quick = "# Databricks notebook source\n# emulator: duration=0s\nprint(1)\n";
    let (emu, _dir) = emulator(quick, FaultConfig::default()).await;
    let engine = engine_on(url, &emu).await.with_client_rate_limit(None);
    let mut file = String::from("tasks:\n  - name: step0\n    job: /Bench/work\n");
    for i in 1..k {
        file.push_str(&format!(
            "  - name: step{i}\n    job: /Bench/work\n    after: [step{}]\n",
            i - 1
        ));
    }
    engine
        .apply_tasks("chain.yaml", &file, ApplyMode::default())
        .await
        .unwrap();
    let mut events = engine.subscribe();
    let dag = engine
        .start_dag_run("step0", &[], "manual", None)
        .await
        .unwrap();
    let d = engine
        .dispatcher(DispatcherOptions {
            idle_tick: Duration::from_millis(5),
            track_interval: Duration::from_millis(5),
            ..DispatcherOptions::default()
        })
        .await
        .unwrap();
    let view = d.run_dag(&dag.id).await.unwrap();
    d.stop().await.unwrap();
    assert_eq!(view.status.as_str(), "Success", "{view:?}");
    // Task run id → (step, ended_at); run id → submit time.
    let mut ended = std::collections::HashMap::new();
    let mut sent = std::collections::HashMap::new();
    while let Ok(e) = events.try_recv() {
        match e {
            polysync_engine::Event::TaskRun { task_run } => {
                if let (Some(at), Some(step)) =
                    (task_run.ended_at, task_run.task.name.strip_prefix("step"))
                {
                    ended.insert(task_run.id.clone(), (step.parse::<usize>().unwrap(), at));
                }
            }
            polysync_engine::Event::Run { run } => {
                if let Some(at) = run.submit_attempted_at {
                    sent.entry(run.id.clone()).or_insert(at);
                }
            }
            polysync_engine::Event::DagRun { .. } => {}
        }
    }
    let mut end_of_step = vec![0_i64; k];
    let mut sent_of_step = vec![0_i64; k];
    for (tr, (step, at)) in &ended {
        end_of_step[*step] = *at;
        sent_of_step[*step] = sent[&format!("{tr}.1")];
    }
    emu.shutdown().await;
    engine.close().await;
    let mut steps: Vec<i64> = (1..k)
        .map(|i| sent_of_step[i] - end_of_step[i - 1])
        .collect();
    steps.sort_unstable();
    steps
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report_chain(backend: &str, steps: &[i64]) {
    println!(
        "   {backend:<11} median {:>4} ms   p99 {:>4} ms   max {:>4} ms   ({} steps)",
        percentile(steps, 0.5),
        percentile(steps, 0.99),
        steps.last().copied().unwrap_or(0),
        steps.len()
    );
}

fn wanted(n: u32) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| {
        only.split(',').any(|s| s.trim() == n.to_string())
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `BENCH_LOG=warn` (an env-filter): what the engine logs while measured (stderr).
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    if let Ok(url) = std::env::var("BENCH_RSS_CHILD") {
        rss_child(&url).await;
        return;
    }
    if wanted(1) || wanted(4) {
        requests_and_latency().await;
    }
    if wanted(3) {
        let t = env_usize("BENCH_TRACKED", 10_000);
        println!(
            "== 3. peak RSS of a dispatcher process tracking {t} active runs (target < 100 MB)"
        );
        println!("   {}", tracked_rss(t).await);
    }
    if wanted(2) {
        throughput_all().await;
    }
    if wanted(5) {
        dag_steps().await;
    }
}

async fn dag_steps() {
    let k = env_usize("BENCH_CHAIN", 100);
    println!(
        "== 5. DAG step transition: chain of {k} zero-duration tasks, upstream end stored → downstream submit sent"
    );
    if store_wanted("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite:{}", dir.path().join("chain.db").display());
        report_chain("SQLite", &chain_steps(&sqlite, k).await);
    }
    if let Ok(admin) = std::env::var(polysync_testkit::DATABASE_URL_VAR)
        && store_wanted("postgres")
    {
        let pg = polysync_testkit::TestDb::postgres(admin.trim()).await;
        report_chain("PostgreSQL", &chain_steps(pg.url(), k).await);
        pg.cleanup().await;
    }
}

async fn requests_and_latency() {
    let n = env_usize("BENCH_RUNS", 300);
    let secs = env_usize("BENCH_SECONDS", 20) as u64;
    println!(
        "== 1. requests per run: {n} concurrent runs of {secs} s, status within 5 s, published rate limits"
    );
    let (ours, ours_429, latencies) = dispatcher_requests(n, secs).await;
    println!("   polysync dispatcher     {ours:>6.2} requests/run  ({ours_429} x 429)");
    report_latency(latencies);
    if !wanted(1) {
        // BENCH_ONLY=4: Polysync's side alone, without the baselines.
        return;
    }
    let (appkit, appkit_429) = polling_requests(n, secs, false).await;
    let (sdk, sdk_429) = polling_requests(n, secs, true).await;
    println!(
        "   per-run 5 s polling     {appkit:>6.2} requests/run  ({appkit_429} x 429)  = {:.1}x polysync",
        appkit / ours
    );
    println!(
        "   SDK waiter 1→10 s       {sdk:>6.2} requests/run  ({sdk_429} x 429)  = {:.1}x polysync",
        sdk / ours
    );
}

fn report_latency(mut latencies: Vec<i64>) {
    let n = latencies.len();
    latencies.sort_unstable();
    let max = latencies.last().copied().unwrap_or(0);
    let (median, p99) = percentiles(latencies);
    println!(
        "== 4. detection latency (Databricks end_time → end stored), {n} runs: median {median} ms, p99 {p99} ms, max {max} ms (target p99 ≤ 5000 ms)"
    );
}

async fn throughput_all() {
    let m = env_usize("BENCH_TASKS", 1_000);
    println!("== 2. throughput: {m} zero-duration notebook tasks, submit → terminal");
    let report = |name: &str, (d, only, p): (f64, f64, Option<f64>)| match p {
        Some(p) => println!(
            "   {name:<11} dispatcher {d:>7.0} tasks/s ({only:.0}/s once started)   per-run start+poll {p:>7.0} runs/s   ratio {:.2}",
            d / p
        ),
        None => println!("   {name:<11} dispatcher {d:>7.0} tasks/s ({only:.0}/s once started)"),
    };
    if store_wanted("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite:{}", dir.path().join("tp.db").display());
        report("SQLite", throughput(&sqlite, m).await);
    }
    if let Ok(admin) = std::env::var(polysync_testkit::DATABASE_URL_VAR)
        && store_wanted("postgres")
    {
        let pg = polysync_testkit::TestDb::postgres(admin.trim()).await;
        report("PostgreSQL", throughput(pg.url(), m).await);
        pg.cleanup().await;
    }
}

/// `BENCH_STORES` (comma-separated `sqlite`, `postgres`; default both).
fn store_wanted(name: &str) -> bool {
    std::env::var("BENCH_STORES").map_or(true, |s| s.split(',').any(|x| x.trim() == name))
}
