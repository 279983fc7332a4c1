//! What a new user and an adversary ran into: several `polysync` processes at once and
//! processes killed mid-way (nothing fails on locking, nothing is lost, every run is
//! recovered; on SQLite and, when `POLYSYNC_TEST_DATABASE_URL` is set, on PostgreSQL), partial
//! imports, bad database URLs, and profiles and credentials checked when a platform is added.

mod support;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use polysync_emulator::{FaultConfig, OAuthClient};
use polysync_testkit::TestDb;
use support::{Out, TOKEN, TOKEN_VAR, cli, imported, run};

fn runs_json(db: &str) -> Vec<serde_json::Value> {
    let out = Out::of(&mut cli(db, &["runs", "list", "--json", "--limit", "100"])).ok();
    out.json()
        .as_array()
        .expect("runs list --json is an array")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_concurrent_runs_and_two_imports_never_fail_on_locking() {
    polysync_testkit::each_backend("six_concurrent_runs", async |db: &TestDb| {
        let url = db.url().to_owned();
        let (emu, _dir) = imported(&url).await;
        let mut children = Vec::new();
        for _ in 0..6 {
            children.push(cli(&url, &["run", "/Tests/quick", "--json"]));
        }
        for _ in 0..2 {
            children.push(cli(&url, &["import", "emu"]));
        }
        let outs = futures_util::future::join_all(children.into_iter().map(Out::of_async)).await;
        for out in &outs {
            assert_eq!(
                out.code, 0,
                "stdout:\n{}\nstderr:\n{}",
                out.stdout, out.stderr
            );
            assert!(!out.stderr.contains("locked"), "{}", out.stderr);
        }
        let runs = runs_json(&url);
        assert_eq!(runs.len(), 6);
        assert!(
            runs.iter().all(|r| r["databricks_run_id"].is_string()),
            "every run has its Databricks run id: {runs:?}"
        );
        assert_eq!(
            emu.stats().runs_created,
            6,
            "one Databricks run per `polysync run`"
        );
        emu.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_after_databricks_committed_the_submit_is_recovered() {
    polysync_testkit::each_backend("killed_after_submit", async |db: &TestDb| {
        let url = db.url().to_owned();
        let (emu, _dir) = imported(&url).await;
        // Every answer to the submit is lost: Databricks commits the run, the client never
        // learns its id and keeps retrying under the same idempotency token.
        emu.set_faults(FaultConfig {
            drop_next: 1_000,
            drop_endpoints: vec!["POST jobs/runs/submit".into()],
            ..FaultConfig::default()
        });
        let mut child = cli(&url, &["run", "/Tests/slow"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        while emu.stats().runs_created == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the submit never arrived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().expect("kill -9");
        let _ = child.wait();
        emu.set_faults(FaultConfig::default());

        let runs = runs_json(&url);
        assert_eq!(runs.len(), 1);
        let id = runs[0]["id"].as_str().expect("id").to_owned();
        assert!(
            runs[0]["databricks_run_id"].is_null(),
            "the id was never stored: {runs:?}"
        );

        // `runs show --refresh` recovers it: re-sending the same token returns the same run.
        let shown = run(&url, &["runs", "show", &id, "--refresh", "--json"])
            .await
            .ok()
            .json();
        assert!(shown["run"]["databricks_run_id"].is_string(), "{shown}");
        assert_eq!(shown["run"]["status"], "Running", "{shown}");
        assert_eq!(emu.stats().runs_created, 1, "exactly one Databricks run");

        // And it can be cancelled like any other run.
        run(&url, &["cancel", &id]).await.ok();
        let mut status = String::new();
        for _ in 0..200 {
            let shown = run(&url, &["runs", "show", &id, "--refresh", "--json"])
                .await
                .ok()
                .json();
            status = shown["run"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if status == "Cancelled" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, "Cancelled");
        assert_eq!(emu.stats().runs_created, 1);
        emu.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_at_once_on_a_brand_new_sqlite_file_all_succeed() {
    for round in 0..3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir
            .path()
            .join(format!("new-{round}.db"))
            .display()
            .to_string();
        let outs = futures_util::future::join_all(
            (0..4).map(|_| Out::of_async(cli(&db, &["platform", "list", "--json"]))),
        )
        .await;
        for out in outs {
            assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
            assert!(!out.stderr.contains("already exists"), "{}", out.stderr);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_a_refused_kind_is_partial_with_exit_3() {
    let db = TestDb::sqlite();
    let (emu, _dir) = imported(db.url()).await;
    emu.set_faults(FaultConfig {
        refused_endpoints: BTreeMap::from([("GET pipelines".to_owned(), 404)]),
        ..FaultConfig::default()
    });
    let out = run(db.url(), &["import", "emu"]).await;
    assert_eq!(
        out.code, 3,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stderr.contains("warning: skipped all pipelines"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("partial"), "{}", out.stderr);
    assert!(out.stdout.contains("imported emu"), "{}", out.stdout);
    let json = run(db.url(), &["import", "emu", "--json"]).await;
    assert_eq!(json.code, 3);
    assert_eq!(json.json()["skipped"][0]["object"], "pipelines");
    emu.shutdown().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_database_url_scheme_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for url in [
        "postgress://user:pw-9f3@host/db",
        "mysql://user:pw-9f3@host/db",
    ] {
        let out = Out::of_async({
            let mut cmd = cli(url, &["platform", "list"]);
            cmd.current_dir(dir.path());
            cmd
        })
        .await;
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("unsupported database URL scheme"),
            "{}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("pw-9f3"),
            "password leaked: {}",
            out.stderr
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            0,
            "nothing was created"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_add_checks_the_workspace_and_the_credentials() {
    let emu = polysync_testkit::start_emulator(TOKEN, |c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "sp-app".into(),
            client_secret: "right-secret".into(),
        }];
    })
    .await;
    let db = TestDb::sqlite();
    let url = emu.url();
    let cfg = tempfile::NamedTempFile::new().expect("cfg");
    std::fs::write(
        cfg.path(),
        format!(
            "[DEFAULT]\nhost = {url}\ntoken = {TOKEN}\n\n[sp]\nhost = {url}\nclient_id = sp-app\nclient_secret = right-secret\n\n[wrong-secret]\nhost = {url}\nclient_id = sp-app\nclient_secret = nope\n"
        ),
    )
    .expect("write cfg");
    let cfg_path = cfg.path().display().to_string();
    let add = |name: &str, extra: &[&str]| {
        let mut args = vec!["platform", "add", name];
        args.extend_from_slice(extra);
        let mut cmd = cli(db.url(), &args);
        cmd.env("DATABRICKS_CONFIG_FILE", &cfg_path);
        Out::of_async(cmd)
    };

    // A token the workspace refuses: nothing is saved; --no-verify saves it anyway.
    let refused = add("bad", &["--host", &url, "--token-env", "WRONG_TOKEN_VAR"]).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let wrong = {
        let mut cmd = cli(
            db.url(),
            &[
                "platform",
                "add",
                "bad",
                "--host",
                &url,
                "--token-env",
                "WRONG",
            ],
        );
        cmd.env("WRONG", "not-the-token");
        Out::of_async(cmd).await
    };
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("refused the platform's credentials"),
        "{}",
        wrong.stderr
    );
    assert!(wrong.stderr.contains("--no-verify"), "{}", wrong.stderr);
    let listed = run(db.url(), &["platform", "list", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(0),
        "nothing saved: {listed}"
    );
    add(
        "bad",
        &["--host", &url, "--token-env", "WRONG", "--no-verify"],
    )
    .await
    .ok();

    // Unreachable: a port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        format!("http://127.0.0.1:{port}")
    };
    let unreachable = add("down", &["--host", &closed, "--token-env", TOKEN_VAR]).await;
    assert_eq!(unreachable.code, 1, "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("cannot verify")
            || unreachable.stderr.contains("did not answer"),
        "{}",
        unreachable.stderr
    );

    // A good token and a good OAuth service principal are verified and saved.
    let ok = add("pat", &["--host", &url, "--token-env", TOKEN_VAR])
        .await
        .ok();
    assert!(ok.stdout.contains("credentials verified"), "{}", ok.stdout);
    add("sp", &["--profile", "sp"]).await.ok();

    // A wrong client secret is refused with a hint naming what to check.
    let secret = add("sp2", &["--profile", "wrong-secret"]).await;
    assert_eq!(secret.code, 1, "{}", secret.stderr);
    assert!(secret.stderr.contains("hint:"), "{}", secret.stderr);
    add("sp2", &["--profile", "wrong-secret", "--no-verify"])
        .await
        .ok();
    let import = {
        let mut cmd = cli(db.url(), &["import", "sp2"]);
        cmd.env("DATABRICKS_CONFIG_FILE", &cfg_path);
        Out::of_async(cmd).await
    };
    assert_eq!(import.code, 1, "{}", import.stderr);
    assert!(
        import.stderr.contains("client_id and client_secret"),
        "{}",
        import.stderr
    );

    // A missing profile names itself once and lists the profiles that exist.
    let missing = add("x", &["--profile", "nope"]).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    let first_line = missing.stderr.lines().next().unwrap_or_default();
    assert_eq!(first_line.matches("nope").count(), 1, "{first_line}");
    assert!(
        missing.stderr.contains("DEFAULT, sp, wrong-secret"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("client_id"),
        "the hint covers OAuth profiles: {}",
        missing.stderr
    );

    // A corrupt file is described in words, not Rust debug text.
    std::fs::write(cfg.path(), "[broken\nhost=\n").expect("corrupt");
    let corrupt = add("y", &["--profile", "broken"]).await;
    assert_eq!(corrupt.code, 2, "{}", corrupt.stderr);
    assert!(
        corrupt.stderr.contains("not valid INI"),
        "{}",
        corrupt.stderr
    );
    assert!(!corrupt.stderr.contains("Some("), "{}", corrupt.stderr);
    emu.shutdown().await;
    db.cleanup().await;
}
