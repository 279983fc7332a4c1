//! Run / wait / cancel per type: exact request bodies (from the emulator's
//! request log), monitor URLs, exit values, cancel, Jobs API 2.2.

use polysync_engine::{JobType, JobsApiVersion, Run, RunStatus};
use serde_json::{Value, json};

use crate::harness::{Env, e2e, fast};

e2e!(
    notebook_submit_body_is_exact_and_exit_value_captured,
    |env| {
        env.import().await;
        let (run, _) = env
            .run_to_end("/Shared/etl/python_widgets", &[("region", "apac")])
            .await;
        assert_eq!(run.status, RunStatus::Success, "{run:?}");
        assert_eq!(run.notebook_exit_value.as_deref(), Some("apac"));
        let bodies = env.bodies("POST", "jobs/runs/submit");
        assert_eq!(bodies.len(), 1);
        assert_eq!(
            bodies[0],
            json!({
                "run_name": "/Shared/etl/python_widgets",
                "tasks": [{"task_key": "notebook", "notebook_task": {"notebook_path": "/Shared/etl/python_widgets",
                    "base_parameters": {"region": "apac", "mode": "full", "fruit": "apple", "days": "Mon"}}}],
                "idempotency_token": run.id,
                "timeout_seconds": 0
            })
        );
        assert!(env.paths("POST", "jobs/runs/submit")[0].starts_with("/api/2.1/"));
        // run_page_url from runs/get (submit responses carry none), verbatim.
        let url = run.monitor_url.clone().expect("monitor url");
        assert!(
            url.starts_with(&env.emu.url())
                && url.contains(&format!(
                    "/run/{}",
                    run.databricks_run_id.clone().expect("id")
                )),
            "{url}"
        );
        assert_eq!(
            run.parameters.get("region").map(String::as_str),
            Some("apac")
        );
    }
);

e2e!(job_run_now_bodies_per_task_type, |env| {
    env.import().await;
    let s = env.seeded.clone();
    let cases = [
        (s.notebook_job, json!({"notebook_params": {"region": "us"}})),
        (
            s.wheel_job,
            json!({"python_named_params": {"date": "2024-01-01", "limit": "10"}}),
        ),
        (s.script_job, json!({"python_params": ["a", "b"]})),
        (s.jar_job, json!({"jar_params": ["x", "42"]})),
        (s.sql_job, json!({"sql_params": {"p": "1"}})),
        (s.dbt_job, json!({})),
        (
            s.job_level_job,
            json!({"job_parameters": {"run_date": "2024-01-01"}}),
        ),
    ];
    for (id, fields) in cases {
        env.emu.clear_requests();
        let (run, _) = env.run_to_end(&env.job_ref(id), &[]).await;
        assert_eq!(run.status, RunStatus::Success, "job {id}: {run:?}");
        let mut expected = json!({"job_id": id, "idempotency_token": run.id});
        expected
            .as_object_mut()
            .expect("o")
            .extend(fields.as_object().expect("o").clone());
        assert_eq!(env.bodies("POST", "jobs/run-now"), [expected], "job {id}");
        assert!(
            run.monitor_url
                .expect("url")
                .contains(&format!("#job/{id}/run/"))
        );
    }
});

e2e!(workflow_run_now_sends_job_parameters_only, |env| {
    env.import().await;
    let id = env.seeded.workflow;
    let (run, _) = env
        .run_to_end(&env.job_ref(id), &[("env", "prod"), ("batch", "7")])
        .await;
    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    assert_eq!(
        env.bodies("POST", "jobs/run-now"),
        [
            json!({"job_id": id, "job_parameters": {"env": "prod", "batch": "7", "dry_run": "false"}, "idempotency_token": run.id})
        ]
    );
});

e2e!(pipeline_update_body_and_monitor_url, |env| {
    env.import().await;
    let pid = env.seeded.pipeline.clone();
    let (run, history) = env
        .run_to_end(&env.job_ref(&pid), &[("full_refresh", "true")])
        .await;
    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    assert_eq!(
        env.bodies("POST", "pipelines/{pipeline_id}/updates"),
        [json!({"pipeline_id": pid, "full_refresh": true})]
    );
    let rid = run.databricks_run_id.clone().expect("rid");
    assert!(rid.starts_with(&format!("{pid}:")));
    assert_eq!(
        run.monitor_url.as_deref(),
        Some(format!("{}/#joblist/pipelines/{pid}", env.emu.url()).as_str())
    );
    assert!(
        history
            .iter()
            .any(|h| h.update_state.as_deref() == Some("COMPLETED"))
    );
});

