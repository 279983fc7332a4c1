//! Workspace API 2.0 objects.

use serde::{Deserialize, Serialize};

use super::common::{Extra, string_enum};

/// An object in the workspace tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Kind of object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<ObjectType>,
    /// Absolute path.
    #[serde(default)]
    pub path: String,
    /// Notebook language (notebooks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<i64>,
    /// Resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Creation time (ms, files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Modification time (ms, files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<i64>,
    /// Size in bytes (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ObjectInfo {
    /// Directories and repos have children worth descending into.
    pub fn is_container(&self) -> bool {
        matches!(
            self.object_type,
            Some(ObjectType::Directory | ObjectType::Repo)
        )
    }
}

/// Response of `workspace/list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListObjectsResponse {
    /// Children (absent for an empty directory).
    #[serde(default)]
    pub objects: Vec<ObjectInfo>,
}

/// Raw response of `workspace/export`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportResponse {
    /// Base64 content.
    #[serde(default)]
    pub content: String,
    /// File extension of the exported content (e.g. `py`, `ipynb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
}

/// Exported content, already base64-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedObject {
    /// Raw bytes.
    pub content: Vec<u8>,
    /// File extension reported by the server.
    pub file_type: Option<String>,
}

impl ExportedObject {
    /// Content as UTF-8 text (lossy: notebooks are text).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }
}

/// Body of `workspace/import` (JSON form; `content` is base64).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    /// Target path.
    pub path: String,
    /// Format of `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ExportFormat>,
    /// Language (required for a SOURCE notebook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Base64 content.
    pub content: String,
    /// Replace an existing object.
    #[serde(default)]
    pub overwrite: bool,
}

impl ImportRequest {
    /// A SOURCE-format notebook import from raw bytes (encodes them). Needs the `client`
    /// feature, which brings the base64 encoder.
    #[cfg(feature = "client")]
    pub fn source_notebook(
        path: impl Into<String>,
        language: Language,
        source: impl AsRef<[u8]>,
        overwrite: bool,
    ) -> Self {
        use base64::Engine as _;
        ImportRequest {
            path: path.into(),
            format: Some(ExportFormat::Source),
            language: Some(language),
            content: base64::engine::general_purpose::STANDARD.encode(source.as_ref()),
            overwrite,
        }
    }
}

string_enum! {
    /// Workspace object kinds.
    ObjectType {
        Notebook = "NOTEBOOK",
        Directory = "DIRECTORY",
        Library = "LIBRARY",
        File = "FILE",
        Repo = "REPO",
        Dashboard = "DASHBOARD",
    }
}

string_enum! {
    /// Notebook languages.
    Language { Python = "PYTHON", Scala = "SCALA", Sql = "SQL", R = "R" }
}

string_enum! {
    /// Export / import formats.
    ExportFormat {
        Source = "SOURCE",
        Html = "HTML",
        Jupyter = "JUPYTER",
        Dbc = "DBC",
        RMarkdown = "R_MARKDOWN",
        Auto = "AUTO",
        Raw = "RAW",
    }
}

/// Import uses the same format values as export.
pub type ImportFormat = ExportFormat;
