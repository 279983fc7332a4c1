//! The declarative tasks file (YAML): parsed, then checked against every
//! rule that needs no database (names, durations, cron and time zones,
//! declared limits, known upstream tasks, cycles). Every problem is
//! reported, each naming the file, the line, the task and the field, so a
//! user fixes the file in one pass. Job and parameter checks need the
//! store and are added by the engine in the same shape.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{
    Condition, Dependency, RetryPolicy, Schedule, Task, find_cycle, parse_duration, valid_task_name,
};

/// Everything a tasks file declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSet {
    /// Named contention limits and their capacity.
    pub limits: BTreeMap<String, u32>,
    /// The tasks, in file order.
    pub tasks: Vec<Task>,
    /// Where each task sits in the file (same order as `tasks`), so the checks that need the
    /// store (jobs, parameters, templates) name the line as the file's own checks do.
    pub lines: Vec<TaskLines>,
}

/// The lines of one task's parts in the tasks file (1-based; `None` when the parser gives none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskLines {
    /// Where the task's entry starts.
    pub task: Option<u64>,
    /// The `job:` value.
    pub job: Option<u64>,
    /// Each parameter's value, by parameter name.
    pub params: BTreeMap<String, Option<u64>>,
}

impl TaskLines {
    /// The line of a field as problems name it (`job`, `params.NAME`): the field's own line
    /// when the parser gave one, else the task's.
    pub fn of(&self, field: &str) -> Option<u64> {
        let own = match field.strip_prefix("params.") {
            Some(name) => self.params.get(name).copied().flatten(),
            None if field == "job" => self.job,
            None => None,
        };
        own.or(self.task)
    }
}

/// One thing wrong with a tasks file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The task it concerns, when it concerns one.
    pub task: Option<String>,
    /// The field, as a path in the file (`retry.backoff`, `after[1]`).
    pub field: String,
    /// The 1-based line, when the parser knows it.
    pub line: Option<u64>,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl Problem {
    /// A problem of one task's field.
    pub fn of_task(
        task: &str,
        field: impl Into<String>,
        line: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            task: Some(task.to_owned()),
            field: field.into(),
            line,
            message: message.into(),
        }
    }
}

/// A tasks file that cannot be applied: every problem found. Nothing was
/// changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TaskFileError {
    /// The file as the user named it.
    pub file: String,
    /// What is wrong, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for TaskFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .problems
            .iter()
            .map(|p| {
                let mut s = self.file.clone();
                if let Some(line) = p.line {
                    s.push_str(&format!(":{line}"));
                }
                s.push_str(": ");
                if let Some(t) = &p.task {
                    s.push_str(&format!("task {t:?}, "));
                }
                s.push_str(&format!("field `{}`: {}", p.field, p.message));
                s
            })
            .collect();
        f.write_str(&shown.join("; "))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    limits: BTreeMap<String, Spanned<i64>>,
    #[serde(default)]
    tasks: Vec<Spanned<RawTask>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    name: String,
    job: Spanned<String>,
    #[serde(default)]
    params: BTreeMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    retry: Option<Spanned<RawRetry>>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    limits: Vec<Spanned<String>>,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    after: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    schedule: Option<Spanned<RawSchedule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    #[serde(default)]
    attempts: Option<u32>,
    #[serde(default)]
    backoff: Option<String>,
    #[serde(default)]
    max_backoff: Option<String>,
    #[serde(default)]
    exponential: Option<bool>,
}

