//! Workspace API 2.0: list, get-status, export (SOURCE/JUPYTER), import (JSON or multipart),
//! mkdirs, delete.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::body;
use crate::error::{ApiError, ApiResult};
use crate::notebook_format::{Language, detect_header, ensure_header, from_jupyter, to_jupyter};
use crate::state::{AppState, NotebookInfo, ObjectKind, Shared, WsObject, read_lock, write_lock};

/// Normalise a workspace path: strip `/Workspace`, collapse slashes, drop trailing slash.
pub fn normalise(path: &str) -> String {
    let joined: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let parts = if joined.first() == Some(&"Workspace") {
        &joined[1..]
    } else {
        &joined[..]
    };
    format!("/{}", parts.join("/"))
}

fn parent(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((p, _)) => p.to_owned(),
    }
}

/// Content of a new object.
pub enum Content {
    /// Directory.
    Directory,
    /// Notebook in SOURCE form.
    Notebook(Language, String),
    /// Plain file.
    File(bytes::Bytes),
}

fn missing(path: &str) -> ApiError {
    ApiError::not_found(format!("Path ({path}) doesn't exist."))
}

/// Create or replace an object; `mkparents` creates missing parent directories (seeding).
pub fn put_object(s: &AppState, path: &str, content: Content, mkparents: bool) -> ApiResult<()> {
    let path = normalise(path);
    let now = crate::clock::wall_ms();
    let mut ws = write_lock(&s.workspace);
    let par = parent(&path);
    if !ws.contains_key(&par) {
        if !mkparents {
            return Err(ApiError::not_found(format!(
                "The parent folder ({par}) does not exist."
            )));
        }
        let mut cur = String::new();
        for seg in par.split('/').filter(|x| !x.is_empty()) {
            cur.push('/');
            cur.push_str(seg);
            ws.entry(cur.clone()).or_insert_with(|| WsObject {
                kind: ObjectKind::Directory,
                object_id: s.next_object_id.fetch_add(1, Ordering::Relaxed),
                created_at: now,
                modified_at: now,
            });
        }
    } else if !matches!(ws.get(&par).map(|o| &o.kind), Some(ObjectKind::Directory)) {
        return Err(ApiError::invalid(format!(
            "The parent path ({par}) is not a directory."
        )));
    }
    let kind = match content {
        Content::Directory => ObjectKind::Directory,
        Content::Notebook(lang, src) => {
            ObjectKind::Notebook(Arc::new(NotebookInfo::new(lang, src)))
        }
        Content::File(b) => ObjectKind::File(b),
    };
    let (object_id, created_at) = ws
        .get(&path)
        .map(|o| (o.object_id, o.created_at))
        .unwrap_or_else(|| (s.next_object_id.fetch_add(1, Ordering::Relaxed), now));
    ws.insert(
        path,
        WsObject {
            kind,
            object_id,
            created_at,
            modified_at: now,
        },
    );
    Ok(())
}

fn info(path: &str, o: &WsObject) -> Value {
    let mut m = Map::new();
    let (t, lang) = match &o.kind {
        ObjectKind::Directory => ("DIRECTORY", None),
        ObjectKind::Notebook(nb) => ("NOTEBOOK", Some(nb.language.api_name())),
        ObjectKind::File(_) => ("FILE", None),
    };
    m.insert("object_type".into(), json!(t));
    m.insert("path".into(), json!(path));
    if let Some(l) = lang {
        m.insert("language".into(), json!(l));
    }
    m.insert("object_id".into(), json!(o.object_id));
    m.insert("resource_id".into(), json!(o.object_id.to_string()));
    if !matches!(o.kind, ObjectKind::Directory) {
        m.insert("created_at".into(), json!(o.created_at));
        m.insert("modified_at".into(), json!(o.modified_at));
    }
    if let ObjectKind::File(b) = &o.kind {
        m.insert("size".into(), json!(b.len()));
    }
    Value::Object(m)
}

fn path_param(q: &HashMap<String, String>) -> ApiResult<String> {
    q.get("path")
        .map(|p| normalise(p))
        .ok_or_else(|| ApiError::invalid("Missing required field: path"))
}

/// `GET workspace/list` (not paginated).
pub async fn list(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let path = path_param(&q)?;
    let after: Option<i64> = q
        .get("notebooks_modified_after")
        .and_then(|v| v.parse().ok());
    let ws = read_lock(&s.workspace);
    let o = ws
        .get(&path)
        .ok_or_else(|| missing(q.get("path").map(String::as_str).unwrap_or("")))?;
    if !matches!(o.kind, ObjectKind::Directory) {
        return Ok(Json(json!({ "objects": [info(&path, o)] })));
    }
    let prefix = if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    };
    let objects: Vec<Value> = ws
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| k.len() > prefix.len() && !k[prefix.len()..].contains('/'))
        .filter(|(_, o)| {
            after.is_none_or(|a| !matches!(o.kind, ObjectKind::Notebook(_)) || o.modified_at > a)
        })
        .map(|(k, o)| info(k, o))
        .collect();
    if objects.is_empty() {
        return Ok(Json(json!({})));
    }
    Ok(Json(json!({ "objects": objects })))
}

