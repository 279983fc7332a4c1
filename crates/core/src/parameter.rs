//! Job parameters: typed values that Databricks ultimately receives as
//! strings.
//!
//! Values are kept as the text the user (or the importer) gave, validated
//! against the data type, and converted to their canonical wire string only
//! when a request is built — so a user's `1.50` is stored as typed but sent
//! as `1.5`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::job::JobType;

/// What kind of value a parameter holds; drives validation and formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum DataType {
    /// Any text.
    #[default]
    String,
    /// A decimal number, sent in canonical decimal form.
    Number,
    /// `true` / `false`.
    Bool,
    /// A calendar date, sent as `YYYY-MM-DD`.
    Date,
    /// An instant, sent as RFC 3339 in UTC.
    DateTime,
    /// Any JSON document, sent compact.
    #[serde(rename = "JSON")]
    Json,
}

impl DataType {
    /// Stable spelling used in storage, JSON output and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "String",
            DataType::Number => "Number",
            DataType::Bool => "Bool",
            DataType::Date => "Date",
            DataType::DateTime => "DateTime",
            DataType::Json => "JSON",
        }
    }

    /// Guesses the type of an imported default (Databricks defaults are
    /// always strings): `true`/`false` → Bool, a plain decimal such as `42`
    /// or `-3.5` → Number, anything else → String.
    ///
    /// Numbers with leading zeros (`007`) stay String: they are usually
    /// codes whose zeros matter, and canonical formatting would drop them.
    pub fn infer(default: &str) -> DataType {
        if default == "true" || default == "false" {
            return DataType::Bool;
        }
        let digits = default.strip_prefix('-').unwrap_or(default);
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (digits, None),
        };
        let int_ok = !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && (int == "0" || !int.starts_with('0'));
        let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
        if int_ok && frac_ok {
            DataType::Number
        } else {
            DataType::String
        }
    }

    /// Validates `value` and returns the string Databricks receives.
    pub fn to_wire(self, value: &str) -> std::result::Result<String, String> {
        match self {
            DataType::String => Ok(value.to_owned()),
            DataType::Number => canonical_number(value.trim()),
            DataType::Bool => match value.trim().to_ascii_lowercase().as_str() {
                "true" => Ok("true".into()),
                "false" => Ok("false".into()),
                _ => Err(format!("{value:?} is not a Bool; use true or false")),
            },
            DataType::Date => value
                .trim()
                .parse::<jiff::civil::Date>()
                .map(|d| d.to_string())
                .map_err(|_| format!("{value:?} is not a Date; use YYYY-MM-DD, e.g. 2025-01-31")),
            DataType::DateTime => value
                .trim()
                .parse::<jiff::Timestamp>()
                .map(|t| t.to_string())
                .map_err(|_| {
                    format!(
                        "{value:?} is not a DateTime; use RFC 3339 with an offset, e.g. 2025-01-31T08:00:00Z"
                    )
                }),
            DataType::Json => serde_json::from_str::<serde_json::Value>(value)
                .map(|v| v.to_string())
                .map_err(|e| format!("is not valid JSON ({e}); quote strings and check brackets")),
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "string" | "str" | "text" => DataType::String,
            "number" | "num" | "int" | "integer" | "float" | "decimal" => DataType::Number,
            "bool" | "boolean" => DataType::Bool,
            "date" => DataType::Date,
            "datetime" | "timestamp" => DataType::DateTime,
            "json" => DataType::Json,
            _ => {
                return Err(Error::UnknownVariant {
                    what: "data type",
                    value: s.to_owned(),
                    expected: "String, Number, Bool, Date, DateTime, JSON",
                });
            }
        })
    }
}

