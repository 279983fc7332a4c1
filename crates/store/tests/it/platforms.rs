use polysync_core::{Auth, ComputeType, Error as CoreError, Job, JobType};
use polysync_store::Error;

use crate::harness::{platform, store_test};

store_test!(migrations_are_idempotent, |db| {
    db.store.migrate().await.unwrap();
    db.store.add_platform(&platform("prod")).await.unwrap();
    let again = db.reopen().await;
    again.migrate().await.unwrap();
    assert_eq!(again.list_platforms().await.unwrap().len(), 1);
    again.close().await;
});

store_test!(platform_validation_errors_name_the_field, |db| {
    let mut p = platform("prod");
    p.compute.compute_type = ComputeType::ExistingInteractiveCluster;
    match db.store.add_platform(&p).await {
        Err(Error::Invalid(CoreError::InvalidPlatform { field, .. })) => {
            assert_eq!(field, "existing_cluster_id")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        db.store.get_platform("prod").await,
        Err(Error::NotFound { .. })
    ));
    let mut bad = platform("a:b");
    bad.auth = Auth::TokenEnv { var: "X".into() };
    let msg = db.store.add_platform(&bad).await.unwrap_err().to_string();
    assert!(msg.contains("name"), "{msg}");
});

store_test!(platform_round_trip_and_delete_rules, |db| {
    let mut p = platform("prod");
    p.compute.compute_type = ComputeType::NewJobCluster;
    p.compute.cluster_version = Some("15.4.x-scala2.12".into());
    p.compute.node_type = Some("Standard_DS3_v2".into());
    p.compute.num_workers = Some(3);
    p.auth = Auth::Profile {
        name: "DEFAULT".into(),
        config_file: Some("/etc/databrickscfg".into()),
    };
    let added = db.store.add_platform(&p).await.unwrap();
    assert_eq!(added.version, 1);
    p.version = 1;
    assert_eq!(db.store.get_platform("prod").await.unwrap(), p);
    assert!(matches!(
        db.store.add_platform(&p).await,
        Err(Error::AlreadyExists {
            entity: "platform",
            ..
        })
    ));
    p.workspace_url = "https://other.example".into();
    let updated = db.store.update_platform(&p).await.unwrap().into_current();
    p.version = 2;
    assert_eq!(updated, p);
    assert_eq!(db.store.list_platforms().await.unwrap(), vec![p.clone()]);

    db.store
        .add_job(&Job::new("wf", JobType::DatabricksWorkflow, "42", "prod"))
        .await
        .unwrap();
    assert!(matches!(
        db.store.delete_platform("prod").await,
        Err(Error::Conflict(_))
    ));
    db.store.delete_job("wf").await.unwrap();
    db.store.delete_platform("prod").await.unwrap();
    assert!(matches!(
        db.store.delete_platform("prod").await,
        Err(Error::NotFound { .. })
    ));
});

// Several processes starting together on a fresh PostgreSQL database must
// all succeed (sqlx holds an advisory lock while migrating).
store_test!(concurrent_opens_migrate_safely, |db| {
    use polysync_testkit::{Backend, TestDb};
    let fresh = match db.kit.backend() {
        Backend::Postgres { admin_url, .. } => Some(TestDb::postgres(admin_url).await),
        Backend::Sqlite { .. } => None,
    };
    let target = fresh.as_ref().unwrap_or(db.kit).url().to_owned();
    let opens = (0..4).map(|_| {
        let t = target.clone();
        tokio::spawn(async move { polysync_store::Store::open(&t).await })
    });
    for h in opens.collect::<Vec<_>>() {
        let store = h.await.unwrap().unwrap();
        store.list_platforms().await.unwrap();
        store.close().await;
    }
    if let Some(fresh) = fresh {
        fresh.cleanup().await;
    }
});
