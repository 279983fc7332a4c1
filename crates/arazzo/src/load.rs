//! Loading documents: YAML or JSON, from files or URLs, with their sources.

use std::collections::BTreeMap;

use serde_json::Value;
use url::Url;

use crate::document::Document;
use crate::error::{ArazzoError, Result};
use crate::openapi::OpenApi;

/// A loaded source description.
#[derive(Debug, Clone)]
pub enum Source {
    /// An OpenAPI description, indexed.
    OpenApi {
        /// Where it was loaded from.
        url: Url,
        /// The index.
        api: OpenApi,
    },
    /// Another Arazzo document (index into [`Bundle::docs`]).
    Arazzo {
        /// Where it was loaded from.
        url: Url,
        /// Index into the bundle.
        doc: usize,
    },
    /// Could not be loaded; validation reports the message.
    Missing {
        /// The resolved URL (or the raw one when it did not resolve).
        url: String,
        /// Why.
        message: String,
    },
}

/// One Arazzo document of a bundle.
#[derive(Debug, Clone)]
pub struct LoadedDoc {
    /// Where it was loaded from (file:// for local files).
    pub url: Url,
    /// The document as JSON, for diagnostics that need the raw shape.
    pub raw: Value,
    /// The typed document.
    pub doc: Document,
    /// Source descriptions by name.
    pub sources: BTreeMap<String, Source>,
}

/// An Arazzo document with everything it refers to. `docs[0]` is the entry document.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Entry document first, then referenced Arazzo documents.
    pub docs: Vec<LoadedDoc>,
}

impl Bundle {
    /// The entry document.
    pub fn root(&self) -> &LoadedDoc {
        &self.docs[0]
    }

    /// A base URL for every OpenAPI source description, moved onto `base` while keeping the
    /// path of the description's first server: an API documented at
    /// `https://{instance}.azuredatabricks.net/api` runs against `{base}/api`, one documented
    /// at the workspace root against `{base}`. This is how a platform's URL replaces a
    /// description's placeholder host without the user spelling out `--server` per source.
    pub fn servers_rebased_on(&self, base: &str) -> BTreeMap<String, String> {
        let base = base.trim_end_matches('/');
        let mut out = BTreeMap::new();
        for doc in &self.docs {
            for (name, source) in &doc.sources {
                if let Source::OpenApi { api, .. } = source {
                    let path = api
                        .servers
                        .first()
                        .and_then(|s| Url::parse(s).ok())
                        .map(|u| u.path().trim_end_matches('/').to_string())
                        .unwrap_or_default();
                    out.entry(name.clone())
                        .or_insert_with(|| format!("{base}{path}"));
                }
            }
        }
        out
    }
}

/// Parses YAML or JSON text into a JSON value.
///
/// serde-saphyr is used for YAML because it is panic-free on arbitrary input.
pub fn parse_text(text: &str, location: &str) -> Result<Value> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let res = if trimmed.starts_with('{') {
        serde_json::from_str::<Value>(trimmed).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str::<Value>(trimmed).map_err(|e| e.to_string())
    };
    res.map_err(|message| ArazzoError::Parse {
        location: location.to_string(),
        message,
    })
}

/// Turns a CLI path or URL into a URL.
pub fn to_url(location: &str) -> Result<Url> {
    if location.starts_with("http://")
        || location.starts_with("https://")
        || location.starts_with("file://")
    {
        return Url::parse(location).map_err(|e| io(location, e));
    }
    let p = std::path::Path::new(location);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| io(location, e))?
            .join(p)
    };
    Url::from_file_path(&abs).map_err(|_| io(location, "not a valid path"))
}

fn io(location: &str, e: impl std::fmt::Display) -> ArazzoError {
    ArazzoError::Io {
        location: location.to_string(),
        message: e.to_string(),
    }
}

/// Reads a file or fetches a URL.
pub async fn fetch(url: &Url) -> Result<String> {
    match url.scheme() {
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|_| io(url.as_str(), "not a local path"))?;
            tokio::fs::read_to_string(&path)
                .await
                .map_err(|e| io(&path.display().to_string(), e))
        }
        "http" | "https" => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| io(url.as_str(), e))?;
            let resp = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| io(url.as_str(), e))?;
            if !resp.status().is_success() {
                return Err(io(url.as_str(), format!("HTTP {}", resp.status())));
            }
            resp.text().await.map_err(|e| io(url.as_str(), e))
        }
        other => Err(io(url.as_str(), format!("unsupported scheme `{other}`"))),
    }
}

