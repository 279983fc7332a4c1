//! polysync-arazzo: placeholder, filled in by its issue.
