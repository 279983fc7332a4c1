//! Batched status tracking end to end: completions are read through the
//! watermark listing (no per-run `runs/get`, no output read for a success),
//! a failed run costs one detail read for its error, and a one-off run
//! whose waiter died is finished by a dispatcher, and a 429 pauses every
//! caller of the workspace.

use std::time::Duration;

use polysync_databricks::{Config, DatabricksClient, Method};
use polysync_emulator::FaultConfig;
use polysync_engine::{ACTIVE_SWEEP, DispatcherOptions, Run, RunStatus};
use serde_json::Value;

use crate::dispatcher::notebook;
use crate::harness::{Env, TOKEN, e2e};

/// Requests the emulator logged for `endpoint` (`GET jobs/runs/get`).
fn count(env: &Env<'_>, endpoint: &str) -> usize {
    env.emu
        .requests()
        .iter()
        .filter(|r| r.endpoint == endpoint)
        .count()
}

/// Sends `n` one-off runs of `job` without polling them.
async fn send(env: &Env<'_>, job: &str, n: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    for _ in 0..n {
        let run = env.engine.enqueue_run(job, &[]).await.expect("enqueue");
        runs.push(env.engine.submit_run(&run.id).await.expect("submit"));
    }
    runs
}

/// Tracking rounds until every run in `runs` ended; returns the rounds.
/// With `step`, the emulator's clock is frozen and moved on by `step`
/// between rounds, so no run changes state while a round reads its
/// listings, however slow the machine.
async fn track_to_end(env: &Env<'_>, runs: &[Run], step: Option<Duration>) -> usize {
    if step.is_some() {
        env.emu.freeze_clock();
    }
    for round in 1..=3_000 {
        let failures = env.engine.track_runs(None).await.expect("track");
        assert!(failures.is_empty(), "{failures:?}");
        let mut open = 0;
        for r in runs {
            if !env
                .engine
                .get_run(&r.id)
                .await
                .expect("get")
                .run
                .status
                .is_terminal()
            {
                open += 1;
            }
        }
        if open == 0 {
            return round;
        }
        match step {
            Some(by) => env.emu.advance_clock(by),
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    panic!("runs did not end");
}

e2e!(completions_are_read_through_the_watermark_listing, |env| {
    notebook(&env, "/Shared/track_ok", "duration=40s").await;
    env.emu.clear_requests();
    let runs = send(&env, "/Shared/track_ok", 30).await;
    let started = std::time::Instant::now();
    let rounds = track_to_end(&env, &runs, Some(Duration::from_secs(2))).await;
    let elapsed = started.elapsed();
    for r in &runs {
        let stored = env.engine.get_run(&r.id).await.expect("get").run;
        assert_eq!(stored.status, RunStatus::Success, "{stored:?}");
    }
    // No per-run reads: the first round's sweep saw every run active, the
    // ends came through the completed listing.
    assert_eq!(count(&env, "GET jobs/runs/get"), 0);
    assert_eq!(count(&env, "GET jobs/runs/get-output"), 0);
    // The listings grow with rounds, not runs: one completed listing per
    // round; an active sweep (two pages of 25) at the first round and then
    // every ACTIVE_SWEEP of real time, each with at most two more
    // completed pages (ends looked for during and after it); and the first
    // round's completed listing may take two pages more.
    let requests = env.emu.requests();
    let lists: Vec<&str> = requests
        .iter()
        .filter(|r| r.endpoint == "GET jobs/runs/list")
        .map(|r| r.path.as_str())
        .collect();
    let active = lists.iter().filter(|p| p.contains("active_only=true"));
    let sweeps = active.clone().filter(|p| !p.contains("page_token")).count();
    let completed = lists.len() - active.clone().count();
    let most_sweeps = 1 + usize::try_from(elapsed.as_secs() / ACTIVE_SWEEP.as_secs()).unwrap_or(0);
    assert!(
        sweeps <= most_sweeps,
        "{sweeps} sweeps in {elapsed:?}: {lists:?}"
    );
    assert!(active.count() <= 2 * sweeps, "{lists:?}");
    assert!(
        completed <= rounds + 2 * sweeps + 2,
        "{completed} completed listings for {rounds} rounds, {sweeps} sweeps: {lists:?}"
    );
});

e2e!(a_failed_run_costs_one_detail_read_for_its_error, |env| {
    notebook(
        &env,
        "/Shared/track_fail",
        "outcome=FAILED duration=20s message=\"Division by zero\"",
    )
    .await;
    env.emu.clear_requests();
    let runs = send(&env, "/Shared/track_fail", 1).await;
    track_to_end(&env, &runs, None).await;
    let stored = env.engine.get_run(&runs[0].id).await.expect("get").run;
    assert_eq!(stored.status, RunStatus::Failed);
    let message = stored.error_message.unwrap_or_default();
    assert!(message.contains("Division by zero"), "{message}");
    assert_eq!(count(&env, "GET jobs/runs/get-output"), 1);
    assert_eq!(count(&env, "GET jobs/runs/get"), 0);
});

e2e!(
    a_run_whose_waiter_was_killed_is_finished_by_a_dispatcher,
    |env| {
        notebook(&env, "/Shared/track_orphan", "duration=10s").await;
        // `polysync run --wait` sent it, then died: nobody polls it.
        let run = env
            .engine
            .start_run("/Shared/track_orphan", &[])
            .await
            .expect("start");
        assert!(!run.status.is_terminal());
        let d = env
            .engine
            .dispatcher(DispatcherOptions {
                idle_tick: Duration::from_millis(20),
                track_interval: Duration::from_millis(20),
                ..DispatcherOptions::default()
            })
            .await
            .expect("dispatcher");
        let mut ended = None;
        for _ in 0..3_000 {
            d.pass().await.expect("pass");
            let stored = env.engine.get_run(&run.id).await.expect("get").run;
            if stored.status.is_terminal() {
                ended = Some(stored);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        d.stop().await.expect("stop");
        let ended = ended.expect("the dispatcher tracked the run to its end");
        assert_eq!(ended.status, RunStatus::Success);
        // Its exit value is read when asked, not at its end.
        assert!(env.engine.exit_value(&run.id).await.is_ok());
    }
);

e2e!(a_429_pauses_every_caller_of_the_workspace, |env| {
    // Another client of the same workspace in this process (a CLI waiter,
    // a server handler): it shares the workspace's budget.
    let other = DatabricksClient::new(
        Config::builder()
            .host(env.emu.url())
            .token(TOKEN.to_owned())
            .build()
            .expect("config"),
    )
    .expect("client");
    let budget = env.admin.budget().clone();
    assert!(std::sync::Arc::ptr_eq(&budget, other.budget()));
    let before = (budget.throttled(), budget.paused_waits());
    let mut faults = FaultConfig::default();
    faults.rate_limits.insert("GET jobs/runs/list".into(), 1.0);
    env.emu.set_faults(faults);
    let list = "/api/2.1/jobs/runs/list";
    env.admin
        .request_json(Method::GET, list, None)
        .await
        .expect("first listing");
    // The second listing is answered 429 + Retry-After; its retry waits.
    let admin = env.admin.clone();
    let throttled = tokio::spawn(async move { admin.request_json(Method::GET, list, None).await });
    while budget.throttled() == before.0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A different endpoint from a different client waits for the pause too.
    let v: Value = other
        .request_json(Method::GET, "/api/2.0/workspace/list?path=/", None)
        .await
        .expect("listing after the pause");
    assert!(v.is_object());
    assert!(budget.paused_waits() > before.1, "{budget:?}");
    throttled
        .await
        .expect("join")
        .expect("retried after the pause");
    env.emu.set_faults(FaultConfig::default());
    let answered_429 = env
        .emu
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(answered_429, 1, "one 429, then everyone waited");
});
