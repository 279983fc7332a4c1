//! Snapshots of imported Arazzo documents: the text of the document and of
//! every source it names, so an Arazzo Workflow job runs what was imported
//! (re-import picks up edits), not whatever the file holds at run time.

use std::collections::BTreeMap;

use crate::error::{DbResultExt, Error, Result};
use crate::rows::RowExt;
use crate::{Store, now_ms, on_db};

const UPSERT: &str = "INSERT INTO arazzo_documents (location, files, imported_at) VALUES ($1, $2, $3) \
     ON CONFLICT (location) DO UPDATE SET files = excluded.files, imported_at = excluded.imported_at";
const BY_LOCATION: &str = "SELECT files FROM arazzo_documents WHERE location = $1";

impl Store {
    /// Stores (or replaces) the snapshot of the document at `location`:
    /// `files` maps each loaded URL to its text.
    pub async fn save_arazzo_document(
        &self,
        location: &str,
        files: &BTreeMap<String, String>,
    ) -> Result<()> {
        let text = serde_json::to_string(files).map_err(|e| Error::internal(e.to_string()))?;
        let now = now_ms();
        on_db!(&self.db, p => {
            sqlx::query(UPSERT).bind(location).bind(&text).bind(now).execute(p).await.db()?;
        });
        Ok(())
    }

    /// The snapshot stored for `location`, if it was imported.
    pub async fn find_arazzo_document(
        &self,
        location: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let text: Option<String> = on_db!(&self.db, p => {
            let row = sqlx::query(BY_LOCATION).bind(location).fetch_optional(p).await.db()?;
            row.as_ref().map(|r| r.text("files")).transpose()?
        });
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| Error::Corrupt {
                column: "arazzo_documents.files",
                message: e.to_string(),
            })
        })
        .transpose()
    }
}
