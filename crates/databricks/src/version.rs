//! The Jobs API version, compiled without the HTTP client so that the domain (which stores a
//! platform's version) and the client (which builds paths from it) share one type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which Jobs API version to speak. Paths differ only by version segment; 2.2 pages large
/// arrays inside `jobs/get` and `runs/get` (the client follows those pages). Serialised as
/// the path segment (`"2.1"`), which is also how platforms are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobsApiVersion {
    /// `/api/2.1/jobs/...` (what the seeds use; default).
    #[default]
    #[serde(rename = "2.1")]
    V2_1,
    /// `/api/2.2/jobs/...` (what current official SDKs use; some workspaces only speak it).
    #[serde(rename = "2.2")]
    V2_2,
}

impl JobsApiVersion {
    /// The path segment, e.g. `"2.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobsApiVersion::V2_1 => "2.1",
            JobsApiVersion::V2_2 => "2.2",
        }
    }
}

impl fmt::Display for JobsApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no supported Jobs API version; its own type so that parsing needs no
/// client [`Error`](crate::Error) and callers can wrap it in theirs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown jobs API version {value:?}; expected one of: 2.1, 2.2")]
pub struct UnknownJobsApiVersion {
    /// The text given.
    pub value: String,
}

impl FromStr for JobsApiVersion {
    type Err = UnknownJobsApiVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "2.1" => Ok(JobsApiVersion::V2_1),
            "2.2" => Ok(JobsApiVersion::V2_2),
            _ => Err(UnknownJobsApiVersion {
                value: s.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for v in [JobsApiVersion::V2_1, JobsApiVersion::V2_2] {
            assert_eq!(v.to_string().parse::<JobsApiVersion>(), Ok(v));
            let json = serde_json::to_string(&v).expect("serialise");
            assert_eq!(json, format!("\"{}\"", v.as_str()));
            assert_eq!(
                serde_json::from_str::<JobsApiVersion>(&json).expect("deserialise"),
                v
            );
        }
        assert_eq!(" 2.2 ".parse(), Ok(JobsApiVersion::V2_2));
        assert_eq!(JobsApiVersion::default(), JobsApiVersion::V2_1);
    }

    #[test]
    fn unknown_text_is_named() {
        let err = "3.0".parse::<JobsApiVersion>().expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown jobs API version \"3.0\"; expected one of: 2.1, 2.2"
        );
    }
}
