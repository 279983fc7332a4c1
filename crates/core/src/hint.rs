//! What to do about a problem, as data: the words (no interface's syntax)
//! and, when Polysync has one, the action that fixes it with its arguments.
//! The CLI renders an action as a command line, the server as JSON, the
//! dashboard as a button; none of them parses messages to find the fix.

use std::fmt;

use serde::Serialize;

/// A fix Polysync itself can perform or show, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// List the registered platforms.
    ListPlatforms,
    /// Show one platform (its credentials reference, compute, URL).
    ShowPlatform {
        /// Platform name.
        platform: String,
    },
    /// Change one attribute of a platform.
    EditPlatform {
        /// Platform name (`None` while it is being added).
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<String>,
        /// The attribute, spelled as in the platform record
        /// (`existing_cluster_id`, `workspace_url`, ...).
        field: String,
    },
    /// (Re-)import a platform's jobs.
    Import {
        /// Platform name.
        platform: String,
    },
    /// List jobs, optionally of one platform.
    ListJobs {
        /// Only this platform.
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<String>,
    },
    /// Show one job with its parameters.
    ShowJob {
        /// Job name.
        job: String,
    },
    /// Edit a hand-made job's definition or parameters.
    EditJob {
        /// Job name.
        job: String,
    },
    /// Re-read a job's parameter schema from Databricks.
    SyncParams {
        /// Job name.
        job: String,
    },
    /// List runs.
    ListRuns,
    /// Show one run (status, history, hint).
    ShowRun {
        /// Polysync run id.
        run_id: String,
    },
    /// List the applied tasks.
    ListTasks,
    /// Set an environment variable the platform names.
    SetEnv {
        /// The variable.
        var: String,
        /// What its value must be.
        value: String,
    },
}

/// What to do about a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hint {
    /// The fix in words, with no command syntax.
    pub text: String,
    /// The action that performs or shows the fix, when there is one (boxed:
    /// hints ride inside error values, which should stay small).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Box<Action>>,
}

impl Hint {
    /// A fix in words only (nothing Polysync can do for the user).
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            action: None,
        }
    }

    /// A fix with the action that performs it.
    pub fn action(text: impl Into<String>, action: Action) -> Self {
        Self {
            text: text.into(),
            action: Some(Box::new(action)),
        }
    }
}

impl Hint {
    /// The action, unboxed, for matching.
    pub fn action_ref(&self) -> Option<&Action> {
        self.action.as_deref()
    }
}

/// The words only: what a log line or a plain message shows.
impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_text_and_tagged_action() {
        let h = Hint::action(
            "re-import the platform",
            Action::Import {
                platform: "prod".into(),
            },
        );
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"text": "re-import the platform", "action": {"action": "import", "platform": "prod"}})
        );
        assert_eq!(h.to_string(), "re-import the platform");
        let plain = serde_json::to_value(Hint::text("wait")).unwrap();
        assert_eq!(plain, serde_json::json!({"text": "wait"}));
    }
}
