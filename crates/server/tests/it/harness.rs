//! Per test: the emulator (random port) with a few jobs whose runs take
//! known simulated times, a store on the testkit's database, an engine with
//! the emulator as platform `emu` (imported), and the server on a random
//! loopback port.

use std::sync::Arc;
use std::time::Duration;

use polysync_emulator::{EmulatorHandle, LoggedRequest};
use polysync_engine::{Auth, DispatcherOptions, Engine, NoProgress, Platform, TrackingRole};
use polysync_server::{ServerOptions, load_server_config, serve};
use polysync_testkit::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The platform's own token (the service principal).
pub const SP_TOKEN: &str = "dapi-server-sp-7c1e";
/// A signed-in user's token, as Databricks Apps forward it.
pub const USER_TOKEN: &str = "dapi-server-user-93ab";
/// The variable holding the platform's token in the engines' injected environment.
pub const TOKEN_VAR: &str = "POLYSYNC_SERVER_IT_TOKEN";
/// Simulated seconds per real second.
const TIME_SCALE: f64 = 20.0;

/// Databricks job ids of the seeded jobs.
#[derive(Debug, Clone, Copy)]
pub struct Jobs {
    /// Runs 20 simulated s (about 1 s).
    pub etl: i64,
    /// Runs an hour: only ends when cancelled.
    pub long: i64,
}

pub struct Env {
    pub emu: EmulatorHandle,
    pub engine: Engine,
    pub jobs: Jobs,
    pub http: reqwest::Client,
    servers: Vec<CancellationToken>,
}

async fn create_job(
    http: &reqwest::Client,
    emu: &EmulatorHandle,
    name: &str,
    directive: &str,
) -> i64 {
    let body = json!({
        "name": name,
        "parameters": [{"name": "a", "default": "0"}],
        "tasks": [{"task_key": "main", "description": directive,
                   "spark_python_task": {"python_file": "dbfs:/x.py", "parameters": ["a"]}}],
    });
    create_job_from(http, emu, &body).await
}

/// Creates a Databricks job with the `jobs/create` body `body` in the
/// emulator, as the platform's service principal; its job id.
pub async fn create_job_from(http: &reqwest::Client, emu: &EmulatorHandle, body: &Value) -> i64 {
    let v: Value = http
        .post(format!("{}/api/2.1/jobs/create", emu.url()))
        .bearer_auth(SP_TOKEN)
        .json(body)
        .send()
        .await
        .expect("jobs/create")
        .json()
        .await
        .expect("json");
    v["job_id"].as_i64().expect("job_id")
}

