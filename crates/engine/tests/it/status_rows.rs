//! One test per row of each seed status table, driven by emulator
//! behaviours (notebook directives, task descriptions, pipeline
//! configuration). Names mirror crates/core/README.md.

use std::time::Duration;

use polysync_engine::{Job, JobType, RunStatus, StatusChange, WaitOptions};
use serde_json::json;

use crate::harness::{Env, e2e};

fn saw(history: &[StatusChange], life: &str, status: RunStatus) -> bool {
    history
        .iter()
        .any(|h| h.life_cycle_state.as_deref() == Some(life) && h.status == status)
}

fn saw_update(history: &[StatusChange], state: &str, status: RunStatus) -> bool {
    history
        .iter()
        .any(|h| h.update_state.as_deref() == Some(state) && h.status == status)
}

/// Starts the job named `job` with no parameters on a frozen clock (so its first state is
/// seen) and [`wait`]s for its end.
async fn run_with_history(env: &Env<'_>, job: &str) -> (polysync_engine::Run, Vec<StatusChange>) {
    env.emu.freeze_clock();
    let run = env.engine.start_run(job, &[]).await.expect("start");
    wait(env, &run).await
}

async fn notebook(env: &Env<'_>, name: &str) -> (polysync_engine::Run, Vec<StatusChange>) {
    let path = format!("/Shared/behaviour/{name}");
    env.engine
        .add_job(Job::new(
            &path,
            JobType::DatabricksNotebook,
            &path,
            crate::harness::PLATFORM,
        ))
        .await
        .expect("add");
    run_with_history(env, &path).await
}

// ---- databricks-notebook-job.txt "Execution flow" table.

e2e!(
    notebook_row_life_cycle_pending_running_terminating_is_running,
    |env| {
        // 3 s PENDING, 3 s RUNNING, then the 0.5 s TERMINATING phase:
        // stepped through by `wait`, each is polled however loaded the
        // machine is.
        let (run, h) = notebook(&env, "phases").await;
        assert_eq!(run.status, RunStatus::Success);
        for life in ["PENDING", "RUNNING", "TERMINATING"] {
            assert!(
                saw(&h, life, RunStatus::Running),
                "{life} not seen as Running: {h:?}"
            );
        }
    }
);

e2e!(notebook_row_life_cycle_skipped_is_cancelled, |env| {
    let (run, h) = notebook(&env, "skipped").await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(saw(&h, "SKIPPED", RunStatus::Cancelled), "{h:?}");
});

e2e!(notebook_row_life_cycle_internal_error_is_failed, |env| {
    let (run, h) = notebook(&env, "internal_error").await;
    assert_eq!(run.status, RunStatus::Failed);
    assert!(saw(&h, "INTERNAL_ERROR", RunStatus::Failed), "{h:?}");
    assert!(run.error_message.is_some());
});

e2e!(notebook_row_result_success_is_success, |env| {
    let (run, _) = notebook(&env, "success").await;
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.result_state.as_deref(), Some("SUCCESS"));
    assert!(run.ended_at.is_some());
});

e2e!(notebook_row_result_failed_timedout_is_failed, |env| {
    let (run, _) = notebook(&env, "failed").await;
    assert_eq!(
        (run.status, run.result_state.as_deref()),
        (RunStatus::Failed, Some("FAILED"))
    );
    assert!(
        run.error_message
            .clone()
            .unwrap_or_default()
            .contains("simulated failed"),
        "{run:?}"
    );
    let (run, _) = notebook(&env, "timedout").await;
    assert_eq!(
        (run.status, run.result_state.as_deref()),
        (RunStatus::Failed, Some("TIMEDOUT"))
    );
});

e2e!(notebook_row_result_canceled_is_cancelled, |env| {
    let (run, _) = notebook(&env, "canceled").await;
    assert_eq!(
        (run.status, run.result_state.as_deref()),
        (RunStatus::Cancelled, Some("CANCELED"))
    );
});

