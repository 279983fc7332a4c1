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

/// A one-task file the refusal cases below extend.
const BASE: &str = "tasks:\n  - name: a\n    job: /Shared/etl/python_widgets\n";

/// What one refusal must say: the task and field it names, words of its
/// message, and its line (the field's, else the task's; `None` only where
/// the parser gives none).
struct Refusal {
    task: Option<&'static str>,
    field: &'static str,
    says: &'static str,
    line: Option<u64>,
}

/// Applies the good file, then `text`: the apply is refused as invalid
/// input with a problem naming `FILE`, the task, the field (and line), and
/// neither the tasks nor the limits changed.
async fn assert_refused(env: &Env<'_>, text: &str, want: Refusal) {
    env.engine
        .apply_tasks(FILE, &good(env), APPLY)
        .await
        .expect("baseline");
    let tasks = env.engine.list_tasks().await.expect("list");
    let limits = env.engine.task_limits().await.expect("limits");
    let err = env
        .engine
        .apply_tasks(FILE, text, APPLY)
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    let Error::TaskFile(file) = &err else {
        panic!("not a tasks-file error: {err:?}");
    };
    assert_eq!(file.file, FILE);
    assert!(
        file.problems.iter().any(|p| p.task.as_deref() == want.task
            && p.field == want.field
            && p.message.contains(want.says)
            && p.line == want.line),
        "want {:?} {:?} {:?} line {:?}, got {:#?}",
        want.task,
        want.field,
        want.says,
        want.line,
        file.problems
    );
    let shown = err.to_string();
    assert!(shown.starts_with(FILE), "{shown}");
    if let Some(task) = want.task {
        assert!(shown.contains(task), "{shown}");
    }
    assert!(shown.contains(want.field), "{shown}");
    assert_eq!(
        env.engine.list_tasks().await.expect("list"),
        tasks,
        "tasks unchanged"
    );
    assert_eq!(
        env.engine.task_limits().await.expect("limits"),
        limits,
        "limits unchanged"
    );
}

/// One end-to-end test per bad input: `refused!(name, text, task, field,
/// says, line)`.
macro_rules! refused {
    ($name:ident, $text:expr, $task:expr, $field:expr, $says:expr, $line:expr) => {
        e2e!($name, |env| {
            env.import().await;
            let text: String = $text;
            assert_refused(
                &env,
                &text,
                Refusal {
                    task: $task,
                    field: $field,
                    says: $says,
                    line: $line,
                },
            )
            .await;
        });
    };
}

refused!(
    refuses_an_unknown_job,
    "tasks:\n  - name: a\n    job: nope\n".into(),
    Some("a"),
    "job",
    "unknown job \"nope\"",
    Some(3)
);
refused!(
    refuses_an_unknown_limit,
    format!("{BASE}    limits: [gpu]\n"),
    Some("a"),
    "limits[0]",
    "unknown limit",
    Some(4)
);
refused!(
    refuses_a_cycle_naming_it,
    "tasks:\n  - {name: a, job: /Shared/etl/python_widgets, after: [c]}\n  - {name: b, job: /Shared/etl/python_widgets, after: [a]}\n  - {name: c, job: /Shared/etl/python_widgets, after: [b]}\n".into(),
    Some("a"),
    "after",
    "cycle: a → b → c → a",
    Some(2)
);
refused!(
    refuses_a_two_task_cycle,
    "tasks:\n  - {name: a, job: /Shared/etl/python_widgets, after: [b]}\n  - {name: b, job: /Shared/etl/python_widgets, after: [a]}\n".into(),
    Some("a"),
    "after",
    "cycle: a → b → a",
    Some(2)
);
refused!(
    refuses_a_bad_cron,
    format!("{BASE}    schedule: {{cron: '61 * * * *', timezone: UTC}}\n"),
    Some("a"),
    "schedule.cron",
    "cron",
    Some(4)
);
refused!(
    refuses_a_bad_time_zone,
    format!("{BASE}    schedule: {{cron: '0 6 * * *', timezone: Moon/Base}}\n"),
    Some("a"),
    "schedule.timezone",
    "time zone",
    Some(4)
);
refused!(
    refuses_a_bad_duration,
    format!("{BASE}    timeout: 30 minutes\n"),
    Some("a"),
    "timeout",
    "not a duration",
    Some(4)
);
refused!(
    refuses_a_bad_backoff_duration,
    format!("{BASE}    retry: {{attempts: 2, backoff: soon}}\n"),
    Some("a"),
    "retry.backoff",
    "not a duration",
    Some(4)
);
refused!(
    refuses_a_duplicate_name,
    format!("{BASE}  - name: a\n    job: /Shared/etl/python_widgets\n"),
    Some("a"),
    "name",
    "unique",
    Some(4)
);
refused!(
    refuses_a_parameter_the_job_does_not_have,
    format!("{BASE}    params: {{colour: red}}\n"),
    Some("a"),
    "params.colour",
    "no parameter \"colour\"",
    Some(4)
);
refused!(
    refuses_a_reference_only_parameter,
    "tasks:\n  - name: a\n    job: daily-workflow\n    params: {task_only: y}\n".into(),
    Some("a"),
    "params.task_only",
    "reference only",
    Some(4)
);
refused!(
    refuses_a_template_naming_a_task_not_upstream,
    format!(
        "{BASE}    params: {{region: \"${{tasks.z.outputs.x}}\"}}\n  - name: z\n    job: /Shared/etl/python_widgets\n"
    ),
    Some("a"),
    "params.region",
    "not upstream",
    Some(4)
);
refused!(
    refuses_yaml_syntax_errors_with_their_line,
    "tasks:\n  - name: a\n    job: [\n".into(),
    None,
    "(syntax)",
    "expected string scalar",
    Some(3)
);

e2e!(refuses_an_output_parameter_used_as_input, |env| {
    env.import().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let docs = polysync_testkit::arazzo::write_lookup_docs(dir.path());
    env.engine
        .import_arazzo(
            docs.to_str().expect("utf-8"),
            crate::harness::PLATFORM,
            None,
        )
        .await
        .expect("import");
    assert_refused(
        &env,
        "tasks:\n  - name: a\n    job: lookup\n    params: {kind: notebook}\n",
        Refusal {
            task: Some("a"),
            field: "params.kind",
            says: "is an Output parameter",
            line: Some(4),
        },
    )
    .await;
});
