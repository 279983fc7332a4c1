//! Renders the engine's structured hints as what a terminal user types:
//! the fix in words, then the command that performs it. The engine never
//! writes command lines; this is the one place that knows the CLI's syntax.

use polysync_engine::{Action, Hint};

use crate::output::shell_quote;

/// The flag of `platform add` that sets a platform field.
fn platform_flag(field: &str) -> Option<&'static str> {
    Some(match field {
        "existing_cluster_id" => "--existing-cluster-id ID",
        "existing_instance_pool" => "--instance-pool-id ID",
        "cluster_version" => "--cluster-version VERSION",
        "node_type" => "--node-type TYPE",
        "num_workers" => "--num-workers N",
        "default_notebook_path" => "--default-notebook-path /PATH",
        "workspace_url" => "--host URL",
        "token_env" => "--token-env VAR",
        "profile" => "--profile PROFILE",
        "compute_type" => "--compute TYPE",
        "jobs_api_version" => "--jobs-api VERSION",
        "name" => "the platform NAME",
        _ => return None,
    })
}

/// Platform fields that depend on the compute type.
const COMPUTE_FIELDS: [&str; 5] = [
    "existing_cluster_id",
    "existing_instance_pool",
    "cluster_version",
    "node_type",
    "num_workers",
];

/// The command line that performs `action`, when the CLI has one.
pub fn command(action: &Action) -> Option<String> {
    let q = |s: &str| shell_quote(s);
    Some(match action {
        Action::ListPlatforms => "polysync platform list".to_owned(),
        Action::ShowPlatform { platform } => format!("polysync platform show {}", q(platform)),
        Action::Import { platform } => format!("polysync import {}", q(platform)),
        Action::ListJobs { platform: None } => "polysync jobs list".to_owned(),
        Action::ListJobs {
            platform: Some(platform),
        } => format!("polysync jobs list --platform {}", q(platform)),
        Action::ShowJob { job } => format!("polysync jobs show {}", q(job)),
        Action::EditJob { job } => format!("polysync jobs edit {}", q(job)),
        Action::SyncParams { job } => format!("polysync jobs sync-params {}", q(job)),
        Action::ListRuns => "polysync runs list".to_owned(),
        Action::ListTasks => "polysync tasks list".to_owned(),
        Action::ShowRun { run_id } => format!("polysync runs show {}", q(run_id)),
        Action::SetEnv { var, value } => format!("export {var}=<{value}>"),
        _ => return None,
    })
}

/// One line: the words, then the command (`text: command`).
pub fn render(hint: &Hint) -> String {
    match hint.action_ref() {
        Some(Action::EditPlatform { platform, field }) => {
            let flag = platform_flag(field);
            match (platform, flag) {
                // While adding: name the flag to correct.
                (None, Some(flag)) if COMPUTE_FIELDS.contains(&field.as_str()) => {
                    format!("fix {flag} (or change --compute) and retry")
                }
                (None, Some(flag)) => format!("fix {flag} and retry"),
                (None, None) => hint.text.clone(),
                (Some(p), Some(flag)) => format!(
                    "{} (platform {}: {flag} of `polysync platform add`)",
                    hint.text,
                    shell_quote(p)
                ),
                (Some(_), None) => hint.text.clone(),
            }
        }
        Some(action) => match command(action) {
            Some(cmd) => format!("{}: {cmd}", hint.text),
            None => hint.text.clone(),
        },
        None => hint.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_words_then_command() {
        let h = Hint::action(
            "re-import the platform",
            Action::Import {
                platform: "my prod".into(),
            },
        );
        assert_eq!(
            render(&h),
            "re-import the platform: polysync import 'my prod'"
        );
        let add = Hint::action(
            "correct the platform's field and retry",
            Action::EditPlatform {
                platform: None,
                field: "node_type".into(),
            },
        );
        assert_eq!(
            render(&add),
            "fix --node-type TYPE (or change --compute) and retry"
        );
        assert_eq!(render(&Hint::text("wait")), "wait");
    }
}
