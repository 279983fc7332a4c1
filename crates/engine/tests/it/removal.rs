//! Removing jobs and platforms (issue 8 item 13): `platform remove` used to say "remove its
//! jobs first" with no way to do so.

use polysync_engine::{ErrorKind, JobFilter};

use crate::harness::{PLATFORM, e2e};

e2e!(remove_job_then_platform_with_jobs_keeps_runs, |env| {
    env.import().await;
    let (run, _) = env.run_to_end("/Shared/behaviour/success", &[]).await;
    let all = |env: &crate::harness::Env<'_>| {
        let engine = env.engine.clone();
        async move {
            engine
                .list_jobs(&JobFilter {
                    include_removed: true,
                    ..JobFilter::default()
                })
                .await
                .expect("list")
        }
    };
    let before = all(&env).await;
    assert!(before.len() > 2, "{before:?}");

    // Without --with-jobs the platform stays, and so do its jobs.
    let refused = env
        .engine
        .remove_platform(PLATFORM, false)
        .await
        .expect_err("refused while jobs reference it");
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert_eq!(all(&env).await.len(), before.len());
    // The refusal names the jobs: the first five by name, then how many more.
    let mut names: Vec<&str> = before.iter().map(|j| j.name.as_str()).collect();
    names.sort_unstable();
    let shown = refused.to_string();
    for name in names.iter().take(5) {
        assert!(shown.contains(&format!("{name:?}")), "{name}: {shown}");
    }
    let more = names.len().saturating_sub(5);
    assert_eq!(
        shown.contains(&format!(" and {more} more")),
        more > 0,
        "{shown}"
    );

    // One job, by PLATFORM:EXTERNAL_ID.
    let removed = env
        .engine
        .remove_job(&format!("{PLATFORM}:/Shared/behaviour/success"))
        .await
        .expect("remove job");
    assert_eq!(removed.name, "/Shared/behaviour/success");
    assert_eq!(all(&env).await.len(), before.len() - 1);
    let gone = env
        .engine
        .get_job("/Shared/behaviour/success")
        .await
        .expect_err("removed");
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    let again = env
        .engine
        .remove_job("/Shared/behaviour/success")
        .await
        .expect_err("already removed");
    assert_eq!(again.kind(), ErrorKind::NotFound);

    // The rest with the platform, at once.
    let jobs = env
        .engine
        .remove_platform(PLATFORM, true)
        .await
        .expect("remove with jobs");
    assert_eq!(jobs.len(), before.len() - 1, "{jobs:?}");
    assert!(all(&env).await.is_empty());
    assert!(
        env.engine
            .find_platform(PLATFORM)
            .await
            .expect("find")
            .is_none()
    );

    // Runs keep their copy of the job.
    let kept = env.engine.get_run(&run.id).await.expect("run kept");
    assert_eq!(kept.run.job_name, "/Shared/behaviour/success");
    assert_eq!(kept.run.platform, PLATFORM);

    // Re-adding the platform is possible; removing a missing one is NotFound.
    let missing = env
        .engine
        .remove_platform(PLATFORM, true)
        .await
        .expect_err("gone");
    assert_eq!(missing.kind(), ErrorKind::NotFound);
});
