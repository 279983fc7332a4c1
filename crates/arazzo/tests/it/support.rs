use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use polysync_arazzo::http::{SendFuture, Sender};
use polysync_arazzo::{Bundle, HttpRequest, HttpResponse, Mode, RunOptions, RunReport};
use serde_json::{Map, Value, json};

/// Scripted in-process HTTP server stand-in.
pub struct Fake {
    handler: Box<dyn Fn(&HttpRequest, usize) -> HttpResponse + Send + Sync>,
    pub log: Mutex<Vec<(Instant, HttpRequest)>>,
}

impl Fake {
    pub fn new(f: impl Fn(&HttpRequest, usize) -> HttpResponse + Send + Sync + 'static) -> Self {
        Self {
            handler: Box::new(f),
            log: Mutex::new(vec![]),
        }
    }
    pub fn paths(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| format!("{} {}", r.method, url::Url::parse(&r.url).unwrap().path()))
            .collect()
    }
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }
}

impl Sender for Fake {
    fn send<'a>(&'a self, req: &'a HttpRequest) -> SendFuture<'a> {
        Box::pin(async move {
            let n = {
                let mut l = self.log.lock().unwrap();
                l.push((Instant::now(), req.clone()));
                l.len() - 1
            };
            Ok((self.handler)(req, n))
        })
    }
}

pub fn resp(status: u16, body: Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![],
        body,
    }
}

pub fn body(req: &HttpRequest) -> Value {
    req.body
        .as_deref()
        .map(|b| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null)
}

pub fn query(req: &HttpRequest, k: &str) -> Option<String> {
    req.query
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
}

/// A small OpenAPI for tests.
pub const PETS_OPENAPI: &str = r#"
openapi: 3.1.0
info: {title: pets, version: "1"}
servers: [{url: "http://pets.test/v1"}]
paths:
  /pets:
    get: {operationId: listPets, parameters: [{name: limit, in: query}]}
    post:
      operationId: addPet
      requestBody: {content: {application/json: {}}}
  /pets/{petId}:
    get: {operationId: getPet, parameters: [{name: petId, in: path}]}
    delete: {operationId: deletePet}
  /login:
    post:
      operationId: login
      requestBody: {content: {application/x-www-form-urlencoded: {}}}
"#;

/// Loads an Arazzo document with the pets OpenAPI beside it.
pub async fn pets_bundle(arazzo: &str) -> (tempfile::TempDir, Bundle) {
    let d =
        polysync_testkit::write_files(&[("pets.yml", PETS_OPENAPI), ("flow.arazzo.yml", arazzo)]);
    let b = polysync_arazzo::load(d.path().join("flow.arazzo.yml").to_str().unwrap())
        .await
        .unwrap();
    (d, b)
}

pub fn fast() -> RunOptions {
    RunOptions {
        min_revisit_delay: std::time::Duration::from_millis(5),
        ..Default::default()
    }
}

pub fn strict() -> RunOptions {
    RunOptions {
        mode: Mode::Strict,
        ..fast()
    }
}

pub async fn run_with(
    b: &Bundle,
    wf: Option<&str>,
    inputs: Value,
    opts: RunOptions,
    s: &Fake,
) -> RunReport {
    let m: Map<String, Value> = inputs.as_object().cloned().unwrap_or_default();
    polysync_arazzo::run(b, wf, m, &[], opts, s).await.unwrap()
}

/// Header for docs using the pets API.
pub fn doc(workflows: &str) -> String {
    format!(
        "arazzo: 1.0.1\ninfo: {{title: t, version: '1'}}\nsourceDescriptions:\n- {{name: pets, url: ./pets.yml, type: openapi}}\n{workflows}"
    )
}

pub fn shared_corpus() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/third-party/api-evangelist-azure-databricks");
    assert!(
        p.join("arazzo").is_dir(),
        "the third-party corpus is missing at {} (CI needs ../shared beside the repo)",
        p.display()
    );
    p
}

/// A scripted Databricks jobs API: runs go PENDING → RUNNING → TERMINATED(result).
pub fn fake_databricks(result: &'static str, exit_value: &'static str) -> Fake {
    let polls = Mutex::new(0u32);
    Fake::new(move |req, _| {
        let path = url::Url::parse(&req.url).unwrap().path().to_string();
        assert_eq!(
            req.header("authorization"),
            Some("Bearer tok-123"),
            "{path}"
        );
        if path.ends_with("/2.1/jobs/create") {
            assert!(body(req)["tasks"][0]["notebook_task"]["notebook_path"].is_string());
            resp(200, json!({"job_id": 42}))
        } else if path.ends_with("/2.1/jobs/run-now") {
            assert_eq!(
                body(req)["job_id"],
                json!(42),
                "job_id keeps its integer type"
            );
            resp(200, json!({"run_id": 7, "number_in_job": 1}))
        } else if path.ends_with("/2.1/jobs/runs/get") {
            assert_eq!(query(req, "run_id").as_deref(), Some("7"));
            let mut n = polls.lock().unwrap();
            *n += 1;
            match *n {
                1 => resp(
                    200,
                    json!({"run_id": 7, "state": {"life_cycle_state": "PENDING"}}),
                ),
                2 => resp(
                    200,
                    json!({"run_id": 7, "state": {"life_cycle_state": "RUNNING"}}),
                ),
                _ => resp(
                    200,
                    json!({"run_id": 7, "state": {"life_cycle_state": "TERMINATED", "result_state": result}}),
                ),
            }
        } else if path.ends_with("/2.1/jobs/runs/get-output") {
            resp(
                200,
                json!({"notebook_output": {"result": exit_value, "truncated": false}}),
            )
        } else {
            resp(404, json!({"error_code": "ENDPOINT_NOT_FOUND"}))
        }
    })
}

pub const SEED_INPUTS: &str = r#"{"token": "tok-123", "jobName": "j", "taskKey": "t", "notebookPath": "/Users/me/ok", "existingClusterId": "c-1"}"#;
