//! A platform to register, from what a user typed: the dashboard's form and
//! `POST /api/v1/platforms` take the same fields and refuse the same way,
//! naming the field, as `polysync platform add` does.

use polysync_engine::{Auth, Platform};

/// The fields of a new platform, as entered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlatformFields<'a> {
    /// The platform's name.
    pub name: &'a str,
    /// The workspace URL (optional with a profile: the profile's host).
    pub host: &'a str,
    /// Credentials from a `~/.databrickscfg` profile instead of a token variable.
    pub use_profile: bool,
    /// The environment variable holding the token.
    pub token_env: &'a str,
    /// The profile's name.
    pub profile: &'a str,
}

/// The platform the fields describe, or the field that is wrong and why.
pub(crate) fn platform_of(f: &PlatformFields<'_>) -> Result<Platform, (&'static str, String)> {
    let name = f.name.trim();
    if name.is_empty() {
        return Err(("name", "give the platform a name".into()));
    }
    let (auth, host) = if f.use_profile {
        let profile = f.profile.trim();
        if profile.is_empty() {
            return Err(("profile", "give the ~/.databrickscfg profile's name".into()));
        }
        let host = if f.host.trim().is_empty() {
            polysync_engine::profile_host(name, profile, None)
                .map_err(|e| ("profile", e.to_string()))?
        } else {
            f.host.trim().to_owned()
        };
        (
            Auth::Profile {
                name: profile.to_owned(),
                config_file: None,
            },
            host,
        )
    } else {
        let var = f.token_env.trim();
        if var.is_empty() {
            return Err((
                "token_env",
                "give the name of the environment variable holding the token".into(),
            ));
        }
        if f.host.trim().is_empty() {
            return Err(("host", "give the workspace URL".into()));
        }
        (
            Auth::TokenEnv {
                var: var.to_owned(),
            },
            f.host.trim().to_owned(),
        )
    };
    Ok(Platform::new(name, host, auth))
}

/// Which form field an engine error is about: the field a validation
/// error names (``platform field `workspace_url`: …``), the name for a
/// duplicate; anything else (the workspace refused the credentials) is
/// shown above the form.
pub(crate) fn field_of(e: &polysync_engine::Error) -> &'static str {
    if matches!(e, polysync_engine::Error::AlreadyExists { .. }) {
        return "name";
    }
    let message = e.to_string();
    let Some(rest) = message.split_once("platform field `").map(|(_, r)| r) else {
        return "";
    };
    match rest.split_once('`').map_or("", |(f, _)| f) {
        "name" => "name",
        "workspace_url" => "host",
        "auth.profile" => "profile",
        "auth.token_env" => "token_env",
        _ => "",
    }
}
