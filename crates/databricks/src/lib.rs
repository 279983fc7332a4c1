//! polysync-databricks: placeholder, filled in by its issue.
