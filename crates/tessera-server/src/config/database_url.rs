//! The database URL, parsed once: which backend it names, the SQLite file it opens, and a form
//! without secrets for messages, logs and `Debug`.

use crate::store::Backend;
use std::fmt;
use std::path::PathBuf;
use url::{Position, Url};

#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    /// Carries the URL without its password.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    Unsupported(String),
    /// The text is not shown: where its password would be cannot be told.
    #[error("the database URL is not a valid URL ({0}): use sqlite://PATH or postgres://…")]
    NotAUrl(url::ParseError),
}

/// `sqlite://PATH`, `sqlite::memory:` or `postgres://…` (also `postgresql://…`).
///
/// `Debug` and `Display` show it without its password; [`DatabaseUrl::expose_secret`] gives
/// the text as configured, for the database driver alone.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    text: String,
    backend: Backend,
    redacted: String,
}

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        // An SQLite "URL" is sqlx's: the scheme, then a file path that need not be a valid URL
        // (`sqlite://my db.sqlite`, `sqlite://:memory:`, the relative `sqlite://tessera.db`),
        // so it is taken as sqlx takes it, and holds no password to hide.
        if text.starts_with("sqlite:") {
            let text = text.to_owned();
            return Ok(DatabaseUrl { redacted: text.clone(), text, backend: Backend::Sqlite });
        }
        let url = Url::parse(text).map_err(DatabaseUrlError::NotAUrl)?;
        let backend = match url.scheme() {
            "postgres" | "postgresql" => Backend::Postgres,
            _ => return Err(DatabaseUrlError::Unsupported(redact(&url))),
        };
        Ok(DatabaseUrl { text: text.to_owned(), backend, redacted: redact(&url) })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as configured, password included: for connecting, never for showing.
    pub fn expose_secret(&self) -> &str {
        &self.text
    }

    /// The URL without its password.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The SQLite database file, if the URL names one (the master-key file and the migration
    /// lock live beside it); `None` for PostgreSQL and in-memory databases.
    ///
    /// The path is the text between the scheme and any `?`, as sqlx reads it, except that it
    /// is not percent-decoded: an existing key file was placed by that rule, and moving the
    /// rule would make a server miss it and create another key.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let rest = self.text.strip_prefix("sqlite://").or_else(|| self.text.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return None;
        }
        Some(PathBuf::from(path))
    }
}

/// The URL with the password of its user information, and any `password` query parameter
/// (which libpq and sqlx also accept), replaced.
fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.query_pairs().any(|(key, _)| is_secret_parameter(&key)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_secret_parameter(&key) { "redacted".to_owned() } else { value.into_owned() };
                (key.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    match shown.password() {
        Some(_) => format!("{}:[redacted]@{}", &shown[..Position::AfterUsername], &shown[Position::BeforeHost..]),
        None => shown.into(),
    }
}

fn is_secret_parameter(key: &str) -> bool {
    matches!(key, "password" | "sslpassword")
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted).finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// A database URL without its password, for messages and logs; one that cannot be parsed is
/// not shown at all.
pub fn redact_url(url: &str) -> String {
    match DatabaseUrl::parse(url) {
        Ok(url) => url.redacted,
        Err(DatabaseUrlError::Unsupported(redacted)) => redacted,
        Err(DatabaseUrlError::NotAUrl(_)) => "[not a valid URL]".to_owned(),
    }
}

/// If the URL names an SQLite file, its path (see [`DatabaseUrl::sqlite_path`]).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    DatabaseUrl::parse(url).ok()?.sqlite_path()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends() {
        let rows = [
            ("sqlite://tessera.db", Some(Backend::Sqlite)),
            ("sqlite:///var/lib/tessera/t.db?mode=rwc", Some(Backend::Sqlite)),
            ("sqlite::memory:", Some(Backend::Sqlite)),
            ("sqlite://my db.sqlite", Some(Backend::Sqlite)),
            ("postgres://tessera@db:5432/tessera", Some(Backend::Postgres)),
            ("postgresql://db/tessera?sslmode=require", Some(Backend::Postgres)),
            ("mysql://localhost/tessera", None),
            ("tessera.db", None),
            ("postgres://user:pw@db:notaport/tessera", None),
        ];
        for (text, expected) in rows {
            assert_eq!(DatabaseUrl::parse(text).ok().map(|url| url.backend()), expected, "{text}");
        }
    }

    #[test]
    fn sqlite_paths() {
        let rows = [
            ("sqlite://tessera.db", Some("tessera.db")),
            ("sqlite:tessera.db", Some("tessera.db")),
            ("sqlite:///var/lib/tessera/t.db", Some("/var/lib/tessera/t.db")),
            ("sqlite://data/t.db?mode=rwc&cache=shared", Some("data/t.db")),
            ("sqlite://my db.sqlite", Some("my db.sqlite")),
            ("sqlite::memory:", None),
            ("sqlite://:memory:", None),
            ("sqlite://?mode=memory", None),
            ("sqlite://", None),
            ("postgres://db/tessera", None),
            ("mysql://localhost/t.db", None),
        ];
        for (text, expected) in rows {
            assert_eq!(sqlite_path(text), expected.map(PathBuf::from), "{text}");
        }
    }

    #[test]
    fn passwords_never_show() {
        let rows = [
            ("postgres://tessera:s3cret@db:5432/tessera", "postgres://tessera:[redacted]@db:5432/tessera"),
            ("postgres://:s3cret@db/tessera", "postgres://:[redacted]@db/tessera"),
            ("postgres://tessera@db/tessera?sslmode=require", "postgres://tessera@db/tessera?sslmode=require"),
            ("postgres://db/tessera?user=t&password=s3cret", "postgres://db/tessera?user=t&password=redacted"),
            ("mysql://root:s3cret@localhost/tessera", "mysql://root:[redacted]@localhost/tessera"),
            ("postgres://tessera:s3cret@db:notaport/tessera", "[not a valid URL]"),
            ("sqlite://tessera.db?mode=rwc", "sqlite://tessera.db?mode=rwc"),
        ];
        for (text, expected) in rows {
            assert_eq!(redact_url(text), expected, "{text}");
        }
        let url = DatabaseUrl::parse("postgres://tessera:s3cret@db/tessera").unwrap();
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(url.expose_secret(), "postgres://tessera:s3cret@db/tessera");
        for text in ["mysql://root:s3cret@localhost/t", "postgres://t:s3cret@db:notaport/t"] {
            let error = DatabaseUrl::parse(text).err().map(|error| error.to_string()).unwrap_or_default();
            assert!(error.contains("use sqlite://PATH") && !error.contains("s3cret"), "{error}");
        }
    }
}
