//! The dispatcher end to end against the emulator: retries with backoff
//! (each attempt its own Databricks run), exhausted retries, timeouts that
//! cancel the Databricks run, user cancels never retried, contention limits
//! never exceeded, a DAG with success / failure / done conditions and
//! Skipped, missed schedules caught up once, one dispatcher per SQLite file.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use polysync_engine::{ApplyMode, DagRunStatus, DispatcherOptions, TaskRunStatus};
use polysync_store::Backend;
use serde_json::json;

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

/// Writes a notebook into the emulator's workspace and re-imports.
pub(crate) async fn notebook(env: &Env<'_>, path: &str, directive: &str) {
    let source = format!("# Databricks notebook source\n# emulator: {directive}\nprint(1)\n");
    env.post(
        "/api/2.0/workspace/import",
        json!({
            "path": path,
            "format": "SOURCE",
            "language": "PYTHON",
            "overwrite": true,
            "content": base64::engine::general_purpose::STANDARD.encode(source),
        }),
    )
    .await;
    env.import().await;
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

/// Starts `copies` DAG runs of `task` before any dispatcher runs, then drives one pass by pass
/// until they have all ended, reading the slots held of `limit` after every pass. Fails unless
/// every DAG run ends Success; returns the most slots of `limit` held at once.
async fn run_copies_watching_limit(env: &Env<'_>, task: &str, copies: usize, limit: &str) -> i64 {
    let mut dags = Vec::new();
    for _ in 0..copies {
        dags.push(
            env.engine
                .start_dag_run(task, &[], "manual", None)
                .await
                .expect("start")
                .id,
        );
    }
    let d = env.engine.dispatcher(fast()).await.expect("dispatcher");
    let mut max_held = 0;
    for _ in 0..3_000 {
        d.pass().await.expect("pass");
        let held = env.store.held_slots().await.expect("slots");
        max_held = max_held.max(held.get(limit).copied().unwrap_or(0));
        let mut done = true;
        for id in &dags {
            done &= env
                .engine
                .get_dag_run(id)
                .await
                .expect("view")
                .status
                .is_terminal();
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    d.stop().await.expect("stop");
    for id in &dags {
        assert_eq!(
            env.engine.get_dag_run(id).await.expect("view").status,
            DagRunStatus::Success,
            "DAG run {id} of {task}"
        );
    }
    max_held
}

e2e!(
    retries_with_backoff_until_success_each_attempt_its_own_run,
    |env| {
        notebook(&env, "/Shared/flaky", "fail_first=2 duration=1s").await;
        let file = "tasks:\n  - name: flaky\n    job: /Shared/flaky\n    retry: { attempts: 3, backoff: 50ms, exponential: true }\n";
        env.engine
            .apply_tasks("t.yaml", file, APPLY)
            .await
            .expect("apply");
        let before = env.emu.stats().runs_created;
        let view = run_task(&env, "flaky").await;
        assert_eq!(view.status, DagRunStatus::Success, "{view:#?}");
        let task = &view.tasks[0];
        assert_eq!(task.status, TaskRunStatus::Success);
        let statuses: Vec<_> = task.attempts.iter().map(|a| a.status).collect();
        assert_eq!(
            statuses,
            vec![
                TaskRunStatus::Failed,
                TaskRunStatus::Failed,
                TaskRunStatus::Success
            ]
        );
        let ids: BTreeSet<_> = task
            .attempts
            .iter()
            .filter_map(|a| a.databricks_run_id.clone())
            .collect();
        assert_eq!(ids.len(), 3, "three distinct Databricks runs: {task:#?}");
        assert_eq!(env.emu.stats().runs_created - before, 3);
        assert!(
            task.attempts
                .iter()
                .all(|a| a.monitor_url.is_some() && a.ended_at.is_some())
        );
        let tokens: BTreeSet<_> = env
            .bodies("POST", "jobs/runs/submit")
            .iter()
            .filter_map(|b| b["idempotency_token"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            tokens.len(),
            3,
            "each attempt has its own idempotency token"
        );
    }
);

e2e!(
    exhausted_retries_fail_and_timeouts_cancel_the_databricks_run,
    |env| {
        notebook(&env, "/Shared/always_fails", "fail_first=100 duration=1s").await;
        let file = "tasks:\n  - name: broken\n    job: /Shared/always_fails\n    retry: { attempts: 2, backoff: 10ms }\n  - name: stuck\n    job: /Shared/behaviour/slow\n    timeout: 300ms\n";
        env.engine
            .apply_tasks("t.yaml", file, APPLY)
            .await
            .expect("apply");
        let broken = run_task(&env, "broken").await;
        assert_eq!(broken.status, DagRunStatus::Failed);
        assert_eq!(broken.tasks[0].status, TaskRunStatus::Failed);
        assert_eq!(broken.tasks[0].attempts.len(), 2);

        let stuck = run_task(&env, "stuck").await;
        assert_eq!(stuck.tasks[0].status, TaskRunStatus::TimedOut, "{stuck:#?}");
        assert_eq!(stuck.tasks[0].attempts.len(), 1);
        let dbr = stuck.tasks[0].attempts[0]
            .databricks_run_id
            .clone()
            .expect("submitted");
        let (_, got) = (
            (),
            env.admin
                .jobs()
                .get_run(dbr.parse().expect("numeric"))
                .await
                .expect("runs/get"),
        );
        let state = serde_json::to_value(&got).expect("json");
        assert_eq!(
            state["state"]["result_state"], "CANCELED",
            "the Databricks run was cancelled: {state}"
        );
    }
);

e2e!(a_user_cancel_is_never_retried, |env| {
    env.import().await;
    let file = "tasks:\n  - name: long\n    job: /Shared/behaviour/slow\n    retry: { attempts: 3, backoff: 10ms }\n";
    env.engine
        .apply_tasks("t.yaml", file, APPLY)
        .await
        .expect("apply");
    let dag = env
        .engine
        .start_dag_run("long", &[], "manual", None)
        .await
        .expect("start");
    let d = env.engine.dispatcher(fast()).await.expect("dispatcher");
    // Let the attempt start in Databricks.
    for _ in 0..200 {
        d.pass().await.expect("pass");
        let v = env.engine.get_dag_run(&dag.id).await.expect("view");
        if v.tasks[0]
            .attempts
            .first()
            .is_some_and(|a| a.databricks_run_id.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.engine.cancel_dag_run(&dag.id).await.expect("cancel");
    let view = tokio::time::timeout(Duration::from_secs(60), d.run_dag(&dag.id))
        .await
        .expect("ends")
        .expect("run");
    d.stop().await.expect("stop");
    assert_eq!(view.status, DagRunStatus::Cancelled);
    assert_eq!(view.tasks[0].status, TaskRunStatus::Cancelled);
    assert_eq!(view.tasks[0].attempts.len(), 1, "never retried: {view:#?}");
});

e2e!(a_limit_is_never_exceeded_under_load, |env| {
    notebook(&env, "/Shared/limited", "duration=20s").await;
    let file = "limits:\n  warehouse-a: 2\ntasks:\n  - name: load\n    job: /Shared/limited\n    limits: [warehouse-a]\n";
    env.engine
        .apply_tasks("t.yaml", file, APPLY)
        .await
        .expect("apply");
    let max_held = run_copies_watching_limit(&env, "load", 6, "warehouse-a").await;
    assert_eq!(max_held, 2, "the limit was used, never exceeded");
    let stats = env.emu.stats();
    assert!(
        stats.max_concurrent_task_runs <= 2,
        "the emulator saw at most 2 at once: {stats:?}"
    );
    assert_eq!(
        stats
            .max_concurrent_task_runs_by_job
            .get("run /Shared/limited"),
        Some(&2),
        "per job too: {stats:?}"
    );
});

e2e!(
    a_five_task_dag_follows_success_failure_done_and_skips,
    |env| {
        env.import().await;
        let file = r#"tasks:
  - name: a
    job: /Shared/behaviour/failed
  - name: on_success
    job: /Shared/behaviour/success
    after: [a]
  - name: on_failure
    job: /Shared/behaviour/success
    after: [{ task: a, on: failure }]
  - name: on_done
    job: /Shared/behaviour/success
    after: [{ task: a, on: done }]
  - name: after_skipped
    job: /Shared/behaviour/success
    after: [on_success]
"#;
        env.engine
            .apply_tasks("t.yaml", file, APPLY)
            .await
            .expect("apply");
        let view = run_task(&env, "a").await;
        let status = |name: &str| {
            view.tasks
                .iter()
                .find(|t| t.task == name)
                .map(|t| t.status)
                .expect("task")
        };
        assert_eq!(status("a"), TaskRunStatus::Failed);
        assert_eq!(status("on_success"), TaskRunStatus::Skipped);
        assert_eq!(status("on_failure"), TaskRunStatus::Success);
        assert_eq!(status("on_done"), TaskRunStatus::Success);
        assert_eq!(status("after_skipped"), TaskRunStatus::Skipped);
        assert_eq!(
            view.status,
            DagRunStatus::Failed,
            "a failed task run fails the DAG run"
        );
        let skipped = view
            .tasks
            .iter()
            .find(|t| t.task == "on_success")
            .expect("t");
        assert!(
            skipped
                .message
                .as_deref()
                .is_some_and(|m| m.contains("a ended Failed")),
            "{skipped:?}"
        );
        assert!(skipped.attempts.is_empty());
    }
);

e2e!(
    a_missed_schedule_fires_once_and_sqlite_allows_one_dispatcher,
    |env| {
        env.import().await;
        let file = "tasks:\n  - name: nightly\n    job: /Shared/behaviour/success\n    schedule: { cron: '0 0 * * *', timezone: UTC }\n";
        env.engine
            .apply_tasks("t.yaml", file, APPLY)
            .await
            .expect("apply");
        // Pretend the dispatcher was down for ten days: ten fires were
        // missed. (A daily cron, so the two passes below cannot straddle a
        // new fire the way an every-minute cron could on a slow machine.)
        let due = env
            .engine
            .get_task("nightly")
            .await
            .expect("task")
            .next_fire_at
            .expect("next");
        assert!(
            env.store
                .advance_schedule(
                    "nightly",
                    due,
                    Some(jiff::Timestamp::now().as_millisecond() - 10 * 86_400_000)
                )
                .await
                .expect("rewind")
        );
        let d = env.engine.dispatcher(fast()).await.expect("dispatcher");
        if env.store.backend() == Backend::Sqlite {
            let second = env
                .engine
                .dispatcher(fast())
                .await
                .expect_err("one per SQLite file");
            assert!(
                second.to_string().contains("another dispatcher"),
                "{second}"
            );
        }
        let pass = d.pass().await.expect("pass");
        assert_eq!(pass.fired, 1, "caught up once, not ten times");
        assert_eq!(d.pass().await.expect("pass").fired, 0);
        let runs = env.engine.list_dag_runs(10).await.expect("dag runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].trigger, "schedule");
        let next = env
            .engine
            .get_task("nightly")
            .await
            .expect("task")
            .next_fire_at
            .expect("next");
        assert!(
            next > jiff::Timestamp::now().as_millisecond(),
            "the next fire is in the future"
        );
        d.stop().await.expect("stop");
    }
);

e2e!(waiting_work_is_released_by_priority_then_fifo, |env| {
    notebook(&env, "/Shared/one_at_a_time", "duration=2s").await;
    let file = "limits:\n  single: 1\ntasks:\n  - name: low\n    job: /Shared/one_at_a_time\n    limits: [single]\n  - name: high\n    job: /Shared/one_at_a_time\n    limits: [single]\n    priority: 10\n";
    env.engine
        .apply_tasks("t.yaml", file, APPLY)
        .await
        .expect("apply");
    // Queued in this order before any dispatcher runs: low, low, high, low.
    let mut order = Vec::new();
    for task in ["low", "low", "high", "low"] {
        let dag = env
            .engine
            .start_dag_run(task, &[], "manual", None)
            .await
            .expect("start");
        order.push((task, dag.id));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let d = env.engine.dispatcher(fast()).await.expect("dispatcher");
    for (_, id) in &order {
        tokio::time::timeout(Duration::from_secs(60), d.run_dag(id))
            .await
            .expect("ends")
            .expect("run");
    }
    d.stop().await.expect("stop");
    let mut started = Vec::new();
    for (task, id) in &order {
        let v = env.engine.get_dag_run(id).await.expect("view");
        assert_eq!(v.status, DagRunStatus::Success);
        started.push((v.tasks[0].attempts[0].started_at, *task, id.clone()));
    }
    started.sort();
    let tasks: Vec<&str> = started.iter().map(|(_, t, _)| *t).collect();
    assert_eq!(tasks, vec!["high", "low", "low", "low"], "priority first");
    let lows: Vec<&String> = started
        .iter()
        .filter(|(_, t, _)| *t == "low")
        .map(|(_, _, id)| id)
        .collect();
    let queued_lows: Vec<&String> = order
        .iter()
        .filter(|(t, _)| *t == "low")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(lows, queued_lows, "then FIFO");
});

e2e!(
    every_task_reaches_its_true_status_under_503s_and_429s,
    |env| {
        notebook(&env, "/Shared/under_fire", "duration=2s").await;
        let mut file = String::from("tasks:\n  - name: root\n    job: /Shared/under_fire\n");
        for i in 0..10 {
            file.push_str(&format!(
                "  - name: leaf{i}\n    job: /Shared/under_fire\n    after: [root]\n"
            ));
        }
        file.push_str("  - name: broken\n    job: /Shared/behaviour/failed\n    after: [root]\n");
        env.engine
            .apply_tasks("t.yaml", &file, APPLY)
            .await
            .expect("apply");
        let before = env.emu.stats().runs_created;
        env.emu.set_faults(polysync_emulator::FaultConfig {
            // The acceptance's fault mix: 10% of requests answered 503, plus 429s.
            error_rate: 0.1,
            error_status: Some(503),
            rate_limits: std::collections::BTreeMap::from([("*".to_owned(), 40.0)]),
            ..polysync_emulator::FaultConfig::default()
        });
        let view = run_task(&env, "root").await;
        env.emu
            .set_faults(polysync_emulator::FaultConfig::default());
        for t in &view.tasks {
            let want = if t.task == "broken" {
                TaskRunStatus::Failed
            } else {
                TaskRunStatus::Success
            };
            assert_eq!(t.status, want, "{t:?}");
            assert_eq!(t.attempts.len(), 1, "no spurious retry: {t:?}");
        }
        assert_eq!(view.status, DagRunStatus::Failed);
        assert_eq!(
            env.emu.stats().runs_created - before,
            12,
            "one Databricks run per attempt"
        );
    }
);

e2e!(
    a_workflow_counts_its_tasks_against_the_platform_limit,
    |env| {
        notebook(&env, "/Shared/wf_step", "duration=2s").await;
        let step = |key: &str| json!({"task_key": key, "notebook_task": {"notebook_path": "/Shared/wf_step"}});
        env.create_job(json!({"name": "wf3", "tasks": [step("a"), step("b"), step("c")]}))
            .await;
        env.import().await;
        // Room for one three-task workflow run at a time, not five.
        let file = "limits:\n  platform:emu: 5\ntasks:\n  - name: wf\n    job: wf3\n";
        env.engine
            .apply_tasks("t.yaml", file, APPLY)
            .await
            .expect("apply");
        let max_held = run_copies_watching_limit(&env, "wf", 3, "platform:emu").await;
        assert_eq!(
            max_held, 3,
            "one workflow run (three tasks) held the platform at a time"
        );
        let stats = env.emu.stats();
        assert!(
            stats.max_concurrent_task_runs <= 5,
            "the workspace never ran more task runs than the platform limit: {stats:?}"
        );
        assert!(
            stats.max_concurrent_task_runs >= 3,
            "the workflow's tasks ran together: {stats:?}"
        );
    }
);

e2e!(
    a_batch_of_dag_runs_starts_all_or_nothing_and_each_runs,
    |env| {
        notebook(&env, "/Shared/batch_up", "duration=0s").await;
        notebook(&env, "/Shared/batch_down", "duration=0s").await;
        let file = "tasks:\n  - name: up\n    job: /Shared/batch_up\n  - name: down\n    job: /Shared/batch_down\n    after: [up]\n";
        env.engine
            .apply_tasks("t.yaml", file, APPLY)
            .await
            .expect("apply");
        // One unknown task refuses the whole batch: nothing is started.
        let bad = [
            polysync_engine::DagRunRequest::manual("up"),
            polysync_engine::DagRunRequest::manual("nope"),
        ];
        assert!(env.engine.start_dag_runs(&bad).await.is_err());
        assert!(env.engine.list_dag_runs(10).await.expect("list").is_empty());
        // A batch (more than one multi-row statement) starts every DAG run
        // with its task runs; a dispatcher takes each to Success.
        let started = env
            .engine
            .start_dag_runs(&vec![polysync_engine::DagRunRequest::manual("up"); 120])
            .await
            .expect("batch");
        assert_eq!(started.len(), 120);
        let d = env.engine.dispatcher(fast()).await.expect("dispatcher");
        for dag in &started {
            let view = tokio::time::timeout(Duration::from_secs(120), d.run_dag(&dag.id))
                .await
                .expect("the DAG run ends in time")
                .expect("run");
            assert_eq!(view.status, DagRunStatus::Success, "{view:#?}");
            let names: BTreeSet<&str> = view.tasks.iter().map(|t| t.task.as_str()).collect();
            assert_eq!(names, BTreeSet::from(["down", "up"]));
            assert!(view.tasks.iter().all(|t| t.attempts.len() == 1));
        }
        d.stop().await.expect("stop");
    }
);

e2e!(
    a_service_dispatcher_sends_each_attempt_once_and_still_times_out,
    |env| {
        // `run_until` (the service): a pass ends what the tracking loop saw end, and checks
        // every held attempt (here a timeout) at each heartbeat.
        notebook(&env, "/Shared/quick", "duration=0s").await;
        let file = "tasks:\n  - name: quick\n    job: /Shared/quick\n  - name: stuck\n    job: /Shared/behaviour/slow\n    timeout: 300ms\n";
        env.engine
            .apply_tasks("t.yaml", file, APPLY)
            .await
            .expect("apply");
        let mut requests = vec![polysync_engine::DagRunRequest::manual("quick"); 60];
        requests.push(polysync_engine::DagRunRequest::manual("stuck"));
        let dags = env.engine.start_dag_runs(&requests).await.expect("start");
        let d = env
            .engine
            .dispatcher(DispatcherOptions {
                heartbeat: Duration::from_millis(100),
                ..fast()
            })
            .await
            .expect("dispatcher");
        let engine = env.engine.clone();
        let ids: Vec<String> = dags.iter().map(|d| d.id.clone()).collect();
        let all_ended = async move {
            loop {
                let mut ended = 0;
                for id in &ids {
                    if engine
                        .get_dag_run(id)
                        .await
                        .expect("view")
                        .status
                        .is_terminal()
                    {
                        ended += 1;
                    }
                }
                if ended == ids.len() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(120), d.run_until(all_ended))
            .await
            .expect("every DAG run ends in time")
            .expect("run");
        let mut statuses = Vec::new();
        for dag in &dags {
            let view = env.engine.get_dag_run(&dag.id).await.expect("view");
            statuses.push(view.tasks[0].status);
        }
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == TaskRunStatus::Success)
                .count(),
            60,
            "{statuses:?}"
        );
        assert_eq!(statuses[60], TaskRunStatus::TimedOut);
        let tokens: Vec<String> = env
            .bodies("POST", "runs/submit")
            .iter()
            .filter_map(|b| b["idempotency_token"].as_str().map(str::to_owned))
            .collect();
        let distinct: BTreeSet<&String> = tokens.iter().collect();
        assert_eq!(tokens.len(), 61, "one submit per attempt: {tokens:?}");
        assert_eq!(distinct.len(), 61);
    }
);