/// `GET workspace/get-status`.
pub async fn get_status(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let path = path_param(&q)?;
    let ws = read_lock(&s.workspace);
    let o = ws
        .get(&path)
        .ok_or_else(|| missing(q.get("path").map(String::as_str).unwrap_or("")))?;
    Ok(Json(info(&path, o)))
}

/// `GET workspace/export` (`format` SOURCE|JUPYTER|AUTO|RAW; `direct_download=true` for bytes).
pub async fn export(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let path = path_param(&q)?;
    let format = q.get("format").map(String::as_str).unwrap_or("SOURCE");
    let direct = super::flag(&q, "direct_download");
    let o = read_lock(&s.workspace)
        .get(&path)
        .cloned()
        .ok_or_else(|| missing(q.get("path").map(String::as_str).unwrap_or("")))?;
    let name = path.rsplit('/').next().unwrap_or("").to_owned();
    let (bytes, file_type): (Vec<u8>, String) = match (&o.kind, format) {
        (ObjectKind::Directory, _) => {
            return Err(ApiError::invalid(
                "Exporting a directory is not supported by the emulator; export each notebook.",
            ));
        }
        (ObjectKind::Notebook(nb), "SOURCE" | "AUTO") => {
            (nb.source.as_bytes().to_vec(), nb.language.ext().to_owned())
        }
        (ObjectKind::Notebook(nb), "JUPYTER") => {
            let doc = to_jupyter(&name, &nb.source, nb.language, o.object_id);
            (
                serde_json::to_vec_pretty(&doc).unwrap_or_default(),
                "ipynb".to_owned(),
            )
        }
        (ObjectKind::Notebook(_), f) => {
            return Err(ApiError::invalid(format!(
                "Export format {f} is not supported by the emulator for notebooks."
            )));
        }
        (ObjectKind::File(b), "SOURCE" | "AUTO" | "RAW") => (
            b.to_vec(),
            name.rsplit_once('.')
                .map(|(_, e)| e.to_owned())
                .unwrap_or_default(),
        ),
        (ObjectKind::File(_), f) => {
            return Err(ApiError::invalid(format!(
                "Export format {f} is not supported for files."
            )));
        }
    };
    if bytes.len() > 10 * 1024 * 1024 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MAX_NOTEBOOK_SIZE_EXCEEDED",
            "The notebook exceeds the 10 MB export limit.",
        ));
    }
    if direct {
        return Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response());
    }
    let content = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok(Json(json!({ "content": content, "file_type": file_type })).into_response())
}

/// Minimal multipart/form-data reader (what the official SDK's `upload` sends).
fn multipart(ct: &str, raw: &[u8]) -> Option<HashMap<String, Vec<u8>>> {
    let boundary = ct
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delim = format!("--{boundary}");
    let mut out = HashMap::new();
    let text = raw;
    let mut pos = 0;
    let find = |hay: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    while let Some(start) = find(text, delim.as_bytes(), pos) {
        let after = start + delim.len();
        if text.get(after..after + 2) == Some(b"--") {
            break;
        }
        let head_end = find(text, b"\r\n\r\n", after)?;
        let head = String::from_utf8_lossy(&text[after..head_end]).to_string();
        let next = find(text, delim.as_bytes(), head_end + 4)?;
        let mut body_end = next;
        if text.get(next.saturating_sub(2)..next) == Some(b"\r\n") {
            body_end = next - 2;
        }
        let name = head
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name="))
            .map(|n| {
                n.split(['\r', '\n'])
                    .next()
                    .unwrap_or(n)
                    .trim_matches('"')
                    .to_owned()
            })?;
        out.insert(name, text[head_end + 4..body_end].to_vec());
        pos = next;
    }
    Some(out)
}

