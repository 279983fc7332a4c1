//! The web dashboard over plain HTTP, as a browser with JavaScript off
//! sees it: the task graph as SVG, a DAG run's graph, the dispatcher's
//! health, the runs time filter, adding a platform and following an
//! import; plus the login cookie. The same pages in a real headless
//! chromium against `polysync up`: crates/cli/tests/dashboard/.

use std::time::Duration;

use polysync_engine::DispatcherOptions;
use polysync_testkit::TestDb;
use reqwest::StatusCode;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, config, poll_until};

const TRACK: Duration = Duration::from_millis(20);

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
    for path in [
        "/",
        "/runs",
        "/runs?period=7d",
        "/jobs",
        "/tasks",
        "/dag-runs",
        "/platforms",
        "/api/v1/runs",
        "/static/app.js",
    ] {
        let r = http
            .get(format!("{url}{path}"))
            .header("cookie", &pair)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{path} with the cookie");
        let bytes = r.bytes().await.expect("body").len();
        assert!(bytes < 200_000, "{path} weighs {bytes} bytes");
        if path == "/static/app.js" {
            assert!(bytes < 8_000, "the script weighs {bytes} bytes");
        }
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

async fn page(http: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let r = http.get(url).send().await.expect("get");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

#[tokio::test]
async fn task_graph_dag_run_health_and_time_filter_render_without_javascript() {
    let db = TestDb::sqlite();
    let mut env = Env::new(&db).await;
    let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
    let http = reqwest::Client::new();
    let file = format!(
        "tasks:\n  - name: extract\n    job: emu:{etl}\n  - name: publish\n    job: emu:{etl}\n    after: [extract]\n  - name: alert\n    job: emu:{etl}\n    after: [{{ task: extract, on: failure }}]\n    schedule: {{ cron: \"0 6 * * 1-5\", timezone: Europe/Amsterdam }}\n",
        etl = env.jobs.etl
    );
    let r = http
        .put(format!("{url}/api/v1/tasks"))
        .body(file)
        .send()
        .await
        .expect("apply");
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);

    // Before any run: every node drawn, uncoloured; edges labelled; the
    // next fire in the schedule's zone; no dispatcher alive.
    let (status, tasks) = page(&http, &format!("{url}/tasks")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tasks.contains(r#"<svg class="dag""#), "{tasks}");
    assert_eq!(tasks.matches(r#"<g class="n""#).count(), 3, "{tasks}");
    assert!(tasks.contains(">success</text>") && tasks.contains(">failure</text>"));
    assert!(
        tasks.contains("(Europe/Amsterdam)"),
        "next fire with its zone"
    );
    let (_, overview) = page(&http, &format!("{url}/")).await;
    assert!(overview.contains("none alive"), "{overview}");
    assert!(overview.contains(r#"id="queue-depth""#));

    let stop = CancellationToken::new();
    let dispatcher = env
        .engine
        .dispatcher(DispatcherOptions::default())
        .await
        .expect("dispatcher");
    let s = stop.clone();
    let dispatcher = tokio::spawn(async move { dispatcher.run_until(s.cancelled_owned()).await });
    let dag = env
        .engine
        .start_dag_run("extract", &[], "test", None)
        .await
        .expect("dag run");
    poll_until(&http, &format!("{url}/api/v1/dag-runs/{}", dag.id), |v| {
        v["status"] == "Success"
    })
    .await;

    let (_, run) = page(&http, &format!("{url}/dag-runs/{}", dag.id)).await;
    assert!(
        run.contains(r#"<g class="n st-Success" data-task-status=""#),
        "{run}"
    );
    assert!(
        run.contains(r#"<g class="n st-Skipped""#),
        "alert skipped by condition"
    );
    assert!(
        run.contains("Databricks run"),
        "attempts with their run ids"
    );
    let (_, tasks) = page(&http, &format!("{url}/tasks")).await;
    assert_eq!(
        tasks.matches(r#"<g class="n st-Success""#).count(),
        2,
        "coloured by the latest status"
    );
    let (_, overview) = page(&http, &format!("{url}/")).await;
    assert!(overview.contains("1</strong> alive"), "{overview}");
    assert!(overview.contains(r#"id="tracker-lag""#));
    let health: Value = http
        .get(format!("{url}/api/v1/dispatcher"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        health["instances"].as_array().map(Vec::len),
        Some(1),
        "{health}"
    );
    assert_eq!(health["queue_depth"], 0, "{health}");
    assert!(health["tracker_pass_ms"].is_u64(), "{health}");

    // The time filter: today holds the DAG run's runs, the future none; a
    // bad period is refused naming the choices.
    let (status, today) = page(&http, &format!("{url}/runs?period=today")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(today.matches("<tr data-run=").count() >= 2, "{today}");
    assert!(today.contains(r#"<option value="today" selected>"#));
    let (_, future) = page(&http, &format!("{url}/runs?since=2999-01-01")).await;
    assert_eq!(future.matches("<tr data-run=").count(), 0);
    let (_, week) = page(&http, &format!("{url}/runs?period=7d&status=Success")).await;
    assert!(week.matches("<tr data-run=").count() >= 2);
    let (status, bad) = page(&http, &format!("{url}/runs?period=fortnight")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("today, 24h, 7d"), "{bad}");
    let (status, _) = page(&http, &format!("{url}/runs?since=yesterday")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    stop.cancel();
    let _ = dispatcher.await;
    env.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_platform_is_added_and_imported_from_the_dashboard() {
    let db = TestDb::sqlite();
    let mut env = Env::new(&db).await;
    let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // A refused form: the reason next to the field, the values kept.
    let r = http
        .post(format!("{url}/platforms"))
        .form(&[
            ("name", "staging"),
            ("auth", "token_env"),
            ("token_env", "STAGING_TOKEN"),
            ("host", ""),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains(r#"id="host-error""#), "{body}");
    assert!(body.contains(r#"value="STAGING_TOKEN""#));
    // A profile that does not exist: refused on the profile field.
    let r = http
        .post(format!("{url}/platforms"))
        .form(&[("name", "p"), ("auth", "profile"), ("profile", "NOPE")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains(r#"id="profile-error""#)
    );
    // Unverified: saved as given.
    let r = http
        .post(format!("{url}/platforms"))
        .form(&[
            ("name", "staging"),
            ("auth", "token_env"),
            ("token_env", "STAGING_TOKEN"),
            ("host", "https://staging.example.com"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let v: Value = http
        .get(format!("{url}/api/v1/platforms/staging"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(v["auth"]["var"], "STAGING_TOKEN", "{v}");
    // The import runs in the background; its page refreshes itself until
    // it ends, then shows the summary.
    let r = http
        .post(format!("{url}/platforms/emu/import"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/platforms/emu/import");
    let mut done = String::new();
    for _ in 0..3000 {
        let r = http
            .get(format!("{url}/platforms/emu/import"))
            .send()
            .await
            .expect("get");
        let refresh = r.headers().contains_key("refresh");
        let body = r.text().await.expect("body");
        if !refresh {
            done = body;
            break;
        }
        assert!(body.contains(r#"id="import-status">Running"#), "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done.contains(r#"id="import-status">Success"#), "{done}");
    assert!(done.contains(" unchanged"), "{done}");
    let (_, platforms) = page(&http, &format!("{url}/platforms")).await;
    assert!(platforms.contains("imported "), "{platforms}");
    env.stop().await;
    db.cleanup().await;
}
