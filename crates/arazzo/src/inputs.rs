//! Workflow inputs: `$ref` to `components.inputs`, JSON Schema validation,
//! typing of `k=v` strings, and which inputs are secrets.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Inlines `$ref: '#/components/inputs/<name>'` (and other local refs into the
/// Arazzo document) so the schema validates without a resolver.
pub fn resolve_schema(schema: &Value, root: &Value) -> Value {
    fn walk(v: &Value, root: &Value, depth: usize) -> Value {
        if depth > 32 {
            return v.clone();
        }
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str)
                    && let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p))
                {
                    return walk(target, root, depth + 1);
                }
                Value::Object(
                    m.iter()
                        .map(|(k, x)| (k.clone(), walk(x, root, depth + 1)))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, root, depth + 1)).collect()),
            other => other.clone(),
        }
    }
    walk(schema, root, 0)
}

/// Checks the schema itself compiles; returns the compiler's message otherwise.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Fills absent top-level inputs from the schema's `properties.<name>.default` (JSON Schema
/// annotation; authors use it for optional inputs such as `eventLimit: {default: 50}`).
/// Inputs that are present, even as `null`, are left alone; non-object inputs are untouched.
pub fn apply_defaults(schema: &Value, inputs: &mut Value) {
    let (Some(props), Value::Object(m)) =
        (schema.get("properties").and_then(Value::as_object), inputs)
    else {
        return;
    };
    for (name, prop) in props {
        if let Some(d) = prop.get("default")
            && !m.contains_key(name)
        {
            m.insert(name.clone(), d.clone());
        }
    }
}

/// Validates inputs; every violation as `<pointer>: <message>`.
pub fn validate(schema: &Value, inputs: &Value) -> Vec<String> {
    match jsonschema::validator_for(schema) {
        Err(e) => vec![format!("invalid inputs schema: {e}")],
        Ok(v) => v
            .iter_errors(inputs)
            .map(|e| {
                let p = e.instance_path().to_string();
                format!("{}: {e}", if p.is_empty() { "/" } else { &p })
            })
            .collect(),
    }
}

/// Types `k=v` strings by the schema: `integer`/`number`/`boolean`/`object`/`array`
/// properties are parsed, `string` stays text; without a schema type JSON is tried.
pub fn type_pairs(
    schema: &Value,
    pairs: &[(String, String)],
) -> Result<Map<String, Value>, String> {
    let props = schema.get("properties");
    let mut out = Map::new();
    for (k, raw) in pairs {
        let ty = props
            .and_then(|p| p.get(k))
            .and_then(|p| p.get("type"))
            .cloned();
        let types: Vec<String> = match ty {
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        };
        let v = if types.iter().any(|t| t == "string") {
            Value::String(raw.clone())
        } else if types.is_empty() {
            serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()))
        } else {
            let parsed: Option<Value> = serde_json::from_str(raw).ok();
            let fits = |v: &Value| {
                types.iter().any(|t| match t.as_str() {
                    "integer" => v.is_i64() || v.is_u64(),
                    "number" => v.is_number(),
                    "boolean" => v.is_boolean(),
                    "object" => v.is_object(),
                    "array" => v.is_array(),
                    "null" => v.is_null(),
                    _ => false,
                })
            };
            match parsed {
                Some(v) if fits(&v) => v,
                _ => {
                    return Err(format!(
                        "--input {k}={raw}: expected {} by the inputs schema",
                        types.join(" or ")
                    ));
                }
            }
        };
        out.insert(k.clone(), v);
    }
    Ok(out)
}

/// Names that mark an input as a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "passwd",
        "apikey",
        "api_key",
        "api-key",
        "credential",
        "authorization",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Secret values among the inputs: inputs named like a secret or whose schema says
/// `format: password` (at any depth of `properties`).
pub fn secret_values(schema: &Value, inputs: &Value) -> Vec<String> {
    fn walk(schema: Option<&Value>, v: &Value, name: &str, out: &mut Vec<String>, depth: usize) {
        if depth > 16 {
            return;
        }
        let is_pw =
            schema.and_then(|s| s.get("format")).and_then(Value::as_str) == Some("password");
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let sub = schema
                        .and_then(|s| s.get("properties"))
                        .and_then(|p| p.get(k));
                    walk(sub, x, k, out, depth + 1);
                }
            }
            Value::String(s) if is_pw || is_secret_name(name) => out.push(s.clone()),
            Value::Number(n) if is_pw || is_secret_name(name) => out.push(n.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(Some(schema), inputs, "", &mut out, 0);
    out
}

/// Splits `k=v` CLI arguments.
pub fn split_pairs(raw: &[String]) -> Result<Vec<(String, String)>, String> {
    raw.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| format!("`{s}` is not k=v"))
        })
        .collect()
}

/// Splits `NAME=URL` server overrides.
pub fn split_servers(raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    Ok(split_pairs(raw)?.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_pairs_by_schema() {
        let s = json!({"type": "object", "properties": {
            "n": {"type": "integer"}, "s": {"type": "string"}, "b": {"type": "boolean"},
            "o": {"type": "object"}}});
        let m = type_pairs(
            &s,
            &[
                ("n".into(), "42".into()),
                ("s".into(), "42".into()),
                ("b".into(), "true".into()),
                ("o".into(), "{\"a\":1}".into()),
                ("free".into(), "7".into()),
            ],
        )
        .expect("typed");
        assert_eq!(
            Value::Object(m),
            json!({"n": 42, "s": "42", "b": true, "o": {"a": 1}, "free": 7})
        );
        assert!(type_pairs(&s, &[("n".into(), "x".into())]).is_err());
    }

    #[test]
    fn validates_required_and_types() {
        let s =
            json!({"type": "object", "required": ["a"], "properties": {"n": {"type": "integer"}}});
        let errs = validate(&s, &json!({"n": "x"}));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(validate(&s, &json!({"a": 1, "n": 2})).is_empty());
    }

    #[test]
    fn applies_schema_defaults_to_absent_inputs_only() {
        let s = json!({"type": "object", "properties": {
            "n": {"type": "integer", "default": 50}, "m": {"type": "integer", "default": 1},
            "k": {"type": "string", "default": "x"}, "z": {"type": "string"}}});
        let mut i = json!({"m": 7, "k": null});
        apply_defaults(&s, &mut i);
        assert_eq!(i, json!({"n": 50, "m": 7, "k": null}));
        let mut not_object = json!(3);
        apply_defaults(&s, &mut not_object);
        assert_eq!(not_object, json!(3));
    }

    #[test]
    fn resolves_component_refs_and_finds_secrets() {
        let root = json!({"components": {"inputs": {"creds": {"type": "object", "properties": {
            "pw": {"type": "string", "format": "password"}, "user": {"type": "string"}}}}}});
        let s = resolve_schema(&json!({"$ref": "#/components/inputs/creds"}), &root);
        assert_eq!(s["properties"]["pw"]["format"], "password");
        let secrets = secret_values(&s, &json!({"pw": "p1", "user": "u", "apiToken": "t1"}));
        assert_eq!(secrets, vec!["t1".to_string(), "p1".to_string()]);
    }
}