/// Creates a Databricks job from `settings`, imports it, starts a run, cancels it at once and
/// waits for its end; returns the run as started and as it ended.
async fn cancel_a_new_job_right_away(env: &Env<'_>, settings: Value) -> (Run, Run) {
    let id = env.create_job(settings).await;
    env.import().await;
    let run = env
        .engine
        .start_run(&env.job_ref(id), &[])
        .await
        .expect("start");
    env.engine.cancel_run(&run.id).await.expect("cancel");
    let done = env
        .engine
        .wait_run(&run.id, fast(), &mut |_| {})
        .await
        .expect("wait");
    (run, done)
}

e2e!(cancel_notebook_job_and_workflow, |env| {
    env.import().await;
    // Notebook.
    let run = env
        .engine
        .start_run("/Shared/behaviour/slow", &[])
        .await
        .expect("start");
    let cancelled = env.engine.cancel_run(&run.id).await.expect("cancel");
    let done = env
        .engine
        .wait_run(&cancelled.id, fast(), &mut |_| {})
        .await
        .expect("wait");
    assert_eq!(done.status, RunStatus::Cancelled, "{done:?}");
    let rid: i64 = run
        .databricks_run_id
        .clone()
        .expect("id")
        .parse()
        .expect("n");
    assert_eq!(
        env.bodies("POST", "jobs/runs/cancel"),
        [json!({"run_id": rid})]
    );
    // Workflow whose first task is slow: slow notebook path via a new job.
    let (run, done) = cancel_a_new_job_right_away(
        &env,
        json!({"name": "slow-wf", "tasks": [
            {"task_key": "a", "notebook_task": {"notebook_path": "/Shared/behaviour/slow"}},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {"notebook_path": "/Shared/behaviour/success"}}]}),
    )
    .await;
    assert_eq!(done.status, RunStatus::Cancelled, "{done:?}");
    // Cancelling a finished run is a no-op that returns it unchanged.
    let again = env.engine.cancel_run(&run.id).await.expect("no-op");
    assert_eq!(again.status, RunStatus::Cancelled);
    assert_eq!(again.version, done.version);
    // A single-task Databricks Job.
    let (_, done) = cancel_a_new_job_right_away(
        &env,
        json!({"name": "slow-job", "tasks": [{"task_key": "a", "description": "emulator: duration=10m", "spark_python_task": {"python_file": "dbfs:/s.py"}}]}),
    )
    .await;
    assert_eq!(done.status, RunStatus::Cancelled);
});

