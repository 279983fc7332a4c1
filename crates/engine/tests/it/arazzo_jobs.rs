//! Arazzo Workflow jobs end to end: an Arazzo file imported as a job whose
//! workflow calls the emulator's workspace API (described by an OpenAPI
//! document, real HTTP), run in process by the dispatcher with retries, its
//! output feeding a notebook task's parameter; dead runs (expired heartbeat)
//! end Failed; `tasks apply` refuses unknown outputs and un-imported files.

use std::time::Duration;

use polysync_engine::{
    ApplyMode, DagRunStatus, Direction, DispatcherOptions, JobFilter, JobType, RunStatus,
    TaskRunStatus,
};

use polysync_testkit::arazzo::{LOOKUP_ARAZZO, write_lookup_docs};

use crate::harness::{Env, e2e};

const APPLY: ApplyMode = ApplyMode {
    prune: false,
    dry_run: false,
};

fn fast() -> DispatcherOptions {
    DispatcherOptions {
        idle_tick: Duration::from_millis(20),
        track_interval: Duration::from_millis(20),
        ..DispatcherOptions::default()
    }
}

async fn run_task(env: &Env<'_>, task: &str) -> polysync_engine::DagRunView {
    let dag = env
        .engine
        .start_dag_run(task, &[], "manual", None)
        .await
        .expect("start");
    let d = env.engine.dispatcher(fast()).await.expect("dispatcher");
    let view = tokio::time::timeout(Duration::from_secs(120), d.run_dag(&dag.id))
        .await
        .expect("the DAG run ends in time")
        .expect("run");
    d.stop().await.expect("stop");
    view
}

async fn arazzo_jobs(env: &Env<'_>) -> Vec<polysync_engine::Job> {
    env.engine
        .list_jobs(&JobFilter {
            job_type: Some(JobType::ArazzoWorkflow),
            ..JobFilter::default()
        })
        .await
        .expect("jobs")
}

e2e!(arazzo_import_lists_inputs_and_outputs_idempotently, |env| {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_lookup_docs(dir.path());
    let file = file.to_str().expect("utf-8");

    let bad = dir.path().join("bad.arazzo.yaml");
    std::fs::write(
        &bad,
        LOOKUP_ARAZZO.replace("operationId: getStatus", "operationId: nope"),
    )
    .expect("bad");
    let err = env
        .engine
        .import_arazzo(bad.to_str().expect("utf-8"), crate::harness::PLATFORM, None)
        .await
        .expect_err("an invalid document is refused");
    let msg = err.to_string();
    assert!(
        msg.contains("bad.arazzo.yaml") && msg.contains("nope"),
        "{msg}"
    );
    assert!(arazzo_jobs(&env).await.is_empty(), "nothing stored");

    let report = env
        .engine
        .import_arazzo(file, crate::harness::PLATFORM, None)
        .await
        .expect("import");
    assert_eq!(report.added, vec!["lookup".to_owned()]);
    let job = env.engine.get_job("lookup").await.expect("job");
    assert_eq!(job.job_type, JobType::ArazzoWorkflow);
    let params: Vec<(&str, Direction, Option<&str>)> = job
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.direction, p.default_value.as_deref()))
        .collect();
    assert_eq!(
        params,
        vec![
            ("depth", Direction::Input, None),
            ("path", Direction::Input, Some("/Shared/behaviour/success")),
            ("kind", Direction::Output, None),
            ("x", Direction::Output, None),
        ]
    );
    assert_eq!(
        job.parameters[0].data_type,
        polysync_engine::DataType::Number
    );

    let again = env
        .engine
        .import_arazzo(file, crate::harness::PLATFORM, Some("lookup"))
        .await
        .expect("re-import");
    assert_eq!(again.unchanged, vec!["lookup".to_owned()]);
    assert!(again.added.is_empty() && again.updated.is_empty());
    assert_eq!(arazzo_jobs(&env).await.len(), 1);
    // Sync Parameters re-imports the file: a new input appears.
    std::fs::write(
        dir.path().join("lookup.arazzo.yaml"),
        LOOKUP_ARAZZO.replace(
            "        depth: { type: integer }\n",
            "        depth: { type: integer }\n        limit: { type: boolean }\n",
        ),
    )
    .expect("edit");
    let synced = env.engine.sync_params("lookup").await.expect("sync");
    assert_eq!(synced.added, vec!["limit".to_owned()], "{synced:?}");
    // A platform import never marks Arazzo jobs removed.
    env.import().await;
    let job = env.engine.get_job("lookup").await.expect("job");
    assert!(job.removed_at.is_none());
});

