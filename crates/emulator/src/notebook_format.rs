//! Databricks notebook formats: SOURCE (`# Databricks notebook source`, `# COMMAND ----------`,
//! `# MAGIC` cells) and JUPYTER (`.ipynb` with Databricks metadata incl. widgets).

use serde_json::{Map, Value, json};

use crate::behaviour::{Widget, parse_widgets};

/// Notebook language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Python (`#`).
    Python,
    /// Scala (`//`).
    Scala,
    /// SQL (`--`).
    Sql,
    /// R (`#`).
    R,
}

impl Language {
    /// Line-comment token used for the header, separators, MAGIC and directives.
    pub fn comment(self) -> &'static str {
        match self {
            Self::Python | Self::R => "#",
            Self::Scala => "//",
            Self::Sql => "--",
        }
    }
    /// API spelling (`PYTHON`, …).
    pub fn api_name(self) -> &'static str {
        match self {
            Self::Python => "PYTHON",
            Self::Scala => "SCALA",
            Self::Sql => "SQL",
            Self::R => "R",
        }
    }
    /// Lower-case spelling used in Jupyter metadata.
    pub fn lower(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::Scala => "scala",
            Self::Sql => "sql",
            Self::R => "r",
        }
    }
    /// File extension of a SOURCE export (also the `file_type` of the export response).
    pub fn ext(self) -> &'static str {
        match self {
            Self::Python => "py",
            Self::Scala => "scala",
            Self::Sql => "sql",
            Self::R => "r",
        }
    }
    /// Parse the API spelling (case-insensitive).
    pub fn from_api(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "PYTHON" => Self::Python,
            "SCALA" => Self::Scala,
            "SQL" => Self::Sql,
            "R" => Self::R,
            _ => return None,
        })
    }
    /// Language of a SOURCE file extension (without dot).
    pub fn from_ext(ext: &str) -> Option<Self> {
        Some(match ext.to_ascii_lowercase().as_str() {
            "py" => Self::Python,
            "scala" => Self::Scala,
            "sql" => Self::Sql,
            "r" => Self::R,
            _ => return None,
        })
    }
    /// The exact first line of a SOURCE notebook.
    pub fn header(self) -> String {
        format!("{} Databricks notebook source", self.comment())
    }
    fn separator(self) -> String {
        format!("{} COMMAND ----------", self.comment())
    }
    fn magic(self) -> String {
        format!("{} MAGIC", self.comment())
    }
}

/// Whether `content` starts with a SOURCE header; Python and R share `#`, so the caller's
/// extension decides between them (`hint`).
pub fn detect_header(content: &str, hint: Option<Language>) -> Option<Language> {
    let first = content.lines().next()?.trim_end();
    match first {
        "# Databricks notebook source" => Some(match hint {
            Some(Language::R) => Language::R,
            _ => Language::Python,
        }),
        "// Databricks notebook source" => Some(Language::Scala),
        "-- Databricks notebook source" => Some(Language::Sql),
        _ => None,
    }
}

/// Normalise imported SOURCE text: make sure it carries the header line.
pub fn ensure_header(content: &str, lang: Language) -> String {
    if content.lines().next().map(str::trim_end) == Some(lang.header().as_str()) {
        content.to_owned()
    } else {
        format!("{}\n{}", lang.header(), content)
    }
}

/// Cell bodies of a SOURCE notebook (header removed).
pub fn split_cells(source: &str, lang: Language) -> Vec<String> {
    let header = lang.header();
    let sep = lang.separator();
    let mut cells = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    for (i, line) in source.lines().enumerate() {
        if i == 0 && line.trim_end() == header {
            continue;
        }
        if line.trim_end() == sep {
            cells.push(cur.join("\n").trim_matches('\n').to_owned());
            cur.clear();
        } else {
            cur.push(line);
        }
    }
    cells.push(cur.join("\n").trim_matches('\n').to_owned());
    cells
}

