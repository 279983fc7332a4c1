//! Import, re-import, removal, parameter schemas, sync-params, secrets.

use polysync_engine::{
    DataType, Direction, JobFilter, JobType, Parameter, ParameterMapping, TaskType,
};
use serde_json::json;

use crate::harness::{PLATFORM, TOKEN, e2e};

const NOTEBOOKS: usize = 14;

fn param<'a>(job: &'a polysync_engine::Job, name: &str) -> &'a Parameter {
    job.parameter(name)
        .unwrap_or_else(|| panic!("{} has no parameter {name}: {:?}", job.name, job.parameters))
}

e2e!(import_discovers_every_type_with_parameters, |env| {
    let report = env.import().await;
    assert_eq!(report.added.len(), NOTEBOOKS + 8 + 2, "{report:?}");
    assert!(report.updated.is_empty() && report.removed.is_empty());
    let jobs = env
        .engine
        .list_jobs(&JobFilter::default())
        .await
        .expect("list");
    let count = |t: JobType| jobs.iter().filter(|j| j.job_type == t).count();
    assert_eq!(count(JobType::DatabricksNotebook), NOTEBOOKS);
    assert_eq!(count(JobType::DatabricksJob), 7);
    assert_eq!(count(JobType::DatabricksWorkflow), 1);
    assert_eq!(count(JobType::DatabricksPipeline), 2);

    // Notebooks: every language, every widget kind, defaults, Input.
    let py = env
        .engine
        .get_job("/Shared/etl/python_widgets")
        .await
        .expect("py");
    let names: Vec<_> = py.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["region", "mode", "fruit", "days"]);
    assert_eq!(param(&py, "mode").default_value.as_deref(), Some("full"));
    assert!(
        py.parameters
            .iter()
            .all(|p| p.direction == Direction::Input && p.forwarded)
    );
    for (path, expected) in [
        (
            "/Shared/etl/scala_widgets",
            vec!["target", "level", "c", "m"],
        ),
        (
            "/Shared/etl/sql_widgets",
            vec!["catalog", "env", "cb", "coins"],
        ),
        ("/Shared/etl/r_widgets", vec!["token_name", "d", "cb", "ms"]),
    ] {
        let j = env.engine.get_job(path).await.expect(path);
        let names: Vec<_> = j.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, expected, "{path}");
    }
    // Workflow: job-level forwarded with inferred types, task-level reference only.
    let wf = env
        .engine
        .get_job(&env.job_ref(env.seeded.workflow))
        .await
        .expect("wf");
    assert_eq!(wf.job_type, JobType::DatabricksWorkflow);
    assert_eq!(param(&wf, "env").data_type, DataType::String);
    assert_eq!(param(&wf, "batch").data_type, DataType::Number);
    assert_eq!(param(&wf, "dry_run").data_type, DataType::Bool);
    assert!(param(&wf, "batch").forwarded);
    assert!(!param(&wf, "task_only").forwarded);
    // Single-task jobs: mapping by task type.
    for (id, tt, first) in [
        (env.seeded.notebook_job, TaskType::Notebook, "region"),
        (env.seeded.wheel_job, TaskType::PythonWheel, "date"),
        (env.seeded.script_job, TaskType::PythonScript, "arg1"),
        (env.seeded.jar_job, TaskType::SparkJar, "arg1"),
        (env.seeded.sql_job, TaskType::Sql, "p"),
    ] {
        let j = env.engine.get_job(&env.job_ref(id)).await.expect("job");
        assert_eq!(j.job_type, JobType::DatabricksJob);
        assert_eq!(
            j.parameter_mapping,
            Some(ParameterMapping::Task { task_type: tt }),
            "{}",
            j.name
        );
        assert_eq!(j.parameters[0].name, first, "{}", j.name);
    }
    let dbt = env
        .engine
        .get_job(&env.job_ref(env.seeded.dbt_job))
        .await
        .expect("dbt");
    assert!(dbt.parameters.is_empty());
    let jl = env
        .engine
        .get_job(&env.job_ref(env.seeded.job_level_job))
        .await
        .expect("jl");
    assert_eq!(jl.parameter_mapping, Some(ParameterMapping::JobParameters));
    // Pipelines: runnable settings as reference, full_refresh forwarded.
    let pl = env
        .engine
        .get_job(&env.job_ref(&env.seeded.pipeline))
        .await
        .expect("pl");
    let names: Vec<_> = pl.parameters.iter().map(|p| p.name.as_str()).collect();
    assert!(names.contains(&"spark.sql.shuffle.partitions") && names.contains(&"custom.owner"));
    assert!(names.contains(&"development"));
    assert!(!names.contains(&"other.key") && !names.iter().any(|n| n.starts_with("emulator.")));
    assert_eq!(param(&pl, "full_refresh").data_type, DataType::Bool);
    assert!(param(&pl, "full_refresh").forwarded && !param(&pl, "custom.owner").forwarded);
    // Classification used jobs/list?expand_tasks=true.
    assert!(
        env.paths("GET", "jobs/list")
            .iter()
            .all(|p| p.contains("expand_tasks=true"))
    );
});

