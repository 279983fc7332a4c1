//! Applying tasks files: atomic, idempotent, every bad input refused with
//! its file, task and field, and the store left unchanged.

use polysync_engine::{ApplyMode, Error, ErrorKind};

use crate::harness::{Env, e2e};

const FILE: &str = "tasks.yaml";

fn good(env: &Env<'_>) -> String {
    format!(
        r#"limits:
  warehouse-a: 2
tasks:
  - name: extract
    job: /Shared/etl/python_widgets
    params: {{ region: APAC }}
    retry: {{ attempts: 3, backoff: 10s, max_backoff: 5m, exponential: true }}
    timeout: 30m
    limits: [warehouse-a]
  - name: publish
    job: daily-workflow
    params: {{ env: "${{dag_run.logical_date}}" }}
    after: [extract]
  - name: score
    job: emu:{nb}
    after: [{{ task: extract, on: done }}]
  - name: alert
    job: emu:/Shared/etl/python_widgets
    params: {{ region: "${{tasks.extract.outputs.region}}" }}
    after: [{{ task: extract, on: failure }}]
    schedule: {{ cron: "0 6 * * 1-5", timezone: Europe/Amsterdam }}
"#,
        nb = env.seeded.notebook_job
    )
}

const APPLY: ApplyMode = ApplyMode {
    prune: false,
    dry_run: false,
};

e2e!(a_tasks_file_applies_atomically_and_idempotently, |env| {
    env.import().await;
    let text = good(&env);
    let dry = env
        .engine
        .apply_tasks(
            FILE,
            &text,
            ApplyMode {
                prune: false,
                dry_run: true,
            },
        )
        .await
        .expect("dry run");
    assert_eq!(dry.added.len(), 4);
    assert!(
        env.engine.list_tasks().await.expect("list").is_empty(),
        "a dry run writes nothing"
    );

    let first = env
        .engine
        .apply_tasks(FILE, &text, APPLY)
        .await
        .expect("apply");
    assert_eq!(first.added, vec!["extract", "publish", "score", "alert"]);
    assert_eq!(first.limits_changed, vec!["warehouse-a"]);
    let stored = env.engine.list_tasks().await.expect("list");
    assert_eq!(stored.len(), 4);
    let alert = env.engine.get_task("alert").await.expect("alert");
    assert!(
        alert.next_fire_at.is_some(),
        "a scheduled task has its next fire time"
    );
    assert_eq!(
        env.engine
            .dag_of("extract")
            .await
            .expect("dag")
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["alert", "extract", "publish", "score"]
    );

    let again = env
        .engine
        .apply_tasks(FILE, &text, APPLY)
        .await
        .expect("re-apply");
    assert!(
        again.added.is_empty() && again.changed.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.unchanged.len(), 4);
    assert!(again.limits_changed.is_empty());
    assert_eq!(
        env.engine.list_tasks().await.expect("list"),
        stored,
        "nothing changed"
    );

    // A smaller file keeps the others unless --prune.
    let smaller = "tasks:\n  - name: extract\n    job: /Shared/etl/python_widgets\n";
    let kept = env
        .engine
        .apply_tasks(FILE, smaller, APPLY)
        .await
        .expect("smaller");
    assert_eq!(kept.changed, vec!["extract"]);
    assert_eq!(kept.kept, vec!["alert", "publish", "score"]);
    // Removing a task others run after is refused, naming them.
    let err = env
        .engine
        .remove_task("extract")
        .await
        .expect_err("dependents");
    assert!(err.to_string().contains("publish"), "{err}");
    let pruned = env
        .engine
        .apply_tasks(
            FILE,
            smaller,
            ApplyMode {
                prune: true,
                dry_run: false,
            },
        )
        .await
        .expect("prune");
    assert_eq!(pruned.removed, vec!["alert", "publish", "score"]);
    assert_eq!(pruned.limits_removed, vec!["warehouse-a"]);
    env.engine.remove_task("extract").await.expect("remove");
    assert!(env.engine.list_tasks().await.expect("list").is_empty());
});

e2e!(each_bad_tasks_file_is_refused_and_changes_nothing, |env| {
    env.import().await;
    env.engine
        .apply_tasks(FILE, &good(&env), APPLY)
        .await
        .expect("baseline");
    let before = env.engine.list_tasks().await.expect("list");
    let base = "tasks:\n  - name: a\n    job: /Shared/etl/python_widgets\n";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("unknown job", "tasks:\n  - name: a\n    job: nope\n".into(), "job", "unknown job"),
        ("unknown limit", format!("{base}    limits: [gpu]\n"), "limits[0]", "unknown limit"),
        (
            "cycle",
            "tasks:\n  - {name: a, job: /Shared/etl/python_widgets, after: [b]}\n  - {name: b, job: /Shared/etl/python_widgets, after: [a]}\n".into(),
            "after",
            "cycle",
        ),
        ("bad cron", format!("{base}    schedule: {{cron: '61 * * * *', timezone: UTC}}\n"), "schedule.cron", "cron"),
        ("bad time zone", format!("{base}    schedule: {{cron: '0 6 * * *', timezone: Moon/Base}}\n"), "schedule.timezone", "time zone"),
        ("bad duration", format!("{base}    timeout: 30 minutes\n"), "timeout", "not a duration"),
        ("duplicate name", format!("{base}  - name: a\n    job: /Shared/etl/python_widgets\n"), "name", "unique"),
        ("unknown parameter", format!("{base}    params: {{colour: red}}\n"), "params.colour", "no parameter"),
        (
            "reference-only parameter",
            "tasks:\n  - name: a\n    job: daily-workflow\n    params: {task_only: y}\n".into(),
            "params.task_only",
            "reference only",
        ),
        (
            "template naming a task that is not upstream",
            format!("{base}    params: {{region: \"${{tasks.z.outputs.x}}\"}}\n  - name: z\n    job: /Shared/etl/python_widgets\n"),
            "params.region",
            "not upstream",
        ),
        ("YAML syntax", "tasks: [\n".into(), "(syntax)", ""),
    ];
    for (case, text, field, words) in cases {
        let err = env
            .engine
            .apply_tasks(FILE, &text, APPLY)
            .await
            .expect_err(case);
        assert_eq!(err.kind(), ErrorKind::Invalid, "{case}: {err}");
        let Error::TaskFile(file) = &err else {
            panic!("{case}: not a tasks-file error: {err:?}");
        };
        assert_eq!(file.file, FILE);
        assert!(
            file.problems
                .iter()
                .any(|p| p.field == field && p.message.contains(words)),
            "{case}: {err}"
        );
        if field != "(syntax)" {
            assert!(
                file.problems.iter().all(|p| p.task.is_some()),
                "{case}: every problem names its task: {err}"
            );
        }
        assert!(err.to_string().starts_with(FILE), "{case}: {err}");
        assert_eq!(
            env.engine.list_tasks().await.expect("list"),
            before,
            "{case}: store unchanged"
        );
    }
});
