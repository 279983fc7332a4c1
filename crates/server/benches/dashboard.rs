//! Dashboard render benchmark: each page served by `polysync_server::serve`
//! over a SQLite store holding 10,000 runs, side by side with a baseline —
//! a bare axum handler returning the very same bytes — fetched by the same
//! client in alternation. The difference of the medians is the server's
//! render time (engine reads + HTML); the target is under 50 ms per page.
//!
//! `cargo bench -p polysync-server --bench dashboard` — knobs (environment):
//! `BENCH_RUNS` (runs in the store, default 10000), `BENCH_ROUNDS` (requests
//! per page and per baseline, default 40).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use polysync_engine::{ApplyMode, Auth, Engine, Job, JobType, Parameter, Platform, Run, RunStatus};
use polysync_server::{ServerOptions, serve};
use tokio_util::sync::CancellationToken;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fills the store: one platform, 20 jobs, `runs` ended runs spread over
/// the last 10 days (a quarter failed), a three-task DAG and one DAG run.
async fn seed(url: &str, runs: usize) -> (String, String) {
    let store = polysync_store::Store::open(url).await.expect("store");
    let engine = Engine::from_store(store.clone());
    engine
        .add_platform(Platform::new(
            "bench",
            "https://bench.example.cloud.databricks.com",
            Auth::TokenEnv {
                var: "POLYSYNC_BENCH_UNSET".into(),
            },
        ))
        .await
        .expect("platform");
    let mut jobs = Vec::new();
    for i in 0..20 {
        let mut job = Job::new(
            format!("/Bench/notebook_{i:02}"),
            JobType::DatabricksNotebook,
            format!("/Bench/notebook_{i:02}"),
            "bench",
        );
        job.parameters = vec![
            Parameter::input("run_date", Some("2026-01-01".into())),
            Parameter::input("region", Some("EMEA".into())),
        ];
        jobs.push(engine.add_job(job).await.expect("job"));
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let span = 10 * 24 * 3_600_000_i64;
    let mut tx = store.begin().await.expect("tx");
    let mut last = String::new();
    for i in 0..runs {
        let job = &jobs[i % jobs.len()];
        let created = now - span + span * i as i64 / runs.max(1) as i64;
        let mut run = Run::new(job, format!("bench-run-{i:06}"), created);
        run.status = if i % 4 == 0 {
            RunStatus::Failed
        } else {
            RunStatus::Success
        };
        run.databricks_run_id = Some(format!("{}", 900_000 + i));
        run.parameters
            .insert("run_date".into(), "2026-01-01".into());
        run.started_at = Some(created + 1_000);
        run.ended_at = Some(created + 60_000);
        run.updated_at = created + 60_000;
        if run.status == RunStatus::Failed {
            run.error_message = Some("Division by zero".into());
        }
        let saved = tx.insert_run(&run).await.expect("insert run");
        last = saved.id;
    }
    tx.commit().await.expect("commit");
    let file = format!(
        "tasks:\n  - name: extract\n    job: \"bench:{a}\"\n  - name: publish\n    job: \"bench:{b}\"\n    after: [extract]\n  - name: alert\n    job: \"bench:{b}\"\n    after: [{{ task: extract, on: failure }}]\n    schedule: {{ cron: \"0 6 * * 1-5\", timezone: Europe/Amsterdam }}\n",
        a = jobs[0].external_id,
        b = jobs[1].external_id
    );
    engine
        .apply_tasks("bench.yaml", &file, ApplyMode::default())
        .await
        .expect("tasks");
    let dag = engine
        .start_dag_run("extract", &[], "bench", None)
        .await
        .expect("dag run");
    engine.close().await;
    (last, dag.id)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn get(http: &reqwest::Client, url: &str) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    let r = http.get(url).send().await.expect("get");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    let body = r.bytes().await.expect("body").to_vec();
    (t.elapsed(), body)
}

fn main() {
    let runs = env_usize("BENCH_RUNS", 10_000);
    let rounds = env_usize("BENCH_ROUNDS", 40);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("bench.db").display().to_string();
        let seeded = Instant::now();
        let (run_id, dag_id) = seed(&db, runs).await;
        eprintln!("seeded {runs} runs in {:.1} s", seeded.elapsed().as_secs_f64());

        let engine = Engine::open(&db).await.expect("engine");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, engine.clone(), ServerOptions::default(), stop.clone()));
        let http = reqwest::Client::new();

        let pages = [
            "/".to_owned(),
            "/jobs".to_owned(),
            "/jobs/bench:/Bench/notebook_00".to_owned(),
            "/runs".to_owned(),
            "/runs?period=today&status=Success".to_owned(),
            format!("/runs/{run_id}"),
            "/tasks".to_owned(),
            "/dag-runs".to_owned(),
            format!("/dag-runs/{dag_id}"),
            "/platforms".to_owned(),
        ];
        println!(
            "Dashboard render, {runs} runs in a SQLite store, median of {rounds} requests each (same client, alternating):"
        );
        println!(
            "| page | bytes | page median ms | bare-axum baseline ms (same bytes) | render ms (difference) | ratio |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for path in &pages {
            let (_, body) = get(&http, &format!("{url}{path}")).await;
            // The baseline: the same bytes from a bare axum handler.
            let bytes = body.clone();
            let app = axum::Router::new().route(
                "/",
                axum::routing::get(move || {
                    let b = bytes.clone();
                    async move {
                        (
                            [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                            b,
                        )
                    }
                }),
            );
            let bl = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let base = format!("http://{}/", bl.local_addr().expect("addr"));
            let baseline = tokio::spawn(async move { axum::serve(bl, app).await });
            let mut page_t = Vec::with_capacity(rounds);
            let mut base_t = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                page_t.push(get(&http, &format!("{url}{path}")).await.0);
                base_t.push(get(&http, &base).await.0);
            }
            baseline.abort();
            let (p, b) = (median(page_t), median(base_t));
            println!(
                "| `{path}` | {} | {:.2} | {:.2} | {:.2} | {:.1}× |",
                body.len(),
                ms(p),
                ms(b),
                ms(p.saturating_sub(b)),
                ms(p) / ms(b).max(0.001)
            );
        }
        stop.cancel();
        let _ = server.await;
        engine.close().await;
    });
}