e2e!(
    reimport_is_idempotent_and_marks_deleted_notebooks_removed,
    |env| {
        env.import().await;
        let before = env
            .engine
            .list_jobs(&JobFilter::default())
            .await
            .expect("list");
        let again = env.import().await;
        assert!(
            again.added.is_empty() && again.updated.is_empty() && again.removed.is_empty(),
            "{again:?}"
        );
        assert_eq!(again.unchanged.len(), before.len());
        let after = env
            .engine
            .list_jobs(&JobFilter::default())
            .await
            .expect("list");
        assert_eq!(before, after);
        env.post(
            "/api/2.0/workspace/delete",
            json!({"path": "/Shared/etl/sql_widgets"}),
        )
        .await;
        let third = env.import().await;
        assert_eq!(third.removed, ["/Shared/etl/sql_widgets"]);
        let listed = env
            .engine
            .list_jobs(&JobFilter::default())
            .await
            .expect("list");
        assert!(!listed.iter().any(|j| j.name == "/Shared/etl/sql_widgets"));
        let all = env
            .engine
            .list_jobs(&JobFilter {
                include_removed: true,
                ..JobFilter::default()
            })
            .await
            .expect("list");
        assert!(
            all.iter()
                .any(|j| j.name == "/Shared/etl/sql_widgets" && j.removed_at.is_some())
        );
    }
);

e2e!(sync_params_keeps_user_values_and_reports_changes, |env| {
    env.import().await;
    let name = env.job_ref(env.seeded.workflow);
    let mut wf = env.engine.get_job(&name).await.expect("wf");
    for p in &mut wf.parameters {
        if p.name == "env" {
            p.current_value = Some("prod".into());
        }
    }
    env.engine.edit_job(wf).await.expect("edit");
    env.post(
        "/api/2.1/jobs/update",
        json!({"job_id": env.seeded.workflow, "new_settings": {"parameters": [{"name": "env", "default": "dev"}, {"name": "region", "default": "eu"}]}}),
    )
    .await;
    let report = env.engine.sync_params(&name).await.expect("sync");
    assert_eq!(report.added, ["region"]);
    assert!(
        report.removed.contains(&"batch".to_owned())
            && report.removed.contains(&"dry_run".to_owned())
    );
    assert_eq!(report.kept_values, ["env"]);
    let wf = env.engine.get_job(&name).await.expect("wf");
    assert_eq!(param(&wf, "env").current_value.as_deref(), Some("prod"));
});

e2e!(secrets_token_never_stored, |env| {
    env.import().await;
    let (run, _) = env.run_to_end("/Shared/behaviour/success", &[]).await;
    assert_eq!(run.status, polysync_engine::RunStatus::Success);
    let dump = env.dump().await;
    assert!(!dump.is_empty());
    let hay = String::from_utf8_lossy(&dump);
    assert!(
        !hay.contains(TOKEN),
        "token found in the {} store",
        env.db.label()
    );
    assert!(
        hay.contains(crate::harness::TOKEN_VAR)
            || env.db.label() == "postgres"
            || hay.contains(PLATFORM)
    );
    // The store was closed by dump(); reopen not needed: finish() tolerates it.
});

#[derive(Default)]
struct Recorder(std::sync::Mutex<(Vec<String>, Vec<String>, u64)>);

impl polysync_engine::ImportProgress for Recorder {
    fn phase(&self, m: &str) {
        self.0.lock().expect("lock").0.push(m.to_owned());
    }
    fn discovered(&self, _t: JobType, name: &str) {
        self.0.lock().expect("lock").1.push(name.to_owned());
    }
    fn total(&self, n: u64) {
        self.0.lock().expect("lock").2 += n;
    }
}

e2e!(import_reports_progress, |env| {
    let rec = Recorder::default();
    let report = env.engine.import(PLATFORM, &rec).await.expect("import");
    let (phases, discovered, total) = rec.0.into_inner().expect("lock");
    assert!(
        phases
            .iter()
            .any(|p| p == "listing notebooks under /Shared"),
        "{phases:?}"
    );
    assert_eq!(discovered.len(), report.added.len());
    assert_eq!(total as usize, report.added.len());
});
