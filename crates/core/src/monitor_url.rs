//! Where a user watches a run in the Databricks UI.
//!
//! `run_page_url` from the API is always preferred (verbatim) because it
//! carries the workspace selector and the real job id; the fallbacks are the
//! seeds' patterns.

/// Notebook/job/workflow runs: `run_page_url` if known, else the seed's
/// `{workspace_url}/#job/{run_id}/run/1`.
pub fn job_run_url(workspace_url: &str, run_page_url: Option<&str>, run_id: &str) -> String {
    match run_page_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => url.to_owned(),
        None => format!(
            "{}/#job/{run_id}/run/1",
            workspace_url.trim_end_matches('/')
        ),
    }
}

/// Pipelines: the seed's `{workspace_url}/#joblist/pipelines/{pipeline_id}`.
pub fn pipeline_url(workspace_url: &str, pipeline_id: &str) -> String {
    format!(
        "{}/#joblist/pipelines/{pipeline_id}",
        workspace_url.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_page_url_is_used_verbatim() {
        assert_eq!(
            job_run_url("https://w", Some("https://w/?o=1#job/4/run/9"), "9"),
            "https://w/?o=1#job/4/run/9"
        );
    }

    #[test]
    fn fallbacks_follow_the_seeds() {
        assert_eq!(
            job_run_url("https://w/", None, "77"),
            "https://w/#job/77/run/1"
        );
        assert_eq!(
            job_run_url("https://w", Some(" "), "77"),
            "https://w/#job/77/run/1"
        );
        assert_eq!(
            pipeline_url("https://w/", "p-1"),
            "https://w/#joblist/pipelines/p-1"
        );
    }
}
