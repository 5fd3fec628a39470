//! Web origins a browser app may call from (`tessera client … --allowed-origin`), parsed into
//! the one form browsers send in the `Origin` header (RFC 6454 §6.1), so that a registered
//! origin and a request's origin are compared as plain strings.

use std::fmt;

/// A web origin, `scheme://host[:port]`: `http` or `https`, lowercase host, no default port,
/// no path, query, fragment or user info. Only [`Origin::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("origin {0:?} must be scheme://host[:port] with scheme http or https, e.g. https://app.example")]
    NotAnOrigin(String),
    #[error("origin {0:?} must not have a path, query, fragment or user info: only scheme://host[:port]")]
    MoreThanAnOrigin(String),
}

impl Origin {
    /// Parses and normalises an origin as typed by an admin: `HTTPS://App.Example:443` becomes
    /// `https://app.example`, the serialisation a browser sends (RFC 6454 §6.2).
    pub fn parse(typed: &str) -> Result<Origin, OriginError> {
        let not_an_origin = || OriginError::NotAnOrigin(typed.to_owned());
        let Some((scheme, authority)) = typed.split_once("://") else { return Err(not_an_origin()) };
        if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
            return Err(not_an_origin());
        }
        if authority.is_empty() || authority.chars().any(|c| c.is_whitespace() || c == '*') {
            return Err(not_an_origin());
        }
        if authority.contains(['/', '?', '#', '@', '\\']) {
            return Err(OriginError::MoreThanAnOrigin(typed.to_owned()));
        }
        let url = url::Url::parse(typed).map_err(|_| not_an_origin())?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(not_an_origin());
        }
        match url.origin() {
            origin @ url::Origin::Tuple(..) => Ok(Origin(origin.ascii_serialization())),
            url::Origin::Opaque(_) => Err(not_an_origin()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// (as typed, the normal form or which error)
    type Case = (&'static str, Result<&'static str, fn(String) -> OriginError>);

    #[test]
    fn origins_are_parsed_into_the_form_browsers_send() {
        let cases: &[Case] = &[
            ("https://app.example", Ok("https://app.example")),
            ("HTTPS://App.EXAMPLE", Ok("https://app.example")),
            ("https://app.example:443", Ok("https://app.example")),
            ("http://app.example:80", Ok("http://app.example")),
            ("http://127.0.0.1:5173", Ok("http://127.0.0.1:5173")),
            ("http://[::1]:8000", Ok("http://[::1]:8000")),
            ("https://app.example:8443", Ok("https://app.example:8443")),
            ("https://app.example/", Err(OriginError::MoreThanAnOrigin)),
            ("https://app.example/path", Err(OriginError::MoreThanAnOrigin)),
            ("https://app.example?x=1", Err(OriginError::MoreThanAnOrigin)),
            ("https://app.example#top", Err(OriginError::MoreThanAnOrigin)),
            ("https://user@app.example", Err(OriginError::MoreThanAnOrigin)),
            ("app.example", Err(OriginError::NotAnOrigin)),
            ("null", Err(OriginError::NotAnOrigin)),
            ("*", Err(OriginError::NotAnOrigin)),
            ("https://*.example", Err(OriginError::NotAnOrigin)),
            ("ftp://app.example", Err(OriginError::NotAnOrigin)),
            ("chrome-extension://abc", Err(OriginError::NotAnOrigin)),
            ("https://", Err(OriginError::NotAnOrigin)),
            ("https://app.example:99999", Err(OriginError::NotAnOrigin)),
            ("https://app example", Err(OriginError::NotAnOrigin)),
            ("", Err(OriginError::NotAnOrigin)),
        ];
        for (typed, expected) in cases {
            let parsed = Origin::parse(typed);
            match expected {
                Ok(normal) => assert_eq!(parsed.as_ref().map(Origin::as_str), Ok(*normal), "{typed:?}"),
                Err(error) => assert_eq!(parsed, Err(error((*typed).to_owned())), "{typed:?}"),
            }
        }
    }
}
