//! Finding the master key: `TESSERA_MASTER_KEY`, or (SQLite only) a `0600` key file beside
//! the database, created on first use.

use std::io::Write;
use std::path::{Path, PathBuf};
use tessera_core::MasterKey;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeySourceError {
    #[error(
        "TESSERA_MASTER_KEY is required with PostgreSQL (every instance must share it); generate one with `openssl rand -base64 32`"
    )]
    Required,
    #[error("TESSERA_MASTER_KEY: {0}")]
    Invalid(#[from] tessera_core::MasterKeyError),
    #[error("master key file {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error(transparent)]
    Random(#[from] crate::random::RandomError),
}

/// Where the key file for an SQLite database lives: `<database>.key`.
pub fn key_file_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

pub fn resolve(configured: Option<&str>, database_url: &str) -> Result<MasterKey, MasterKeySourceError> {
    if let Some(text) = configured {
        return Ok(MasterKey::parse(text)?);
    }
    match crate::store::Backend::of_url(database_url) {
        Ok(crate::store::Backend::Sqlite) => match crate::store::sqlite_path(database_url) {
            Some(database) => read_or_create(&key_file_for(&database)),
            // An in-memory database lives and dies with the process; so may its key.
            None => {
                let random = crate::random::random_bytes::<32>()?;
                Ok(MasterKey::parse(&base64_key(&random))?)
            }
        },
        _ => Err(MasterKeySourceError::Required),
    }
}

fn base64_key(random: &[u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(random)
}

fn read_or_create(path: &Path) -> Result<MasterKey, MasterKeySourceError> {
    let file_error = |source| MasterKeySourceError::File { path: path.display().to_string(), source };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(MasterKey::parse(&text)?),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let text = base64_key(&crate::random::random_bytes::<32>()?);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(path) {
                Ok(mut file) => {
                    file.write_all(text.as_bytes()).map_err(file_error)?;
                    file.sync_all().map_err(file_error)?;
                    Ok(MasterKey::parse(&text)?)
                }
                // Another process created it between our read and our create: use theirs.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    Ok(MasterKey::parse(&std::fs::read_to_string(path).map_err(file_error)?)?)
                }
                Err(error) => Err(file_error(error)),
            }
        }
        Err(error) => Err(file_error(error)),
    }
}