/// `POST workspace/import` (JSON body with base64 `content`, or multipart with a `content` part).
pub async fn import(
    State(s): State<Shared>,
    headers: HeaderMap,
    raw: bytes::Bytes,
) -> ApiResult<Json<Value>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (path, format, language, overwrite, content) = if ct.starts_with("multipart/form-data") {
        let parts =
            multipart(ct, &raw).ok_or_else(|| ApiError::malformed("Invalid multipart body."))?;
        let field = |k: &str| {
            parts
                .get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        (
            field("path"),
            field("format"),
            field("language"),
            field("overwrite").is_some_and(|v| v == "true"),
            parts.get("content").cloned().unwrap_or_default(),
        )
    } else {
        let b = body(&raw)?;
        let st = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
        let content = match st("content") {
            Some(c) => base64::engine::general_purpose::STANDARD
                .decode(c.trim())
                .map_err(|_| ApiError::invalid("The content must be base64 encoded."))?,
            None => Vec::new(),
        };
        (
            st("path"),
            st("format"),
            st("language"),
            b.get("overwrite").and_then(Value::as_bool).unwrap_or(false),
            content,
        )
    };
    let raw_path = path.ok_or_else(|| ApiError::invalid("Missing required field: path"))?;
    if content.len() > 10 * 1024 * 1024 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MAX_NOTEBOOK_SIZE_EXCEEDED",
            "The content exceeds the 10 MB import limit.",
        ));
    }
    let format = format
        .unwrap_or_else(|| "SOURCE".to_owned())
        .to_ascii_uppercase();
    let path = normalise(&raw_path);
    let lang = language.as_deref().and_then(Language::from_api);
    let (path, item) = match format.as_str() {
        "SOURCE" => {
            let lang = lang.ok_or_else(|| {
                ApiError::invalid(
                    "The language field is required when importing a notebook in SOURCE format.",
                )
            })?;
            (
                path,
                Content::Notebook(
                    lang,
                    ensure_header(&String::from_utf8_lossy(&content), lang),
                ),
            )
        }
        "JUPYTER" => {
            let (lang, src) = from_jupyter(&content).map_err(ApiError::invalid)?;
            (path, Content::Notebook(lang, src))
        }
        "RAW" => (path, Content::File(content.into())),
        "AUTO" => {
            let ext = path
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase())
                .unwrap_or_default();
            let stem = path
                .rsplit_once('.')
                .map(|(p, _)| p.to_owned())
                .unwrap_or(path.clone());
            let text = String::from_utf8_lossy(&content);
            if ext == "ipynb" {
                let (lang, src) = from_jupyter(&content).map_err(ApiError::invalid)?;
                (stem, Content::Notebook(lang, src))
            } else if let Some(l) = detect_header(&text, Language::from_ext(&ext)) {
                let strip = Language::from_ext(&ext).is_some();
                (
                    if strip { stem } else { path },
                    Content::Notebook(l, text.into_owned()),
                )
            } else {
                (path, Content::File(content.into()))
            }
        }
        other => {
            return Err(ApiError::invalid(format!(
                "Import format {other} is not supported by the emulator."
            )));
        }
    };
    if let Some(existing) = read_lock(&s.workspace).get(&path)
        && (matches!(existing.kind, ObjectKind::Directory) || !overwrite)
    {
        return Err(ApiError::already_exists(format!("{path} already exists.")));
    }
    put_object(&s, &path, item, false)?;
    Ok(Json(json!({})))
}

/// `POST workspace/mkdirs` (`mkdir -p`).
pub async fn mkdirs(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let path = normalise(
        b.get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid("Missing required field: path"))?,
    );
    {
        let ws = read_lock(&s.workspace);
        let mut cur = String::new();
        for seg in path.split('/').filter(|x| !x.is_empty()) {
            cur.push('/');
            cur.push_str(seg);
            if let Some(o) = ws.get(&cur)
                && !matches!(o.kind, ObjectKind::Directory)
            {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "RESOURCE_ALREADY_EXISTS",
                    format!(
                        "Cannot create directory {path}: a non-directory object exists at {cur}."
                    ),
                ));
            }
        }
        if ws.contains_key(&path) {
            return Ok(Json(json!({})));
        }
    }
    put_object(&s, &path, Content::Directory, true)?;
    Ok(Json(json!({})))
}

/// `POST workspace/delete` (`recursive` for non-empty directories).
pub async fn delete(State(s): State<Shared>, raw: bytes::Bytes) -> ApiResult<Json<Value>> {
    let b = body(&raw)?;
    let raw_path = b
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("Missing required field: path"))?;
    let path = normalise(raw_path);
    let recursive = b.get("recursive").and_then(Value::as_bool).unwrap_or(false);
    let mut ws = write_lock(&s.workspace);
    let o = ws.get(&path).ok_or_else(|| missing(raw_path))?;
    if path == "/" {
        return Err(ApiError::invalid("Cannot delete the workspace root."));
    }
    let prefix = format!("{path}/");
    let children: Vec<String> = ws
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    if matches!(o.kind, ObjectKind::Directory) && !children.is_empty() && !recursive {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "DIRECTORY_NOT_EMPTY",
            format!("Folder ({path}) is not empty."),
        ));
    }
    for c in children {
        ws.remove(&c);
    }
    ws.remove(&path);
    Ok(Json(json!({})))
}