/// `after` entries: `extract` (short form) or `{ task: extract, on: failure }`.
fn dependency(value: &serde_json::Value) -> Result<Dependency, (&'static str, String)> {
    match value {
        serde_json::Value::String(task) => Ok(Dependency {
            task: task.clone(),
            on: Condition::Success,
        }),
        serde_json::Value::Object(map) => {
            if let Some(k) = map.keys().find(|k| *k != "task" && *k != "on") {
                return Err((
                    "",
                    format!("unknown key {k:?}; a dependency has `task` and `on`"),
                ));
            }
            let task = map
                .get("task")
                .and_then(serde_json::Value::as_str)
                .ok_or(("", "names no `task`".to_owned()))?;
            let on = match map.get("on") {
                None => Condition::Success,
                Some(serde_json::Value::String(s)) => s.parse().map_err(|e| (".on", e))?,
                Some(_) => return Err((".on", "must be success, failure or done".to_owned())),
            };
            Ok(Dependency {
                task: task.to_owned(),
                on,
            })
        }
        _ => Err((
            "",
            "must be a task name or { task: NAME, on: success|failure|done }".to_owned(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: String,
    #[serde(default)]
    timezone: Option<String>,
}

fn line_of<T>(s: &Spanned<T>) -> Option<u64> {
    Some(s.referenced.line()).filter(|l| *l > 0)
}

/// The parser's first line without its `error: line N column M: ` prefix
/// (the line is shown beside the file name already).
fn syntax_message(text: &str) -> String {
    let first = text.lines().next().unwrap_or("invalid YAML");
    let rest = first.strip_prefix("error: ").unwrap_or(first);
    match rest.split_once(": ") {
        Some((head, tail)) if head.starts_with("line ") => tail.to_owned(),
        _ => rest.to_owned(),
    }
}

/// Parses and checks a tasks file; `file` names it in every problem.
pub fn parse_task_file(file: &str, text: &str) -> Result<TaskSet, TaskFileError> {
    let (set, problems) = check_task_file(file, text)?;
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(TaskFileError {
            file: file.to_owned(),
            problems,
        })
    }
}

/// Parses a tasks file and checks its own rules, returning what could be
/// read with every problem found, so a caller adding its own checks (jobs,
/// parameters) reports everything in one pass. Only unreadable YAML is an
/// error here.
pub fn check_task_file(file: &str, text: &str) -> Result<(TaskSet, Vec<Problem>), TaskFileError> {
    let fail = |problems: Vec<Problem>| TaskFileError {
        file: file.to_owned(),
        problems,
    };
    let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line()).filter(|l| *l > 0);
        fail(vec![Problem {
            task: None,
            field: "(syntax)".into(),
            line,
            message: syntax_message(&e.to_string()),
        }])
    })?;
    let mut problems = Vec::new();
    let mut limits = BTreeMap::new();
    for (name, cap) in &raw.limits {
        match u32::try_from(cap.value) {
            Ok(c) if c > 0 => {
                limits.insert(name.clone(), c);
            }
            _ => problems.push(Problem {
                task: None,
                field: format!("limits.{name}"),
                line: line_of(cap),
                message: format!(
                    "capacity {} must be a whole number of at least 1",
                    cap.value
                ),
            }),
        }
        let implicit = ["platform:", "job:"].iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|rest| !rest.trim().is_empty())
        });
        if !implicit && !valid_task_name(name) {
            problems.push(Problem {
                task: None,
                field: format!("limits.{name}"),
                line: line_of(cap),
                message: "a limit name uses letters, digits, - and _ only, or is `platform:NAME` / `job:NAME` (the capacity of a platform's or a job's implicit limit)".into(),
            });
        }
    }
    let mut tasks = Vec::new();
    let mut task_lines = Vec::new();
    let mut lines: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for spanned in raw.tasks {
        let line = line_of(&spanned);
        let t = spanned.value;
        let name = t.name.clone();
        task_lines.push(TaskLines {
            task: line,
            job: line_of(&t.job),
            params: t
                .params
                .iter()
                .map(|(k, v)| (k.clone(), line_of(v)))
                .collect(),
        });
        let mut p = |field: &str, line: Option<u64>, message: String| {
            problems.push(Problem::of_task(&name, field, line, message));
        };
        if !valid_task_name(&t.name) {
            p(
                "name",
                line,
                "a task name uses letters, digits, - and _ only (1 to 128)".into(),
            );
        }
        if lines.contains_key(&t.name) {
            p(
                "name",
                line,
                "another task has this name already; names are unique".into(),
            );
        }
        lines.insert(t.name.clone(), line);
        if t.job.value.trim().is_empty() {
            p(
                "job",
                line_of(&t.job).or(line),
                "is empty; name a job as `polysync run` accepts it".into(),
            );
        }
        let mut params = BTreeMap::new();
        for (k, v) in t.params {
            let text = match &v.value {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            match text {
                Some(s) => {
                    params.insert(k, s);
                }
                None => p(
                    &format!("params.{k}"),
                    line_of(&v).or(line),
                    "must be a single value (text, number or true/false), not a list, map or null"
                        .into(),
                ),
            }
        }
        let mut retry = RetryPolicy::default();
        if let Some(r) = &t.retry {
            let rl = line_of(r).or(line);
            if let Some(a) = r.value.attempts {
                if a == 0 {
                    p(
                        "retry.attempts",
                        rl,
                        "must be at least 1 (the first attempt counts)".into(),
                    );
                }
                retry.attempts = a.max(1);
            }
            for (field, value, slot) in [
                ("retry.backoff", &r.value.backoff, &mut retry.backoff_ms),
                (
                    "retry.max_backoff",
                    &r.value.max_backoff,
                    &mut retry.max_backoff_ms,
                ),
            ] {
                if let Some(v) = value {
                    match parse_duration(v) {
                        Ok(d) => *slot = u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                        Err(e) => p(field, rl, e),
                    }
                }
            }
            if let Some(e) = r.value.exponential {
                retry.exponential = e;
            }
        }
        let timeout_ms = match &t.timeout {
            None => None,
            Some(s) => match parse_duration(&s.value) {
                Ok(d) if !d.is_zero() => Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                Ok(_) => {
                    p(
                        "timeout",
                        line_of(s).or(line),
                        "must be longer than 0s".into(),
                    );
                    None
                }
                Err(e) => {
                    p("timeout", line_of(s).or(line), e);
                    None
                }
            },
        };
        let mut task_limits = Vec::new();
        for (i, l) in t.limits.iter().enumerate() {
            if !raw.limits.contains_key(&l.value) {
                p(
                    &format!("limits[{i}]"),
                    line_of(l).or(line),
                    format!(
                        "unknown limit {:?}; declare it under `limits:` at the top of the file (declared: {})",
                        l.value,
                        if raw.limits.is_empty() {
                            "none".to_owned()
                        } else {
                            raw.limits.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                );
            }
            task_limits.push(l.value.clone());
        }
        let mut after = Vec::new();
        for (i, a) in t.after.iter().enumerate() {
            match dependency(&a.value) {
                Ok(d) => after.push(d),
                Err((suffix, e)) => p(&format!("after[{i}]{suffix}"), line_of(a).or(line), e),
            }
        }
        let schedule = t.schedule.as_ref().map(|s| Schedule {
            cron: s.value.cron.clone(),
            timezone: s.value.timezone.clone().unwrap_or_else(|| "UTC".to_owned()),
        });
        if let (Some(s), Some(raw_s)) = (&schedule, &t.schedule)
            && let Err((field, message)) = s.validate()
        {
            p(field, line_of(raw_s).or(line), message);
        }
        tasks.push(Task {
            name: t.name,
            job: t.job.value.trim().to_owned(),
            params,
            retry,
            timeout_ms,
            limits: task_limits,
            priority: t.priority,
            after,
            schedule,
        });
    }
    let names: BTreeSet<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    for t in &tasks {
        let line = lines.get(&t.name).copied().flatten();
        for (i, d) in t.after.iter().enumerate() {
            if !names.contains(d.task.as_str()) {
                problems.push(Problem::of_task(
                    &t.name,
                    format!("after[{i}]"),
                    line,
                    format!(
                        "unknown task {:?}; dependencies name tasks of the same file",
                        d.task
                    ),
                ));
            } else if d.task == t.name {
                problems.push(Problem::of_task(
                    &t.name,
                    format!("after[{i}]"),
                    line,
                    "a task cannot depend on itself",
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&tasks) {
        let first = cycle.first().cloned().unwrap_or_default();
        if cycle.len() > 2 {
            problems.push(Problem::of_task(
                &first,
                "after",
                lines.get(&first).copied().flatten(),
                format!("the dependencies form a cycle: {}", cycle.join(" → ")),
            ));
        }
    }
    Ok((
        TaskSet {
            limits,
            tasks,
            lines: task_lines,
        },
        problems,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
limits:
  warehouse-a: 2
tasks:
  - name: extract
    job: demo:/Demo/sales_report
    params: { region: APAC, days: 3, full: true }
    retry: { attempts: 3, backoff: 10s, max_backoff: 5m, exponential: true }
    timeout: 30m
    limits: [warehouse-a]
    priority: 0
  - name: publish
    job: "demo:Demo: daily KPIs"
    after: [extract]
  - name: alert
    job: demo:/Demo/forecast
    after: [{ task: extract, on: failure }]
    schedule: { cron: "0 6 * * 1-5", timezone: Europe/Amsterdam }
"#;

    #[test]
    fn the_issue_example_parses() {
        let set = parse_task_file("tasks.yaml", GOOD).unwrap();
        assert_eq!(set.limits.get("warehouse-a"), Some(&2));
        assert_eq!(set.tasks.len(), 3);
        let extract = &set.tasks[0];
        assert_eq!(extract.params.get("days").map(String::as_str), Some("3"));
        assert_eq!(extract.params.get("full").map(String::as_str), Some("true"));
        assert_eq!(extract.retry.attempts, 3);
        assert_eq!(extract.retry.backoff_ms, 10_000);
        assert_eq!(extract.retry.max_backoff_ms, 300_000);
        assert_eq!(extract.timeout_ms, Some(1_800_000));
        assert_eq!(set.tasks[1].job, "demo:Demo: daily KPIs");
        assert_eq!(
            set.tasks[1].after,
            vec![Dependency {
                task: "extract".into(),
                on: Condition::Success
            }]
        );
        assert_eq!(set.tasks[2].after[0].on, Condition::Failure);
        assert_eq!(
            set.tasks[2].schedule.as_ref().unwrap().timezone,
            "Europe/Amsterdam"
        );
    }

    #[test]
    fn each_task_keeps_the_lines_of_its_job_and_parameters() {
        let set = parse_task_file(
            "t.yaml",
            "tasks:\n  - name: a\n    job: j\n  - name: b\n\n    job: k\n    params:\n      x: 1\n      y: two\n",
        )
        .unwrap();
        assert_eq!(set.lines.len(), 2);
        let (a, b) = (&set.lines[0], &set.lines[1]);
        assert_eq!(
            (a.task, a.of("job"), a.of("params.x")),
            (Some(2), Some(3), Some(2))
        );
        assert_eq!(
            (b.task, b.of("job"), b.of("params.x"), b.of("params.y")),
            (Some(4), Some(6), Some(8), Some(9))
        );
        assert_eq!(
            b.of("retry.backoff"),
            Some(4),
            "other fields: the task's line"
        );
    }

    fn problems(text: &str) -> Vec<Problem> {
        parse_task_file("t.yaml", text).unwrap_err().problems
    }

    #[test]
    fn every_bad_input_names_task_field_and_line() {
        let p = problems("tasks:\n  - name: a\n    job: j\n    timeout: soon\n");
        assert_eq!(
            (p[0].task.as_deref(), p[0].field.as_str()),
            (Some("a"), "timeout")
        );
        assert!(
            p[0].line.is_some() && p[0].message.contains("not a duration"),
            "{p:?}"
        );
        let p = problems("tasks:\n  - name: a\n    job: j\n    limits: [nope]\n");
        assert_eq!(p[0].field, "limits[0]");
        assert!(p[0].message.contains("unknown limit"));
        let p = problems("tasks:\n  - {name: a, job: j}\n  - {name: a, job: k}\n");
        assert_eq!(p[0].field, "name");
        assert!(p[0].message.contains("unique"));
        let p = problems(
            "tasks:\n  - {name: a, job: j, after: [b]}\n  - {name: b, job: j, after: [c]}\n  - {name: c, job: j, after: [a]}\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message.contains("cycle") && p[0].message.contains('→'),
            "{p:?}"
        );
        let p = problems(
            "tasks:\n  - {name: a, job: j, schedule: {cron: '0 6 * *', timezone: UTC}}\n  - {name: b, job: j, schedule: {cron: '0 6 * * *', timezone: Mars/Base}}\n",
        );
        assert_eq!(
            p.iter().map(|x| x.field.as_str()).collect::<Vec<_>>(),
            vec!["schedule.cron", "schedule.timezone"]
        );
        let p = problems("tasks:\n  - {name: 'a b', job: j, params: {x: [1]}, after: [ghost]}\n");
        assert_eq!(
            p.iter().map(|x| x.field.as_str()).collect::<Vec<_>>(),
            vec!["name", "params.x", "after[0]"]
        );
        let p = problems("tasks:\n  - name: a\n    job: j\n    colour: red\n");
        assert_eq!(p[0].field, "(syntax)");
        assert!(p[0].line.is_some(), "{p:?}");
        assert!(
            p[0].message.contains("colour") && !p[0].message.starts_with("error"),
            "{p:?}"
        );
        let p = problems(
            "tasks:\n  - {name: a, job: j}\n  - {name: b, job: j, after: [{task: a, on: always}]}\n",
        );
        assert_eq!(p[0].field, "after[0].on");
        let e = parse_task_file(
            "t.yaml",
            "tasks:\n  - name: a\n    job: j\n    timeout: soon\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.yaml:4: task \"a\", field `timeout`:"),
            "{e}"
        );
    }
}
