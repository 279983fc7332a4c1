//! Operation index over an OpenAPI 3.0/3.1 description.
//!
//! The runner needs only method, path template, servers, declared parameters and
//! request content types; a full OpenAPI model would cost build time and reject
//! the slightly-off descriptions found in the wild.

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of an OpenAPI description.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`, when the description gives one.
    pub operation_id: Option<String>,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template as written (`/items/{id}`).
    pub path: String,
    /// Effective servers (operation > path item > document), variables filled with defaults.
    pub servers: Vec<String>,
    /// Declared parameters as (name, in).
    pub parameters: Vec<(String, String)>,
    /// Request body content types, in declaration order.
    pub content_types: Vec<String>,
}

/// An indexed OpenAPI description.
#[derive(Debug, Clone, Default)]
pub struct OpenApi {
    /// Value of the `openapi` field.
    pub version: String,
    /// Document-level servers.
    pub servers: Vec<String>,
    /// All operations.
    pub operations: Vec<Operation>,
}

impl OpenApi {
    /// Builds the index; never fails, odd shapes are skipped.
    pub fn index(raw: &Value) -> Self {
        let version = raw
            .get("openapi")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let servers = servers_of(raw.get("servers"));
        let mut operations = Vec::new();
        if let Some(paths) = raw.get("paths").and_then(Value::as_object) {
            for (path, item) in paths {
                let item = deref(raw, item);
                let path_servers = servers_of(item.get("servers"));
                let path_params = params_of(raw, item.get("parameters"));
                for m in METHODS {
                    let Some(op) = item.get(m) else { continue };
                    let op_servers = servers_of(op.get("servers"));
                    let mut parameters = path_params.clone();
                    for p in params_of(raw, op.get("parameters")) {
                        if !parameters.contains(&p) {
                            parameters.push(p);
                        }
                    }
                    let content_types = op
                        .get("requestBody")
                        .map(|b| deref(raw, b))
                        .and_then(|b| b.get("content"))
                        .and_then(Value::as_object)
                        .map(|c| c.keys().cloned().collect())
                        .unwrap_or_default();
                    operations.push(Operation {
                        operation_id: op
                            .get("operationId")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        method: m.to_ascii_uppercase(),
                        path: path.clone(),
                        servers: if !op_servers.is_empty() {
                            op_servers
                        } else if !path_servers.is_empty() {
                            path_servers.clone()
                        } else {
                            servers.clone()
                        },
                        parameters,
                        content_types,
                    });
                }
            }
        }
        Self {
            version,
            servers,
            operations,
        }
    }

    /// Finds an operation by id.
    pub fn by_id(&self, id: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|o| o.operation_id.as_deref() == Some(id))
    }

    /// Finds an operation by path key and lower-case method.
    pub fn by_path(&self, path: &str, method: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|o| o.path == path && o.method.eq_ignore_ascii_case(method))
    }
}

fn deref<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    let mut cur = v;
    for _ in 0..8 {
        match cur.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => match root.pointer(&r[1..]) {
                Some(t) => cur = t,
                None => return cur,
            },
            _ => return cur,
        }
    }
    cur
}

fn params_of(root: &Value, v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|p| deref(root, p))
                .filter_map(|p| {
                    Some((
                        p.get("name")?.as_str()?.to_string(),
                        p.get("in")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn servers_of(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    let mut url = s.get("url")?.as_str()?.to_string();
                    if let Some(vars) = s.get("variables").and_then(Value::as_object) {
                        for (k, var) in vars {
                            if let Some(d) = var.get("default").and_then(Value::as_str) {
                                url = url.replace(&format!("{{{k}}}"), d);
                            }
                        }
                    }
                    Some(url)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes one RFC 6901 reference token.
pub fn unescape_pointer_token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

/// Splits an operationPath like `{$sourceDescriptions.api.url}#/paths/~1a~1{id}/get`
/// into (source name, path key, method). Redocly's form without braces or `.url`
/// is accepted too (reported as a compatibility warning by validation).
pub fn split_operation_path(s: &str) -> Option<(String, String, String, bool)> {
    let (head, frag) = s.split_once('#')?;
    let mut compat = false;
    let head = match head.strip_prefix('{').and_then(|h| h.strip_suffix('}')) {
        Some(h) => h,
        None => {
            compat = true;
            head
        }
    };
    let name = head.strip_prefix("$sourceDescriptions.")?;
    let name = match name.strip_suffix(".url") {
        Some(n) => n,
        None => {
            compat = true;
            name
        }
    };
    let mut toks = frag.strip_prefix("/paths/")?.split('/');
    let path = unescape_pointer_token(toks.next()?);
    let method = unescape_pointer_token(toks.next()?).to_ascii_lowercase();
    if toks.next().is_some() {
        return None;
    }
    Some((name.to_string(), path, method, compat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indexes_operations_with_refs_and_servers() {
        let raw = json!({
            "openapi": "3.1.0",
            "servers": [{"url": "https://{h}/api", "variables": {"h": {"default": "x.net"}}}],
            "components": {"parameters": {"id": {"name": "id", "in": "path"}}},
            "paths": {"/items/{id}": {
                "parameters": [{"$ref": "#/components/parameters/id"}],
                "get": {"operationId": "getItem", "parameters": [{"name": "q", "in": "query"}]},
                "post": {"servers": [{"url": "http://other"}],
                         "requestBody": {"content": {"application/json": {}}}}
            }}
        });
        let idx = OpenApi::index(&raw);
        let op = idx.by_id("getItem").expect("op");
        assert_eq!(op.method, "GET");
        assert_eq!(op.servers, vec!["https://x.net/api".to_string()]);
        assert_eq!(op.parameters.len(), 2);
        let post = idx.by_path("/items/{id}", "post").expect("post");
        assert_eq!(post.servers, vec!["http://other".to_string()]);
        assert_eq!(post.content_types, vec!["application/json".to_string()]);
    }

    #[test]
    fn splits_operation_paths() {
        let (n, p, m, c) =
            split_operation_path("{$sourceDescriptions.api.url}#/paths/~1a~1{id}/get").expect("ok");
        assert_eq!(
            (n.as_str(), p.as_str(), m.as_str(), c),
            ("api", "/a/{id}", "get", false)
        );
        let (_, _, _, c) =
            split_operation_path("$sourceDescriptions.api#/paths/~1a/get").expect("ok");
        assert!(c);
        assert!(split_operation_path("nonsense").is_none());
    }
}
