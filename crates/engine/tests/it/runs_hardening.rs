//! Issue 8 (items 14-16, 18): batched refresh of active runs, run references (id prefix,
//! Databricks run id), unknown filter values, workflow task runs.

use polysync_engine::{Error, JobFilter, RunFilter, RunStatus};
use serde_json::json;

use crate::harness::{e2e, fast};

/// Requests whose endpoint key satisfies `pred`.
fn count(env: &crate::harness::Env<'_>, pred: impl Fn(&str) -> bool) -> usize {
    env.emu
        .requests()
        .iter()
        .filter(|r| pred(&r.endpoint))
        .count()
}

e2e!(refresh_runs_costs_one_listing_per_platform, |env| {
    env.import().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = env
            .engine
            .start_run("/Shared/behaviour/slow", &[])
            .await
            .expect("start");
        ids.push(r.id);
    }
    let wf = env
        .engine
        .start_run(&env.job_ref(env.seeded.workflow), &[])
        .await
        .expect("start workflow");
    ids.push(wf.id);
    let pl = env
        .engine
        .start_run(&format!("emu:{}", env.seeded.pipeline), &[])
        .await
        .expect("start pipeline");
    ids.push(pl.id);
    let before = env
        .engine
        .list_runs(&RunFilter::default(), 50)
        .await
        .expect("list");
    assert!(before.iter().all(|r| !r.status.is_terminal()), "{before:?}");
    // Every run ends in Databricks; Polysync has not looked yet.
    env.emu.set_time_scale(1_000_000.0);
    env.emu.clear_requests();
    let refreshed = env
        .engine
        .refresh_runs(&RunFilter::default(), 50)
        .await
        .expect("refresh");
    assert!(refreshed.failures.is_empty(), "{:?}", refreshed.failures);
    assert_eq!(refreshed.runs.len(), 5);
    for r in &refreshed.runs {
        assert_eq!(r.status, RunStatus::Success, "{r:?}");
        assert!(
            r.started_at.is_some(),
            "Databricks start time stored: {r:?}"
        );
        assert!(ids.contains(&r.id));
    }
    assert_eq!(count(&env, |e| e == "GET jobs/runs/list"), 1);
    assert_eq!(count(&env, |e| e == "GET jobs/runs/get"), 0);
    assert_eq!(
        count(&env, |e| e.starts_with("GET") && e.ends_with("/updates")),
        1
    );
    assert_eq!(count(&env, |e| e.contains("/updates/")), 0);
    // The stored runs are what a later list shows.
    let stored = env
        .engine
        .list_runs(&RunFilter::default(), 50)
        .await
        .expect("list");
    assert_eq!(stored, refreshed.runs);
});

e2e!(
    run_references_take_a_unique_prefix_or_the_databricks_id,
    |env| {
        env.import().await;
        let (a, _) = env.run_to_end("/Shared/behaviour/success", &[]).await;
        let (b, _) = env.run_to_end("/Shared/behaviour/success", &[]).await;
        let common =
            a.id.chars()
                .zip(b.id.chars())
                .take_while(|(x, y)| x == y)
                .count();
        // A prefix only `a` has.
        let unique = &a.id[..common + 1];
        assert_eq!(
            env.engine.get_run(unique).await.expect("prefix").run.id,
            a.id
        );
        let dbx = b.databricks_run_id.clone().expect("databricks id");
        assert_eq!(env.engine.get_run(&dbx).await.expect("dbx id").run.id, b.id);
        if common > 0 {
            match env.engine.get_run(&a.id[..common]).await {
                Err(e @ Error::Ambiguous { .. }) => {
                    let text = e.to_string();
                    assert!(text.contains(&a.id) && text.contains(&b.id), "{text}");
                    assert_eq!(e.kind(), polysync_engine::ErrorKind::Invalid);
                }
                other => panic!("ambiguous prefix: {other:?}"),
            }
        }
        assert!(matches!(
            env.engine.get_run("zzz-no-such").await,
            Err(Error::NotFound { .. })
        ));
        // Cancel and refresh take references too; an ended run's cancel is a no-op.
        let again = env.engine.cancel_run(unique).await.expect("no-op");
        assert_eq!(again, env.store.get_run(&a.id).await.expect("stored"));
        assert_eq!(count(&env, |e| e.contains("runs/cancel")), 0);
    }
);

e2e!(unknown_filter_values_are_not_found, |env| {
    env.import().await;
    let (run, _) = env.run_to_end("/Shared/behaviour/success", &[]).await;
    let by = |job: Option<&str>, platform: Option<&str>| RunFilter {
        job_name: job.map(str::to_owned),
        platform: platform.map(str::to_owned),
        status: None,
    };
    for f in [by(Some("nope"), None), by(None, Some("nope"))] {
        match env.engine.list_runs(&f, 10).await {
            Err(e @ Error::NotFound { .. }) => assert!(e.to_string().contains("nope"), "{e}"),
            other => panic!("{f:?}: {other:?}"),
        }
    }
    let by_ref = env
        .engine
        .list_runs(&by(Some("emu:/Shared/behaviour/success"), None), 10)
        .await
        .expect("PLATFORM:EXTERNAL_ID");
    assert_eq!(by_ref.len(), 1);
    assert_eq!(by_ref[0].id, run.id);
    let jobs = env
        .engine
        .list_jobs(&JobFilter {
            platform: Some("nope".into()),
            ..JobFilter::default()
        })
        .await;
    assert!(matches!(jobs, Err(Error::NotFound { .. })), "{jobs:?}");
});

e2e!(
    workflow_run_details_list_task_runs_with_the_failed_tasks_error,
    |env| {
        let id = env
        .create_job(json!({"name": "two-step", "tasks": [
            {"task_key": "prepare", "notebook_task": {"notebook_path": "/Shared/behaviour/success"}},
            {"task_key": "compute", "depends_on": [{"task_key": "prepare"}], "notebook_task": {"notebook_path": "/Shared/behaviour/failed"}}]}))
        .await;
        env.import().await;
        let run = env
            .engine
            .start_run(&env.job_ref(id), &[])
            .await
            .expect("start");
        let done = env
            .engine
            .wait_run(&run.id, fast(), &mut |_| {})
            .await
            .expect("wait");
        assert_eq!(done.status, RunStatus::Failed);
        let details = env
            .engine
            .get_run_details(&run.id, true)
            .await
            .expect("details");
        assert_eq!(details.tasks_error, None);
        let keys: Vec<&str> = details.tasks.iter().map(|t| t.task_key.as_str()).collect();
        assert_eq!(keys, ["prepare", "compute"], "{details:?}");
        let prepare = &details.tasks[0];
        assert_eq!(prepare.status, RunStatus::Success);
        assert!(prepare.duration_ms.is_some());
        let compute = &details.tasks[1];
        assert_eq!(compute.status, RunStatus::Failed);
        assert_eq!(compute.error.as_deref(), Some("simulated failed"));
        assert!(compute.error_trace.is_some(), "{compute:?}");
        let value = serde_json::to_value(&details).expect("json");
        assert_eq!(value["tasks"][1]["task_key"], "compute");
        assert_eq!(value["tasks"][1]["error"], "simulated failed");
    }
);