/// Deterministic uuid-shaped id derived from `seed` (stable across exports, like real nuids).
pub fn nuid(seed: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut parts = [0u64; 2];
    for (i, p) in parts.iter_mut().enumerate() {
        let mut h = std::hash::DefaultHasher::new();
        (i, seed).hash(&mut h);
        *p = h.finish();
    }
    let hex = format!("{:016x}{:016x}", parts[0], parts[1]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn source_lines(text: &str) -> Value {
    let lines: Vec<&str> = text.split('\n').collect();
    let n = lines.len();
    Value::Array(
        lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                Value::String(if i + 1 < n {
                    format!("{l}\n")
                } else {
                    l.to_owned()
                })
            })
            .collect(),
    )
}

fn widget_json(w: &Widget) -> Value {
    let display = match w.kind.as_str() {
        "dropdown" => "Dropdown",
        "combobox" => "Combobox",
        "multiselect" => "MultiSelect",
        _ => "Text",
    };
    let typed_options = if w.kind == "text" {
        json!({"widgetDisplayType": display, "validationRegex": null})
    } else {
        json!({"widgetDisplayType": display, "choices": w.choices,
               "fixedDomain": w.kind != "combobox", "multiselect": w.kind == "multiselect"})
    };
    let info_options = if w.kind == "text" {
        json!({"widgetType": w.kind, "autoCreated": null, "validationRegex": null})
    } else {
        json!({"widgetType": w.kind, "autoCreated": null, "choices": w.choices})
    };
    json!({
        "currentValue": w.default,
        "nuid": nuid(&w.name),
        "typedWidgetInfo": {
            "autoCreated": false, "defaultValue": w.default, "label": w.label,
            "name": w.name, "options": typed_options, "parameterDataType": "String"
        },
        "widgetInfo": {
            "widgetType": w.kind, "defaultValue": w.default, "label": w.label,
            "name": w.name, "options": info_options
        }
    })
}

/// Render a SOURCE notebook as a Databricks-flavoured Jupyter notebook (nbformat 4).
pub fn to_jupyter(name: &str, source: &str, lang: Language, object_id: i64) -> Value {
    let magic = lang.magic();
    let title_prefix = format!("{} DBTITLE 1,", lang.comment());
    let mut cells = Vec::new();
    for (i, cell) in split_cells(source, lang).into_iter().enumerate() {
        let mut lines: Vec<&str> = cell.lines().collect();
        let mut title: Option<String> = None;
        if let Some(first) = lines.first()
            && let Some(t) = first.strip_prefix(&title_prefix)
        {
            title = Some(t.to_owned());
            lines.remove(0);
        }
        let all_magic = !lines.is_empty() && lines.iter().all(|l| l.starts_with(&magic));
        let body: Vec<String> = if all_magic {
            lines
                .iter()
                .map(|l| {
                    let r = &l[magic.len()..];
                    r.strip_prefix(' ').unwrap_or(r).to_owned()
                })
                .collect()
        } else {
            lines.iter().map(|s| (*s).to_owned()).collect()
        };
        let is_md = all_magic
            && body.first().is_some_and(|f| {
                f.trim_end() == "%md" || f.trim_end() == "%md-sandbox" || f.starts_with("%md ")
            });
        let text = if is_md {
            let mut b = body.clone();
            let first = b.remove(0);
            let rest = first
                .trim_start_matches("%md-sandbox")
                .trim_start_matches("%md")
                .trim();
            if !rest.is_empty() {
                b.insert(0, rest.to_owned());
            }
            b.join("\n")
        } else {
            body.join("\n")
        };
        let meta = json!({"application/vnd.databricks.v1+cell": {
            "cellMetadata": {}, "inputWidgets": {}, "nuid": nuid(&format!("{name}/{i}")),
            "showTitle": title.is_some(), "title": title.clone().unwrap_or_default()
        }});
        let mut c = Map::new();
        c.insert(
            "cell_type".into(),
            json!(if is_md { "markdown" } else { "code" }),
        );
        if !is_md {
            c.insert("execution_count".into(), Value::Null);
            c.insert("outputs".into(), json!([]));
        }
        c.insert("metadata".into(), meta);
        c.insert("source".into(), source_lines(&text));
        cells.push(Value::Object(c));
    }
    let widgets: Map<String, Value> = parse_widgets(source, lang)
        .iter()
        .map(|w| (w.name.clone(), widget_json(w)))
        .collect();
    json!({
        "cells": cells,
        "metadata": {
            "application/vnd.databricks.v1+notebook": {
                "computePreferences": null,
                "dashboards": [],
                "environmentMetadata": null,
                "language": lang.lower(),
                "notebookMetadata": {"pythonIndentUnit": 4},
                "notebookName": name,
                "notebookOrigID": object_id,
                "widgets": widgets
            },
            "language_info": {"name": lang.lower()}
        },
        "nbformat": 4,
        "nbformat_minor": 0
    })
}

