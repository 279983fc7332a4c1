//! Throughput benchmark: how many requests per second the emulator answers, side by side with a
//! bare axum handler on the same runtime (the ratio is the figure that matters; absolute req/s
//! depend on the machine).
//!
//! `cargo bench -p polysync-emulator --bench throughput`
//!
//! The emulator runs in-process on 127.0.0.1:0 with its normal configuration (faults and rate
//! limits off, request log on). The load generator is a minimal HTTP/1.1 keep-alive client over
//! `tokio::net::TcpStream`: each connection sends one request, reads the response (status line +
//! `Content-Length`), and repeats until the scenario's deadline, so it costs little more than two
//! syscalls per request. Knobs (environment): `EMU_BENCH_CONNS` (default 32), `EMU_BENCH_SECS`
//! (measured seconds per scenario, default 3), `EMU_BENCH_WARMUP_MS` (default 500),
//! `EMU_BENCH_ONLY` (comma-separated substrings: run only the scenarios whose name contains one,
//! e.g. `baseline,runs/get`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = polysync_emulator::DEFAULT_TOKEN;

/// Pre-created runs that `runs/get` connections spread over.
const PRECREATED_RUNS: usize = 1_000;

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 client

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    consumed: usize,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            consumed: 0,
        }
    }

    /// Send one request and read one response; returns the status and the body's byte range
    /// in `self.buf` (valid until the next call).
    async fn roundtrip(&mut self, req: &[u8]) -> (u16, std::ops::Range<usize>) {
        self.stream.write_all(req).await.unwrap();
        if self.consumed > 0 {
            self.buf.drain(..self.consumed);
            self.consumed = 0;
        }
        loop {
            if let Some(head_end) = find(&self.buf, b"\r\n\r\n") {
                let head_end = head_end + 4;
                let (status, len) = parse_head(&self.buf[..head_end]);
                let total = head_end + len;
                while self.buf.len() < total {
                    self.read_more().await;
                }
                self.consumed = total;
                return (status, head_end..total);
            }
            self.read_more().await;
        }
    }

    async fn read_more(&mut self) {
        self.buf.reserve(8 * 1024);
        let n = self.stream.read_buf(&mut self.buf).await.unwrap();
        assert!(n > 0, "server closed the connection");
    }

    /// Convenience for setup: send a request and return (status, body as text).
    async fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let req = request(method, path, body);
        let (status, range) = self.roundtrip(&req).await;
        (
            status,
            String::from_utf8_lossy(&self.buf[range]).into_owned(),
        )
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> (u16, usize) {
    let text = std::str::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let len = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse().unwrap())
        .expect("responses must carry Content-Length");
    (status, len)
}

fn request(method: &str, path: &str, body: Option<&str>) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nUser-Agent: polysync-bench\r\nAccept: application/json\r\n"
    );
    match body {
        Some(b) => {
            r.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        }
        None => r.push_str("\r\n"),
    }
    r.into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Load generation

/// What each connection sends: a fixed request, or one built per request (index → bytes).
#[derive(Clone)]
enum Load {
    /// One fixed request per connection (connection index → bytes).
    PerConn(Arc<Vec<Vec<u8>>>),
    /// A fresh request each time (global sequence number → bytes).
    Fresh(Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>),
}

struct Outcome {
    name: String,
    requests: u64,
    errors: u64,
    secs: f64,
    lat_us: Vec<u32>,
    /// Process CPU time over the measured window, in % of one core (Linux only).
    cpu_pct: Option<f64>,
}

impl Outcome {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }
    fn pct(&self, p: f64) -> f64 {
        if self.lat_us.is_empty() {
            return 0.0;
        }
        let i = ((self.lat_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.lat_us[i]) / 1000.0
    }
}

