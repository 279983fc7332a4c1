//! Seed the workspace tree from `workspace_dir`: `*.py|*.scala|*.sql|*.r` become SOURCE
//! notebooks and `*.ipynb` JUPYTER notebooks at the mirrored path without extension; other files
//! become workspace files.

use std::path::Path;

use crate::error::Error;
use crate::notebook_format::{Language, detect_header, ensure_header, from_jupyter};
use crate::routes::workspace::{Content, put_object};
use crate::state::AppState;

/// Walk the configured directory (if any) into the workspace.
pub fn seed_workspace(state: &AppState) -> Result<(), Error> {
    let Some(dir) = state.config.workspace_dir.clone() else {
        return Ok(());
    };
    walk(state, &dir, &dir)
}

fn walk(state: &AppState, root: &Path, dir: &Path) -> Result<(), Error> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Seed {
            path: path.to_path_buf(),
            source,
        }
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let rel = rel.to_string_lossy().replace('\\', "/");
        if path.is_dir() {
            put_object(state, &format!("/{rel}"), Content::Directory, true).ok();
            walk(state, root, &path)?;
            continue;
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let stem = rel
            .rsplit_once('.')
            .map(|(s, _)| s.to_owned())
            .unwrap_or(rel.clone());
        let content = if ext == "ipynb" {
            let (lang, src) = from_jupyter(&bytes).map_err(|message| Error::SeedNotebook {
                path: path.clone(),
                message,
            })?;
            (format!("/{stem}"), Content::Notebook(lang, src))
        } else if let Some(lang) = Language::from_ext(&ext) {
            let text = String::from_utf8_lossy(&bytes);
            let lang = detect_header(&text, Some(lang)).unwrap_or(lang);
            (
                format!("/{stem}"),
                Content::Notebook(lang, ensure_header(&text, lang)),
            )
        } else {
            (format!("/{rel}"), Content::File(bytes.into()))
        };
        put_object(state, &content.0, content.1, true).ok();
    }
    Ok(())
}
