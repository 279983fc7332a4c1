//! Pipeline parameters: what a DLT update can be told at request time.
//!
//! The update API accepts only trigger flags, so configuration is imported
//! for reference and `full_refresh` is the one value ever sent.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::parameter::{DataType, Parameter};

/// The only forwarded pipeline parameter.
pub const FULL_REFRESH: &str = "full_refresh";

/// Top-level spec fields shown as runnable settings.
const TOP_LEVEL: [&str; 3] = ["continuous", "development", "photon"];

fn is_runnable_key(key: &str) -> bool {
    TOP_LEVEL.contains(&key) || key.starts_with("spark.") || key.starts_with("custom.")
}

/// Parameters for a pipeline from its `spec` (or a whole `GET
/// pipelines/{id}` response): `continuous`, `development`, `photon` and the
/// `spark.*` / `custom.*` configuration keys as reference only, then
/// `full_refresh` (Bool, default false, forwarded).
pub fn pipeline_parameters(spec_or_response: &Value) -> Vec<Parameter> {
    let spec = spec_or_response.get("spec").unwrap_or(spec_or_response);
    let mut out: Vec<Parameter> = Vec::new();
    let mut push = |p: Parameter| {
        if !out.iter().any(|q| q.name == p.name) {
            out.push(p);
        }
    };
    for key in TOP_LEVEL {
        if let Some(v) = spec.get(key).and_then(Value::as_bool) {
            push(Parameter {
                data_type: DataType::Bool,
                ..Parameter::reference(key, Some(v.to_string()))
            });
        }
    }
    if let Some(conf) = spec.get("configuration").and_then(Value::as_object) {
        for (k, v) in conf {
            if !is_runnable_key(k) || k == FULL_REFRESH {
                continue;
            }
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            push(Parameter::reference(k.clone(), Some(text)));
        }
    }
    push(Parameter {
        data_type: DataType::Bool,
        ..Parameter::input(FULL_REFRESH, Some("false".into()))
    });
    out
}

/// The `full_refresh` flag from a pipeline job's parameters (false when
/// absent, as the seed says).
pub fn full_refresh(params: &[Parameter]) -> Result<bool> {
    let Some(p) = params.iter().find(|p| p.name == FULL_REFRESH) else {
        return Ok(false);
    };
    match p.effective_value() {
        None => Ok(false),
        Some(v) => match DataType::Bool.to_wire(v) {
            Ok(s) => Ok(s == "true"),
            Err(m) => Err(Error::parameter(FULL_REFRESH, m)),
        },
    }
}

/// The update request body, `{"pipeline_id", "full_refresh"}` as in the seed.
pub fn update_body(pipeline_id: &str, params: &[Parameter]) -> Result<Value> {
    Ok(json!({"pipeline_id": pipeline_id, "full_refresh": full_refresh(params)?}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_configuration_to_runnable_settings() {
        let spec = json!({"spec": {
            "continuous": false, "development": true, "photon": true, "serverless": true,
            "configuration": {"spark.sql.shuffle.partitions": "200", "custom.env": "dev",
                              "pipelines.trigger.interval": "1 hour", "other": "x"}
        }});
        let params = pipeline_parameters(&spec);
        let names: Vec<_> = params
            .iter()
            .map(|p| (p.name.as_str(), p.forwarded))
            .collect();
        assert_eq!(
            names,
            vec![
                ("continuous", false),
                ("development", false),
                ("photon", false),
                ("custom.env", false),
                ("spark.sql.shuffle.partitions", false),
                ("full_refresh", true),
            ]
        );
        let fr = params.last().unwrap();
        assert_eq!(fr.data_type, DataType::Bool);
        assert_eq!(fr.default_value.as_deref(), Some("false"));
        assert_eq!(params[4].data_type, DataType::Number);
    }

    #[test]
    fn update_body_carries_only_full_refresh() {
        let mut params = pipeline_parameters(&json!({}));
        assert_eq!(
            update_body("p1", &params).unwrap(),
            json!({"pipeline_id": "p1", "full_refresh": false})
        );
        params[0].current_value = Some("true".into());
        assert_eq!(
            update_body("p1", &params).unwrap(),
            json!({"pipeline_id": "p1", "full_refresh": true})
        );
        assert!(!full_refresh(&[]).unwrap());
    }
}
