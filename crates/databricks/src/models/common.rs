//! Shared model plumbing: string enums with an `Unknown` fallback and lenient scalars.

/// Unknown JSON fields captured so that a read-modify-write (e.g. `jobs/reset`) never drops
/// something a newer server sent.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Defines a string enum whose wire values are listed explicitly and which keeps any value it
/// does not know in `Unknown(String)`: Databricks adds states without notice and a new state
/// must never make a poll fail to decode.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("Wire value `", $wire, "`.")]
                $variant,
            )*
            /// A value this client does not know yet (sent by a newer server); kept verbatim so
            /// it round-trips.
            Unknown(String),
        }

        impl $name {
            /// The exact wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )*
                    $name::Unknown(s) => s.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )*
                    other => $name::Unknown(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Ok($name::from(s.as_ref()))
            }
        }
    };
}
pub(crate) use string_enum;

/// Deserializes a value the API sends either as a JSON string or a number (e.g. pipeline
/// `latest_updates[].creation_time` is a string while `UpdateInfo.creation_time` is a number).
pub(crate) mod string_or_number {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        Ok(match v {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    string_enum! {
        /// test enum
        Color { Red = "RED", Blue = "BLUE" }
    }

    #[test]
    fn unknown_round_trips() {
        let c: Color = serde_json::from_str("\"GREEN\"").expect("decode");
        assert_eq!(c, Color::Unknown("GREEN".into()));
        assert_eq!(serde_json::to_string(&c).expect("encode"), "\"GREEN\"");
        let r: Color = serde_json::from_str("\"RED\"").expect("decode");
        assert_eq!(r, Color::Red);
        assert_eq!(r.to_string(), "RED");
    }
}
