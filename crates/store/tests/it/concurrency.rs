//! Concurrent writers: plain inserts on unique keys, compare-and-set
//! updates, IMMEDIATE transactions on SQLite, and first-time migrations from
//! several processes at once.

use std::process::Command;

use polysync_core::run::new_run_id;
use polysync_core::{Run, RunStatus, StateObservation};
use polysync_store::{Error, ErrorKind, Store, Update};

use crate::harness::{notebook, platform, store_test};

store_test!(two_concurrent_adds_of_one_platform_name_one_wins, |db| {
    // Two handles = two pools, as two processes would have.
    let other = db.reopen().await;
    for round in 0..5 {
        let name = format!("p{round}");
        let (pa, pb) = (platform(&name), platform(&name));
        let (a, b) = tokio::join!(db.store.add_platform(&pa), other.add_platform(&pb));
        let (ok, err) = match (a, b) {
            (Ok(p), Err(e)) | (Err(e), Ok(p)) => (p, e),
            (a, b) => panic!("exactly one add must win, got {a:?} / {b:?}"),
        };
        assert_eq!(ok.name, name);
        assert_eq!(ok.version, 1);
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        assert!(err.to_string().contains("already exists"), "{err}");
    }
    other.close().await;
});

store_test!(updating_a_platform_is_compare_and_set, |db| {
    let added = db.store.add_platform(&platform("prod")).await.unwrap();
    let mut first = added.clone();
    first.default_notebook_path = "/Shared".into();
    let mut second = added.clone();
    second.default_notebook_path = "/Users".into();
    let Update::Applied(stored) = db.store.update_platform(&first).await.unwrap() else {
        panic!("the first update must apply");
    };
    assert_eq!(stored.version, 2);
    match db.store.update_platform(&second).await.unwrap() {
        Update::Stale { current } => assert_eq!(current.default_notebook_path, "/Shared"),
        Update::Applied(p) => panic!("a stale update overwrote {p:?}"),
    }
    assert_eq!(
        db.store
            .find_platform("prod")
            .await
            .unwrap()
            .map(|p| p.default_notebook_path),
        Some("/Shared".to_owned())
    );
    assert_eq!(db.store.find_platform("nope").await.unwrap(), None);
});

store_test!(
    two_concurrent_status_updates_from_stale_reads_one_applies,
    |db| {
        db.store.add_platform(&platform("prod")).await.unwrap();
        let job = notebook("/nb", &[]);
        db.store
            .upsert_imported_jobs("prod", vec![job.clone()])
            .await
            .unwrap();
        let other = db.reopen().await;
        for round in 0..5 {
            let run = db
                .store
                .insert_run(&Run::new(&job, new_run_id(), 1_000 + round))
                .await
                .unwrap();
            // Both writers read the same version, then write different states.
            let mut running = db.store.get_run(&run.id).await.unwrap();
            let mut failed = other.get_run(&run.id).await.unwrap();
            running.apply_observation(
                &StateObservation {
                    status: Some(RunStatus::Running),
                    life_cycle_state: Some("RUNNING".into()),
                    ..StateObservation::default()
                },
                2_000,
            );
            failed.apply_observation(
                &StateObservation {
                    status: Some(RunStatus::Failed),
                    life_cycle_state: Some("INTERNAL_ERROR".into()),
                    ..StateObservation::default()
                },
                2_000,
            );
            let (a, b) = tokio::join!(db.store.update_run(&running), other.update_run(&failed));
            let (a, b) = (a.unwrap(), b.unwrap());
            let winner = match (&a, &b) {
                (Update::Applied(w), Update::Stale { current })
                | (Update::Stale { current }, Update::Applied(w)) => {
                    assert_eq!(current, w, "the loser sees the winner's row");
                    w.clone()
                }
                _ => panic!("exactly one update must apply: {a:?} / {b:?}"),
            };
            assert_eq!(winner.version, 2);
            let stored = db.store.get_run(&run.id).await.unwrap();
            assert_eq!(stored, winner);
            // One history row for the insert, one for the winning change.
            assert_eq!(db.store.run_history(&run.id).await.unwrap().len(), 2);
        }
        other.close().await;
    }
);

store_test!(an_update_of_a_missing_run_is_not_found, |db| {
    let job = notebook("/nb", &[]);
    let run = Run::new(&job, new_run_id(), 1);
    assert!(matches!(
        db.store.update_run(&run).await,
        Err(Error::NotFound { entity: "run", .. })
    ));
});

store_test!(
    six_concurrent_writers_and_two_imports_never_fail_on_locking,
    |db| {
        db.store.add_platform(&platform("prod")).await.unwrap();
        db.store.add_platform(&platform("dev")).await.unwrap();
        let job = notebook("/nb", &[]);
        db.store
            .upsert_imported_jobs("prod", vec![job.clone()])
            .await
            .unwrap();
        let mut handles = Vec::new();
        for _ in 0..6 {
            handles.push(db.reopen().await);
        }
        let writers = handles.iter().map(|s| {
            let job = job.clone();
            async move {
                for i in 0..10 {
                    let run = s.insert_run(&Run::new(&job, new_run_id(), i)).await?;
                    let mut next = run.clone();
                    next.databricks_run_id = Some(format!("{i}"));
                    match s.update_run(&next).await? {
                        Update::Applied(_) => {}
                        Update::Stale { .. } => panic!("nobody else writes this run"),
                    }
                }
                Ok::<_, Error>(())
            }
        });
        let imports = [("prod", "/a"), ("dev", "/a")].map(|(p, path)| {
            let s = &handles[0];
            let mut j = notebook(path, &[]);
            j.platform = p.to_owned();
            async move { s.upsert_imported_jobs(p, vec![j]).await.map(|_| ()) }
        });
        let (w, i) = tokio::join!(
            futures_util::future::join_all(writers),
            futures_util::future::join_all(imports)
        );
        for r in w.into_iter().chain(i) {
            r.expect("no concurrent write may fail");
        }
        let active = db.store.active_runs(1_000).await.unwrap();
        assert_eq!(active.len(), 60);
        assert!(active.iter().all(|r| r.status == RunStatus::Queued));
        for s in handles {
            s.close().await;
        }
    }
);

/// Env var that turns [`migrate_child_process`] from a no-op into the child
/// half of the multi-process migration test.
const CHILD_DB: &str = "POLYSYNC_STORE_TEST_MIGRATE_CHILD";

/// The child process: opens (creating and migrating) the file it is given.
#[tokio::test]
async fn migrate_child_process() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    let store = Store::open(&path).await.expect("child migrates");
    store.close().await;
}

#[tokio::test]
async fn several_processes_migrating_a_fresh_sqlite_file_at_once_all_succeed() {
    let exe = std::env::current_exe().expect("test binary");
    for round in 0..3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(format!("fresh-{round}.db"));
        let children: Vec<_> = (0..4)
            .map(|_| {
                Command::new(&exe)
                    .args(["--exact", "concurrency::migrate_child_process", "--quiet"])
                    .env(CHILD_DB, &path)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn child")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("child");
            assert!(
                out.status.success(),
                "a child failed to migrate: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let store = Store::open(&path.display().to_string())
            .await
            .expect("open");
        store.add_platform(&platform("prod")).await.expect("usable");
        store.close().await;
    }
}
