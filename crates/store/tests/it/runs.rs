use polysync_core::run::new_run_id;
use polysync_core::{Run, RunStatus, StateObservation};
use polysync_store::{Error, RunFilter, Update};

use crate::harness::{notebook, platform, store_test};

store_test!(run_status_history_records_changes_only, |db| {
    let job = db.import_notebook().await;
    let mut run = Run::new(&job, new_run_id(), 1_000);
    run.parameters.insert("env".into(), "dev".into());
    let mut run = db.store.insert_run(&run).await.unwrap();
    assert_eq!(run.version, 1);
    // Each applied write returns the stored row with its next version.
    let save = async |run: &Run| match db.store.update_run(run).await.unwrap() {
        Update::Applied(stored) => stored,
        Update::Stale { current } => panic!("stale: {current:?}"),
    };

    run.databricks_run_id = Some("77".into());
    run = save(&run).await;

    let running = StateObservation {
        status: Some(RunStatus::Running),
        life_cycle_state: Some("RUNNING".into()),
        ..StateObservation::default()
    };
    assert!(run.apply_observation(&running, 2_000));
    run = save(&run).await;
    run = save(&run).await;
    let done = StateObservation {
        status: Some(RunStatus::Success),
        life_cycle_state: Some("TERMINATED".into()),
        result_state: Some("SUCCESS".into()),
        run_page_url: Some("https://x/#job/1/run/77".into()),
        ..StateObservation::default()
    };
    run.apply_observation(&done, 3_000);
    run.notebook_exit_value = Some("ok".into());
    run = save(&run).await;
    assert_eq!(run.version, 5);

    let stored = db.store.get_run(&run.id).await.unwrap();
    assert_eq!(stored, run);
    let history = db.store.run_history(&run.id).await.unwrap();
    let statuses: Vec<_> = history.iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        vec![RunStatus::Queued, RunStatus::Running, RunStatus::Success]
    );
    assert_eq!(history[2].result_state.as_deref(), Some("SUCCESS"));
    assert_eq!(history[2].at, 3_000);

    assert!(matches!(
        db.store.get_run("missing").await,
        Err(Error::NotFound { entity: "run", .. })
    ));
});

store_test!(list_runs_filters_and_limits, |db| {
    db.store.add_platform(&platform("prod")).await.unwrap();
    let a = notebook("/a", &[]);
    let b = notebook("/b", &[]);
    db.store
        .upsert_imported_jobs("prod", vec![a.clone(), b.clone()])
        .await
        .unwrap();
    for i in 0..5 {
        let job = if i % 2 == 0 { &a } else { &b };
        let run = Run::new(job, new_run_id(), 10 + i);
        db.store.insert_run(&run).await.unwrap();
    }
    let all = db
        .store
        .list_runs(&RunFilter::default(), 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    let two = db.store.list_runs(&RunFilter::default(), 2).await.unwrap();
    assert_eq!(two.len(), 2);
    let only_a = db
        .store
        .list_runs(
            &RunFilter {
                job_name: Some("/a".into()),
                ..RunFilter::default()
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!(only_a.len(), 3);
    let success = db
        .store
        .list_runs(
            &RunFilter {
                status: Some(RunStatus::Success),
                ..RunFilter::default()
            },
            100,
        )
        .await
        .unwrap();
    assert!(success.is_empty());
    // Runs survive their job's deletion.
    db.store.delete_job("/a").await.unwrap();
    assert_eq!(
        db.store
            .list_runs(&RunFilter::default(), 100)
            .await
            .unwrap()
            .len(),
        5
    );
});

store_test!(runs_are_read_whole_by_id_and_ended_ones_by_creation, |db| {
    let job = db.import_notebook().await;
    // Five runs created at 100, 200, … 500; those at 200 and 400 ended.
    let mut ids = Vec::new();
    for i in 1..=5_i64 {
        let mut run = Run::new(&job, new_run_id(), i * 100);
        run.parameters.insert("env".into(), format!("v{i}"));
        run.request = Some(serde_json::json!({ "n": i }));
        let mut run = db.store.insert_run(&run).await.unwrap();
        if i % 2 == 0 {
            let done = StateObservation {
                status: Some(RunStatus::Success),
                life_cycle_state: Some("TERMINATED".into()),
                result_state: Some("SUCCESS".into()),
                ..StateObservation::default()
            };
            assert!(run.apply_observation(&done, i * 100 + 50));
            assert!(matches!(
                db.store.update_run(&run).await.unwrap(),
                Update::Applied(_)
            ));
        }
        ids.push(run.id);
    }

    // Whole rows (request and parameters included), unknown ids absent.
    let wanted = vec![ids[0].clone(), ids[3].clone(), "missing".to_owned()];
    let found = db.store.find_runs(&wanted).await.unwrap();
    assert_eq!(found.len(), 2);
    for id in [&ids[0], &ids[3]] {
        assert_eq!(found[id], db.store.get_run(id).await.unwrap());
    }
    assert_eq!(found[&ids[3]].request, Some(serde_json::json!({ "n": 4 })));
    assert_eq!(found[&ids[3]].parameters["env"], "v4");
    assert!(db.store.find_runs(&[]).await.unwrap().is_empty());

    // Ended runs created since 150: the two that ended, newest first; the
    // limit keeps the newest; slim rows (no request).
    let ended = db.store.ended_runs_created_since(150, 10).await.unwrap();
    let got: Vec<&str> = ended.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got, [ids[3].as_str(), ids[1].as_str()]);
    assert!(ended.iter().all(|r| r.status == RunStatus::Success));
    assert!(ended.iter().all(|r| r.request.is_none()));
    let newest = db.store.ended_runs_created_since(150, 1).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].id, ids[3]);
    assert!(
        db.store
            .ended_runs_created_since(401, 10)
            .await
            .unwrap()
            .is_empty()
    );
});
