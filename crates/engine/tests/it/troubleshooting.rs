//! The seven troubleshooting cases of the seeds, reproduced through the
//! emulator: each yields a message naming the cause and a fix.

use std::time::Duration;

use polysync_engine::{Compute, ComputeType, Error, Job, JobType, RunStatus, WaitOptions};
use serde_json::json;

use crate::harness::{PLATFORM, e2e, fast};

fn no_overrides() -> Vec<(String, String)> {
    Vec::new()
}

// Notebook seed 1: RESOURCE_DOES_NOT_EXIST on a stale notebook path.
e2e!(troubleshooting_stale_notebook_path_says_reimport, |env| {
    env.engine
        .add_job(Job::new(
            "/Shared/moved",
            JobType::DatabricksNotebook,
            "/Shared/moved",
            PLATFORM,
        ))
        .await
        .expect("add");
    let (run, _) = env.run_to_end("/Shared/moved", &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    let msg = run.error_message.expect("message");
    assert!(
        msg.contains("RESOURCE_DOES_NOT_EXIST") && msg.contains("not a valid notebook path"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("re-import platform {PLATFORM:?}")),
        "{msg}"
    );
});

// Notebook seed 2: widgets not picked up (declared inside a conditional).
e2e!(
    troubleshooting_widgets_not_picked_up_warns_on_import,
    |env| {
        let report = env.import().await;
        let w = report
            .warnings
            .iter()
            .find(|w| w.contains("/Shared/etl/conditional_widgets"))
            .expect("warning");
        assert!(w.contains("top level") && w.contains("re-import"), "{w}");
        let j = env
            .engine
            .get_job("/Shared/etl/conditional_widgets")
            .await
            .expect("job");
        assert_eq!(j.parameters.len(), 1);
    }
);

// Notebook seed 3: stays in PENDING on a new job cluster.
e2e!(
    troubleshooting_long_pending_on_new_cluster_suggests_faster_compute,
    |env| {
        let mut p = env.engine.get_platform(PLATFORM).await.expect("p");
        p.name = "emu-new".into();
        p.compute = Compute {
            compute_type: ComputeType::NewJobCluster,
            cluster_version: Some("15.4.x-scala2.12".into()),
            node_type: Some("Standard_DS3_v2".into()),
            num_workers: Some(2),
            ..Compute::default()
        };
        env.engine.add_platform(p).await.expect("add");
        let engine = env
            .engine
            .clone()
            .with_pending_hint_after(Duration::from_millis(50));
        engine
            .add_job(Job::new(
                "stuck",
                JobType::DatabricksNotebook,
                "/Shared/behaviour/stuck_pending",
                "emu-new",
            ))
            .await
            .expect("job");
        let run = engine
            .start_run("stuck", &no_overrides())
            .await
            .expect("start");
        let body = &env.bodies("POST", "jobs/runs/submit")[0];
        assert_eq!(
            body["tasks"][0]["new_cluster"],
            json!({"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2", "num_workers": 2})
        );
        let opts = WaitOptions {
            poll_interval: Duration::from_millis(10),
            timeout: Some(Duration::from_millis(300)),
        };
        let err = engine
            .wait_run(&run.id, opts, &mut |_| {})
            .await
            .expect_err("still pending");
        let hint = err.hint().expect("hint").text;
        assert!(
            hint.contains("new job cluster") && hint.contains("serverless"),
            "{hint}"
        );
        let details = engine.get_run(&run.id).await.expect("d");
        assert_eq!(details.run.life_cycle_state.as_deref(), Some("PENDING"));
        assert!(details.hint.is_some());
    }
);

// Workflow seed 1: INVALID_PARAMETER_VALUE: job_id (deleted job / bad id).
e2e!(troubleshooting_deleted_job_id_says_reimport, |env| {
    env.import().await;
    let id = env.seeded.workflow;
    env.post("/api/2.1/jobs/delete", json!({"job_id": id}))
        .await;
    let err = env
        .engine
        .start_run(&env.job_ref(id), &no_overrides())
        .await
        .expect_err("deleted");
    let msg = err.to_string();
    assert!(
        msg.contains("INVALID_PARAMETER_VALUE: job_id") && msg.contains("deleted"),
        "{msg}"
    );
    assert_eq!(
        err.hint().expect("hint").action_ref(),
        Some(&polysync_engine::Action::Import {
            platform: PLATFORM.to_owned()
        })
    );
    // The failed attempt is recorded.
    let runs = env
        .engine
        .list_runs(&polysync_engine::RunFilter::default(), 10)
        .await
        .expect("runs");
    assert_eq!(runs[0].status, RunStatus::Failed);
    // A non-numeric External Id is refused before any request.
    env.emu.clear_requests();
    let err = env
        .engine
        .add_job(Job::new(
            "bad",
            JobType::DatabricksWorkflow,
            "abc",
            PLATFORM,
        ))
        .await
        .expect_err("non numeric");
    assert!(matches!(err, Error::Invalid(_)));
    assert!(err.to_string().contains("not a numeric Databricks Job Id"));
    assert!(err.hint().expect("hint").text.contains("re-import"));
    assert!(env.emu.requests().is_empty());
});

// Workflow seed 2: a parameter not honoured because it is task-level.
e2e!(
    troubleshooting_task_level_parameter_refused_with_explanation,
    |env| {
        env.import().await;
        env.emu.clear_requests();
        let err = env
            .engine
            .start_run(
                &env.job_ref(env.seeded.workflow),
                &[("task_only".into(), "y".into())],
            )
            .await
            .expect_err("reference only");
        let msg = err.to_string();
        assert!(
            msg.contains("task level")
                && msg.contains("settings.parameters")
                && msg.contains("sync this job's parameters"),
            "{msg}"
        );
        assert!(env.emu.requests().is_empty(), "no request may be sent");
        // Pipeline configuration is reference only too.
        let err = env
            .engine
            .start_run(
                &env.job_ref(&env.seeded.pipeline),
                &[("custom.owner".into(), "x".into())],
            )
            .await
            .expect_err("reference only");
        assert!(err.to_string().contains("only full_refresh flows through"));
        // A bad value is refused before any request as well.
        let err = env
            .engine
            .start_run(
                &env.job_ref(env.seeded.workflow),
                &[("batch".into(), "many".into())],
            )
            .await
            .expect_err("bad number");
        assert!(matches!(err, Error::Invalid(_)));
        assert!(env.emu.requests().is_empty());
    }
);

// Pipeline seed 1: update returns 400 immediately (IDLE, storage missing).
e2e!(
    troubleshooting_pipeline_update_400_points_to_dlt_ui,
    |env| {
        let pid = env
        .create_pipeline(json!({"name": "no-storage", "configuration": {"emulator.storage_missing": "true"}}))
        .await;
        env.engine
            .add_job(Job::new(
                "no-storage",
                JobType::DatabricksPipeline,
                &pid,
                PLATFORM,
            ))
            .await
            .expect("add");
        let err = env
            .engine
            .start_run("no-storage", &no_overrides())
            .await
            .expect_err("400");
        let msg = err.to_string();
        assert!(
            msg.contains("IDLE") && msg.contains("target storage"),
            "{msg}"
        );
        let hint = err.hint().expect("hint").text;
        assert!(
            hint.contains("Delta Live Tables UI") && hint.contains(&pid),
            "{hint}"
        );
    }
);

// Pipeline seed 2: STOPPING for a long time after cancel is normal.
e2e!(
    troubleshooting_long_stopping_after_cancel_is_explained,
    |env| {
        let pid = env
        .create_pipeline(json!({"name": "drain", "continuous": true, "configuration": {"emulator.stop_drain": "10m"}}))
        .await;
        env.engine
            .add_job(Job::new(
                "drain",
                JobType::DatabricksPipeline,
                &pid,
                PLATFORM,
            ))
            .await
            .expect("add");
        let run = env
            .engine
            .start_run("drain", &no_overrides())
            .await
            .expect("start");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let r = env.engine.cancel_run(&run.id).await.expect("cancel");
        assert_eq!(r.update_state.as_deref(), Some("STOPPING"));
        let opts = WaitOptions {
            timeout: Some(Duration::from_millis(200)),
            ..fast()
        };
        let err = env
            .engine
            .wait_run(&run.id, opts, &mut |_| {})
            .await
            .expect_err("draining");
        let hint = err.hint().expect("hint").text;
        assert!(
            hint.contains("finishes the work in flight") && hint.contains("this is normal"),
            "{hint}"
        );
    }
);