e2e!(arazzo_output_feeds_a_notebook_task_parameter, |env| {
    env.import().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_lookup_docs(dir.path());
    env.engine
        .import_arazzo(
            file.to_str().expect("utf-8"),
            crate::harness::PLATFORM,
            None,
        )
        .await
        .expect("import");
    // The run executes the imported snapshot, not the file as it is now.
    std::fs::write(&file, "not: [valid").expect("overwrite");
    let tasks = dir.path().join("tasks.yaml");
    let text = "tasks:\n  - name: a\n    job: arazzo:lookup.arazzo.yaml#lookup\n  - name: b\n    job: /Shared/etl/python_widgets\n    after: [a]\n    params:\n      region: \"${tasks.a.outputs.x}\"\n";
    env.engine
        .apply_tasks(tasks.to_str().expect("utf-8"), text, APPLY)
        .await
        .expect("apply");
    let view = run_task(&env, "a").await;
    assert_eq!(view.status, DagRunStatus::Success, "{view:#?}");
    assert!(
        env.paths("GET", "get-status")
            .iter()
            .any(|p| p.contains("get-status")),
        "the workflow called the API"
    );
    let regions: Vec<String> = env
        .bodies("POST", "jobs/runs/submit")
        .iter()
        .filter_map(|b| {
            b.pointer("/tasks/0/notebook_task/base_parameters/region")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(regions, vec!["/Shared/behaviour/success".to_owned()]);
    let runs = env
        .engine
        .list_runs(
            &polysync_engine::RunFilter {
                job_name: Some("lookup".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .expect("runs");
    assert_eq!(runs.len(), 1);
    let details = env.engine.get_run(&runs[0].id).await.expect("run");
    assert_eq!(details.run.status, RunStatus::Success);
    let outputs = details.run.outputs.expect("outputs");
    assert_eq!(outputs["x"], "/Shared/behaviour/success");
    assert_eq!(outputs["kind"], "NOTEBOOK");
});

e2e!(
    arazzo_failures_retry_until_exhausted_and_dead_runs_fail,
    |env| {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_lookup_docs(dir.path());
        env.engine
            .import_arazzo(
                file.to_str().expect("utf-8"),
                crate::harness::PLATFORM,
                None,
            )
            .await
            .expect("import");
        let tasks = dir.path().join("tasks.yaml");
        let text = "tasks:\n  - name: missing\n    job: arazzo:lookup.arazzo.yaml\n    retry: { attempts: 2, backoff: 10ms }\n    params:\n      path: /Shared/does-not-exist\n";
        env.engine
            .apply_tasks(tasks.to_str().expect("utf-8"), text, APPLY)
            .await
            .expect("apply");
        let view = run_task(&env, "missing").await;
        assert_eq!(view.status, DagRunStatus::Failed, "{view:#?}");
        let task = &view.tasks[0];
        assert_eq!(task.status, TaskRunStatus::Failed);
        let statuses: Vec<_> = task.attempts.iter().map(|a| a.status).collect();
        assert_eq!(statuses, vec![TaskRunStatus::Failed, TaskRunStatus::Failed]);
        assert!(
            task.message.as_deref().unwrap_or("").contains("status"),
            "{task:#?}"
        );

        // A run left Running by a process that died: its heartbeat expired.
        let run = env
            .engine
            .enqueue_run("lookup", &[])
            .await
            .expect("enqueue");
        let mut dead = env.store.get_run(&run.id).await.expect("run");
        let long_ago = jiff::Timestamp::now().as_millisecond() - 120_000;
        dead.status = RunStatus::Running;
        dead.submit_attempted_at = Some(long_ago);
        dead.updated_at = long_ago;
        assert!(
            env.store
                .update_run(&dead)
                .await
                .expect("update")
                .is_applied()
        );
        let calls = env.paths("GET", "get-status").len();
        let after = env.engine.refresh_run(&run.id).await.expect("refresh");
        assert_eq!(after.status, RunStatus::Failed);
        let message = after.error_message.unwrap_or_default();
        assert!(message.contains("no heartbeat"), "{message}");
        assert_eq!(
            env.paths("GET", "get-status").len(),
            calls,
            "never re-run silently"
        );
    }
);

e2e!(
    apply_refuses_unknown_arazzo_outputs_and_unimported_files,
    |env| {
        env.import().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_lookup_docs(dir.path());
        let tasks = dir.path().join("tasks.yaml");
        let tasks = tasks.to_str().expect("utf-8");
        let text = "tasks:\n  - name: a\n    job: arazzo:lookup.arazzo.yaml\n  - name: b\n    job: /Shared/etl/python_widgets\n    after: [a]\n    params:\n      region: \"${tasks.a.outputs.nope}\"\n";
        let err = env
            .engine
            .apply_tasks(tasks, text, APPLY)
            .await
            .expect_err("not imported");
        let msg = format!("{err} {err:?}");
        assert!(
            msg.contains("import it first: polysync arazzo import"),
            "{msg}"
        );
        assert!(
            err.to_string()
                .contains(&format!("{tasks}:3: task \"a\", field `job`")),
            "the `job:` line: {err}"
        );
        env.engine
            .import_arazzo(
                file.to_str().expect("utf-8"),
                crate::harness::PLATFORM,
                None,
            )
            .await
            .expect("import");
        let err = env
            .engine
            .apply_tasks(tasks, text, APPLY)
            .await
            .expect_err("unknown output");
        let msg = format!("{err} {err:?}");
        assert!(
            msg.contains("no output \\\"nope\\\"") || msg.contains("no output \"nope\""),
            "{msg}"
        );
        assert!(msg.contains("kind, x"), "{msg}");
        assert!(
            err.to_string()
                .contains(&format!("{tasks}:8: task \"b\", field `params.region`")),
            "the parameter's line: {err}"
        );
        assert!(env.engine.list_tasks().await.expect("tasks").is_empty());
        let ok = text.replace("outputs.nope", "outputs.x");
        env.engine
            .apply_tasks(tasks, &ok, APPLY)
            .await
            .expect("apply");
    }
);

const SLOW: &str = r#"arazzo: 1.0.1
info: { title: slow, version: "1" }
sourceDescriptions:
  - { name: ws, url: ./workspace.openapi.yaml, type: openapi }
workflows:
  - workflowId: slow
    steps:
      - stepId: poll
        operationId: getStatus
        parameters:
          - { name: path, in: query, value: /Shared/behaviour/success }
        successCriteria:
          - condition: $statusCode == 404
        onFailure:
          - { name: again, type: retry, retryAfter: 1, retryLimit: 1000 }
"#;

e2e!(arazzo_timeout_stops_the_in_process_execution, |env| {
    let dir = tempfile::tempdir().expect("tempdir");
    write_lookup_docs(dir.path());
    let slow = dir.path().join("slow.arazzo.yaml");
    std::fs::write(&slow, SLOW).expect("slow");
    env.engine
        .import_arazzo(
            slow.to_str().expect("utf-8"),
            crate::harness::PLATFORM,
            None,
        )
        .await
        .expect("import");
    let tasks = dir.path().join("tasks.yaml");
    // 2 s (real): long enough for the workflow's first request even on a loaded machine (500 ms
    // was not, and "it had started" failed).
    let text = "tasks:\n  - name: slow\n    job: arazzo:slow.arazzo.yaml\n    timeout: 2s\n";
    env.engine
        .apply_tasks(tasks.to_str().expect("utf-8"), text, APPLY)
        .await
        .expect("apply");
    let view = run_task(&env, "slow").await;
    assert_eq!(view.tasks[0].status, TaskRunStatus::TimedOut, "{view:#?}");
    let runs = env
        .engine
        .list_runs(
            &polysync_engine::RunFilter {
                job_name: Some("slow".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    assert!(!env.paths("GET", "get-status").is_empty(), "it had started");
});
