//! The Tasks and DAG runs pages: the task graph coloured by each task's
//! latest status, schedules with their time zone, and a DAG run's live
//! graph with every task's attempts.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Html;
use polysync_engine::{AttemptView, DagRunView, StoredTask};

use super::PageResult;
use super::graph::{self, Edge, Node};
use super::html::{badge, esc, label, page, time, url_path, zoned_time};
use crate::AppState;

/// How many DAG runs the list shows.
const LIST_LIMIT: u32 = 100;

/// The edges among `tasks` (each task's `after`), for the graph.
fn edges_of<'a>(tasks: impl Iterator<Item = &'a StoredTask>) -> Vec<Edge> {
    tasks
        .flat_map(|t| {
            t.task.after.iter().map(|d| Edge {
                from: d.task.clone(),
                to: t.task.name.clone(),
                on: d.on,
            })
        })
        .collect()
}

/// `GET /tasks`: the graph of every task, then each task with its job,
/// dependencies, schedule (next fire in the schedule's zone) and Run.
pub async fn tasks(State(s): State<AppState>) -> PageResult {
    let tasks = s.engine.list_tasks().await?;
    let latest = s.engine.latest_task_statuses().await?;
    let nodes: Vec<Node> = tasks
        .iter()
        .map(|t| Node {
            name: t.task.name.clone(),
            status: latest.get(&t.task.name).map(label),
            attrs: format!(r#"data-task-latest="{}""#, esc(&t.task.name)),
            href: format!("#task-{}", t.task.name),
        })
        .collect();
    let edges = edges_of(tasks.iter());
    let mut rows = String::new();
    for t in &tasks {
        let after = t
            .task
            .after
            .iter()
            .map(|d| format!("{} <small>({})</small>", esc(&d.task), d.on.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let (schedule, next) = match &t.task.schedule {
            Some(sch) => (
                format!(
                    "<code>{}</code> <small>{}</small>",
                    esc(&sch.cron),
                    esc(&sch.timezone)
                ),
                t.next_fire_at
                    .map(|ms| zoned_time(ms, &sch.timezone))
                    .unwrap_or_else(|| "—".into()),
            ),
            None => ("—".into(), "—".into()),
        };
        let _ = write!(
            rows,
            r#"<tr id="task-{id}"><td><strong>{n}</strong></td><td><code>{j}</code></td><td>{after}</td><td>{schedule}</td><td class="next-fire">{next}</td><td><form method="post" action="/tasks/{u}/run"><button aria-label="Run {n}">Run</button></form></td></tr>"#,
            id = esc(&t.task.name),
            n = esc(&t.task.name),
            j = esc(&t.task.job),
            after = if after.is_empty() {
                "—".into()
            } else {
                after
            },
            u = url_path(&t.task.name),
        );
    }
    let body = if tasks.is_empty() {
        "<p>No task yet: <code>polysync tasks apply FILE</code> or <code>PUT /api/v1/tasks</code>.</p>".to_owned()
    } else {
        format!(
            r#"<p class="muted">Each task in the colour of its latest run; an arrow reads "runs after, when". Run starts a DAG run of the task and everything downstream.</p>
<div class="scroll graph-box">{svg}</div>
<div class="scroll"><table><thead><tr><th scope="col">Task</th><th scope="col">Job</th><th scope="col">After</th><th scope="col">Schedule</th><th scope="col">Next fire</th><th scope="col"></th></tr></thead><tbody>{rows}</tbody></table></div>"#,
            svg = graph::svg("Task graph", &nodes, &edges),
        )
    };
    Ok(Html(page("Tasks", "/tasks", &body)))
}

/// `GET /dag-runs`.
pub async fn dag_runs(State(s): State<AppState>) -> PageResult {
    let list = s.engine.list_dag_runs(LIST_LIMIT).await?;
    let mut rows = String::new();
    for d in &list {
        let _ = write!(
            rows,
            r#"<tr><td><a href="/dag-runs/{u}"><code>{id}</code></a></td><td>{root}</td><td>{trig}</td><td>{st}</td><td>{created}</td></tr>"#,
            u = url_path(&d.id),
            id = esc(&d.id),
            root = esc(&d.root_task),
            trig = esc(&d.trigger),
            st = badge(
                &label(&d.status),
                &format!(r#"data-dag-status="{}" data-v="{}""#, esc(&d.id), d.version)
            ),
            created = time(d.created_at),
        );
    }
    if list.is_empty() {
        rows.push_str(r#"<tr><td colspan="5">No DAG run yet: Run a task on the <a href="/tasks">Tasks</a> page.</td></tr>"#);
    }
    let body = format!(
        r#"<div class="scroll"><table><thead><tr><th scope="col">DAG run</th><th scope="col">Root task</th><th scope="col">Trigger</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead><tbody>{rows}</tbody></table></div>"#
    );
    Ok(Html(page("DAG runs", "/dag-runs", &body)))
}

fn attempt_item(a: &AttemptView) -> String {
    let dbx = a
        .databricks_run_id
        .as_deref()
        .map_or_else(String::new, |id| {
            format!(" · Databricks run <code>{}</code>", esc(id))
        });
    let monitor = a.monitor_url.as_deref().map_or_else(String::new, |u| {
        format!(
            r#" · <a href="{}" rel="noopener" target="_blank">Open in Databricks</a>"#,
            esc(u)
        )
    });
    let ended = a
        .ended_at
        .map(|t| format!(" → {}", time(t)))
        .unwrap_or_default();
    let message = a.message.as_deref().map_or_else(String::new, |m| {
        format!(r#" <small class="muted">{}</small>"#, esc(m))
    });
    format!(
        r#"<li data-attempt="{n}">#{n} {st}{dbx}{monitor} <small>{start}{ended}</small>{message}</li>"#,
        n = a.attempt,
        st = badge(&label(&a.status), ""),
        start = time(a.started_at),
    )
}

/// The graph of one DAG run: its tasks, the edges among them (from the
/// tasks' current definitions), each node live by `data-task-status`.
async fn run_graph(s: &AppState, v: &DagRunView) -> Result<String, super::PageError> {
    let in_run: BTreeSet<&str> = v.tasks.iter().map(|t| t.task.as_str()).collect();
    let defs = s.engine.list_tasks().await?;
    let edges = edges_of(
        defs.iter()
            .filter(|t| in_run.contains(t.task.name.as_str())),
    );
    let nodes: Vec<Node> = v
        .tasks
        .iter()
        .map(|t| Node {
            name: t.task.clone(),
            status: Some(label(&t.status)),
            attrs: format!(r#"data-task-status="{}/{}""#, esc(&v.id), esc(&t.task)),
            href: format!("#tr-{}", t.task),
        })
        .collect();
    Ok(graph::svg(&format!("DAG run {}", v.id), &nodes, &edges))
}

/// `GET /dag-runs/{id}`: the live graph, then each task with its attempts.
pub async fn dag_run(State(s): State<AppState>, Path(id): Path<String>) -> PageResult {
    let v = s.engine.get_dag_run(&id).await?;
    let svg = run_graph(&s, &v).await?;
    let mut rows = String::new();
    for t in &v.tasks {
        let mut attempts = String::new();
        for a in &t.attempts {
            attempts.push_str(&attempt_item(a));
        }
        if attempts.is_empty() {
            attempts.push_str(r#"<li class="muted">no attempt yet</li>"#);
        }
        let _ = write!(
            rows,
            r#"<tr id="tr-{id}"><td><strong>{n}</strong></td><td>{st}</td><td><ul class="attempts" data-task-attempts="{key}">{attempts}</ul><small class="muted">{m}</small></td></tr>"#,
            id = esc(&t.task),
            n = esc(&t.task),
            key = format_args!("{}/{}", esc(&v.id), esc(&t.task)),
            st = badge(
                &label(&t.status),
                &format!(r#"data-task-status="{}/{}""#, esc(&v.id), esc(&t.task))
            ),
            m = esc(t.message.as_deref().unwrap_or("")),
        );
    }
    let cancel = if v.status.is_terminal() {
        String::new()
    } else {
        format!(
            r#"<form method="post" action="/dag-runs/{}/cancel" id="cancel-dag-form"><button class="danger" id="cancel-dag">Cancel DAG run</button></form>"#,
            url_path(&v.id)
        )
    };
    let body = format!(
        r#"<div id="dag-page" data-dag="{id}"><dl class="facts"><dt>Status</dt><dd>{st}</dd><dt>Root task</dt><dd>{root} <form method="post" action="/tasks/{ru}/run" class="inline"><button>Run again</button></form></dd><dt>Trigger</dt><dd>{trig}</dd><dt>Logical date</dt><dd>{logical}</dd><dt>Started</dt><dd>{started}</dd><dt>Ended</dt><dd id="dag-ended">{ended}</dd></dl>{cancel}
<h2>Graph</h2><div class="scroll graph-box">{svg}</div>
<h2>Tasks and attempts</h2><div class="scroll"><table class="tasks"><thead><tr><th scope="col">Task</th><th scope="col">Status</th><th scope="col">Attempts</th></tr></thead><tbody>{rows}</tbody></table></div></div>"#,
        id = esc(&v.id),
        st = badge(
            &label(&v.status),
            &format!(r#"data-dag-status="{}" id="dag-status""#, esc(&v.id))
        ),
        root = esc(&v.root_task),
        ru = url_path(&v.root_task),
        trig = esc(&v.trigger),
        logical = time(v.logical_date),
        started = time(v.started_at),
        ended = v.ended_at.map(time).unwrap_or_else(|| "—".into()),
    );
    Ok(Html(page(&format!("DAG run {}", v.id), "/dag-runs", &body)))
}
