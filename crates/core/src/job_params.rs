//! Databricks Job / Workflow parameters: discovery from `jobs/get` settings
//! and mapping onto the run-now body (AppKit task-type table).
//!
//! The API refuses requests mixing `job_parameters` with the legacy
//! per-task-type fields, so a job uses exactly one [`ParameterMapping`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::job::JobType;
use crate::parameter::Parameter;

/// The type of a Databricks Job's single task (AppKit "Task type mapping").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// `notebook_task` → `notebook_params` map.
    Notebook,
    /// `python_wheel_task` → `python_named_params` map.
    PythonWheel,
    /// `spark_python_task` → `python_params` positional.
    PythonScript,
    /// `spark_jar_task` → `jar_params` positional.
    SparkJar,
    /// `sql_task` → `sql_params` map.
    Sql,
    /// `dbt_task` → no parameters accepted.
    Dbt,
    /// Anything else (`pipeline_task`, `run_job_task`, `spark_submit_task`...):
    /// only job-level parameters can reach it.
    Other,
}

impl TaskType {
    /// Classifies a task object by which `*_task` key it carries.
    pub fn of_task(task: &Value) -> TaskType {
        const KEYS: [(&str, TaskType); 6] = [
            ("notebook_task", TaskType::Notebook),
            ("python_wheel_task", TaskType::PythonWheel),
            ("spark_python_task", TaskType::PythonScript),
            ("spark_jar_task", TaskType::SparkJar),
            ("sql_task", TaskType::Sql),
            ("dbt_task", TaskType::Dbt),
        ];
        KEYS.iter()
            .find(|(k, _)| task.get(k).is_some())
            .map_or(TaskType::Other, |(_, t)| *t)
    }

    /// The AppKit spelling (`python_wheel`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Notebook => "notebook",
            TaskType::PythonWheel => "python_wheel",
            TaskType::PythonScript => "python_script",
            TaskType::SparkJar => "spark_jar",
            TaskType::Sql => "sql",
            TaskType::Dbt => "dbt",
            TaskType::Other => "other",
        }
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let k = s.trim().to_ascii_lowercase();
        let k = k.strip_suffix("_task").unwrap_or(&k);
        Ok(match k {
            "notebook" => TaskType::Notebook,
            "python_wheel" => TaskType::PythonWheel,
            "python_script" | "spark_python" => TaskType::PythonScript,
            "spark_jar" | "jar" => TaskType::SparkJar,
            "sql" => TaskType::Sql,
            "dbt" => TaskType::Dbt,
            "other" => TaskType::Other,
            _ => {
                return Err(Error::UnknownVariant {
                    what: "task type",
                    value: s.to_owned(),
                    expected: "notebook, python_wheel, python_script, spark_jar, sql, dbt, other",
                });
            }
        })
    }
}

/// How a Databricks Job's parameters reach run-now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParameterMapping {
    /// The job declares job-level parameters: only `job_parameters` is sent.
    JobParameters,
    /// Legacy per-task-type fields for the job's single task.
    Task {
        /// The single task's type.
        task_type: TaskType,
    },
}

