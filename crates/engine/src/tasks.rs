//! Task use cases: apply a tasks file (atomically, idempotently, every
//! problem reported before anything changes), list, show, remove. The
//! dispatcher that runs tasks builds on these definitions.

use std::collections::{BTreeMap, BTreeSet};

use polysync_core::task::{
    Problem, TaskFileError, TaskLines, check_task_file, downstream_of, is_template,
};
use polysync_core::{Direction, Task};
use polysync_store::{ApplyMode, StoredTask, TaskApplySummary};

use crate::{Engine, Error, Result};

/// The template forms a task parameter may use, resolved when it runs.
/// Refuses `${tasks.X.outputs.P}` when X runs an Arazzo workflow that
/// declares no output P (naming the ones it has).
fn check_outputs(
    task: &Task,
    lines: &TaskLines,
    outputs: &BTreeMap<String, Vec<String>>,
    problems: &mut Vec<Problem>,
) {
    for (param, value) in &task.params {
        let mut rest = value.as_str();
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let expr = &after[..end];
            if let ["tasks", name, "outputs", out] = expr.split('.').collect::<Vec<_>>().as_slice()
                && let Some(declared) = outputs.get(*name)
                && !declared.iter().any(|d| d == out)
            {
                let field = format!("params.{param}");
                problems.push(Problem::of_task(
                    &task.name,
                    &field,
                    lines.of(&field),
                    format!(
                        "`${{{expr}}}`: the Arazzo workflow of task {name:?} has no output {out:?} (it has: {})",
                        if declared.is_empty() {
                            "none".to_owned()
                        } else {
                            declared.join(", ")
                        }
                    ),
                ));
            }
            rest = &after[end + 1..];
        }
    }
}

fn check_templates(
    task: &Task,
    lines: &TaskLines,
    upstream: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) {
    for (param, value) in &task.params {
        let field = format!("params.{param}");
        let line = lines.of(&field);
        let mut rest = value.as_str();
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                problems.push(Problem::of_task(
                    &task.name,
                    &field,
                    line,
                    format!("{value:?} opens `${{` without closing `}}`"),
                ));
                break;
            };
            let expr = &after[..end];
            let parts: Vec<&str> = expr.split('.').collect();
            let ok = match parts.as_slice() {
                ["dag_run", "id" | "logical_date"] => Ok(()),
                ["tasks", name, "run_id"] | ["tasks", name, "outputs", _] => {
                    if upstream.contains(*name) {
                        Ok(())
                    } else {
                        Err(format!(
                            "`${{{expr}}}` names task {name:?}, which is not upstream of {:?}; a task reads values only from tasks it runs after",
                            task.name
                        ))
                    }
                }
                _ => Err(format!(
                    "`${{{expr}}}` is not a known value; use ${{tasks.NAME.outputs.PARAM}}, ${{tasks.NAME.run_id}}, ${{dag_run.id}} or ${{dag_run.logical_date}}"
                )),
            };
            if let Err(message) = ok {
                problems.push(Problem::of_task(&task.name, &field, line, message));
            }
            rest = &after[end + 1..];
        }
    }
}

/// Every task `name` runs after, directly or not.
fn upstream_of(tasks: &[Task], name: &str) -> BTreeSet<String> {
    let by_name: BTreeMap<&str, &Task> = tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut out = BTreeSet::new();
    let mut pending = vec![name];
    while let Some(n) = pending.pop() {
        for d in by_name.get(n).map_or(&[][..], |t| t.after.as_slice()) {
            if out.insert(d.task.clone()) {
                pending.push(&d.task);
            }
        }
    }
    out
}