struct Knobs {
    conns: usize,
    measure: Duration,
    warmup: Duration,
    only: Option<String>,
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn drive(name: &str, addr: SocketAddr, load: Load, k: &Knobs) -> Option<Outcome> {
    if !k
        .only
        .as_ref()
        .is_none_or(|f| f.split(',').any(|f| name.contains(f)))
    {
        return None;
    }
    let start = Instant::now();
    let measure_from = start + k.warmup;
    let deadline = measure_from + k.measure;
    let seq = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(k.conns);
    for c in 0..k.conns {
        let load = load.clone();
        let seq = seq.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(addr).await;
            let mut lat = Vec::with_capacity(1 << 16);
            let (mut ok, mut err) = (0u64, 0u64);
            let fixed = match &load {
                Load::PerConn(reqs) => Some(reqs[c % reqs.len()].clone()),
                Load::Fresh(_) => None,
            };
            loop {
                let t0 = Instant::now();
                if t0 >= deadline {
                    break;
                }
                let status = match (&fixed, &load) {
                    (Some(req), _) => conn.roundtrip(req).await.0,
                    (None, Load::Fresh(f)) => {
                        let n = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        conn.roundtrip(&f(n)).await.0
                    }
                    (None, Load::PerConn(_)) => unreachable!(),
                };
                let t1 = Instant::now();
                if t0 >= measure_from && t1 <= deadline {
                    if status == 200 {
                        ok += 1;
                    } else {
                        err += 1;
                    }
                    lat.push(u32::try_from((t1 - t0).as_micros()).unwrap_or(u32::MAX));
                }
            }
            (ok, err, lat)
        }));
    }
    let cpu_start = async move {
        tokio::time::sleep_until(measure_from.into()).await;
        cpu_ticks()
    };
    let cpu_end = async move {
        tokio::time::sleep_until(deadline.into()).await;
        cpu_ticks()
    };
    let cpu = tokio::spawn(async move { (cpu_start.await, cpu_end.await) });
    let mut out = Outcome {
        name: name.to_owned(),
        requests: 0,
        errors: 0,
        secs: k.measure.as_secs_f64(),
        lat_us: Vec::new(),
        cpu_pct: None,
    };
    for t in tasks {
        let (ok, err, lat) = t.await.unwrap();
        out.requests += ok;
        out.errors += err;
        out.lat_us.extend(lat);
    }
    out.lat_us.sort_unstable();
    if let (Some(a), Some(b)) = cpu.await.unwrap() {
        out.cpu_pct = Some((b - a) as f64 / 100.0 / out.secs * 100.0);
    }
    eprintln!(
        "  {name}: {:.0} req/s ({} requests, {} errors)",
        out.rps(),
        out.requests,
        out.errors
    );
    Some(out)
}

/// utime + stime of this process in clock ticks (USER_HZ = 100 on Linux).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

// ---------------------------------------------------------------------------------------------
// Servers

