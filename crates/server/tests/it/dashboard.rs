//! The web dashboard in a real headless chromium (Debian's `chromium` +
//! `chromedriver`, installed by scripts/test.sh): live status changes
//! without a reload, run form validation next to the field, DAG run and
//! cancel, screenshots of each page into docs/screenshots/. Plus the login
//! cookie over plain HTTP.

use std::path::PathBuf;
use std::time::Duration;

use polysync_engine::{DataType, DispatcherOptions};
use polysync_testkit::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, SP_TOKEN, config};
use crate::webdriver::Browser;

const TRACK: Duration = Duration::from_millis(20);

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    dir
}

async fn shot(b: &Browser, name: &str) {
    let png = b.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// A Databricks job with one notebook task (the notebook imported into the
/// workspace) and two base parameters.
async fn notebook_job(env: &Env) -> i64 {
    use base64::Engine as _;
    let source = base64::engine::general_purpose::STANDARD
        .encode("# Databricks notebook source\ndbutils.widgets.text(\"kpi_date\", \"\")\n");
    env.http
        .post(format!("{}/api/2.0/workspace/mkdirs", env.emu.url()))
        .bearer_auth(SP_TOKEN)
        .json(&json!({"path": "/Demo"}))
        .send()
        .await
        .expect("workspace/mkdirs");
    let r = env
        .http
        .post(format!("{}/api/2.0/workspace/import", env.emu.url()))
        .bearer_auth(SP_TOKEN)
        .json(
            &json!({"path": "/Demo/daily_kpis", "format": "SOURCE", "language": "PYTHON",
                      "content": source, "overwrite": true}),
        )
        .send()
        .await
        .expect("workspace/import");
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let body = json!({
        "name": "daily-kpis",
        "tasks": [{"task_key": "kpis", "description": "emulator: pending=10s duration=50s",
                   "notebook_task": {"notebook_path": "/Demo/daily_kpis",
                                     "base_parameters": {"kpi_date": "2025-01-31", "rows": "10"}}}],
    });
    let v: Value = env
        .http
        .post(format!("{}/api/2.1/jobs/create", env.emu.url()))
        .bearer_auth(SP_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("jobs/create")
        .json()
        .await
        .expect("json");
    v["job_id"].as_i64().expect("job_id")
}

#[tokio::test]
async fn dashboard_in_headless_chromium() {
    // The browser scenario is about the pages; the store backend is covered
    // by the API tests, so this runs on SQLite only.
    let db = TestDb::sqlite();
    let mut env = Env::new(&db).await;
    let nb = notebook_job(&env).await;
    env.engine
        .import("emu", &polysync_engine::NoProgress)
        .await
        .expect("import");
    let job_ref = format!("emu:{nb}");
    let mut job = env.engine.get_job(&job_ref).await.expect("job");
    let rows = job
        .parameters
        .iter_mut()
        .find(|p| p.name == "rows")
        .expect("the notebook's rows parameter");
    rows.data_type = DataType::Number;
    env.engine.edit_job(job).await.expect("edit job");
    let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
    let stop = CancellationToken::new();
    let dispatcher = env
        .engine
        .dispatcher(DispatcherOptions::default())
        .await
        .expect("dispatcher");
    let s = stop.clone();
    let dispatcher = tokio::spawn(async move { dispatcher.run_until(s.cancelled_owned()).await });

    let b = Browser::start().await;

    // Overview: the platform, the jobs by type, the live feed connected.
    b.goto(&format!("{url}/")).await;
    assert_eq!(b.text("h1").await, "Overview");
    assert!(b.text("main").await.contains("emu"), "platform listed");
    assert!(b.wait_text("#live", "live").await, "event feed connected");
    // Run the notebook job from its form with a parameter; the run page
    // follows it to Success without a reload.
    b.goto(&format!("{url}/jobs/{job_ref}")).await;
    let date = b.find("#param-kpi_date").await;
    b.fill(&date, "2025-02-01").await;
    b.click(&b.find("#run").await).await;
    let first = b.text("#run-status").await;
    assert_ne!(first, "", "on the run page");
    assert_ne!(
        first, "Success",
        "the run had not ended when its page loaded"
    );
    b.eval("window.__sameDocument = true; return null;").await;
    assert!(
        b.wait_text("#run-status", "Success").await,
        "run turned Success live: {}",
        b.eval("return document.querySelector('main').innerText;")
            .await
    );
    assert_eq!(
        b.eval("return window.__sameDocument === true;").await,
        true,
        "no reload"
    );
    assert!(b.text("#timeline").await.contains("Success"));
    let page = b.text("main").await;
    assert!(
        page.contains("kpi_date") && page.contains("2025-02-01"),
        "parameters sent: {page}"
    );
    assert_ne!(b.text("#dbx-run").await, "—", "Databricks run id shown");
    shot(&b, "run").await;
    // A value the parameter's type refuses: the error sits next to the field.
    b.goto(&format!("{url}/jobs/{job_ref}")).await;
    b.fill(&b.find("#param-rows").await, "many").await;
    b.click(&b.find("#run").await).await;
    let err = b.text("#param-rows-error").await;
    assert!(err.contains("rows"), "error next to the field: {err:?}");
    assert_eq!(
        b.eval("return document.querySelector('#param-rows').getAttribute('aria-invalid');")
            .await,
        "true"
    );
    assert_eq!(
        b.eval("return document.querySelector('#param-rows').value;")
            .await,
        "many"
    );
    shot(&b, "job").await;
    b.click(&b.find("#sync-params").await).await;
    assert_eq!(
        b.text("h1").await,
        "daily-kpis",
        "Sync parameters returns to the job"
    );
    // The runs list is live: a run started elsewhere appears and ends
    // without a reload.
    b.goto(&format!("{url}/runs")).await;
    b.eval("window.__sameDocument = true; return null;").await;
    let started: Value = env
        .http
        .post(format!("{url}/api/v1/runs"))
        .json(&json!({"job": job_ref, "params": {"kpi_date": "2025-03-01"}}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let id = started["id"].as_str().expect("run id").to_owned();
    let badge = format!(r#"[data-run-status="{id}"]"#);
    assert!(
        b.wait_text(&badge, "Success").await,
        "new run appeared and ended live"
    );
    assert_eq!(
        b.eval("return window.__sameDocument === true;").await,
        true,
        "no reload"
    );
    shot(&b, "runs").await;
    // A DAG run started from the Tasks page turns Success on its page.
    let file = format!("tasks:\n  - name: nightly\n    job: emu:{nb}\n");
    let r = env
        .http
        .put(format!("{url}/api/v1/tasks"))
        .body(file)
        .send()
        .await
        .expect("apply");
    assert_eq!(r.status(), StatusCode::OK);
    b.goto(&format!("{url}/tasks")).await;
    shot(&b, "tasks").await;
    b.click(&b.find("form[action='/tasks/nightly/run'] button").await)
        .await;
    assert!(
        b.wait_text("dl.facts .st", "Success").await,
        "DAG run turned Success"
    );
    assert!(b.wait_text(".graph .st", "Success").await, "its task too");
    shot(&b, "dag-run").await;
    // Cancel a long run from its page.
    b.goto(&format!("{url}/jobs/emu:{}", env.jobs.long)).await;
    b.click(&b.find("#run").await).await;
    assert!(!b.text("#run-status").await.is_empty(), "on the run page");
    b.click(&b.find("#cancel").await).await;
    assert!(
        b.wait_text("#run-status", "Cancelled").await,
        "run Cancelled"
    );
    // Remaining pages, then the overview with its feed, and phone width.
    b.goto(&format!("{url}/jobs")).await;
    shot(&b, "jobs").await;
    b.goto(&format!("{url}/")).await;
    assert!(b.wait_text("#live", "live").await);
    let again: Value = env
        .http
        .post(format!("{url}/api/v1/runs"))
        .json(&json!({"job": job_ref}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    assert!(again["id"].is_string());
    assert!(
        b.wait_text("#feed li .st", "Success").await,
        "live feed shows changes"
    );
    shot(&b, "overview").await;
    b.resize(390, 844).await;
    b.goto(&format!("{url}/runs")).await;
    let overflow = b
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(overflow, true, "no horizontal page scroll at phone width");
    shot(&b, "runs-phone").await;
    b.quit().await;
    stop.cancel();
    let _ = dispatcher.await;
    env.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn login_stores_the_api_token_in_a_cookie() {
    let db = TestDb::sqlite();
    let mut env = Env::new(&db).await;
    let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // No token configured: the dashboard is open.
    assert_eq!(
        http.get(format!("{url}/"))
            .send()
            .await
            .expect("get")
            .status(),
        StatusCode::OK
    );

    let (_, token) = env.engine.create_api_token("browser").await.expect("token");
    let token = secrecy::ExposeSecret::expose_secret(&token).to_owned();
    let r = http.get(format!("{url}/runs")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login");
    let r = http
        .get(format!("{url}/api/v1/runs"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the API still answers 401"
    );
    assert_eq!(
        http.get(format!("{url}/login"))
            .send()
            .await
            .expect("get")
            .status(),
        StatusCode::OK
    );

    let r = http
        .post(format!("{url}/login"))
        .form(&[("token", "dapi-wrong")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.expect("body").contains("invalid or revoked"));

    let r = http
        .post(format!("{url}/login"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();
    for path in ["/", "/runs", "/jobs", "/tasks", "/dag-runs", "/api/v1/runs"] {
        let r = http
            .get(format!("{url}{path}"))
            .header("cookie", &pair)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{path} with the cookie");
        let bytes = r.bytes().await.expect("body").len();
        assert!(bytes < 200_000, "{path} weighs {bytes} bytes");
    }
    // A form posted from another site is refused even with the cookie.
    let r = http
        .post(format!("{url}/runs/x/cancel"))
        .header("cookie", &pair)
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    env.stop().await;
    db.cleanup().await;
}
