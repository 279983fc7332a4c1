//! Job references: a bare name or path that several platforms share is
//! refused listing the candidates; `PLATFORM:EXTERNAL_ID` and
//! `PLATFORM:NAME` pick one, whatever the import order.

use polysync_engine::{Auth, Error, ErrorKind, Platform, RunStatus};

use crate::harness::{PLATFORM, TOKEN_VAR, e2e, fast};

const NOTEBOOK: &str = "/Shared/etl/python_widgets";

e2e!(
    a_path_shared_by_two_platforms_is_ambiguous_until_qualified,
    |env| {
        env.import().await;
        // Before a second platform exists the bare path is unique.
        assert_eq!(
            env.engine.get_job(NOTEBOOK).await.expect("unique").platform,
            PLATFORM
        );

        // The same workspace registered again: every object exists twice.
        let mut twin = Platform::new(
            "twin",
            env.emu.url(),
            Auth::TokenEnv {
                var: TOKEN_VAR.into(),
            },
        );
        twin.default_notebook_path = "/Shared".into();
        env.engine.add_platform(twin).await.expect("twin");
        env.engine
            .import("twin", &polysync_engine::NoProgress)
            .await
            .expect("import twin");
        env.emu.clear_requests();

        for reference in [NOTEBOOK, "nb-job"] {
            let err = env
                .engine
                .start_run(reference, &[])
                .await
                .expect_err("ambiguous");
            assert!(matches!(err, Error::Ambiguous { .. }), "{err:?}");
            assert_eq!(err.kind(), ErrorKind::Invalid);
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("{PLATFORM}:")) && msg.contains("twin:"),
                "both candidates are listed: {msg}"
            );
        }
        assert!(
            env.emu.requests().is_empty(),
            "nothing is sent for an ambiguous reference"
        );

        // Qualified references pick one, by External Id or by name.
        let ours = env
            .engine
            .get_job(&format!("{PLATFORM}:{NOTEBOOK}"))
            .await
            .expect("ours");
        let theirs = env
            .engine
            .get_job(&format!("twin:{NOTEBOOK}"))
            .await
            .expect("theirs");
        assert_eq!(
            (ours.platform.as_str(), theirs.platform.as_str()),
            (PLATFORM, "twin")
        );
        let by_name = env
            .engine
            .get_job("twin:nb-job")
            .await
            .expect("PLATFORM:NAME");
        assert_eq!(by_name.platform, "twin");
        assert_eq!(by_name.external_id, env.seeded.notebook_job.to_string());

        let run = env
            .engine
            .start_run(&format!("twin:{NOTEBOOK}"), &[])
            .await
            .expect("qualified run");
        let done = env
            .engine
            .wait_run(&run.id, fast(), &mut |_| {})
            .await
            .expect("wait");
        assert_eq!(
            (done.platform.as_str(), done.status),
            ("twin", RunStatus::Success)
        );
    }
);
