//! Jobs: a Databricks object Polysync can run, addressed by its External Id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::job_params::ParameterMapping;
use crate::parameter::Parameter;

/// The four Databricks job types from the seeds.
///
/// One spelling per medium: the identifier ([`JobType::id`], `workflow`) in
/// flags and JSON (serde uses it; the older `DatabricksWorkflow` is still
/// read), the display name (`Databricks Workflow`) in tables and messages,
/// and [`JobType::as_str`] in storage only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JobType {
    /// A notebook run once through `runs/submit`; External Id = path.
    #[serde(rename = "notebook", alias = "DatabricksNotebook")]
    DatabricksNotebook,
    /// A single-task (or non-notebook) job run through `run-now`.
    #[serde(rename = "job", alias = "DatabricksJob")]
    DatabricksJob,
    /// A multi-task job (`settings.tasks.length > 1`) run through `run-now`.
    #[serde(rename = "workflow", alias = "DatabricksWorkflow")]
    DatabricksWorkflow,
    /// A DLT pipeline update; External Id = pipeline id.
    #[serde(rename = "pipeline", alias = "DatabricksPipeline")]
    DatabricksPipeline,
    /// An imported Arazzo workflow, run in process by the engine (not by
    /// Databricks); External Id = `ABSOLUTE_PATH#workflowId`. The one type
    /// whose Output parameters are filled from the run.
    #[serde(rename = "arazzo", alias = "ArazzoWorkflow")]
    ArazzoWorkflow,
}

impl JobType {
    /// Every Databricks variant (what a platform import discovers).
    pub const ALL: [JobType; 4] = [
        JobType::DatabricksNotebook,
        JobType::DatabricksJob,
        JobType::DatabricksWorkflow,
        JobType::DatabricksPipeline,
    ];

    /// Whether Polysync itself executes runs of this type (no Databricks
    /// run behind them): they are started, heartbeated and ended by the
    /// engine instead of being submitted and polled.
    pub fn runs_in_process(self) -> bool {
        matches!(self, JobType::ArazzoWorkflow)
    }