/// Exact decimal canonicalisation without going through floating point:
/// `+1.50` → `1.5`, `1e3` → `1000`, `-0.0` → `0`. Exponents are bounded so a
/// hostile `1e999999999` cannot allocate gigabytes.
fn canonical_number(s: &str) -> std::result::Result<String, String> {
    let err = || format!("{s:?} is not a Number; use a decimal such as 42 or -3.5");
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e: i64 = rest[i + 1..].parse().map_err(|_| err())?;
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    if !(-1000..=1000).contains(&exp) {
        return Err(format!(
            "{s:?}: exponent out of range; write the number out"
        ));
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(err());
    }
    let digits: String = format!("{int}{frac}");
    // Position of the decimal point within `digits` after applying the exponent.
    let point = int.len() as i64 + exp;
    let (mut ip, mut fp) = if point <= 0 {
        (
            String::new(),
            format!("{}{}", "0".repeat(point.unsigned_abs() as usize), digits),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{}{}", digits, "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        let (a, b) = digits.split_at(point as usize);
        (a.to_owned(), b.to_owned())
    };
    ip = ip.trim_start_matches('0').to_owned();
    fp = fp.trim_end_matches('0').to_owned();
    if ip.is_empty() {
        ip.push('0');
    }
    let zero = ip == "0" && fp.is_empty();
    let mut out = String::new();
    if neg && !zero {
        out.push('-');
    }
    out.push_str(&ip);
    if !fp.is_empty() {
        out.push('.');
        out.push_str(&fp);
    }
    Ok(out)
}

/// Whether a parameter flows into the run, out of it, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Direction {
    /// Sent at run time.
    #[default]
    Input,
    /// Read back from the run (not supported by any Databricks job type).
    Output,
    /// Sent at run time and read back (only the input half is supported).
    #[serde(rename = "InputOutput", alias = "Input&Output")]
    InputOutput,
}

impl Direction {
    /// Stable spelling used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Input => "Input",
            Direction::Output => "Output",
            Direction::InputOutput => "InputOutput",
        }
    }

    /// The seeds' spelling, for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Direction::Input => "Input",
            Direction::Output => "Output",
            Direction::InputOutput => "Input&Output",
        }
    }

    /// Whether the value is sent at run time.
    pub fn is_sent(self) -> bool {
        !matches!(self, Direction::Output)
    }

    /// Refuses a direction the job type's seed table marks "not supported"
    /// for sending: Output, on every Databricks type.
    pub fn check_supported(self, job_type: JobType, name: &str) -> Result<()> {
        if self == Direction::Output && job_type != JobType::ArazzoWorkflow {
            return Err(Error::UnsupportedDirection {
                name: name.to_owned(),
                direction: self.display_name().to_owned(),
                job_type: job_type.display_name().to_owned(),
                reason: output_reason(job_type).to_owned(),
            });
        }
        Ok(())
    }

    /// The caveat shown when a direction is accepted only in part.
    ///
    /// Input&Output is accepted on every type because its "sent" column is
    /// supported (pipelines: only `full_refresh`), but its "updated from
    /// response" column says "(not supported)": the value is never written
    /// back, so it behaves exactly like Input.
    pub fn caveat(self, job_type: JobType) -> Option<String> {
        match self {
            Direction::InputOutput => Some(format!(
                "Input&Output behaves as Input for {} jobs: the value is sent but never updated from the response ({})",
                job_type.display_name(),
                output_reason(job_type)
            )),
            _ => None,
        }
    }
}

/// The seeds' explanation of why nothing comes back from a run.
fn output_reason(job_type: JobType) -> &'static str {
    match job_type {
        JobType::DatabricksNotebook => {
            "the Jobs API does not surface notebook return values in the run status response; use dbutils.notebook.exit() only for logging and have downstream tasks read results from a shared store (Delta table, ADLS path)"
        }
        JobType::DatabricksJob | JobType::DatabricksWorkflow => {
            "multi-task workflows have no single return value; persist results to a shared store (Delta table, ADLS path) and read them downstream"
        }
        JobType::DatabricksPipeline => {
            "DLT update tracking returns only state and timing, not table-level metrics"
        }
        JobType::ArazzoWorkflow => {
            "an Arazzo workflow's outputs come back as Output parameters; an input is never written back"
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

impl FromStr for Direction {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '&' | '-' | '_' | ' ' | '/'))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match key.as_str() {
            "input" | "in" => Direction::Input,
            "output" | "out" => Direction::Output,
            "inputoutput" | "inout" | "inandout" => Direction::InputOutput,
            _ => {
                return Err(Error::UnknownVariant {
                    what: "direction",
                    value: s.to_owned(),
                    expected: "Input, Output, Input&Output",
                });
            }
        })
    }
}