/// Displays a URL the way a user wrote it: a path for files.
pub fn display_url(url: &Url) -> String {
    if url.scheme() == "file"
        && let Ok(p) = url.to_file_path()
    {
        return p.display().to_string();
    }
    url.to_string()
}

fn doc_from_value(raw: &Value, location: &str) -> Result<Document> {
    serde_json::from_value::<Document>(raw.clone()).map_err(|e| ArazzoError::Parse {
        location: location.to_string(),
        message: format!("unexpected shape: {e}"),
    })
}

/// Loads a document from a path or URL, then every source description it names
/// (recursively for `type: arazzo`). Unloadable sources are kept as
/// [`Source::Missing`] so validation can report them next to every other problem.
pub async fn load(location: &str) -> Result<Bundle> {
    let url = to_url(location)?;
    let text = fetch(&url).await?;
    load_text(&text, url).await
}

/// Like [`load`] for text already in memory; `url` anchors relative source URLs.
pub async fn load_text(text: &str, url: Url) -> Result<Bundle> {
    load_with(text, url, &mut Reader::Live(None)).await
}

/// [`load`], also returning the text of every file it read (URL → text): a
/// snapshot that [`load_snapshot`] turns back into the same bundle without
/// touching the files or the network, so a stored job runs what was imported.
pub async fn load_recorded(location: &str) -> Result<(Bundle, BTreeMap<String, String>)> {
    let url = to_url(location)?;
    let text = fetch(&url).await?;
    let mut files = BTreeMap::new();
    files.insert(url.to_string(), text.clone());
    let mut reader = Reader::Live(Some(files));
    let bundle = load_with(&text, url, &mut reader).await?;
    let files = match reader {
        Reader::Live(Some(files)) => files,
        _ => BTreeMap::new(),
    };
    Ok((bundle, files))
}

/// The bundle of a snapshot made by [`load_recorded`]; `root` is the entry
/// document's URL (a key of `files`). A source missing from the snapshot is a
/// [`Source::Missing`], as an unreadable file would be.
pub async fn load_snapshot(root: &str, files: &BTreeMap<String, String>) -> Result<Bundle> {
    let url = Url::parse(root).map_err(|e| io(root, e))?;
    let text = files
        .get(url.as_str())
        .ok_or_else(|| io(root, "not in the stored snapshot"))?;
    load_with(text, url, &mut Reader::Snapshot(files)).await
}

/// Where a load reads its files: live (recording what it read when asked) or
/// from a snapshot.
enum Reader<'a> {
    Live(Option<BTreeMap<String, String>>),
    Snapshot(&'a BTreeMap<String, String>),
}

impl Reader<'_> {
    async fn read(&mut self, url: &Url) -> Result<String> {
        match self {
            Reader::Live(record) => {
                let text = fetch(url).await?;
                if let Some(files) = record {
                    files.insert(url.to_string(), text.clone());
                }
                Ok(text)
            }
            Reader::Snapshot(files) => files
                .get(url.as_str())
                .cloned()
                .ok_or_else(|| io(&display_url(url), "not in the stored snapshot")),
        }
    }
}

async fn load_with(text: &str, url: Url, reader: &mut Reader<'_>) -> Result<Bundle> {
    let shown = display_url(&url);
    let raw = parse_text(text, &shown)?;
    if !raw.is_object() {
        return Err(ArazzoError::Parse {
            location: shown,
            message: "the document is not a mapping/object".into(),
        });
    }
    let doc = doc_from_value(&raw, &shown)?;
    let mut bundle = Bundle {
        docs: vec![LoadedDoc {
            url,
            raw,
            doc,
            sources: BTreeMap::new(),
        }],
    };
    let mut next = 0;
    let mut cache: BTreeMap<String, Source> = BTreeMap::new();
    while next < bundle.docs.len() && next < 32 {
        let base = bundle.docs[next].url.clone();
        let descs = bundle.docs[next].doc.source_descriptions.clone();
        for sd in descs {
            let (Some(name), Some(raw_url)) = (sd.name.clone(), sd.url.clone()) else {
                continue;
            };
            let src = match base.join(&raw_url) {
                Err(e) => Source::Missing {
                    url: raw_url.clone(),
                    message: e.to_string(),
                },
                Ok(u) => {
                    if let Some(s) = cache.get(u.as_str()) {
                        s.clone()
                    } else {
                        let s =
                            load_source(&mut bundle, u.clone(), sd.kind.as_deref(), reader).await;
                        cache.insert(u.to_string(), s.clone());
                        s
                    }
                }
            };
            bundle.docs[next].sources.insert(name, src);
        }
        next += 1;
    }
    Ok(bundle)
}

