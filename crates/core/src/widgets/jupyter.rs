//! JUPYTER (`.ipynb`) exports: widgets declared in code cells (with `%sql`
//! / `%python` style magics), plus the Databricks `widgets` metadata map,
//! which also covers widgets created from the UI. Code declarations come
//! first in cell order; metadata fills in missing fields and adds widgets
//! the code does not declare.

use serde_json::Value;

use super::{NotebookLanguage, Widget, WidgetKind, magic_code, merge, parse_code};

const NB_META: &str = "application/vnd.databricks.v1+notebook";

/// `None` when the text is not a notebook JSON document.
pub(super) fn parse(content: &str, hint: Option<NotebookLanguage>) -> Option<Vec<Widget>> {
    let doc: Value = serde_json::from_str(content).ok()?;
    let cells = doc.get("cells")?.as_array()?;
    let meta = doc.get("metadata");
    let lang = meta
        .and_then(|m| m.get(NB_META))
        .and_then(|m| m.get("language"))
        .and_then(Value::as_str)
        .and_then(NotebookLanguage::parse)
        .or_else(|| {
            meta.and_then(|m| m.pointer("/language_info/name"))
                .and_then(Value::as_str)
                .and_then(NotebookLanguage::parse)
        })
        .or(hint)
        .unwrap_or(NotebookLanguage::Python);

    let mut out = Vec::new();
    for cell in cells {
        if cell.get("cell_type").and_then(Value::as_str) != Some("code") {
            continue;
        }
        let source = match cell.get("source") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        let lines: Vec<&str> = source.lines().collect();
        if let Some((cell_lang, code)) = magic_code(&lines, lang) {
            merge(&mut out, parse_code(&code, cell_lang));
        }
    }

    if let Some(widgets) = meta
        .and_then(|m| m.get(NB_META))
        .and_then(|m| m.get("widgets"))
        .and_then(Value::as_object)
    {
        for (key, entry) in widgets {
            let Some(w) = from_metadata(key, entry) else {
                continue;
            };
            if let Some(existing) = out.iter_mut().find(|o| o.name == w.name) {
                if existing.default.is_none() {
                    existing.default = w.default;
                }
                if existing.choices.is_empty() {
                    existing.choices = w.choices;
                }
                if existing.label.is_none() {
                    existing.label = w.label;
                }
            } else {
                out.push(w);
            }
        }
    }
    Some(out)
}

fn from_metadata(key: &str, entry: &Value) -> Option<Widget> {
    let info = entry.get("widgetInfo");
    let typed = entry.get("typedWidgetInfo");
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let kind = info
        .and_then(|i| {
            i.get("widgetType")
                .or_else(|| i.pointer("/options/widgetType"))
        })
        .and_then(Value::as_str)
        .and_then(WidgetKind::parse)
        .or_else(|| {
            let t = typed?;
            if t.pointer("/options/multiselect").and_then(Value::as_bool) == Some(true) {
                return Some(WidgetKind::Multiselect);
            }
            t.pointer("/options/widgetDisplayType")
                .and_then(Value::as_str)
                .and_then(WidgetKind::parse)
        })?;
    let name = s(info.and_then(|i| i.get("name")))
        .or_else(|| s(typed.and_then(|t| t.get("name"))))
        .unwrap_or_else(|| key.to_owned());
    let default = s(info.and_then(|i| i.get("defaultValue")))
        .or_else(|| s(typed.and_then(|t| t.get("defaultValue"))));
    let label = s(info.and_then(|i| i.get("label")))
        .or_else(|| s(typed.and_then(|t| t.get("label"))))
        .filter(|l| !l.is_empty());
    let choices = info
        .and_then(|i| i.pointer("/options/choices"))
        .or_else(|| typed.and_then(|t| t.pointer("/options/choices")))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(Widget {
        name,
        kind,
        default,
        choices: if kind == WidgetKind::Text {
            Vec::new()
        } else {
            choices
        },
        label,
    })
}
