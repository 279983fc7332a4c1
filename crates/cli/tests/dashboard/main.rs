//! The web dashboard in a real headless chromium (Debian's `chromium` +
//! `chromedriver`, installed by scripts/test.sh) against `polysync up` on a
//! random port, exactly as a user starts it: the overview with the
//! dispatcher's health; a notebook job run from its form with a parameter
//! turning Success without a reload; a validation error next to its field;
//! a DAG run started from Tasks whose graph turns green; a long run
//! cancelled from its page; a platform added and an import followed from
//! the browser. Screenshots of each page go to docs/screenshots/.

#[path = "../support/mod.rs"]
mod support;
mod webdriver;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::up::Up;
use webdriver::Browser;

fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    dir
}

async fn shot(b: &Browser, name: &str) {
    let png = b.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// The demo notebook the form scenario runs (about 1.5 s at up's time scale).
const NOTEBOOK: &str = "/Demo/sales_report";
const NOTEBOOK_REF: &str = "demo:/Demo/sales_report";

/// A small DAG on the demo workspace: publish after extract succeeds,
/// alert after it fails (skipped on success), alert also scheduled.
const TASKS: &str = r#"tasks:
  - name: extract
    job: demo:/Demo/sales_report
    params: { region: APAC }
  - name: publish
    job: "demo:Demo: daily KPIs"
    after: [extract]
  - name: alert
    job: demo:/Demo/forecast
    after: [{ task: extract, on: failure }]
    schedule: { cron: "0 6 * * 1-5", timezone: Europe/Amsterdam }
"#;

async fn no_reload_since_marked(b: &Browser) -> bool {
    b.eval("return window.__sameDocument === true;").await == true
}

async fn mark_document(b: &Browser) {
    b.eval("window.__sameDocument = true; return null;").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_in_headless_chromium_against_polysync_up() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let up = Up::start();
    let url = up.url.clone();
    let http = reqwest::Client::new();
    // The demo notebook given a Date and a Number parameter by the CLI, on
    // the store `up` serves (the run form is generated from these types).
    up.cli(&[
        "jobs",
        "edit",
        NOTEBOOK,
        "--param",
        "run_date:Date=2025-01-31",
        "--param",
        "rows:Number=10",
    ])
    .ok();
    let jobs: Value = http
        .get(format!("{url}/api/v1/jobs?platform=demo"))
        .send()
        .await
        .expect("jobs")
        .json()
        .await
        .expect("json");
    let continuous = jobs["jobs"]
        .as_array()
        .expect("jobs array")
        .iter()
        .find(|j| j["name"].as_str().is_some_and(|n| n.contains("continuous")))
        .unwrap_or_else(|| panic!("the demo's continuous pipeline: {jobs}"));
    let continuous = format!(
        "demo:{}",
        continuous["external_id"].as_str().expect("external id")
    );

    let b = Browser::start().await;

    // Overview: the demo platform, the dispatcher `up` runs, the feed live.
    b.goto(&format!("{url}/")).await;
    assert_eq!(b.text("h1").await, "Overview");
    assert!(b.text("main").await.contains("demo"), "platform listed");
    let instances = b.text("#instances").await;
    assert!(
        instances.starts_with("1 alive"),
        "up's dispatcher: {instances}"
    );
    assert!(b.text("#queue-depth").await.contains("ready or retrying"));
    assert!(b.text("#tracker-lag").await.contains("ms"));
    assert!(b.text("#throttled").await.contains("Databricks requests"));
    assert!(b.wait_text("#live", "live").await, "event feed connected");

    // Run the notebook job from its form with a parameter: its page
    // follows the run to Success without a reload.
    b.goto(&format!("{url}/jobs/{NOTEBOOK_REF}")).await;
    b.fill(&b.find("#param-run_date").await, "2025-02-01").await;
    b.click(&b.find("#run").await).await;
    assert_ne!(b.wait_some_text("#run-status").await, "", "on the run page");
    mark_document(&b).await;
    assert!(
        b.wait_text("#run-status", "Success").await,
        "run turned Success live: {}",
        b.text("main").await
    );
    assert!(no_reload_since_marked(&b).await, "no reload");
    assert!(b.text("#timeline").await.contains("Success"));
    let page = b.text("main").await;
    assert!(
        page.contains("run_date") && page.contains("2025-02-01"),
        "parameters sent: {page}"
    );
    assert_ne!(b.text("#dbx-run").await, "—", "Databricks run id shown");
    shot(&b, "run").await;

    // A value the parameter's type refuses: the error sits next to it.
    b.goto(&format!("{url}/jobs/{NOTEBOOK_REF}")).await;
    b.fill(&b.find("#param-rows").await, "many").await;
    b.click(&b.find("#run").await).await;
    let err = b.wait_some_text("#param-rows-error").await;
    assert!(err.contains("rows"), "error next to the field: {err:?}");
    assert_eq!(
        b.eval("return document.querySelector('#param-rows').getAttribute('aria-invalid');")
            .await,
        "true"
    );
    assert_eq!(
        b.eval("return document.querySelector('#param-rows').value;")
            .await,
        "many",
        "the value typed is kept"
    );
    shot(&b, "job").await;

    // The runs list is live, and filters by time.
    b.goto(&format!("{url}/runs?period=today")).await;
    assert_eq!(
        b.eval("return document.querySelector('#period').value;")
            .await,
        "today"
    );
    mark_document(&b).await;
    let started: Value = http
        .post(format!("{url}/api/v1/runs"))
        .json(&json!({"job": NOTEBOOK_REF, "params": {"run_date": "2025-03-01"}}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let id = started["id"].as_str().expect("run id").to_owned();
    assert!(
        b.wait_text(&format!(r#"[data-run-status="{id}"]"#), "Success")
            .await,
        "the new run appeared and ended live"
    );
    assert!(no_reload_since_marked(&b).await, "no reload");
    shot(&b, "runs").await;
    b.goto(&format!("{url}/runs?since=2000-01-01&status=Success"))
        .await;
    assert!(b.text("#window").await.contains("2000-01-01"));
    assert!(b.text("tbody").await.contains(NOTEBOOK));

    // Tasks: the graph drawn, the next fire in its time zone; Run starts a
    // DAG run whose graph turns green live.
    // Pruning: this file replaces the demo tasks `up` applied.
    let r = http
        .put(format!("{url}/api/v1/tasks?prune=true"))
        .body(TASKS)
        .send()
        .await
        .expect("apply");
    assert!(r.status().is_success(), "{:?}", r.text().await);
    b.goto(&format!("{url}/tasks")).await;
    assert_eq!(
        b.eval("return document.querySelectorAll('svg.dag g.n').length;")
            .await,
        3
    );
    let edges = b.text("svg.dag").await;
    assert!(
        edges.contains("success") && edges.contains("failure"),
        "edges labelled by condition: {edges}"
    );
    let next = b.text("#task-alert .next-fire").await;
    assert!(next.contains("(Europe/Amsterdam)"), "next fire: {next}");
    assert_eq!(
        b.eval("var a = document.querySelector('svg.dag a'); a.focus(); return document.activeElement === a;")
            .await,
        true,
        "graph nodes are keyboard reachable"
    );
    b.click(&b.find("form[action='/tasks/extract/run'] button").await)
        .await;
    assert!(
        !b.wait_some_text("#dag-status").await.is_empty(),
        "on the DAG run page"
    );
    mark_document(&b).await;
    assert!(
        b.wait_text("#dag-status", "Success").await,
        "DAG run turned Success: {}",
        b.text("main").await
    );
    for (task, want) in [
        ("extract", "Success"),
        ("publish", "Success"),
        ("alert", "Skipped"),
    ] {
        let node = format!("svg.dag g[data-task-status$='/{task}']");
        assert!(
            b.wait_text(&format!("{node} .s"), want).await,
            "{task} node {want}"
        );
        let class = b
            .eval(&format!(
                "return document.querySelector(\"{node}\").getAttribute('class');"
            ))
            .await;
        assert_eq!(class, format!("n st-{want}"), "{task} node coloured");
    }
    assert!(no_reload_since_marked(&b).await, "the graph turned live");
    assert!(b.text("#tr-extract .attempts").await.contains("#1"));
    shot(&b, "dag-run").await;
    b.goto(&format!("{url}/tasks")).await;
    assert_eq!(
        b.eval("return document.querySelector(\"svg.dag g[data-task-latest='publish']\").getAttribute('class');")
            .await,
        "n st-Success",
        "tasks coloured by their latest status"
    );
    shot(&b, "tasks").await;

    // Cancel a long run (the demo's continuous pipeline) from its page.
    b.goto(&format!("{url}/jobs/{continuous}")).await;
    b.click(&b.find("#run").await).await;
    assert!(
        !b.wait_some_text("#run-status").await.is_empty(),
        "on the run page: {}",
        b.text("main").await
    );
    b.click(&b.find("#cancel").await).await;
    assert!(
        b.wait_text("#run-status", "Cancelled").await,
        "run Cancelled: {}",
        b.text("main").await
    );

    // Platforms: a refused form shows the error next to the field; then a
    // platform is added and the demo re-imported with progress.
    b.goto(&format!("{url}/platforms")).await;
    b.fill(&b.find("#name").await, "staging").await;
    b.fill(&b.find("#token_env").await, "STAGING_TOKEN").await;
    b.click(&b.find("#add-platform-button").await).await;
    let err = b.wait_some_text("#host-error").await;
    assert!(err.contains("URL"), "error next to the host field: {err:?}");
    b.fill(&b.find("#host").await, "https://staging.example.com")
        .await;
    b.click(&b.find("input[name='verify']").await).await;
    b.click(&b.find("#add-platform-button").await).await;
    assert!(
        b.wait_some_text("#platform-staging")
            .await
            .contains("STAGING_TOKEN"),
        "platform added: {}",
        b.text("main").await
    );
    shot(&b, "platforms").await;
    b.click(&b.find("form[action='/platforms/demo/import'] button").await)
        .await;
    assert!(
        b.wait_text("#import-status", "Success").await,
        "import followed to its end: {}",
        b.text("main").await
    );
    assert!(b.text("#import-summary").await.contains("unchanged"));
    shot(&b, "import").await;

    // Jobs, then the overview with its feed and today's counts.
    b.goto(&format!("{url}/jobs")).await;
    shot(&b, "jobs").await;
    b.goto(&format!("{url}/")).await;
    assert!(b.wait_text("#live", "live").await);
    let again: Value = http
        .post(format!("{url}/api/v1/runs"))
        .json(&json!({"job": NOTEBOOK_REF}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    assert!(again["id"].is_string(), "{again}");
    assert!(
        b.wait_text("#feed li .st", "Success").await,
        "live feed shows changes"
    );
    assert!(b.text("#today").await.contains("Success"));
    shot(&b, "overview").await;

    // Phone width: no page-wide horizontal scroll.
    b.resize(390, 844).await;
    for (path, name) in [("/runs", "runs-phone"), ("/tasks", "tasks-phone")] {
        b.goto(&format!("{url}{path}")).await;
        assert_eq!(
            b.eval("return document.documentElement.scrollWidth <= window.innerWidth;")
                .await,
            true,
            "no horizontal page scroll on {path} at phone width"
        );
        shot(&b, name).await;
    }
    b.quit().await;
    up.stop();
}
