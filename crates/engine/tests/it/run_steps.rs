//! Runs as resumable steps: a crash (the engine dropped, its store closed,
//! a new engine opened on the same database) between any two steps, or
//! between the Databricks call and the store write, still ends the run at
//! its true status with exactly one Databricks run. Also the event channel.

use std::sync::Arc;

use polysync_engine::{Engine, RunStatus};
use polysync_store::Store;

use crate::harness::{Env, TOKEN, TOKEN_VAR, e2e, fast};

const NOTEBOOK: &str = "/Shared/etl/python_widgets";

/// A fresh engine (own pool, own client cache) on the test's database: what
/// a restarted process has.
async fn restarted(env: &Env<'_>) -> (Engine, Store) {
    let store = Store::open(env.db.url()).await.expect("reopen store");
    let engine = Engine::from_store(store.clone()).with_env(Arc::new(|k: &str| {
        (k == TOKEN_VAR).then(|| TOKEN.to_owned())
    }));
    (engine, store)
}

/// How many runs the emulator created, and how many submits it received.
fn counts(env: &Env<'_>) -> (u64, usize) {
    (
        env.emu.stats().runs_created,
        env.bodies("POST", "jobs/runs/submit").len(),
    )
}

e2e!(crash_after_enqueue_the_next_process_sends_it_once, |env| {
    env.import().await;
    env.emu.clear_requests();
    let before = env.emu.stats().runs_created;
    let (a, store_a) = restarted(&env).await;
    let run = a
        .enqueue_run(NOTEBOOK, &[("region".into(), "emea".into())])
        .await
        .expect("enqueue");
    assert_eq!(run.status, RunStatus::Queued);
    assert!(run.databricks_run_id.is_none());
    assert!(
        env.emu.requests().is_empty(),
        "enqueue sends nothing: {:?}",
        env.emu.requests()
    );
    drop(a);
    store_a.close().await;

    let (b, store_b) = restarted(&env).await;
    let done = b
        .wait_run(&run.id, fast(), &mut |_| {})
        .await
        .expect("wait");
    assert_eq!(done.status, RunStatus::Success, "{done:?}");
    assert_eq!(done.notebook_exit_value.as_deref(), Some("emea"));
    let (created, submits) = counts(&env);
    assert_eq!((created - before, submits), (1, 1));
    store_b.close().await;
});

e2e!(
    crash_after_submit_the_next_process_tracks_it_to_the_end,
    |env| {
        env.import().await;
        env.emu.clear_requests();
        let before = env.emu.stats().runs_created;
        let (a, store_a) = restarted(&env).await;
        let run = a.enqueue_run(NOTEBOOK, &[]).await.expect("enqueue");
        let sent = a.submit_run(&run.id).await.expect("submit");
        let dbr = sent.databricks_run_id.clone().expect("databricks run id");
        // Repeating a step is harmless.
        assert_eq!(a.submit_run(&run.id).await.expect("again"), sent);
        drop(a);
        store_a.close().await;

        let (b, store_b) = restarted(&env).await;
        let done = b
            .wait_run(&run.id, fast(), &mut |_| {})
            .await
            .expect("wait");
        assert_eq!(done.status, RunStatus::Success);
        assert_eq!(done.databricks_run_id.as_deref(), Some(dbr.as_str()));
        let (created, submits) = counts(&env);
        assert_eq!((created - before, submits), (1, 1));
        store_b.close().await;
    }
);

