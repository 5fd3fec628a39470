//! Scopes (RFC 6749 §3.3): a space-separated set of case-sensitive tokens.

use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("scope token {0:?} contains a character RFC 6749 §3.3 does not allow")]
    InvalidCharacter(String),
}

/// A parsed scope. Order and duplicates carry no meaning (RFC 6749 §3.3), so it is a set;
/// `Display` prints it sorted and space-separated, which keeps stored values canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut tokens = BTreeSet::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*NQCHAR; NQCHAR = %x21 / %x23-5B / %x5D-7E
            let allowed = token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !allowed {
                return Err(ScopeError::InvalidCharacter(token.to_owned()));
            }
            tokens.insert(token.to_owned());
        }
        Ok(Scope(tokens))
    }

    pub fn empty() -> Self {
        Scope(BTreeSet::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scope to grant when `requested` is asked for and at most `allowed` may be given:
    /// everything allowed when nothing (or an empty scope) is asked for, the request itself when
    /// it is within `allowed`, `None` when it asks for more (RFC 6749 §3.3 and §6).
    pub fn grant(requested: Option<&Scope>, allowed: &Scope) -> Option<Scope> {
        match requested {
            Some(requested) if !requested.is_empty() => requested.is_subset_of(allowed).then(|| requested.clone()),
            _ => Some(allowed.clone()),
        }
    }

    /// What is left of `granted` that `allowed` still permits: the scope of a refresh after an
    /// admin narrowed the client (RFC 6749 §6 lets the server issue less than was granted; the
    /// response always carries `scope`). `None` when narrowing took away all of a non-empty
    /// grant. An empty grant (a client registered without scopes) stays empty and usable, as
    /// it always was.
    pub fn still_allowed(granted: &Scope, allowed: &Scope) -> Option<Scope> {
        let left = Scope(granted.0.intersection(&allowed.0).cloned().collect());
        (granted.is_empty() || !left.is_empty()).then_some(left)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("")),
            ("read", Some("read")),
            ("write read", Some("read write")),
            ("read  read", Some("read")),
            ("api:read users/me", Some("api:read users/me")),
            ("bad\"quote", None),
            ("back\\slash", None),
            ("tab\there", None),
            ("café", None),
        ];
        for (text, expected) in cases {
            let got = Scope::parse(text).ok().map(|s| s.to_string());
            assert_eq!(got.as_deref(), *expected, "Scope::parse({text:?})");
        }
    }

    #[test]
    fn subset() {
        let all = Scope::parse("a b c").unwrap_or_default();
        let some = Scope::parse("b").unwrap_or_default();
        assert!(some.is_subset_of(&all));
        assert!(!all.is_subset_of(&some));
        assert!(Scope::empty().is_subset_of(&some));
    }

    #[test]
    fn still_allowed_table() {
        // (granted, the client's scope now, what a refresh may still carry)
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("read write", "read write", Some("read write")),
            ("read write", "read write admin", Some("read write")),
            ("read admin", "read", Some("read")),
            ("admin", "read write", None),
            ("read write", "", None),
            ("", "", Some("")),
            ("", "read", Some("")),
        ];
        for (granted, allowed, expected) in cases {
            let got = Scope::still_allowed(&scope(granted), &scope(allowed)).map(|s| s.to_string());
            assert_eq!(got.as_deref(), *expected, "still_allowed({granted:?}, {allowed:?})");
        }
    }

    fn scope(text: &str) -> Scope {
        Scope::parse(text).unwrap_or_default()
    }
}