    /// The seeds' display name ("Databricks Notebook", ...).
    pub fn display_name(self) -> &'static str {
        match self {
            JobType::DatabricksNotebook => "Databricks Notebook",
            JobType::DatabricksJob => "Databricks Job",
            JobType::DatabricksWorkflow => "Databricks Workflow",
            JobType::DatabricksPipeline => "Databricks Pipeline",
            JobType::ArazzoWorkflow => "Arazzo Workflow",
        }
    }

    /// The user-facing identifier: what `--type` takes and JSON output
    /// shows (`notebook`, `job`, `workflow`, `pipeline`).
    pub fn id(self) -> &'static str {
        match self {
            JobType::DatabricksNotebook => "notebook",
            JobType::DatabricksJob => "job",
            JobType::DatabricksWorkflow => "workflow",
            JobType::DatabricksPipeline => "pipeline",
            JobType::ArazzoWorkflow => "arazzo",
        }
    }

    /// Stable identifier used in storage (not shown to users).
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::DatabricksNotebook => "DatabricksNotebook",
            JobType::DatabricksJob => "DatabricksJob",
            JobType::DatabricksWorkflow => "DatabricksWorkflow",
            JobType::DatabricksPipeline => "DatabricksPipeline",
            JobType::ArazzoWorkflow => "ArazzoWorkflow",
        }
    }

    /// Checks an External Id before any API call so a typo costs no request.
    pub fn validate_external_id(self, external_id: &str) -> Result<()> {
        match self {
            JobType::DatabricksNotebook => {
                if !external_id.starts_with('/') || external_id.len() < 2 {
                    return Err(Error::job(
                        "external_id",
                        format!(
                            "{external_id:?} is not an absolute notebook path; a Databricks Notebook's External Id is its workspace path, e.g. /Users/alice@contoso.com/etl/sales-load"
                        ),
                    ));
                }
            }
            JobType::DatabricksJob | JobType::DatabricksWorkflow => {
                self.parse_job_id(external_id)?;
            }
            JobType::DatabricksPipeline => {
                if external_id.trim().is_empty()
                    || external_id.contains(':')
                    || external_id.chars().any(char::is_whitespace)
                {
                    return Err(Error::job(
                        "external_id",
                        format!(
                            "{external_id:?} is not a pipeline id; a Databricks Pipeline's External Id is the DLT pipeline id (e.g. a1b2c3d4-...), without spaces or ':'"
                        ),
                    ));
                }
            }
            JobType::ArazzoWorkflow => {
                let valid = external_id
                    .rsplit_once('#')
                    .is_some_and(|(path, wf)| !path.trim().is_empty() && !wf.trim().is_empty());
                if !valid {
                    return Err(Error::job(
                        "external_id",
                        format!(
                            "{external_id:?} is not an Arazzo workflow reference; an Arazzo Workflow's External Id is PATH#workflowId — import it with `polysync arazzo import FILE --platform NAME`"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Parses a Job/Workflow External Id into the numeric Databricks job id
    /// ("parsed back to a long before the API call").
    pub fn parse_job_id(self, external_id: &str) -> Result<i64> {
        match external_id.trim().parse::<i64>() {
            Ok(id) if id > 0 => Ok(id),
            _ => Err(Error::job(
                "external_id",
                format!(
                    "{external_id:?} is not a numeric Databricks Job Id; a {} External Id must be a positive integer such as 42 — re-import the platform to pick the right id",
                    self.display_name()
                ),
            )),
        }
    }

    /// Where to declare a parameter that is shown for reference only.
    pub fn reference_only_hint(self) -> &'static str {
        match self {
            JobType::DatabricksWorkflow | JobType::DatabricksJob => {
                "it exists at the task level (base_parameters) but not at the job level. Edit the Databricks Job and declare the parameter on settings.parameters (job_parameters), then sync this job's parameters"
            }
            JobType::DatabricksPipeline => {
                "pipeline configuration values are baked into the pipeline definition and cannot be changed per update; edit the pipeline in Databricks and sync this job's parameters — only full_refresh flows through"
            }
            JobType::DatabricksNotebook => {
                "mark it as forwarded on the job, or declare it as a widget in the notebook and re-import"
            }
            JobType::ArazzoWorkflow => {
                "declare it in the workflow's inputs schema and re-import the Arazzo file"
            }
        }
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

impl FromStr for JobType {
    type Err = Error;

    /// Accepts the display name, the stable identifier, and short forms
    /// (`notebook`, `job`, `workflow`, `pipeline`).
    fn from_str(s: &str) -> Result<Self> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        let key = key.strip_prefix("databricks").unwrap_or(&key);
        Ok(match key {
            "notebook" => JobType::DatabricksNotebook,
            "job" => JobType::DatabricksJob,
            "workflow" => JobType::DatabricksWorkflow,
            "pipeline" | "dlt" => JobType::DatabricksPipeline,
            "arazzo" | "arazzoworkflow" => JobType::ArazzoWorkflow,
            _ => {
                return Err(Error::UnknownVariant {
                    what: "job type",
                    value: s.to_owned(),
                    expected: "Databricks Notebook, Databricks Job, Databricks Workflow, Databricks Pipeline, Arazzo Workflow",
                });
            }
        })
    }
}

fn one() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A runnable Databricks object and its parameter schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Polysync name, unique; an imported notebook's name is its path.
    pub name: String,
    /// Which provider runs it.
    pub job_type: JobType,
    /// Notebook path, numeric job id, or pipeline id.
    pub external_id: String,
    /// Owning platform's name.
    pub platform: String,
    /// Ordered parameters (order matters for positional task parameters).
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// How a Databricks Job's parameters reach run-now; `None` means the
    /// type's only form (notebook base_parameters, workflow job_parameters,
    /// pipeline full_refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_mapping: Option<ParameterMapping>,
    /// When the source disappeared from Databricks (epoch ms); set by
    /// re-import, cleared if it comes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<i64>,
    /// How many task runs one run of it makes in Databricks (a multi-task
    /// workflow's task count, else 1): what it takes of its platform's
    /// concurrent task-run limit. Read at import.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub task_count: u32,
    /// Row version in the store (0 before the first save): edits are
    /// compare-and-set on it, so concurrent edits never silently overwrite.
    #[serde(default)]
    pub version: i64,
}

impl Job {
    /// A job without parameters.
    pub fn new(
        name: impl Into<String>,
        job_type: JobType,
        external_id: impl Into<String>,
        platform: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            job_type,
            external_id: external_id.into(),
            platform: platform.into(),
            parameters: Vec::new(),
            parameter_mapping: None,
            removed_at: None,
            task_count: 1,
            version: 0,
        }
    }

    /// Checks name, External Id and every parameter (including duplicates).
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err(Error::job(
                "name",
                "is empty or contains control characters; give the job a printable name",
            ));
        }
        if self.platform.trim().is_empty() {
            return Err(Error::job(
                "platform",
                "is empty; name the platform the job runs on",
            ));
        }
        self.job_type.validate_external_id(&self.external_id)?;
        let mut seen = std::collections::HashSet::new();
        for p in &self.parameters {
            if !seen.insert(p.name.as_str()) {
                return Err(Error::parameter(
                    &p.name,
                    "is declared twice; parameter names must be unique within a job",
                ));
            }
            p.validate(self.job_type)?;
        }
        Ok(())
    }

    /// Looks a parameter up by name.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// Applies `-p name=value` overrides as current values, refusing
    /// unknown, reference-only and Output parameters and bad values.
    pub fn apply_overrides<'a>(
        &mut self,
        overrides: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<()> {
        for (name, value) in overrides {
            let job_type = self.job_type;
            let known = self
                .parameters
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let job_name = self.name.clone();
            let Some(p) = self.parameters.iter_mut().find(|p| p.name == name) else {
                return Err(Error::UnknownParameter {
                    name: name.to_owned(),
                    job: job_name,
                    known: if known.is_empty() {
                        "none".into()
                    } else {
                        known
                    },
                });
            };
            if !p.forwarded {
                return Err(Error::ReferenceOnlyParameter {
                    name: name.to_owned(),
                    job: job_name,
                    job_type: job_type.display_name().to_owned(),
                    hint: job_type.reference_only_hint().to_owned(),
                });
            }
            p.direction.check_supported(job_type, name)?;
            p.data_type
                .to_wire(value)
                .map_err(|m| Error::parameter(name, m))?;
            p.check_choice(value)?;
            p.current_value = Some(value.to_owned());
        }
        Ok(())
    }

    /// The `(name, wire value)` pairs a run sends, in declaration order:
    /// every forwarded Input/Input&Output parameter that has a value.
    pub fn wire_parameters(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for p in &self.parameters {
            if let Some(v) = p.wire_value()? {
                out.push((p.name.clone(), v));
            }
        }
        Ok(out)
    }
}

/// Splits `PLATFORM:EXTERNAL_ID` at the first `:` (platform names cannot
/// contain one). Returns `None` when there is no colon or either side is
/// empty; callers try the text as a Polysync job name first.
pub fn split_platform_ref(reference: &str) -> Option<(&str, &str)> {
    let (platform, external_id) = reference.split_once(':')?;
    if platform.is_empty() || external_id.is_empty() {
        return None;
    }
    Some((platform, external_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parameter::{DataType, Direction};

    #[test]
    fn external_id_rules_per_type() {
        JobType::DatabricksNotebook
            .validate_external_id("/Users/a/etl")
            .unwrap();
        assert!(
            JobType::DatabricksNotebook
                .validate_external_id("Users/a")
                .is_err()
        );
        assert_eq!(JobType::DatabricksJob.parse_job_id("42").unwrap(), 42);
        let msg = JobType::DatabricksWorkflow
            .validate_external_id("abc")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("external_id") && msg.contains("numeric"),
            "{msg}"
        );
        assert!(JobType::DatabricksJob.validate_external_id("-1").is_err());
        assert!(JobType::DatabricksJob.validate_external_id("0").is_err());
        JobType::DatabricksPipeline
            .validate_external_id("a1b2c3d4-0000")
            .unwrap();
        assert!(
            JobType::DatabricksPipeline
                .validate_external_id("")
                .is_err()
        );
        assert!(
            JobType::DatabricksPipeline
                .validate_external_id("a:b")
                .is_err()
        );
    }

    #[test]
    fn job_type_names() {
        for jt in JobType::ALL {
            assert_eq!(jt.display_name().parse::<JobType>().unwrap(), jt);
            assert_eq!(jt.as_str().parse::<JobType>().unwrap(), jt);
        }
        assert_eq!(
            "pipeline".parse::<JobType>().unwrap(),
            JobType::DatabricksPipeline
        );
    }

    fn workflow() -> Job {
        let mut j = Job::new("wf", JobType::DatabricksWorkflow, "42", "prod");
        j.parameters = vec![
            Parameter::input("env", Some("dev".into())),
            Parameter::reference("task_only", Some("x".into())),
        ];
        j
    }

    #[test]
    fn override_of_reference_parameter_explains_where_to_declare() {
        let mut j = workflow();
        let msg = j
            .apply_overrides([("task_only", "y")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("settings.parameters"), "{msg}");
        assert!(msg.contains("sync this job's parameters"), "{msg}");
        let hint = j.apply_overrides([("task_only", "y")]).unwrap_err().hint();
        assert_eq!(
            hint.action_ref(),
            Some(&crate::Action::SyncParams {
                job: j.name.clone()
            })
        );
        let mut p = Job::new("p", JobType::DatabricksPipeline, "abc", "prod");
        p.parameters = vec![Parameter::reference("spark.x", Some("1".into()))];
        let msg = p
            .apply_overrides([("spark.x", "2")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("edit the pipeline in Databricks"), "{msg}");
        assert!(msg.contains("full_refresh"), "{msg}");
    }

    #[test]
    fn override_sets_current_value_and_validates() {
        let mut j = workflow();
        j.parameters[0].data_type = DataType::String;
        j.apply_overrides([("env", "prod")]).unwrap();
        assert_eq!(j.parameters[0].current_value.as_deref(), Some("prod"));
        assert!(matches!(
            j.apply_overrides([("nope", "1")]),
            Err(Error::UnknownParameter { .. })
        ));
        j.parameters[0].data_type = DataType::Number;
        assert!(j.apply_overrides([("env", "x")]).is_err());
    }

    /// Issue 8 item 23: a dropdown's value outside its choices was accepted.
    #[test]
    fn overrides_outside_a_dropdowns_choices_are_refused_naming_them() {
        let mut j = workflow();
        j.parameters.push(Parameter {
            choices: vec!["EMEA".into(), "APAC".into()],
            ..Parameter::input("region", Some("EMEA".into()))
        });
        let err = j
            .apply_overrides([("region", "MARS")])
            .expect_err("outside the choices");
        assert!(
            matches!(&err, Error::InvalidParameter { name, message }
                if name == "region" && message.contains("EMEA, APAC")),
            "{err}"
        );
        assert_eq!(j.parameters[2].current_value, None);
        j.apply_overrides([("region", "APAC")]).expect("a choice");
        assert_eq!(j.parameters[2].current_value.as_deref(), Some("APAC"));
        // A stored value outside the choices (jobs edit --set) is refused too.
        j.parameters[2].current_value = Some("MARS".into());
        assert!(j.validate().is_err());
    }

    #[test]
    fn wire_parameters_in_order_skip_reference() {
        let mut j = workflow();
        j.parameters.push(Parameter {
            direction: Direction::InputOutput,
            ..Parameter::input("n", Some("1.0".into()))
        });
        assert_eq!(
            j.wire_parameters().unwrap(),
            vec![("env".into(), "dev".into()), ("n".into(), "1".into())]
        );
    }

    #[test]
    fn duplicate_and_output_parameters_are_refused() {
        let mut j = workflow();
        j.parameters.push(Parameter::input("env", None));
        assert!(j.validate().is_err());
        let mut j = workflow();
        j.parameters.push(Parameter {
            direction: Direction::Output,
            ..Parameter::input("o", None)
        });
        assert!(matches!(
            j.validate(),
            Err(Error::UnsupportedDirection { .. })
        ));
    }

    #[test]
    fn platform_refs_split_at_first_colon() {
        assert_eq!(split_platform_ref("prod:42"), Some(("prod", "42")));
        assert_eq!(split_platform_ref("prod:a:b"), Some(("prod", "a:b")));
        assert_eq!(split_platform_ref("/Users/x"), None);
        assert_eq!(split_platform_ref(":x"), None);
    }
}