e2e!(cancel_pipeline_stops_then_cancelled, |env| {
    env.import().await;
    let pid = env.seeded.continuous_pipeline.clone();
    let run = env
        .engine
        .start_run(&env.job_ref(&pid), &[])
        .await
        .expect("start");
    // Let it reach RUNNING.
    let mut seen_running = false;
    for _ in 0..200 {
        let r = env.engine.refresh_run(&run.id).await.expect("refresh");
        if r.update_state.as_deref() == Some("RUNNING") {
            seen_running = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(seen_running);
    // The seeded 2 s drain is 100 ms real: the clock stands still until the STOPPING state and
    // its hint are read, so a loaded machine cannot read after the drain ended.
    env.emu.freeze_clock();
    let after = env.engine.cancel_run(&run.id).await.expect("cancel");
    assert_eq!(
        env.paths("POST", "/stop"),
        [format!("/api/2.0/pipelines/{pid}/stop")]
    );
    assert_eq!(
        after.status,
        RunStatus::Running,
        "STOPPING reads Running: {after:?}"
    );
    assert_eq!(after.update_state.as_deref(), Some("STOPPING"));
    assert!(
        env.engine
            .run_hint(&after)
            .await
            .expect("hint")
            .text
            .contains("this is normal")
    );
    env.emu.set_time_scale(crate::harness::TIME_SCALE);
    let done = env
        .engine
        .wait_run(&run.id, fast(), &mut |_| {})
        .await
        .expect("wait");
    assert_eq!(done.status, RunStatus::Cancelled);
    let hist = env.engine.get_run(&run.id).await.expect("d").history;
    let states: Vec<_> = hist.iter().filter_map(|h| h.update_state.clone()).collect();
    let stop = states
        .iter()
        .position(|s| s == "STOPPING")
        .expect("stopping");
    assert!(
        states[stop..].contains(&"CANCELED".to_owned()),
        "{states:?}"
    );
});

e2e!(pipeline_cancel_never_stops_another_update, |env| {
    env.import().await;
    let pid = env.seeded.continuous_pipeline.clone();
    let run = env
        .engine
        .start_run(&env.job_ref(&pid), &[])
        .await
        .expect("start");
    // Someone stops it and starts another update outside Polysync.
    env.post(&format!("/api/2.0/pipelines/{pid}/stop"), json!({}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    env.post(
        &format!("/api/2.0/pipelines/{pid}/updates"),
        json!({"full_refresh": false}),
    )
    .await;
    env.emu.clear_requests();
    let res = env.engine.cancel_run(&run.id).await;
    assert!(
        env.paths("POST", "/stop").is_empty(),
        "stopped another update"
    );
    if let Ok(r) = res {
        assert_eq!(
            r.status,
            RunStatus::Cancelled,
            "ours had already ended: {r:?}"
        );
    }
});

e2e!(jobs_api_2_2_platform_is_usable, |env| {
    let mut p = env
        .engine
        .get_platform(crate::harness::PLATFORM)
        .await
        .expect("p");
    p.name = "emu22".into();
    p.jobs_api_version = JobsApiVersion::V2_2;
    env.engine.add_platform(p).await.expect("add");
    env.engine
        .import("emu22", &polysync_engine::NoProgress)
        .await
        .expect("import");
    let (run, _) = env
        .run_to_end(&format!("emu22:{}", env.seeded.workflow), &[])
        .await;
    assert_eq!(run.status, RunStatus::Success);
    assert!(
        env.paths("POST", "jobs/run-now")
            .iter()
            .all(|p| p.starts_with("/api/2.2/"))
    );
});

e2e!(
    jobs_api_2_2_import_follows_array_pages_of_large_workflows,
    |env| {
        // Jobs 2.2 returns at most 100 tasks and 100 parameters per `jobs/get`
        // page; the import must follow `next_page_token` and see all of them.
        let tasks: Vec<Value> = (0..120)
            .map(|i| {
                json!({
                    "task_key": format!("t{i}"),
                    "existing_cluster_id": "c-1",
                    "notebook_task": {"notebook_path": "/Shared/any"}
                })
            })
            .collect();
        let parameters: Vec<Value> = (0..150)
            .map(|i| json!({"name": format!("p{i:03}"), "default": i.to_string()}))
            .collect();
        let big = env
            .post(
                "/api/2.2/jobs/create",
                json!({"name": "big-workflow", "tasks": tasks, "parameters": parameters}),
            )
            .await["job_id"]
            .as_i64()
            .expect("job_id");
        let mut p = env
            .engine
            .get_platform(crate::harness::PLATFORM)
            .await
            .expect("p");
        p.name = "emu22big".into();
        p.jobs_api_version = JobsApiVersion::V2_2;
        env.engine.add_platform(p).await.expect("add");
        env.engine
            .import("emu22big", &polysync_engine::NoProgress)
            .await
            .expect("import");
        let job = env
            .engine
            .get_job(&format!("emu22big:{big}"))
            .await
            .expect("imported");
        assert_eq!(job.job_type, JobType::DatabricksWorkflow);
        let names: Vec<&str> = job.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), 150, "{names:?}");
        assert_eq!(names.first(), Some(&"p000"));
        assert_eq!(names.last(), Some(&"p149"));
        assert!(
            env.paths("GET", "jobs/get")
                .iter()
                .any(|p| p.contains("page_token=")),
            "the second page must be requested"
        );
    }
);
