use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::TryStreamExt;
use polysync_databricks::JobsApiVersion;
use polysync_databricks::models::*;

use crate::*;

#[tokio::test]
async fn create_run_now_poll_and_output() {
    let emu = emulator().await;
    let c = client(&emu);
    notebook(&c, "/Shared/it/ok", "dbutils.notebook.exit(\"done\")").await;
    let job = c
        .jobs()
        .create(&JobSettings {
            name: Some("it-ok".into()),
            tasks: vec![nb_task("main", "/Shared/it/ok")],
            ..Default::default()
        })
        .await
        .expect("create");
    let got = c.jobs().get(job.job_id).await.expect("get");
    assert_eq!(
        got.settings.expect("settings").name.as_deref(),
        Some("it-ok")
    );
    let run = c
        .jobs()
        .run_now(&RunNowRequest {
            job_id: job.job_id,
            ..Default::default()
        })
        .await
        .expect("run-now");
    let done = wait(&c, run.run_id).await;
    assert_eq!(
        done.life_cycle_state(),
        Some(&RunLifeCycleState::Terminated)
    );
    assert_eq!(done.result_state(), Some(&RunResultState::Success));
    let task_run = done.task("main").expect("task").run_id;
    let out = c.jobs().get_run_output(task_run).await.expect("output");
    assert_eq!(
        out.notebook_output.and_then(|o| o.result).as_deref(),
        Some("done")
    );
}

#[tokio::test]
async fn submit_with_base_parameters() {
    let emu = emulator().await;
    let c = client(&emu);
    notebook(
        &c,
        "/Shared/it/echo",
        "dbutils.widgets.text(\"who\", \"nobody\")\ndbutils.notebook.exit(dbutils.widgets.get(\"who\"))",
    )
    .await;
    let mut task = nb_task("echo", "/Shared/it/echo");
    if let Some(nt) = task.notebook_task.as_mut() {
        nt.base_parameters = Some(BTreeMap::from([(
            "who".to_string(),
            "polysync".to_string(),
        )]));
    }
    let r = c
        .jobs()
        .submit(&SubmitRunRequest {
            run_name: Some("one-off".into()),
            tasks: vec![task],
            ..Default::default()
        })
        .await
        .expect("submit");
    let done = wait(&c, r.run_id).await;
    assert_eq!(done.result_state(), Some(&RunResultState::Success));
    let out = c
        .jobs()
        .get_run_output(done.tasks[0].run_id)
        .await
        .expect("output");
    assert_eq!(
        out.notebook_output.and_then(|o| o.result).as_deref(),
        Some("polysync")
    );
}

#[tokio::test]
async fn failed_run_carries_message() {
    let emu = emulator().await;
    let c = client(&emu);
    notebook(
        &c,
        "/Shared/it/fail",
        "# emulator: outcome=FAILED message=\"boom happened\"",
    )
    .await;
    let r = c
        .jobs()
        .submit(&SubmitRunRequest {
            tasks: vec![nb_task("f", "/Shared/it/fail")],
            ..Default::default()
        })
        .await
        .expect("submit");
    let done = wait(&c, r.run_id).await;
    assert_eq!(done.result_state(), Some(&RunResultState::Failed));
    let msg = done
        .state
        .as_ref()
        .and_then(|s| s.state_message.clone())
        .unwrap_or_default();
    let out = c
        .jobs()
        .get_run_output(done.tasks[0].run_id)
        .await
        .expect("output");
    assert!(
        msg.contains("boom happened") || out.error.unwrap_or_default().contains("boom happened"),
        "message: {msg}"
    );
}

#[tokio::test]
async fn cancel_and_timeout() {
    let emu = emulator().await;
    let c = client(&emu);
    notebook(&c, "/Shared/it/long", "# emulator: duration=2h").await;
    let r = c
        .jobs()
        .submit(&SubmitRunRequest {
            tasks: vec![nb_task("l", "/Shared/it/long")],
            ..Default::default()
        })
        .await
        .expect("submit");
    c.jobs().cancel_run(r.run_id).await.expect("cancel");
    let done = wait(&c, r.run_id).await;
    assert_eq!(done.result_state(), Some(&RunResultState::Canceled));

    let r = c
        .jobs()
        .submit(&SubmitRunRequest {
            tasks: vec![nb_task("l", "/Shared/it/long")],
            timeout_seconds: Some(60),
            ..Default::default()
        })
        .await
        .expect("submit");
    let done = wait(&c, r.run_id).await;
    assert_eq!(done.result_state(), Some(&RunResultState::Timedout));
}