e2e!(
    crash_between_the_databricks_call_and_the_store_write_is_recovered_by_token,
    |env| {
        env.import().await;
        let before = env.emu.stats().runs_created;
        let (a, store_a) = restarted(&env).await;
        let run = a.enqueue_run(NOTEBOOK, &[]).await.expect("enqueue");
        // What process A did before dying: mark the attempt, send the stored
        // request (Databricks committed it), never store the answer.
        let mut attempted = store_a.get_run(&run.id).await.expect("run");
        attempted.submit_attempted_at = Some(attempted.created_at);
        assert!(
            store_a
                .update_run(&attempted)
                .await
                .expect("mark")
                .is_applied()
        );
        let body = env
            .post(
                "/api/2.1/jobs/runs/submit",
                attempted.request.clone().expect("stored")["body"].clone(),
            )
            .await;
        let committed = body["run_id"].as_i64().expect("run_id").to_string();
        drop(a);
        store_a.close().await;

        // The next process: a refresh recovers the run by re-sending the same
        // token, which Databricks answers with the run it made.
        let (b, store_b) = restarted(&env).await;
        let recovered = b.refresh_run(&run.id).await.expect("refresh");
        assert_eq!(
            recovered.databricks_run_id.as_deref(),
            Some(committed.as_str())
        );
        let done = b
            .wait_run(&run.id, fast(), &mut |_| {})
            .await
            .expect("wait");
        assert_eq!(done.status, RunStatus::Success);
        assert_eq!(
            env.emu.stats().runs_created - before,
            1,
            "exactly one Databricks run"
        );
        store_b.close().await;
    }
);

e2e!(cancelling_a_run_never_sent_cancels_it_locally, |env| {
    env.import().await;
    env.emu.clear_requests();
    let run = env
        .engine
        .enqueue_run(NOTEBOOK, &[])
        .await
        .expect("enqueue");
    let cancelled = env.engine.cancel_run(&run.id).await.expect("cancel");
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert!(cancelled.ended_at.is_some());
    assert!(
        env.emu.requests().is_empty(),
        "nothing to stop in Databricks"
    );
    // A cancelled run is never sent afterwards.
    let again = env.engine.resume_run(&run.id).await.expect("resume");
    assert_eq!(again.status, RunStatus::Cancelled);
    assert!(env.bodies("POST", "jobs/runs/submit").is_empty());
});

e2e!(
    every_stored_change_is_published_on_the_event_channel,
    |env| {
        env.import().await;
        let mut events = env.engine.subscribe();
        let (run, history) = env.run_to_end(NOTEBOOK, &[]).await;
        assert_eq!(run.status, RunStatus::Success);
        let mut seen = Vec::new();
        while let Ok(e) = events.try_recv() {
            let r = e
                .as_run()
                .expect("only run events for a one-off run")
                .clone();
            assert_eq!(r.id, run.id);
            seen.push(r);
        }
        // Versions strictly increase and the last event is the stored end.
        assert!(
            seen.windows(2).all(|w| w[0].version < w[1].version),
            "{seen:?}"
        );
        assert_eq!(seen.last(), Some(&run));
        let statuses: Vec<RunStatus> = seen.iter().map(|r| r.status).collect();
        for change in &history {
            assert!(
                statuses.contains(&change.status),
                "{statuses:?} lacks {:?}",
                change.status
            );
        }
    }
);

e2e!(a_lost_pipeline_start_is_adopted_not_started_twice, |env| {
    env.import().await;
    let job = env.job_ref(&env.seeded.pipeline);
    let (a, store_a) = restarted(&env).await;
    let run = a.enqueue_run(&job, &[]).await.expect("enqueue");
    let mut attempted = store_a.get_run(&run.id).await.expect("run");
    attempted.submit_attempted_at = Some(jiff::Timestamp::now().as_millisecond());
    assert!(
        store_a
            .update_run(&attempted)
            .await
            .expect("mark")
            .is_applied()
    );
    let request = attempted.request.clone().expect("stored request");
    let path = request["path"].as_str().expect("path").to_owned();
    let started = env.post(&path, request["body"].clone()).await;
    let update_id = started["update_id"].as_str().expect("update_id").to_owned();
    drop(a);
    store_a.close().await;
    env.emu.clear_requests();

    let (b, store_b) = restarted(&env).await;
    let recovered = b.refresh_run(&run.id).await.expect("refresh");
    assert_eq!(
        recovered.databricks_run_id,
        Some(format!("{}:{update_id}", env.seeded.pipeline))
    );
    assert!(
        env.bodies("POST", "pipelines/updates").is_empty()
            && env.bodies("POST", "updates").is_empty(),
        "no second start: {:?}",
        env.emu
            .requests()
            .iter()
            .map(|r| r.endpoint.clone())
            .collect::<Vec<_>>()
    );
    let done = b
        .wait_run(&run.id, fast(), &mut |_| {})
        .await
        .expect("wait");
    assert!(done.status.is_terminal(), "{done:?}");
    store_b.close().await;
});
