use polysync_core::{DataType, Job, JobType, Parameter};
use polysync_store::{Error, JobFilter};

use crate::harness::{notebook, pipeline, platform, store_test, workflow};

fn discovery() -> Vec<Job> {
    vec![
        notebook("/Users/a/etl", &[("env", "dev"), ("n", "42")]),
        notebook("/Users/a/report", &[]),
        workflow("42", "nightly"),
        pipeline("p-1"),
    ]
}

store_test!(second_identical_import_changes_nothing, |db| {
    db.store.add_platform(&platform("prod")).await.unwrap();
    let first = db
        .store
        .upsert_imported_jobs("prod", discovery())
        .await
        .unwrap();
    assert_eq!(first.added.len(), 4);
    assert!(first.updated.is_empty() && first.removed.is_empty());
    let listed = db.store.list_jobs(&JobFilter::default()).await.unwrap();
    let second = db
        .store
        .upsert_imported_jobs("prod", discovery())
        .await
        .unwrap();
    assert!(second.added.is_empty(), "{second:?}");
    assert!(second.updated.is_empty(), "{second:?}");
    assert_eq!(second.unchanged.len(), 4);
    assert_eq!(
        db.store.list_jobs(&JobFilter::default()).await.unwrap(),
        listed
    );

    let etl = db.store.get_job("/Users/a/etl").await.unwrap();
    assert_eq!(etl.parameters.len(), 2);
    assert_eq!(etl.parameters[1].data_type, DataType::Number);
    let by_ext = db
        .store
        .find_job_by_external("prod", "42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_ext.name, "nightly");
    assert!(!by_ext.parameters[1].forwarded);
    let pipe = db.store.get_job("pipeline p-1").await.unwrap();
    assert_eq!(pipe.parameters.last().unwrap().name, "full_refresh");
    let only = db
        .store
        .list_jobs(&JobFilter {
            job_type: Some(JobType::DatabricksNotebook),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(only.len(), 2);
});

store_test!(missing_jobs_are_marked_removed_and_restored, |db| {
    db.store.add_platform(&platform("prod")).await.unwrap();
    db.store
        .upsert_imported_jobs("prod", discovery())
        .await
        .unwrap();
    let mut fewer = discovery();
    fewer.remove(1);
    let s = db
        .store
        .upsert_imported_jobs("prod", fewer.clone())
        .await
        .unwrap();
    assert_eq!(s.removed, vec!["/Users/a/report"]);
    let visible = db.store.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(visible.len(), 3);
    let all = db
        .store
        .list_jobs(&JobFilter {
            include_removed: true,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let gone = all.iter().find(|j| j.name == "/Users/a/report").unwrap();
    assert!(gone.removed_at.is_some());
    // Importing the same reduced set again reports nothing new.
    let s = db.store.upsert_imported_jobs("prod", fewer).await.unwrap();
    assert!(s.removed.is_empty() && s.updated.is_empty() && s.added.is_empty());
    // It comes back.
    let s = db
        .store
        .upsert_imported_jobs("prod", discovery())
        .await
        .unwrap();
    assert_eq!(s.updated, vec!["/Users/a/report"]);
    assert!(s.added.is_empty());
    assert!(
        db.store
            .get_job("/Users/a/report")
            .await
            .unwrap()
            .removed_at
            .is_none()
    );
});

store_test!(hand_made_jobs_are_not_marked_removed, |db| {
    db.store.add_platform(&platform("prod")).await.unwrap();
    db.store
        .add_job(&Job::new("manual", JobType::DatabricksJob, "7", "prod"))
        .await
        .unwrap();
    let s = db
        .store
        .upsert_imported_jobs("prod", discovery())
        .await
        .unwrap();
    assert!(s.removed.is_empty());
    assert!(
        db.store
            .get_job("manual")
            .await
            .unwrap()
            .removed_at
            .is_none()
    );
});

store_test!(same_path_on_two_platforms_gets_a_prefixed_name, |db| {
    db.store.add_platform(&platform("prod")).await.unwrap();
    db.store.add_platform(&platform("dev")).await.unwrap();
    db.store
        .upsert_imported_jobs("prod", vec![notebook("/Shared/x", &[])])
        .await
        .unwrap();
    let s = db
        .store
        .upsert_imported_jobs("dev", vec![notebook("/Shared/x", &[])])
        .await
        .unwrap();
    assert_eq!(s.added, vec!["dev:/Shared/x"]);
    let j = db
        .store
        .find_job_by_external("dev", "/Shared/x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.platform, "dev");
});

store_test!(sync_params_keeps_user_values, |db| {
    db.store.add_platform(&platform("prod")).await.unwrap();
    db.store
        .upsert_imported_jobs(
            "prod",
            vec![notebook("/nb", &[("env", "dev"), ("old", "x")])],
        )
        .await
        .unwrap();
    let mut job = db.store.get_job("/nb").await.unwrap();
    job.apply_overrides([("env", "prod")]).unwrap();
    assert!(db.store.update_job(&job).await.unwrap().is_applied());

    // Re-import keeps the user's value and reports no change.
    let s = db
        .store
        .upsert_imported_jobs(
            "prod",
            vec![notebook("/nb", &[("env", "dev"), ("old", "x")])],
        )
        .await
        .unwrap();
    assert_eq!(s.unchanged, vec!["/nb"]);
    assert_eq!(
        db.store.get_job("/nb").await.unwrap().parameters[0]
            .current_value
            .as_deref(),
        Some("prod")
    );

    let fresh = vec![
        Parameter::input("env", Some("staging".into())),
        Parameter::input("new", Some("1".into())),
    ];
    let sum = db
        .store
        .update_job_parameters("/nb", fresh, None)
        .await
        .unwrap();
    assert_eq!(sum.added, vec!["new"]);
    assert_eq!(sum.removed, vec!["old"]);
    assert_eq!(sum.kept_values, vec!["env"]);
    let job = db.store.get_job("/nb").await.unwrap();
    let names: Vec<_> = job.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["env", "new"]);
    assert_eq!(job.parameters[0].current_value.as_deref(), Some("prod"));
    assert_eq!(job.parameters[0].default_value.as_deref(), Some("staging"));
    assert!(matches!(
        db.store
            .update_job_parameters("/missing", vec![], None)
            .await,
        Err(Error::NotFound { .. })
    ));
});

store_test!(editing_a_job_is_compare_and_set, |db| {
    db.store.add_platform(&platform("prod")).await.unwrap();
    let added = db
        .store
        .add_job(&Job::new("j", JobType::DatabricksJob, "1", "prod"))
        .await
        .unwrap();
    let mut mine = added.clone();
    mine.external_id = "2".into();
    let mut theirs = added.clone();
    theirs.external_id = "3".into();
    let applied = db.store.update_job(&mine).await.unwrap();
    assert!(applied.is_applied());
    match db.store.update_job(&theirs).await.unwrap() {
        polysync_store::Update::Stale { current } => assert_eq!(current.external_id, "2"),
        other => panic!("a stale edit applied: {other:?}"),
    }
    assert_eq!(
        db.store.find_job("j").await.unwrap().unwrap().external_id,
        "2"
    );
    assert_eq!(db.store.find_job("nope").await.unwrap(), None);
});

store_test!(not_found_and_conflict_are_distinct, |db| {
    assert!(matches!(
        db.store.get_job("nope").await,
        Err(Error::NotFound { entity: "job", .. })
    ));
    assert!(matches!(
        db.store
            .add_job(&Job::new("j", JobType::DatabricksJob, "1", "nowhere"))
            .await,
        Err(Error::NotFound {
            entity: "platform",
            ..
        })
    ));
    db.store.add_platform(&platform("prod")).await.unwrap();
    db.store
        .add_job(&Job::new("j", JobType::DatabricksJob, "1", "prod"))
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .add_job(&Job::new("j", JobType::DatabricksJob, "2", "prod"))
            .await,
        Err(Error::AlreadyExists { entity: "job", .. })
    ));
    assert!(matches!(
        db.store
            .add_job(&Job::new("k", JobType::DatabricksJob, "1", "prod"))
            .await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        db.store
            .add_job(&Job::new("bad", JobType::DatabricksJob, "abc", "prod"))
            .await,
        Err(Error::Invalid(_))
    ));
});