#[tokio::test]
async fn three_tasks_with_depends_on() {
    let emu = emulator().await;
    let c = client(&emu);
    notebook(&c, "/Shared/it/step", "# emulator: duration=30s").await;
    let mut b = nb_task("b", "/Shared/it/step");
    b.depends_on = vec![TaskDependency {
        task_key: "a".into(),
        outcome: None,
    }];
    let mut t3 = nb_task("c", "/Shared/it/step");
    t3.depends_on = vec![TaskDependency {
        task_key: "b".into(),
        outcome: None,
    }];
    let job = c
        .jobs()
        .create(&JobSettings {
            name: Some("chain".into()),
            tasks: vec![nb_task("a", "/Shared/it/step"), b, t3],
            ..Default::default()
        })
        .await
        .expect("create");
    let r = c
        .jobs()
        .run_now(&RunNowRequest {
            job_id: job.job_id,
            ..Default::default()
        })
        .await
        .expect("run");
    let done = wait(&c, r.run_id).await;
    assert_eq!(done.result_state(), Some(&RunResultState::Success));
    assert_eq!(done.tasks.len(), 3);
    let start = |k: &str| done.task(k).and_then(|t| t.start_time).unwrap_or(0);
    let end = |k: &str| done.task(k).and_then(|t| t.end_time).unwrap_or(0);
    assert!(start("b") >= end("a"));
    assert!(start("c") >= end("b"));
    // get-output on the multi-task parent is the documented 400
    let err = c.jobs().get_run_output(r.run_id).await.expect_err("400");
    assert_eq!(err.error_code(), Some("INVALID_PARAMETER_VALUE"));
}

#[tokio::test]
async fn list_pages_over_100_jobs_and_runs() {
    let emu = emulator().await;
    let c = client(&emu);
    for i in 0..130 {
        c.jobs()
            .create(&JobSettings {
                name: Some(format!("bulk-{i}")),
                tasks: vec![nb_task("t", "/Shared/none")],
                ..Default::default()
            })
            .await
            .expect("create");
    }
    let jobs: Vec<BaseJob> = c
        .jobs()
        .list(ListJobsRequest {
            limit: Some(25),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("list");
    assert_eq!(jobs.len(), 130);
    let mut ids: Vec<_> = jobs.iter().map(|j| j.job_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 130);
    let pages = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint.contains("jobs/list"))
        .count();
    assert!(pages >= 6, "{pages} list pages");

    // runs/list pages at 25
    notebook(&c, "/Shared/it/q", "").await;
    for _ in 0..30 {
        c.jobs()
            .submit(&SubmitRunRequest {
                tasks: vec![nb_task("q", "/Shared/it/q")],
                ..Default::default()
            })
            .await
            .expect("submit");
    }
    let runs: Vec<BaseRun> = c
        .jobs()
        .list_runs(ListRunsRequest::default())
        .try_collect()
        .await
        .expect("runs");
    assert_eq!(runs.len(), 30);
}

#[tokio::test]
async fn jobs_2_2_pages_large_task_arrays() {
    let emu = emulator().await;
    let c = client_v(&emu, JobsApiVersion::V2_2);
    let tasks: Vec<Task> = (0..150)
        .map(|i| nb_task(&format!("t{i:03}"), "/Shared/x"))
        .collect();
    let job = c
        .jobs()
        .create(&JobSettings {
            name: Some("big".into()),
            tasks,
            ..Default::default()
        })
        .await
        .expect("create");
    let got = c.jobs().get(job.job_id).await.expect("get");
    let settings = got.settings.expect("settings");
    assert_eq!(settings.tasks.len(), 150);
    assert!(got.next_page_token.is_none());
    let gets = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint.contains("jobs/get"))
        .count();
    assert!(gets >= 2, "expected a second page request, saw {gets}");
    let _ = Duration::ZERO;
}