impl Engine {
    /// Applies a tasks file (`file` names it in errors, `text` is its
    /// content): every task's job must exist and take the parameters given
    /// (Input ones, of the right type), on top of the file's own rules.
    /// All problems are reported together and nothing changes; otherwise
    /// tasks and limits are replaced in one transaction. Re-applying the
    /// same file changes nothing.
    pub async fn apply_tasks(
        &self,
        file: &str,
        text: &str,
        mode: ApplyMode,
    ) -> Result<TaskApplySummary> {
        let (mut set, mut problems) = check_task_file(file, text)?;
        let base = std::path::Path::new(file)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        // `arazzo:PATH[#workflowId]` names the imported Arazzo job (PATH
        // relative to the tasks file); the outputs each Arazzo task declares.
        let mut outputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut unresolved = BTreeSet::new();
        for (task, lines) in set.tasks.iter_mut().zip(&set.lines) {
            if task.job.starts_with("arazzo:") {
                match self.resolve_arazzo_ref(&task.job, base).await {
                    Ok(job) => task.job = job.name,
                    Err(e) => {
                        problems.push(Problem::of_task(
                            &task.name,
                            "job",
                            lines.of("job"),
                            e.to_string(),
                        ));
                        unresolved.insert(task.name.clone());
                        continue;
                    }
                }
            }
            if let Ok(Some(job)) = self.find_job(&task.job).await
                && job.job_type.runs_in_process()
            {
                outputs.insert(task.name.clone(), crate::arazzo_jobs::output_names(&job));
            }
        }
        for (task, lines) in set.tasks.iter().zip(&set.lines) {
            if !unresolved.contains(&task.name) {
                self.check_task_job(task, lines, &mut problems).await?;
            }
            check_templates(
                task,
                lines,
                &upstream_of(&set.tasks, &task.name),
                &mut problems,
            );
            check_outputs(task, lines, &outputs, &mut problems);
        }
        if !problems.is_empty() {
            return Err(TaskFileError {
                file: file.to_owned(),
                problems,
            }
            .into());
        }
        let now = jiff::Timestamp::now();
        let summary = self
            .inner
            .store
            .apply_tasks(&set.tasks, &set.limits, mode, |t| {
                t.schedule
                    .as_ref()
                    .and_then(|s| s.next_after(now).ok())
                    .map(|z| z.timestamp().as_millisecond())
            })
            .await?;
        Ok(summary)
    }

    /// The job checks of one task: it exists (unambiguously) and accepts
    /// the parameters given.
    async fn check_task_job(
        &self,
        task: &Task,
        lines: &TaskLines,
        problems: &mut Vec<Problem>,
    ) -> Result<()> {
        let mut problem = |field: String, message: String| {
            let line = lines.of(&field);
            problems.push(Problem::of_task(&task.name, field, line, message));
        };
        if task.job.starts_with("arazzo:") {
            problem(
                "job".into(),
                "Arazzo workflow jobs are not supported in tasks yet; import the workflow's steps as jobs".into(),
            );
            return Ok(());
        }
        let job = match self.find_job(&task.job).await {
            Ok(Some(job)) => job,
            Ok(None) => {
                problem(
                    "job".into(),
                    format!(
                        "unknown job {:?}; name an imported job as `polysync run` accepts it (see `polysync jobs list`)",
                        task.job
                    ),
                );
                return Ok(());
            }
            Err(e @ Error::Ambiguous { .. }) => {
                problem("job".into(), e.to_string());
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if job.removed_at.is_some() {
            problem(
                "job".into(),
                format!(
                    "job {:?} was removed from Databricks (seen missing at the last import)",
                    job.name
                ),
            );
        }
        for (name, value) in &task.params {
            let field = format!("params.{name}");
            let Some(p) = job.parameters.iter().find(|p| &p.name == name) else {
                let known: Vec<&str> = job.parameters.iter().map(|p| p.name.as_str()).collect();
                problem(
                    field,
                    format!(
                        "job {:?} has no parameter {name:?} (it has: {})",
                        job.name,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                continue;
            };
            if p.direction == Direction::Output {
                problem(
                    field,
                    format!(
                        "{name:?} is an Output parameter of job {:?}: it is read back, never sent",
                        job.name
                    ),
                );
                continue;
            }
            if !p.forwarded {
                problem(
                    field,
                    format!(
                        "{name:?} is reference only for {} jobs and is never sent: {}",
                        job.job_type.display_name(),
                        job.job_type.reference_only_hint()
                    ),
                );
                continue;
            }
            if !is_template(value)
                && let Err(e) = p.data_type.to_wire(value)
            {
                problem(field, e);
            }
        }
        Ok(())
    }

    /// Every task, by name.
    pub async fn list_tasks(&self) -> Result<Vec<StoredTask>> {
        Ok(self.inner.store.list_tasks().await?)
    }

    /// One task; [`Error::NotFound`] when there is none.
    pub async fn get_task(&self, name: &str) -> Result<StoredTask> {
        self.inner
            .store
            .find_task(name)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "task",
                key: name.to_owned(),
            })
    }

    /// The tasks a DAG run started from `name` holds: it and everything
    /// downstream, by name.
    pub async fn dag_of(&self, name: &str) -> Result<BTreeSet<String>> {
        self.get_task(name).await?;
        let all: Vec<Task> = self
            .list_tasks()
            .await?
            .into_iter()
            .map(|t| t.task)
            .collect();
        Ok(downstream_of(&all, name))
    }

    /// The contention limits, by name.
    pub async fn task_limits(&self) -> Result<BTreeMap<String, u32>> {
        Ok(self.inner.store.list_limits().await?)
    }

    /// Removes one task (refused while other tasks run after it).
    pub async fn remove_task(&self, name: &str) -> Result<()> {
        Ok(self.inner.store.delete_task(name).await?)
    }
}
