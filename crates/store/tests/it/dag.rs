use polysync_core::Task;
use polysync_core::dag::{DagRun, DagRunStatus, TaskRun, TaskRunStatus};
use polysync_core::run::new_run_id;
use polysync_store::Update;

use crate::harness::store_test;

fn dag_with_one_task(created_at: i64, task: Task) -> (DagRun, TaskRun) {
    let dag = DagRun {
        id: new_run_id(),
        root_task: "work".into(),
        trigger: "manual".into(),
        logical_date: created_at,
        status: DagRunStatus::Running,
        created_at,
        ended_at: None,
        version: 1,
    };
    let tr = TaskRun::new(
        format!("{}.work", dag.id),
        dag.id.clone(),
        task,
        TaskRunStatus::Queued,
        created_at,
        created_at,
    );
    (dag, tr)
}

store_test!(ended_dag_runs_are_found_among_given_ids_or_all, |db| {
    let task: Task =
        serde_json::from_value(serde_json::json!({ "name": "work", "job": "/w" })).unwrap();
    let rows: Vec<(DagRun, Vec<TaskRun>)> = (1..=3)
        .map(|i| {
            let (dag, tr) = dag_with_one_task(i * 100, task.clone());
            (dag, vec![tr])
        })
        .collect();
    db.store.insert_dag_runs(&rows).await.unwrap();
    let id = |i: usize| rows[i].0.id.clone();
    // The task runs of the first two end; the third's is still queued.
    for (_, trs) in &rows[..2] {
        let stored = db.store.task_runs_of(&trs[0].dag_run_id).await.unwrap();
        let ended = TaskRun {
            status: TaskRunStatus::Success,
            ended_at: Some(1_000),
            ..stored[0].clone()
        };
        assert!(matches!(
            db.store.update_task_run(&ended, 1_000).await.unwrap(),
            Update::Applied(_)
        ));
    }
    let ids = |found: Vec<(DagRun, Vec<TaskRunStatus>)>| {
        let mut ids: Vec<String> = found.into_iter().map(|(d, _)| d.id).collect();
        ids.sort();
        ids
    };
    let mut both = vec![id(0), id(1)];
    both.sort();
    assert_eq!(ids(db.store.ended_dag_runs().await.unwrap()), both);
    // Narrowed: an ended one named, a running one named, an unknown id.
    let among = db
        .store
        .ended_dag_runs_among(&[id(1), id(2), "missing".into()])
        .await
        .unwrap();
    assert_eq!(among.len(), 1);
    assert_eq!(among[0].0.id, id(1));
    assert_eq!(among[0].1, vec![TaskRunStatus::Success]);
    assert!(db.store.ended_dag_runs_among(&[]).await.unwrap().is_empty());
});