/// Builds the parameter part of a run-now body from `(name, wire value)`
/// pairs in declaration order (see [`crate::Job::wire_parameters`]).
///
/// Empty input yields an empty map: nothing is sent, and the job's own
/// defaults apply.
pub fn run_now_fields(
    mapping: ParameterMapping,
    params: &[(String, String)],
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    if params.is_empty() {
        return Ok(out);
    }
    let as_map = || {
        Value::Object(
            params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    };
    let as_list = || Value::Array(params.iter().map(|(_, v)| json!(v)).collect());
    match mapping {
        ParameterMapping::JobParameters => {
            out.insert("job_parameters".into(), as_map());
        }
        ParameterMapping::Task { task_type } => match task_type {
            TaskType::Notebook => {
                out.insert("notebook_params".into(), as_map());
            }
            TaskType::PythonWheel => {
                out.insert("python_named_params".into(), as_map());
            }
            TaskType::PythonScript => {
                out.insert("python_params".into(), as_list());
            }
            TaskType::SparkJar => {
                out.insert("jar_params".into(), as_list());
            }
            TaskType::Sql => {
                out.insert("sql_params".into(), as_map());
            }
            TaskType::Dbt | TaskType::Other => {
                return Err(Error::ParametersNotAccepted {
                    task_type: task_type.as_str().into(),
                    names: params
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    hint: "declare job-level parameters (settings.parameters) on the Databricks Job and sync the job's parameters, or remove these parameters".into(),
                });
            }
        },
    }
    Ok(out)
}

/// Job vs Workflow, by the seed's rule `settings.tasks.length > 1`.
pub fn classify_job(settings: &Value) -> JobType {
    let tasks = settings
        .get("tasks")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if tasks > 1 {
        JobType::DatabricksWorkflow
    } else {
        JobType::DatabricksJob
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn push_unique(out: &mut Vec<Parameter>, p: Parameter) {
    if !out.iter().any(|q| q.name == p.name) {
        out.push(p);
    }
}

/// Job-level parameter definitions: the real `settings.parameters[{name,
/// default}]` and the seed's `settings.job_parameters[{name, default_value}]`.
fn job_level(settings: &Value) -> Vec<Parameter> {
    let mut out = Vec::new();
    for key in ["parameters", "job_parameters"] {
        for def in settings
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = def.get("name").and_then(Value::as_str) else {
                continue;
            };
            let default = def
                .get("default")
                .or_else(|| def.get("default_value"))
                .and_then(value_text);
            push_unique(&mut out, Parameter::input(name, default));
        }
    }
    out
}

/// Parameters a single task declares, in declaration order, each marked
/// forwarded or reference-only by the caller.
fn task_level(task: &Value, forwarded: bool) -> Vec<Parameter> {
    let make = |name: &str, default: Option<String>| {
        if forwarded {
            Parameter::input(name, default)
        } else {
            Parameter::reference(name, default)
        }
    };
    let mut out = Vec::new();
    let map_of = |obj: Option<&Value>, out: &mut Vec<Parameter>| {
        if let Some(m) = obj.and_then(Value::as_object) {
            for (k, v) in m {
                push_unique(out, make(k, value_text(v)));
            }
        }
    };
    let list_of = |arr: Option<&Value>, out: &mut Vec<Parameter>| {
        for (i, v) in arr
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            push_unique(out, make(&format!("arg{}", i + 1), value_text(v)));
        }
    };
    match TaskType::of_task(task) {
        TaskType::Notebook => map_of(task.pointer("/notebook_task/base_parameters"), &mut out),
        TaskType::PythonWheel => {
            map_of(
                task.pointer("/python_wheel_task/named_parameters"),
                &mut out,
            );
            list_of(task.pointer("/python_wheel_task/parameters"), &mut out);
        }
        TaskType::PythonScript => list_of(task.pointer("/spark_python_task/parameters"), &mut out),
        TaskType::SparkJar => list_of(task.pointer("/spark_jar_task/parameters"), &mut out),
        TaskType::Sql => map_of(task.pointer("/sql_task/parameters"), &mut out),
        TaskType::Dbt | TaskType::Other => {}
    }
    out
}

/// The parameter schema of a Databricks Job or Workflow from `jobs/get`'s
/// `settings`, with the mapping run-now must use.
///
/// * Workflow: job-level parameters are forwarded; every task's
///   `base_parameters` are reference only (the seed's best practice).
/// * Job with job-level parameters: those are forwarded, task parameters
///   reference only (the API refuses mixing).
/// * Job without: the single task's parameters are forwarded through its
///   task-type field; positional ones are named `arg1`, `arg2`, ... in order.
pub fn discover_job_parameters(
    job_type: JobType,
    settings: &Value,
) -> (Vec<Parameter>, Option<ParameterMapping>) {
    let mut params = job_level(settings);
    let tasks: &[Value] = settings
        .get("tasks")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let has_job_level = !params.is_empty();
    let mapping = match job_type {
        JobType::DatabricksWorkflow => {
            for t in tasks {
                for p in task_level(t, false) {
                    push_unique(&mut params, p);
                }
            }
            None
        }
        _ => {
            let task_type = tasks.first().map_or(TaskType::Other, TaskType::of_task);
            if has_job_level {
                for t in tasks {
                    for p in task_level(t, false) {
                        push_unique(&mut params, p);
                    }
                }
                Some(ParameterMapping::JobParameters)
            } else {
                if let Some(t) = tasks.first() {
                    params = task_level(t, true);
                }
                Some(ParameterMapping::Task { task_type })
            }
        }
    };
    (params, mapping)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn appkit_table_rows() {
        let p = pairs(&[("b", "2"), ("a", "1")]);
        let f =
            |t| Value::Object(run_now_fields(ParameterMapping::Task { task_type: t }, &p).unwrap());
        assert_eq!(
            f(TaskType::Notebook),
            json!({"notebook_params": {"a": "1", "b": "2"}})
        );
        assert_eq!(
            f(TaskType::PythonWheel),
            json!({"python_named_params": {"a": "1", "b": "2"}})
        );
        assert_eq!(
            f(TaskType::PythonScript),
            json!({"python_params": ["2", "1"]})
        );
        assert_eq!(f(TaskType::SparkJar), json!({"jar_params": ["2", "1"]}));
        assert_eq!(
            f(TaskType::Sql),
            json!({"sql_params": {"a": "1", "b": "2"}})
        );
        assert!(
            run_now_fields(
                ParameterMapping::Task {
                    task_type: TaskType::Dbt
                },
                &p
            )
            .is_err()
        );
        assert!(
            run_now_fields(
                ParameterMapping::Task {
                    task_type: TaskType::Dbt
                },
                &[]
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn job_parameters_are_never_mixed() {
        let p = pairs(&[("env", "prod")]);
        let v = Value::Object(run_now_fields(ParameterMapping::JobParameters, &p).unwrap());
        assert_eq!(v, json!({"job_parameters": {"env": "prod"}}));
    }

    #[test]
    fn classification_by_task_count() {
        assert_eq!(
            classify_job(&json!({"tasks": [{}, {}]})),
            JobType::DatabricksWorkflow
        );
        assert_eq!(
            classify_job(&json!({"tasks": [{}]})),
            JobType::DatabricksJob
        );
        assert_eq!(classify_job(&json!({})), JobType::DatabricksJob);
    }

    #[test]
    fn workflow_discovery_marks_task_parameters_reference_only() {
        let settings = json!({
            "parameters": [{"name": "env", "default": "dev"}, {"name": "n", "default": "42"}],
            "job_parameters": [{"name": "flag", "default_value": "true"}],
            "tasks": [
                {"task_key": "a", "notebook_task": {"notebook_path": "/x", "base_parameters": {"t": "1"}}},
                {"task_key": "b", "notebook_task": {"notebook_path": "/y"}}
            ]
        });
        let (params, mapping) = discover_job_parameters(JobType::DatabricksWorkflow, &settings);
        assert_eq!(mapping, None);
        let names: Vec<_> = params
            .iter()
            .map(|p| (p.name.as_str(), p.forwarded))
            .collect();
        assert_eq!(
            names,
            vec![("env", true), ("n", true), ("flag", true), ("t", false)]
        );
        assert_eq!(params[1].data_type, crate::DataType::Number);
        assert_eq!(params[2].data_type, crate::DataType::Bool);
    }

    #[test]
    fn single_task_discovery_per_task_type() {
        let wheel = json!({"tasks": [{"python_wheel_task": {"named_parameters": {"x": "1"}}}]});
        let (p, m) = discover_job_parameters(JobType::DatabricksJob, &wheel);
        assert_eq!(
            m,
            Some(ParameterMapping::Task {
                task_type: TaskType::PythonWheel
            })
        );
        assert_eq!(p[0].name, "x");
        let jar = json!({"tasks": [{"spark_jar_task": {"parameters": ["a", "b"]}}]});
        let (p, m) = discover_job_parameters(JobType::DatabricksJob, &jar);
        assert_eq!(
            m,
            Some(ParameterMapping::Task {
                task_type: TaskType::SparkJar
            })
        );
        let names: Vec<_> = p
            .iter()
            .map(|p| (p.name.as_str(), p.default_value.as_deref()))
            .collect();
        assert_eq!(names, vec![("arg1", Some("a")), ("arg2", Some("b"))]);
        let with_job_level = json!({"parameters": [{"name": "e", "default": "x"}],
            "tasks": [{"sql_task": {"parameters": {"q": "1"}}}]});
        let (p, m) = discover_job_parameters(JobType::DatabricksJob, &with_job_level);
        assert_eq!(m, Some(ParameterMapping::JobParameters));
        assert!(p.iter().any(|p| p.name == "q" && !p.forwarded));
        let dbt = json!({"tasks": [{"dbt_task": {"commands": ["dbt run"]}}]});
        let (p, m) = discover_job_parameters(JobType::DatabricksJob, &dbt);
        assert!(p.is_empty());
        assert_eq!(
            m,
            Some(ParameterMapping::Task {
                task_type: TaskType::Dbt
            })
        );
    }
}
