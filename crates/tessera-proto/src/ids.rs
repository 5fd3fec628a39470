//! Identifiers as types: a client id, a user id, a refresh-token family id and an access
//! token's `jti` are all strings on the wire and in the database, and must never be mixed up.
//!
//! None of them is a secret, so `Debug` shows the value. On the wire they are plain strings
//! (`#[serde(transparent)]`).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                $name(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $name(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

identifier!(
    /// A registered client application (RFC 6749 §2.2).
    ClientId
);
identifier!(
    /// A user (resource owner).
    UserId
);
identifier!(
    /// A refresh-token family: every token rotated from one grant (the `fid` claim).
    FamilyId
);
identifier!(
    /// An access token's unique id (RFC 7519 §4.1.7).
    Jti
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_plain_strings_on_the_wire() {
        let id = ClientId::new("app");
        assert_eq!(serde_json::to_string(&id).ok().as_deref(), Some("\"app\""));
        assert_eq!(serde_json::from_str::<ClientId>("\"app\"").ok(), Some(id));
    }
}