impl Env {
    pub async fn new(db: &TestDb) -> Env {
        let emu = polysync_testkit::start_emulator(SP_TOKEN, |c| {
            c.tokens.push(USER_TOKEN.to_owned());
            c.time_scale = TIME_SCALE;
        })
        .await;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let jobs = Jobs {
            etl: create_job(&http, &emu, "etl-job", "emulator: pending=4s duration=16s").await,
            long: create_job(&http, &emu, "long-job", "emulator: duration=2h").await,
        };
        let store = polysync_store::Store::open(db.url()).await.expect("store");
        let engine = Engine::from_store(store).with_env(Arc::new(|k: &str| {
            (k == TOKEN_VAR).then(|| SP_TOKEN.to_owned())
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
        Env {
            emu,
            engine,
            jobs,
            http,
            servers: Vec::new(),
        }
    }

    /// The environment of the seed's multi-job mode for the seeded jobs.
    pub fn job_env(&self) -> Vec<(String, String)> {
        vec![
            ("DATABRICKS_JOB_ETL".into(), self.jobs.etl.to_string()),
            ("DATABRICKS_JOB_LONG".into(), self.jobs.long.to_string()),
            ("PATH".into(), "/usr/bin".into()),
        ]
    }

    /// [`Env::server`] without a tracking loop of its own (it leaves
    /// tracking to a dispatcher that, here, does not exist): for tests
    /// that count the Databricks calls a request itself makes, which a
    /// tracking round (its first one runs at start-up, late on a loaded
    /// machine) would add to.
    pub async fn server_untracked(&mut self, env: Vec<(String, String)>, toml: &str) -> String {
        let engine = self.engine.clone();
        let none = TrackingRole::Dispatcher {
            id: "no-dispatcher".to_owned(),
        };
        self.server_with(engine, env, toml, Duration::from_secs(3600), none)
            .await
    }

    /// Starts a server with `env` and the config `toml`; returns its URL.
    pub async fn server(
        &mut self,
        env: Vec<(String, String)>,
        toml: &str,
        track_every: Duration,
    ) -> String {
        let engine = self.engine.clone();
        self.server_with(
            engine,
            env,
            toml,
            track_every,
            polysync_server::own_tracking(),
        )
        .await
    }

    /// [`Env::server`] on `engine` (another process's engine on the same
    /// store, say) with the tracking role `tracking`.
    pub async fn server_with(
        &mut self,
        engine: Engine,
        env: Vec<(String, String)>,
        toml: &str,
        track_every: Duration,
        tracking: TrackingRole,
    ) -> String {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("polysync.toml");
        std::fs::write(&path, toml).expect("config");
        let config = load_server_config(env, Some(&path)).expect("config");
        let mut tiers = config.tiers;
        tiers.poll = track_every;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let opts = ServerOptions {
            keys: config.keys,
            tiers,
            tracking,
            ..ServerOptions::default()
        };
        tokio::spawn(serve(listener, engine, opts, shutdown.clone()));
        self.servers.push(shutdown);
        url
    }

    /// Starts a dispatcher on this test's engine, ticking and tracking every `every`, as
    /// `polysync up` runs one beside its server: give [`Dispatching::role`] to
    /// [`Env::server_with`] so the server leaves tracking to it.
    pub async fn dispatcher(&self, every: Duration) -> Dispatching {
        let dispatcher = self
            .engine
            .dispatcher(DispatcherOptions {
                idle_tick: every,
                track_interval: every,
                ..DispatcherOptions::default()
            })
            .await
            .expect("dispatcher");
        let role = TrackingRole::Dispatcher {
            id: dispatcher.id().to_owned(),
        };
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            dispatcher
                .run_until(async move { stopped.cancelled().await })
                .await
        });
        Dispatching { role, stop, task }
    }

    /// A second engine on this test's store, as another process has: its
    /// own clients, tracker state and event channel.
    pub async fn other_engine(&self, db: &TestDb) -> Engine {
        let store = polysync_store::Store::open(db.url()).await.expect("store");
        Engine::from_store(store).with_env(Arc::new(|k: &str| {
            (k == TOKEN_VAR).then(|| SP_TOKEN.to_owned())
        }))
    }

    /// The emulator's requests to `endpoint` (`POST jobs/run-now`).
    pub fn calls(&self, endpoint: &str) -> Vec<LoggedRequest> {
        self.emu
            .requests()
            .into_iter()
            .filter(|r| r.endpoint.ends_with(endpoint))
            .collect()
    }

    /// The run as the emulator has it.
    pub async fn upstream_run(&self, run_id: i64) -> Value {
        self.http
            .get(format!(
                "{}/api/2.1/jobs/runs/get?run_id={run_id}",
                self.emu.url()
            ))
            .bearer_auth(SP_TOKEN)
            .send()
            .await
            .expect("runs/get")
            .json()
            .await
            .expect("json")
    }

    /// Shuts the servers down (their live streams end).
    pub fn stop_servers(&self) {
        for s in &self.servers {
            s.cancel();
        }
    }

    pub async fn stop(self) {
        for s in &self.servers {
            s.cancel();
        }
        self.engine.close().await;
        self.emu.shutdown().await;
    }
}

/// A dispatcher running in the test (see [`Env::dispatcher`]).
pub struct Dispatching {
    /// The tracking role of a server beside it.
    pub role: TrackingRole,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<polysync_engine::Result<()>>,
}

impl Dispatching {
    /// Stops it; it must end without error.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("join").expect("dispatcher");
    }
}