// ---- databricks-workflow-job.txt: same decoding on a multi-task run.

async fn workflow(
    env: &Env<'_>,
    second_task_description: &str,
) -> (polysync_engine::Run, Vec<StatusChange>) {
    let id = env
        .create_job(json!({"name": "wf", "tasks": [
            {"task_key": "a", "spark_python_task": {"python_file": "dbfs:/a.py"}},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], "description": second_task_description, "spark_python_task": {"python_file": "dbfs:/b.py"}}]}))
        .await;
    let job = Job::new(
        "wf",
        JobType::DatabricksWorkflow,
        id.to_string(),
        crate::harness::PLATFORM,
    );
    env.engine.add_job(job).await.expect("add");
    run_with_history(env, "wf").await
}

e2e!(workflow_row_running_then_success, |env| {
    let (run, h) = workflow(&env, "emulator: duration=2s").await;
    assert_eq!(run.status, RunStatus::Success);
    assert!(saw(&h, "RUNNING", RunStatus::Running), "{h:?}");
});

e2e!(workflow_row_task_failure_internal_error_is_failed, |env| {
    let (run, h) = workflow(&env, "emulator: outcome=FAILED message=\"load broke\"").await;
    assert_eq!(run.status, RunStatus::Failed);
    assert!(saw(&h, "INTERNAL_ERROR", RunStatus::Failed), "{h:?}");
    assert!(run.error_message.unwrap_or_default().contains("load broke"));
});

e2e!(workflow_row_result_timedout_is_failed, |env| {
    let (run, _) = workflow(&env, "emulator: outcome=TIMEDOUT").await;
    assert_eq!(run.status, RunStatus::Failed);
});

// ---- databricks-pipeline-job.txt update state table.

async fn pipeline(
    env: &Env<'_>,
    conf: serde_json::Value,
    continuous: bool,
) -> polysync_engine::Run {
    let pid = env
        .create_pipeline(json!({"name": "p-row", "continuous": continuous, "configuration": conf}))
        .await;
    env.engine
        .add_job(Job::new(
            "p-row",
            JobType::DatabricksPipeline,
            &pid,
            crate::harness::PLATFORM,
        ))
        .await
        .expect("add");
    let o: Vec<(String, String)> = Vec::new();
    env.engine.start_run("p-row", &o).await.expect("start")
}

/// Simulated time between two polls of [`wait`]: shorter than any phase
/// the tables name (TERMINATING lasts 0.5 s), so none can pass unpolled.
const STEP: Duration = Duration::from_millis(250);

/// Follows the run to its end with the emulator's clock frozen and moved
/// [`STEP`] between two polls: every state is polled however late a poll
/// comes on a loaded machine (real-time polls missed short phases). Returns
/// the run with its status history; the clock runs again afterwards.
async fn wait(
    env: &Env<'_>,
    run: &polysync_engine::Run,
) -> (polysync_engine::Run, Vec<StatusChange>) {
    env.emu.freeze_clock();
    let mut last = None;
    for _ in 0..10_000 {
        let r = env.engine.refresh_run(&run.id).await.expect("refresh");
        if r.status.is_terminal() {
            last = Some(r);
            break;
        }
        env.emu.advance_clock(STEP);
    }
    env.emu.set_time_scale(crate::harness::TIME_SCALE);
    let run = last.expect("the run ended within 2,500 simulated seconds");
    let h = env.engine.get_run(&run.id).await.expect("d").history;
    (run, h)
}

