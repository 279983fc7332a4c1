//! The dispatcher's multi-row writes behave exactly as the one-row ones:
//! same rows, same history, compare-and-set kept (a run changed meanwhile
//! is reported stale, never overwritten).

use polysync_core::run::new_run_id;
use polysync_core::{Run, RunStatus, StateObservation};
use polysync_store::Update;

use crate::harness::store_test;

store_test!(batched_run_inserts_and_updates_keep_compare_and_set, |db| {
    let job = db.import_notebook().await;
    // More rows than one multi-row statement holds.
    let runs: Vec<Run> = (0..250)
        .map(|i| {
            let mut r = Run::new(&job, new_run_id(), 1_000 + i);
            r.parameters.insert("env".into(), format!("v{i}"));
            r.request = Some(serde_json::json!({"method": "POST", "n": i}));
            r
        })
        .collect();
    let mut tx = db.store.begin().await.unwrap();
    let stored = tx.insert_runs(&runs).await.unwrap();
    tx.commit().await.unwrap();
    assert!(stored.iter().all(|r| r.version == 1));
    for r in &runs {
        let back = db.store.get_run(&r.id).await.unwrap();
        assert_eq!(
            back,
            Run {
                version: 1,
                ..r.clone()
            }
        );
    }
    // One run is changed by another writer first: its batched write is stale.
    let mut other = stored[7].clone();
    other.state_message = Some("someone else".into());
    assert!(db.store.update_run(&other).await.unwrap().is_applied());
    let running = StateObservation {
        status: Some(RunStatus::Running),
        life_cycle_state: Some("RUNNING".into()),
        ..StateObservation::default()
    };
    let changed: Vec<Run> = stored
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.databricks_run_id = Some(format!("db-{}", r.id));
            assert!(r.apply_observation(&running, 5_000));
            r
        })
        .collect();
    let mut tx = db.store.begin().await.unwrap();
    let outcomes = tx.update_runs(&changed).await.unwrap();
    tx.commit().await.unwrap();
    for (i, (r, outcome)) in changed.iter().zip(&outcomes).enumerate() {
        match outcome {
            Update::Stale { current } => {
                assert_eq!(i, 7);
                assert_eq!(current.state_message.as_deref(), Some("someone else"));
                assert_eq!(current.version, 2);
            }
            Update::Applied(s) => {
                assert_eq!(s.version, 2);
                assert_eq!(db.store.get_run(&r.id).await.unwrap(), *s);
                let statuses: Vec<RunStatus> = db
                    .store
                    .run_history(&r.id)
                    .await
                    .unwrap()
                    .iter()
                    .map(|h| h.status)
                    .collect();
                assert_eq!(statuses, vec![RunStatus::Queued, RunStatus::Running]);
            }
        }
    }
    assert_eq!(outcomes.iter().filter(|o| !o.is_applied()).count(), 1);
    // Inserting an id that exists fails the whole batch, writing nothing.
    let fresh = Run::new(&job, new_run_id(), 9_000);
    let mut tx = db.store.begin().await.unwrap();
    assert!(
        tx.insert_runs(&[fresh.clone(), runs[0].clone()])
            .await
            .is_err()
    );
    drop(tx);
    assert!(db.store.find_run(&fresh.id).await.unwrap().is_none());
});
