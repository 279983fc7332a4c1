//! `~/.databrickscfg` (INI) profile loading with the SDKs' resolution rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ini::{Ini, ParseOption};

use crate::error::{Error, Result};

/// One profile's key/values (not merged with `[DEFAULT]`, as in the SDKs).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Section name.
    pub name: String,
    /// Keys as written in the file (attribute names such as `host`, `token`).
    pub values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Profile {
    // Profiles hold tokens and secrets: show only the key names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Profile {
    /// A value by attribute name; empty values count as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The default config file location (`~/.databrickscfg`).
pub fn default_config_file() -> Option<PathBuf> {
    dirs::home_dir().map(|h| h.join(".databrickscfg"))
}

/// Expands a leading `~/` like the SDKs do for `DATABRICKS_CONFIG_FILE`.
pub(crate) fn expand_home(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    PathBuf::from(path)
}

fn parse(text: &str, path: &Path) -> Result<Ini> {
    // Quotes and backslashes are literal in the SDKs' parsers (Windows paths, secrets).
    let opt = ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        ..ParseOption::default()
    };
    Ini::load_from_str_opt(text, opt).map_err(|e| {
        // rust-ini's own message is `3:1 expecting "[Some(']')]" but found EOF`:
        // keep the position, say what is wrong in words.
        let position = e.to_string();
        let position = position
            .split_whitespace()
            .next()
            .and_then(|p| p.split_once(':'))
            .map(|(line, col)| format!("line {line}, column {col}"))
            .unwrap_or_else(|| "an unknown position".to_owned());
        Error::Config(format!(
            "cannot parse {} at {position}: not valid INI (a `[section]` header must close with `]`, \
             every other line must be `key = value`)",
            path.display()
        ))
    })
}

/// The section names of a config file, in file order (what a user can pick from).
pub fn profile_names(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(ini) = parse(&text, path) else {
        return Vec::new();
    };
    ini.sections()
        .flatten()
        .filter(|s| *s != "__settings__")
        .filter(|s| *s != "DEFAULT" || section(&ini, s).is_some_and(|p| !p.values.is_empty()))
        .map(str::to_owned)
        .collect()
}

fn section(ini: &Ini, name: &str) -> Option<Profile> {
    let props = ini.section(Some(name))?;
    Some(Profile {
        name: name.to_string(),
        values: props
            .iter()
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
    })
}

/// Loads a profile from `path`.
///
/// With `profile = Some(name)` the section must exist (error otherwise). Without a name:
/// `[__settings__].default_profile` (must exist), else `[DEFAULT]` if it has any keys, else
/// `Ok(None)`. A missing file is an error only when a profile was named.
pub fn load_profile(path: &Path, profile: Option<&str>) -> Result<Option<Profile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match profile {
                Some(p) => Err(Error::Config(format!(
                    "profile {p} requested but config file {} does not exist",
                    path.display()
                ))),
                None => Ok(None),
            };
        }
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let ini = parse(&text, path)?;
    if let Some(name) = profile {
        return section(&ini, name).map(Some).ok_or_else(|| {
            let known = profile_names(path);
            Error::Config(format!(
                "profile [{name}] is not in {}; {}",
                path.display(),
                if known.is_empty() {
                    "the file has no profiles".to_owned()
                } else {
                    format!("its profiles: {}", known.join(", "))
                }
            ))
        });
    }
    if let Some(default) = ini
        .get_from(Some("__settings__"), "default_profile")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return section(&ini, default).map(Some).ok_or_else(|| {
            Error::Config(format!(
                "{}: default_profile {default} from [__settings__] does not exist",
                path.display()
            ))
        });
    }
    Ok(section(&ini, "DEFAULT").filter(|p| p.values.values().any(|v| !v.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn named_default_settings_and_missing() {
        let f = write(
            "[DEFAULT]\nhost = https://d\ntoken = t0\n\n[prod]\nhost = https://p\nclient_id = c\nclient_secret = s;x\n",
        );
        let p = load_profile(f.path(), Some("prod"))
            .expect("ok")
            .expect("some");
        assert_eq!(p.get("host"), Some("https://p"));
        assert_eq!(p.get("client_secret"), Some("s;x"));
        // no merging with DEFAULT
        assert_eq!(p.get("token"), None);
        let d = load_profile(f.path(), None).expect("ok").expect("some");
        assert_eq!(d.name, "DEFAULT");
        let missing = load_profile(f.path(), Some("nope"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("profile [nope] is not in")
                && missing.contains("its profiles: DEFAULT, prod")
                && missing.matches("nope").count() == 1,
            "{missing}"
        );
        let corrupt = write("[bad\nhost=\n");
        let msg = load_profile(corrupt.path(), Some("bad"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("at line 3, column 1: not valid INI"), "{msg}");
        assert!(!msg.contains("Some("), "no Rust debug text: {msg}");
        assert!(!format!("{p:?}").contains("s;x"));

        let f = write(
            "[__settings__]\ndefault_profile = b\n[DEFAULT]\nhost=x\n[b]\nhost = https://b\n",
        );
        let p = load_profile(f.path(), None).expect("ok").expect("some");
        assert_eq!(p.name, "b");

        let f = write("[DEFAULT]\n[x]\nhost=y\n");
        assert!(load_profile(f.path(), None).expect("ok").is_none());

        let missing = Path::new("/nonexistent/.databrickscfg");
        assert!(load_profile(missing, None).expect("ok").is_none());
        assert!(load_profile(missing, Some("a")).is_err());
    }
}
