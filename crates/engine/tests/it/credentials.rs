//! Credentials come only from what the platform names: its token variable
//! (through the injectable env) or its `~/.databrickscfg` profile (the file
//! located by `DATABRICKS_CONFIG_FILE` as the SDKs do) — never ambient
//! `DATABRICKS_*` variables.

use std::sync::Arc;

use polysync_engine::{Auth, Engine, Error, NoProgress, Platform};

use crate::harness::{TOKEN, e2e};

e2e!(
    missing_token_variable_is_a_clear_error_even_with_ambient_databricks_token,
    |env| {
        // An env that has DATABRICKS_HOST/TOKEN for the same workspace, but not
        // the platform's own variable: refused, no request sent.
        let url = env.emu.url();
        let engine =
            Engine::from_store(env.store.clone()).with_env(Arc::new(move |k: &str| match k {
                "DATABRICKS_TOKEN" => Some(TOKEN.to_owned()),
                "DATABRICKS_HOST" => Some(url.clone()),
                _ => None,
            }));
        env.emu.clear_requests();
        let err = engine
            .import(crate::harness::PLATFORM, &NoProgress)
            .await
            .expect_err("no token var");
        assert!(matches!(err, Error::Credentials { .. }), "{err:?}");
        assert!(err.to_string().contains(crate::harness::TOKEN_VAR));
        let hint = err.hint().expect("hint");
        assert!(hint.text.contains(crate::harness::TOKEN_VAR), "{hint:?}");
        assert!(
            matches!(hint.action_ref(), Some(polysync_engine::Action::SetEnv { var, .. }) if var == crate::harness::TOKEN_VAR),
            "{hint:?}"
        );
        assert!(env.emu.requests().is_empty());
    }
);

e2e!(
    profile_platform_reads_databricks_config_file_through_env,
    |env| {
        let text = format!(
            "[emu-profile]\nhost = {}\ntoken = {TOKEN}\n\n[other]\nhost = https://x\ntoken = wrong\n",
            env.emu.url()
        );
        let dir = polysync_testkit::write_files(&[("cfg", &text)]);
        let cfg = dir.path().join("cfg");
        let cfg_s = cfg.to_string_lossy().into_owned();
        let engine = Engine::from_store(env.store.clone()).with_env(Arc::new(move |k: &str| {
            (k == "DATABRICKS_CONFIG_FILE").then(|| cfg_s.clone())
        }));
        let p = Platform::new(
            "prof",
            env.emu.url(),
            Auth::Profile {
                name: "emu-profile".into(),
                config_file: None,
            },
        );
        engine.add_platform(p).await.expect("add");
        let report = engine
            .import("prof", &NoProgress)
            .await
            .expect("import via profile");
        assert!(!report.added.is_empty());
        // A missing profile is a clear credentials error.
        let p = Platform::new(
            "prof2",
            env.emu.url(),
            Auth::Profile {
                name: "nope".into(),
                config_file: None,
            },
        );
        engine.add_platform(p).await.expect("add");
        let err = engine
            .import("prof2", &NoProgress)
            .await
            .expect_err("missing profile");
        assert!(matches!(err, Error::Credentials { .. }), "{err:?}");
        assert!(err.hint().expect("hint").text.contains("[nope]"));
    }
);

e2e!(bad_token_is_translated_into_a_credentials_hint, |env| {
    let engine = Engine::from_store(env.store.clone()).with_env(Arc::new(|k: &str| {
        (k == crate::harness::TOKEN_VAR).then(|| "dapi-wrong".to_owned())
    }));
    let err = engine
        .import(crate::harness::PLATFORM, &NoProgress)
        .await
        .expect_err("401");
    assert!(err.to_string().contains("refused the credentials"), "{err}");
    assert!(
        err.hint()
            .expect("hint")
            .text
            .contains(crate::harness::TOKEN_VAR)
    );
});

e2e!(platform_validation_and_conflicts, |env| {
    let dup = env
        .engine
        .get_platform(crate::harness::PLATFORM)
        .await
        .expect("p");
    let err = env.engine.add_platform(dup).await.expect_err("duplicate");
    assert!(
        matches!(
            err,
            Error::AlreadyExists {
                entity: "platform",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), polysync_engine::ErrorKind::AlreadyExists);
    let bad = Platform::new("a:b", "https://x", Auth::TokenEnv { var: "V".into() });
    let err = env.engine.add_platform(bad).await.expect_err("colon");
    assert!(err.to_string().contains("name"));
    // Output parameters are refused for every type.
    let mut job = polysync_engine::Job::new(
        "nb",
        polysync_engine::JobType::DatabricksNotebook,
        "/Shared/x",
        crate::harness::PLATFORM,
    );
    let mut p = polysync_engine::Parameter::input("out", None);
    p.direction = polysync_engine::Direction::Output;
    job.parameters.push(p);
    let err = env.engine.add_job(job).await.expect_err("output");
    assert!(err.to_string().contains("not supported"), "{err}");
});

e2e!(
    two_concurrent_adds_of_one_platform_name_one_is_already_exists,
    |env| {
        // A second engine on its own pool: what a second `platform add` process has.
        let store = polysync_store::Store::open(env.db.url())
            .await
            .expect("store");
        let other = polysync_engine::Engine::from_store(store.clone());
        for round in 0..5 {
            let p = || {
                Platform::new(
                    format!("twin{round}"),
                    "https://x.example",
                    Auth::TokenEnv { var: "V".into() },
                )
            };
            let (a, b) = tokio::join!(env.engine.add_platform(p()), other.add_platform(p()));
            let err = match (a, b) {
                (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
                (a, b) => panic!("exactly one add must win: {a:?} / {b:?}"),
            };
            assert_eq!(
                err.kind(),
                polysync_engine::ErrorKind::AlreadyExists,
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!("platform \"twin{round}\" already exists")
            );
        }
        store.close().await;
    }
);