async fn load_source(
    bundle: &mut Bundle,
    url: Url,
    kind: Option<&str>,
    reader: &mut Reader<'_>,
) -> Source {
    let shown = display_url(&url);
    let missing = |message: String| Source::Missing {
        url: shown.clone(),
        message,
    };
    let text = match reader.read(&url).await {
        Ok(t) => t,
        Err(e) => return missing(e.to_string()),
    };
    let raw = match parse_text(&text, &shown) {
        Ok(v) => v,
        Err(e) => return missing(e.to_string()),
    };
    let is_arazzo = match kind {
        Some("arazzo") => true,
        Some(_) => false,
        None => raw.get("arazzo").is_some(),
    };
    if is_arazzo {
        match doc_from_value(&raw, &shown) {
            Ok(doc) => {
                bundle.docs.push(LoadedDoc {
                    url: url.clone(),
                    raw,
                    doc,
                    sources: BTreeMap::new(),
                });
                Source::Arazzo {
                    url,
                    doc: bundle.docs.len() - 1,
                }
            }
            Err(e) => missing(e.to_string()),
        }
    } else {
        if raw.get("openapi").is_none() && raw.get("swagger").is_none() {
            return missing("not an OpenAPI description (no `openapi` field)".into());
        }
        Source::OpenApi {
            api: OpenApi::index(&raw),
            url,
        }
    }
}

/// Where a step's operation lives.
#[derive(Debug, Clone)]
pub struct ResolvedOp<'a> {
    /// Source description name.
    pub source: String,
    /// The operation.
    pub op: &'a crate::openapi::Operation,
    /// Where the source was loaded from (for relative server URLs).
    pub source_url: &'a Url,
    /// True when an off-spec spelling was accepted (Redocly `source.opId`, operationPath without braces).
    pub compat: bool,
}