/// A bare axum server: one trivial handler returning a fixed small JSON body.
async fn start_baseline() -> SocketAddr {
    use axum::serve::ListenerExt;
    let app = axum::Router::new().route(
        "/api/2.1/jobs/runs/get",
        axum::routing::get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                r#"{"run_id":1,"state":{"life_cycle_state":"RUNNING"}}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn submit_body(token: Option<&str>) -> String {
    let idem = token
        .map(|t| format!(r#","idempotency_token":"{t}""#))
        .unwrap_or_default();
    format!(
        r#"{{"run_name":"bench","tasks":[{{"task_key":"main","existing_cluster_id":"0101-000000-bench000","notebook_task":{{"notebook_path":"/Shared/bench/nb0","base_parameters":{{"day":"2024-01-01"}}}}}}]{idem}}}"#
    )
}

fn run_id_of(body: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["run_id"].as_i64().unwrap()
}

async fn setup_emulator(addr: SocketAddr) -> Vec<i64> {
    let mut c = Conn::connect(addr).await;
    let (st, _) = c
        .call(
            "POST",
            "/api/2.0/workspace/mkdirs",
            Some(r#"{"path":"/Shared/bench"}"#),
        )
        .await;
    assert_eq!(st, 200);
    let src = base64::engine::general_purpose::STANDARD
        .encode("# Databricks notebook source\n# emulator: duration=5s\nprint('hello')\n");
    for i in 0..10 {
        let body = format!(
            r#"{{"path":"/Shared/bench/nb{i}","format":"SOURCE","language":"PYTHON","content":"{src}","overwrite":true}}"#
        );
        let (st, text) = c
            .call("POST", "/api/2.0/workspace/import", Some(&body))
            .await;
        assert_eq!(st, 200, "{text}");
    }
    let mut ids = Vec::with_capacity(PRECREATED_RUNS);
    let body = submit_body(None);
    for _ in 0..PRECREATED_RUNS {
        let (st, text) = c
            .call("POST", "/api/2.1/jobs/runs/submit", Some(&body))
            .await;
        assert_eq!(st, 200, "{text}");
        ids.push(run_id_of(&text));
    }
    // Sanity: the request shapes used below answer 200.
    let (st, text) = c
        .call(
            "GET",
            &format!("/api/2.1/jobs/runs/get?run_id={}", ids[0]),
            None,
        )
        .await;
    assert_eq!(st, 200, "{text}");
    ids
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let k = Knobs {
        conns: env_u64("EMU_BENCH_CONNS", 32) as usize,
        measure: Duration::from_secs(env_u64("EMU_BENCH_SECS", 3)),
        warmup: Duration::from_millis(env_u64("EMU_BENCH_WARMUP_MS", 500)),
        only: std::env::var("EMU_BENCH_ONLY").ok(),
    };
    // Same runtime shape as `#[tokio::main]` on this machine (one worker per core); the
    // emulator, the baseline server and the load generator all share it.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    rt.block_on(async move {
        let emu = polysync_emulator::start(polysync_emulator::EmulatorConfig::default())
            .await
            .unwrap();
        let addr = emu.addr();
        let base = start_baseline().await;
        let ids = setup_emulator(addr).await;
        eprintln!(
            "throughput bench: {} connections, {:?} measured (+{:?} warm-up) per scenario, {cores} cores, {} pre-created runs",
            k.conns, k.measure, k.warmup, ids.len()
        );

        let per_conn = |f: &dyn Fn(usize) -> Vec<u8>| {
            Load::PerConn(Arc::new((0..k.conns).map(f).collect()))
        };
        let mut results = Vec::new();
        let base_req = request("GET", "/api/2.1/jobs/runs/get?run_id=1", None);
        results.extend(
            drive(
                "baseline: bare axum handler (before)",
                base,
                per_conn(&|_| base_req.clone()),
                &k,
            )
            .await,
        );
        results.extend(
            drive(
                "GET jobs/runs/get (2.1)",
                addr,
                per_conn(&|c| {
                    let id = ids[(c * 31) % ids.len()];
                    request("GET", &format!("/api/2.1/jobs/runs/get?run_id={id}"), None)
                }),
                &k,
            )
            .await,
        );
        results.extend(
            drive(
                "GET jobs/runs/list (2.1, limit 25)",
                addr,
                per_conn(&|_| request("GET", "/api/2.1/jobs/runs/list?limit=25", None)),
                &k,
            )
            .await,
        );
        results.extend(
            drive(
                "GET workspace/list (10 objects)",
                addr,
                per_conn(&|_| request("GET", "/api/2.0/workspace/list?path=/Shared/bench", None)),
                &k,
            )
            .await,
        );
        let body = submit_body(None);
        results.extend(
            drive(
                "POST jobs/runs/submit (notebook, existing cluster)",
                addr,
                per_conn(&|_| request("POST", "/api/2.1/jobs/runs/submit", Some(&body))),
                &k,
            )
            .await,
        );
        results.extend(
            drive(
                "POST jobs/runs/submit + unique idempotency_token",
                addr,
                Load::Fresh(Arc::new(|n| {
                    let body = submit_body(Some(&format!("bench-{n}")));
                    request("POST", "/api/2.1/jobs/runs/submit", Some(&body))
                })),
                &k,
            )
            .await,
        );
        let retry = submit_body(Some("bench-retry"));
        results.extend(
            drive(
                "POST jobs/runs/submit, repeated idempotency_token",
                addr,
                per_conn(&|_| request("POST", "/api/2.1/jobs/runs/submit", Some(&retry))),
                &k,
            )
            .await,
        );
        results.extend(
            drive(
                "baseline: bare axum handler (after)",
                base,
                per_conn(&|_| base_req.clone()),
                &k,
            )
            .await,
        );

        let stats = emu.stats();
        let bases: Vec<f64> = results
            .iter()
            .filter(|o| o.name.starts_with("baseline"))
            .map(Outcome::rps)
            .collect();
        let baseline = bases.iter().sum::<f64>() / bases.len().max(1) as f64;
        println!();
        println!(
            "| endpoint | requests | seconds | req/s | × bare axum | p50 ms | p99 ms | CPU % |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for o in &results {
            println!(
                "| {} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                o.name,
                o.requests,
                o.secs,
                o.rps(),
                o.rps() / baseline,
                o.pct(0.50),
                o.pct(0.99),
                o.cpu_pct.map_or("-".to_owned(), |c| format!("{c:.0}"))
            );
        }
        println!();
        println!(
            "{} connections, {cores} cores; bare axum = mean of before/after = {baseline:.0} req/s; runs in the emulator at the end: {}",
            k.conns, stats.runs_created
        );
        let errors: u64 = results.iter().map(|o| o.errors).sum();
        emu.shutdown().await;
        if errors > 0 {
            eprintln!("{errors} non-200 responses");
            std::process::exit(1);
        }
    });
}