async fn refresh_until(env: &Env<'_>, id: &str, state: &str) -> polysync_engine::Run {
    for _ in 0..500 {
        let r = env.engine.refresh_run(id).await.expect("refresh");
        if r.update_state.as_deref() == Some(state) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{state} never seen");
}

e2e!(pipeline_row_running_stopping_is_running, |env| {
    let run = pipeline(&env, json!({"emulator.stop_drain": "4s"}), true).await;
    let r = refresh_until(&env, &run.id, "RUNNING").await;
    assert_eq!(r.status, RunStatus::Running);
    // The 4 s drain is 200 ms real: the clock stands still until the cancel has read the state,
    // so a loaded machine cannot read after the drain ended.
    env.emu.freeze_clock();
    let r = env.engine.cancel_run(&run.id).await.expect("cancel");
    assert_eq!(
        (r.update_state.as_deref(), r.status),
        (Some("STOPPING"), RunStatus::Running)
    );
    env.emu.set_time_scale(crate::harness::TIME_SCALE);
    let (done, h) = wait(&env, &run).await;
    assert_eq!(done.status, RunStatus::Cancelled);
    assert!(saw_update(&h, "STOPPING", RunStatus::Running));
});

e2e!(pipeline_row_completed_is_success, |env| {
    // Started on a frozen clock and stepped by `wait`: RUNNING is polled however loaded the
    // machine is (2 s, 0.1 s real, was missed once under load with real-time polls).
    env.emu.freeze_clock();
    let run = pipeline(&env, json!({"emulator.duration": "20s"}), false).await;
    let (done, h) = wait(&env, &run).await;
    assert_eq!(done.status, RunStatus::Success);
    assert!(saw_update(&h, "COMPLETED", RunStatus::Success));
    assert!(saw_update(&h, "RUNNING", RunStatus::Running));
});

e2e!(pipeline_row_failed_is_failed, |env| {
    let run = pipeline(
        &env,
        json!({"emulator.outcome": "FAILED", "emulator.message": "table broke"}),
        false,
    )
    .await;
    let (done, h) = wait(&env, &run).await;
    assert_eq!(done.status, RunStatus::Failed);
    assert!(saw_update(&h, "FAILED", RunStatus::Failed));
    assert!(
        done.error_message
            .unwrap_or_default()
            .contains("table broke")
    );
});

e2e!(pipeline_row_canceled_is_cancelled, |env| {
    let run = pipeline(&env, json!({"emulator.duration": "10m"}), false).await;
    refresh_until(&env, &run.id, "RUNNING").await;
    env.engine.cancel_run(&run.id).await.expect("cancel");
    let (done, h) = wait(&env, &run).await;
    assert_eq!(done.status, RunStatus::Cancelled);
    assert!(saw_update(&h, "CANCELED", RunStatus::Cancelled));
});

e2e!(pipeline_row_other_or_missing_is_unknown, |env| {
    let run = pipeline(&env, json!({"emulator.state": "SOMETHING_NEW"}), false).await;
    let r = refresh_until(&env, &run.id, "SOMETHING_NEW").await;
    assert_eq!(r.status, RunStatus::Unknown);
    assert!(!r.status.is_terminal());
    let short = WaitOptions {
        poll_interval: Duration::from_millis(5),
        timeout: Some(Duration::from_millis(100)),
    };
    let err = env
        .engine
        .wait_run(&run.id, short, &mut |_| {})
        .await
        .expect_err("unknown is not terminal");
    assert!(matches!(err, polysync_engine::Error::WaitTimeout { .. }));
});

e2e!(extra_pipeline_states_before_running_are_running, |env| {
    // Started on a frozen clock and stepped by `wait` (8 s phases, 250 ms steps): every state is
    // polled however loaded the machine is (1 s phases were missed under load with real-time
    // polls).
    env.emu.freeze_clock();
    let run = pipeline(
        &env,
        json!({"emulator.phase": "8s", "emulator.duration": "1s"}),
        false,
    )
    .await;
    let (done, h) = wait(&env, &run).await;
    assert_eq!(done.status, RunStatus::Success);
    for s in [
        "CREATED",
        "WAITING_FOR_RESOURCES",
        "INITIALIZING",
        "SETTING_UP_TABLES",
    ] {
        assert!(saw_update(&h, s, RunStatus::Running), "{s}: {h:?}");
    }
});