impl Bundle {
    fn openapi<'a>(
        &'a self,
        doc: usize,
        name: &str,
    ) -> Result<(&'a crate::openapi::OpenApi, &'a Url), String> {
        match self.docs[doc].sources.get(name) {
            Some(Source::OpenApi { api, url }) => Ok((api, url)),
            Some(Source::Arazzo { .. }) => Err(format!(
                "source `{name}` is an Arazzo document, not OpenAPI"
            )),
            Some(Source::Missing { .. }) => Err(format!("source `{name}` could not be loaded")),
            None => Err(format!("no source description named `{name}`")),
        }
    }

    /// Resolves `operationId` (bare, `$sourceDescriptions.<name>.<id>` or, tolerated, `<name>.<id>`).
    pub fn resolve_operation_id(&self, doc: usize, id: &str) -> Result<ResolvedOp<'_>, String> {
        if let Some(rest) = id.strip_prefix("$sourceDescriptions.") {
            let (name, op) = rest.split_once('.').ok_or_else(|| {
                format!("`{id}` needs `$sourceDescriptions.<name>.<operationId>`")
            })?;
            let (api, url) = self.openapi(doc, name)?;
            let op = api
                .by_id(op)
                .ok_or_else(|| format!("operationId `{op}` not found in source `{name}`"))?;
            return Ok(ResolvedOp {
                source: name.to_string(),
                op,
                source_url: url,
                compat: false,
            });
        }
        let mut found = Vec::new();
        for (name, src) in &self.docs[doc].sources {
            if let Source::OpenApi { api, url } = src
                && let Some(op) = api.by_id(id)
            {
                found.push(ResolvedOp {
                    source: name.clone(),
                    op,
                    source_url: url,
                    compat: false,
                });
            }
        }
        match found.len() {
            1 => return Ok(found.remove(0)),
            0 => {}
            _ => {
                return Err(format!(
                    "operationId `{id}` exists in several sources; write `$sourceDescriptions.<name>.{id}`"
                ));
            }
        }
        if let Some((name, op)) = id.split_once('.')
            && let Ok((api, url)) = self.openapi(doc, name)
            && let Some(op) = api.by_id(op)
        {
            return Ok(ResolvedOp {
                source: name.to_string(),
                op,
                source_url: url,
                compat: true,
            });
        }
        Err(format!("unknown operationId `{id}`"))
    }

    /// Resolves an `operationPath`.
    pub fn resolve_operation_path(&self, doc: usize, p: &str) -> Result<ResolvedOp<'_>, String> {
        let (name, path, method, compat) = crate::openapi::split_operation_path(p).ok_or_else(|| {
            format!("operationPath `{p}` must look like `{{$sourceDescriptions.<name>.url}}#/paths/<escaped path>/<method>`")
        })?;
        let (api, url) = self.openapi(doc, &name)?;
        let op = api
            .by_path(&path, &method)
            .ok_or_else(|| format!("no `{method} {path}` operation in source `{name}`"))?;
        Ok(ResolvedOp {
            source: name,
            op,
            source_url: url,
            compat,
        })
    }

    /// Resolves a workflow id (local, or `$sourceDescriptions.<name>.<id>` in another
    /// Arazzo document) to (document index, workflow index).
    pub fn resolve_workflow(&self, doc: usize, id: &str) -> Result<(usize, usize), String> {
        if let Some(rest) = id.strip_prefix("$sourceDescriptions.") {
            let (name, wf) = rest
                .split_once('.')
                .ok_or_else(|| format!("`{id}` needs `$sourceDescriptions.<name>.<workflowId>`"))?;
            let wf = wf.strip_prefix("workflows.").unwrap_or(wf);
            return match self.docs[doc].sources.get(name) {
                Some(Source::Arazzo { doc: d, .. }) => self.docs[*d]
                    .doc
                    .workflows
                    .iter()
                    .position(|w| w.workflow_id.as_deref() == Some(wf))
                    .map(|w| (*d, w))
                    .ok_or_else(|| format!("workflow `{wf}` not found in source `{name}`")),
                Some(_) => Err(format!("source `{name}` is not a loaded Arazzo document")),
                None => Err(format!("no source description named `{name}`")),
            };
        }
        self.docs[doc]
            .doc
            .workflows
            .iter()
            .position(|w| w.workflow_id.as_deref() == Some(id))
            .map(|w| (doc, w))
            .ok_or_else(|| format!("unknown workflowId `{id}`"))
    }

    /// Replaces a Reusable Object parameter by its component (with the `value` override).
    pub fn resolve_parameter(
        &self,
        doc: usize,
        p: &crate::document::Parameter,
    ) -> Result<crate::document::Parameter, String> {
        let Some(r) = &p.reference else {
            return Ok(p.clone());
        };
        let name = r.strip_prefix("$components.parameters.").ok_or_else(|| {
            format!("parameter reference `{r}` must be `$components.parameters.<name>`")
        })?;
        let mut c = self.docs[doc]
            .doc
            .components
            .parameters
            .get(name)
            .cloned()
            .ok_or_else(|| format!("`{r}` does not exist"))?;
        if p.value.is_some() {
            c.value = p.value.clone();
        }
        Ok(c)
    }

    /// Replaces a Reusable Object action by its component.
    pub fn resolve_action(
        &self,
        doc: usize,
        a: &crate::document::Action,
        success: bool,
    ) -> Result<crate::document::Action, String> {
        let Some(r) = &a.reference else {
            return Ok(a.clone());
        };
        let comps = &self.docs[doc].doc.components;
        let (prefix, map) = if success {
            ("$components.successActions.", &comps.success_actions)
        } else {
            ("$components.failureActions.", &comps.failure_actions)
        };
        let name = r
            .strip_prefix(prefix)
            .ok_or_else(|| format!("action reference `{r}` must be `{prefix}<name>`"))?;
        map.get(name)
            .cloned()
            .ok_or_else(|| format!("`{r}` does not exist"))
    }
}