/// One parameter of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    /// Name as Databricks knows it (widget name, job parameter name, ...).
    pub name: String,
    /// Value type.
    #[serde(default)]
    pub data_type: DataType,
    /// Flow direction.
    #[serde(default)]
    pub direction: Direction,
    /// Default, usually imported from Databricks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    /// User-set value; wins over the default and survives Sync Parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_value: Option<String>,
    /// `false` for reference-only parameters (pipeline configuration keys,
    /// task-level `base_parameters`) that are shown but never sent.
    #[serde(default = "yes")]
    pub forwarded: bool,
    /// The only values accepted, when Databricks fixes them (a dropdown
    /// widget's literal choices); empty means any value of the data type.
    /// Kept so a `-p region=MARS` is refused before anything is sent
    /// (Databricks would otherwise fail the run later) and so the choices
    /// can be shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Parameter {
    /// A forwarded Input parameter whose type is inferred from its default.
    pub fn input(name: impl Into<String>, default: Option<String>) -> Self {
        let data_type = default.as_deref().map(DataType::infer).unwrap_or_default();
        Self {
            name: name.into(),
            data_type,
            direction: Direction::Input,
            default_value: default,
            current_value: None,
            forwarded: true,
            choices: Vec::new(),
        }
    }

    /// A parameter shown for reference only (never sent).
    pub fn reference(name: impl Into<String>, default: Option<String>) -> Self {
        Self {
            forwarded: false,
            ..Self::input(name, default)
        }
    }

    /// The value a run uses: the user's value, else the default.
    pub fn effective_value(&self) -> Option<&str> {
        self.current_value
            .as_deref()
            .or(self.default_value.as_deref())
    }

    /// Checks the name, the direction for `job_type`, and that both values
    /// parse as the data type.
    pub fn validate(&self, job_type: JobType) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::parameter(&self.name, "has an empty name"));
        }
        if self.name.chars().any(char::is_control) {
            return Err(Error::parameter(
                &self.name,
                "name contains control characters",
            ));
        }
        self.direction.check_supported(job_type, &self.name)?;
        if let Some(v) = &self.current_value {
            self.check_choice(v)?;
        }
        for (which, v) in [
            ("default value", &self.default_value),
            ("current value", &self.current_value),
        ] {
            if let Some(v) = v {
                self.data_type
                    .to_wire(v)
                    .map_err(|m| Error::parameter(&self.name, format!("{which} {m}")))?;
            }
        }
        Ok(())
    }

    /// Refuses a value outside the parameter's [`choices`](Self::choices)
    /// (any value passes when there are none), naming the choices so the
    /// user can pick one.
    pub fn check_choice(&self, value: &str) -> Result<()> {
        if self.choices.is_empty() || self.choices.iter().any(|c| c == value) {
            return Ok(());
        }
        Err(Error::parameter(
            &self.name,
            format!(
                "{value:?} is not one of its choices: {}",
                self.choices.join(", ")
            ),
        ))
    }

    /// The canonical string sent to Databricks, if this parameter is sent
    /// and has a value.
    pub fn wire_value(&self) -> Result<Option<String>> {
        if !self.forwarded || !self.direction.is_sent() {
            return Ok(None);
        }
        match self.effective_value() {
            None => Ok(None),
            Some(v) => self
                .data_type
                .to_wire(v)
                .map(Some)
                .map_err(|m| Error::parameter(&self.name, m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_from_defaults() {
        assert_eq!(DataType::infer("42"), DataType::Number);
        assert_eq!(DataType::infer("-3.5"), DataType::Number);
        assert_eq!(DataType::infer("0.25"), DataType::Number);
        assert_eq!(DataType::infer("true"), DataType::Bool);
        assert_eq!(DataType::infer("false"), DataType::Bool);
        assert_eq!(DataType::infer("True"), DataType::String);
        assert_eq!(DataType::infer("007"), DataType::String);
        assert_eq!(DataType::infer("1e5"), DataType::String);
        assert_eq!(DataType::infer(""), DataType::String);
        assert_eq!(DataType::infer("dev"), DataType::String);
        assert_eq!(DataType::infer("1."), DataType::String);
    }

    #[test]
    fn wire_formats() {
        assert_eq!(DataType::Bool.to_wire("TRUE").unwrap(), "true");
        assert_eq!(DataType::Number.to_wire("+1.50").unwrap(), "1.5");
        assert_eq!(DataType::Number.to_wire("1e3").unwrap(), "1000");
        assert_eq!(DataType::Number.to_wire("1.5e-2").unwrap(), "0.015");
        assert_eq!(DataType::Number.to_wire("-0.0").unwrap(), "0");
        assert_eq!(DataType::Number.to_wire("0042").unwrap(), "42");
        assert_eq!(DataType::Number.to_wire(".5").unwrap(), "0.5");
        assert!(DataType::Number.to_wire("abc").is_err());
        assert!(DataType::Number.to_wire(".").is_err());
        assert!(DataType::Number.to_wire("1e99999").is_err());
        assert_eq!(DataType::Date.to_wire("2025-01-31").unwrap(), "2025-01-31");
        assert!(DataType::Date.to_wire("31/01/2025").is_err());
        assert_eq!(
            DataType::DateTime
                .to_wire("2025-01-31T10:00:00+02:00")
                .unwrap(),
            "2025-01-31T08:00:00Z"
        );
        assert!(DataType::DateTime.to_wire("2025-01-31T10:00:00").is_err());
        assert_eq!(
            DataType::Json.to_wire("{ \"a\" : [1, 2] }").unwrap(),
            r#"{"a":[1,2]}"#
        );
        assert!(DataType::Json.to_wire("{a:1}").is_err());
        assert_eq!(DataType::String.to_wire(" x ").unwrap(), " x ");
    }

    #[test]
    fn output_is_refused_for_every_type_with_the_seed_reason() {
        for jt in JobType::ALL {
            let e = Direction::Output.check_supported(jt, "out").unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("not supported"), "{msg}");
            assert!(msg.contains("`out`"), "{msg}");
        }
        let msg = Direction::Output
            .check_supported(JobType::DatabricksNotebook, "x")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("dbutils.notebook.exit()"), "{msg}");
    }

    #[test]
    fn input_output_is_accepted_with_a_caveat() {
        for jt in JobType::ALL {
            Direction::InputOutput.check_supported(jt, "io").unwrap();
            assert!(
                Direction::InputOutput
                    .caveat(jt)
                    .unwrap()
                    .contains("never updated")
            );
            assert!(Direction::Input.caveat(jt).is_none());
        }
    }

    #[test]
    fn direction_spellings() {
        assert_eq!(
            "Input&Output".parse::<Direction>().unwrap(),
            Direction::InputOutput
        );
        assert_eq!(
            "in-out".parse::<Direction>().unwrap(),
            Direction::InputOutput
        );
        assert_eq!(
            serde_json::from_str::<Direction>("\"Input&Output\"").unwrap(),
            Direction::InputOutput
        );
    }

    #[test]
    fn validate_reports_bad_values_by_name() {
        let p = Parameter {
            current_value: Some("maybe".into()),
            ..Parameter::input("flag", Some("true".into()))
        };
        let msg = p
            .validate(JobType::DatabricksNotebook)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("`flag`") && msg.contains("current value"),
            "{msg}"
        );
    }

    #[test]
    fn wire_value_skips_reference_and_output() {
        let p = Parameter::input("n", Some("1.0".into()));
        assert_eq!(p.wire_value().unwrap().as_deref(), Some("1"));
        assert_eq!(
            Parameter::reference("r", Some("x".into()))
                .wire_value()
                .unwrap(),
            None
        );
        let o = Parameter {
            direction: Direction::Output,
            ..Parameter::input("o", Some("x".into()))
        };
        assert_eq!(o.wire_value().unwrap(), None);
        assert_eq!(Parameter::input("e", None).wire_value().unwrap(), None);
    }
}