/// The config the tests use: `etl` validated and mapped as a notebook,
/// `long` plain, `obo` on behalf of the user.
pub fn config(jobs: Jobs) -> String {
    format!(
        r#"
[jobs.etl]
task_type = "notebook"
params = {{ type = "object", properties = {{ startDate = {{ type = "string", format = "date" }}, n = {{ type = "number" }} }}, required = ["startDate"], additionalProperties = false }}

[jobs.long]
wait_timeout = "1h"

[jobs.obo]
job = "emu:{long}"
on_behalf_of_user = true
"#,
        long = jobs.long
    )
}

/// One SSE event as received.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Value,
}

/// Longest [`read_sse`] reads one stream: a stream that never ends fails
/// its test instead of hanging the suite (heartbeats keep it from going
/// silent).
const SSE_MOST: Duration = Duration::from_secs(300);

/// Reads an SSE response: events as they come, until `stop` says so or the
/// stream ends. Heartbeat comments are counted separately.
pub async fn read_sse(
    resp: reqwest::Response,
    mut stop: impl FnMut(&SseEvent) -> bool,
) -> Vec<SseEvent> {
    use futures_util::StreamExt;
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + SSE_MOST;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let Some(chunk) = next.unwrap_or_else(|_| {
            panic!("the stream did not end within {SSE_MOST:?}; events so far: {out:?}")
        }) else {
            break;
        };
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut ev = SseEvent::default();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    ev.id = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("event:") {
                    ev.event = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if data.is_empty() {
                continue; // a comment (heartbeat)
            }
            ev.data = serde_json::from_str(&data).expect("event data is JSON");
            let done = stop(&ev);
            out.push(ev);
            if done {
                return out;
            }
        }
    }
    out
}

/// `POST {url}/api/jobs/{key}/run?stream=true` with `body`, expecting 200: every event of the
/// stream, read to its end (the run's last change).
pub async fn stream_run(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
) -> Vec<SseEvent> {
    let resp = http
        .post(format!("{url}/api/jobs/{key}/run?stream=true"))
        .json(body)
        .send()
        .await
        .expect("run");
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "POST /api/jobs/{key}/run?stream=true"
    );
    read_sse(resp, |_| false).await
}

/// Polls `GET url` until `done` holds (bounded by a generous count, not a
/// timed assertion).
pub async fn poll_until(
    http: &reqwest::Client,
    url: &str,
    mut done: impl FnMut(&Value) -> bool,
) -> Value {
    for _ in 0..3000 {
        let v: Value = http
            .get(url)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{url} never reached the expected state");
}

/// The server under test as a client sees it: each call is one request
/// with its status checked and its JSON body returned — the request /
/// assert block the tests of every route used to repeat.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    /// A client of the server at `url`.
    pub fn new(http: &reqwest::Client, url: &str) -> Api {
        Api {
            http: http.clone(),
            url: url.to_owned(),
        }
    }

    /// `method path`, with `body` as JSON when given: the response as is.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `method path` (with `body`), asserting the answer is `want`; its
    /// JSON body (`null` when empty or not JSON).
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        want: StatusCode,
    ) -> Value {
        let r = self.send(method.clone(), path, body).await;
        let status = r.status();
        let text = r.text().await.expect("body");
        assert_eq!(status, want, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// `GET path`, expecting 200: its JSON.
    pub async fn get(&self, path: &str) -> Value {
        self.expect(Method::GET, path, None, StatusCode::OK).await
    }

    /// `POST path` with `body`, expecting 200: its JSON.
    pub async fn post(&self, path: &str, body: Option<&Value>) -> Value {
        self.expect(Method::POST, path, body, StatusCode::OK).await
    }

    /// The status `method path` answers.
    pub async fn status(&self, method: Method, path: &str) -> StatusCode {
        self.send(method, path, None).await.status()
    }
}

/// The JSON pointers of a 400's `violations`, each with a non-empty reason.
pub fn violation_pointers(body: &Value) -> Vec<String> {
    body["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("no violations in {body}"))
        .iter()
        .map(|v| {
            assert!(
                v["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "a violation without reason: {body}"
            );
            v["pointer"].as_str().expect("pointer").to_owned()
        })
        .collect()
}