fn cell_text(cell: &Value) -> String {
    match cell.get("source") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect::<String>(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Convert an `.ipynb` document into SOURCE text.
pub fn from_jupyter(bytes: &[u8]) -> Result<(Language, String), String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid ipynb: {e}"))?;
    let cells = doc
        .get("cells")
        .and_then(Value::as_array)
        .ok_or_else(|| "invalid ipynb: no cells".to_owned())?;
    let meta = doc.get("metadata");
    let lang_name = meta
        .and_then(|m| m.get("application/vnd.databricks.v1+notebook"))
        .and_then(|m| m.get("language"))
        .or_else(|| {
            meta.and_then(|m| m.get("language_info"))
                .and_then(|l| l.get("name"))
        })
        .and_then(Value::as_str)
        .unwrap_or("python");
    let lang = Language::from_api(lang_name).unwrap_or(Language::Python);
    let magic = lang.magic();
    let mut out_cells = Vec::new();
    for cell in cells {
        let text = cell_text(cell);
        let text = text.trim_end_matches('\n');
        let is_md = cell.get("cell_type").and_then(Value::as_str) == Some("markdown");
        let body = if is_md {
            std::iter::once(format!("{magic} %md"))
                .chain(text.lines().map(|l| {
                    if l.is_empty() {
                        magic.clone()
                    } else {
                        format!("{magic} {l}")
                    }
                }))
                .collect::<Vec<_>>()
                .join("\n")
        } else if text.starts_with('%') {
            text.lines()
                .map(|l| {
                    if l.is_empty() {
                        magic.clone()
                    } else {
                        format!("{magic} {l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text.to_owned()
        };
        out_cells.push(body);
    }
    let sep = format!("\n\n{}\n\n", lang.separator());
    Ok((
        lang,
        format!("{}\n{}\n", lang.header(), out_cells.join(&sep)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jupyter_roundtrip_and_markdown() {
        let src = "# Databricks notebook source\n# MAGIC %md\n# MAGIC # Title\n\n# COMMAND ----------\n\ndbutils.widgets.text(\"env\", \"dev\")\nprint(1)\n";
        let nb = to_jupyter("nb", src, Language::Python, 7);
        assert_eq!(nb["cells"][0]["cell_type"], "markdown");
        assert_eq!(nb["cells"][0]["source"][0], "# Title");
        assert_eq!(nb["cells"][1]["cell_type"], "code");
        let w = &nb["metadata"]["application/vnd.databricks.v1+notebook"]["widgets"]["env"];
        assert_eq!(w["widgetInfo"]["defaultValue"], "dev");
        let (lang, back) = from_jupyter(nb.to_string().as_bytes()).expect("parses");
        assert_eq!(lang, Language::Python);
        assert!(back.contains("# MAGIC %md\n# MAGIC # Title"));
        assert!(back.contains("print(1)"));
    }
}
