//! Finding the master key: `TESSERA_MASTER_KEY`, or (SQLite only) a `0600` key file beside
//! the database, created on first use.

use crate::config::DatabaseUrl;
use crate::store::Backend;
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

/// The master key to use: the configured one, or (SQLite only) the key file's, created on
/// first use; an in-memory database gets a random key that dies with it.
pub fn resolve(configured: Option<&MasterKey>, database_url: &DatabaseUrl) -> Result<MasterKey, MasterKeySourceError> {
    if let Some(key) = configured {
        return Ok(key.clone());
    }
    match database_url.backend() {
        Backend::Sqlite => match database_url.sqlite_path() {
            Some(database) => read_or_create(&key_file_for(&database)),
            None => {
                let random = crate::random::random_bytes::<32>()?;
                Ok(MasterKey::parse(&base64_key(&random))?)
            }
        },
        Backend::Postgres => Err(MasterKeySourceError::Required),
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
            // Written whole to a private temporary file, then hard-linked into place: the link
            // either creates the key file complete or fails because another process won, so a
            // concurrent reader never sees a half-written key. Then the directory is synced,
            // so that the new name survives a crash as the contents do.
            let text = base64_key(&crate::random::random_bytes::<32>()?);
            let mut temporary = path.as_os_str().to_owned();
            temporary.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
            let temporary = std::path::PathBuf::from(temporary);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let written = options.open(&temporary).and_then(|mut file| {
                file.write_all(text.as_bytes())?;
                file.sync_all()
            });
            let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
            let _ = std::fs::remove_file(&temporary);
            match linked {
                Ok(()) => {
                    let directory = path.parent().filter(|parent| !parent.as_os_str().is_empty());
                    sync_directory(directory.unwrap_or(Path::new("."))).map_err(file_error)?;
                    Ok(MasterKey::parse(&text)?)
                }
                // Another process created it first: use theirs, which is complete.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    Ok(MasterKey::parse(&std::fs::read_to_string(path).map_err(file_error)?)?)
                }
                Err(error) => Err(file_error(error)),
            }
        }
        Err(error) => Err(file_error(error)),
    }
}

/// Syncs `directory`, so that an entry just linked into it survives a crash (the file's own
/// `sync_all` does not cover its name).
fn sync_directory(directory: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    SYNCED_DIRECTORIES.with(|synced| synced.borrow_mut().push(directory.to_owned()));
    // Only Unix can open a directory as a file to sync it.
    #[cfg(unix)]
    std::fs::File::open(directory)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// The directories [`sync_directory`] synced on this thread, for the tests.
    static SYNCED_DIRECTORIES: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a process that lost the race to create the key file could read it before
    /// the winner had written it, and refuse to start with "too short".
    #[test]
    fn processes_racing_to_create_the_key_file_all_get_the_same_key() {
        let directory = std::env::temp_dir().join(format!("tessera-master-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory).unwrap();
        let url = DatabaseUrl::parse(&format!("sqlite://{}", directory.join("t.db").display())).unwrap();
        let racers: Vec<_> = (0..16)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || resolve(None, &url).map(|key| *key.browser_csrf_key()))
            })
            .collect();
        let keys: Vec<_> = racers.into_iter().map(|racer| racer.join().unwrap().unwrap()).collect();
        assert!(keys.windows(2).all(|pair| pair[0] == pair[1]));
        let file = key_file_for(&directory.join("t.db"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(&directory).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    /// The link that creates the key file is an entry in its directory: until the directory
    /// is synced, a crash can lose the file even though its contents were synced, and with it
    /// every signing key encrypted under it.
    #[test]
    fn the_key_files_directory_is_synced_after_the_link() {
        let directory = tempfile::tempdir().unwrap();
        let database = directory.path().join("t.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", database.display())).unwrap();
        resolve(None, &url).unwrap();
        let synced = SYNCED_DIRECTORIES.with(|synced| synced.borrow().clone());
        assert_eq!(synced, vec![directory.path().to_owned()]);
        // A key file that exists already is only read.
        resolve(None, &url).unwrap();
        assert_eq!(SYNCED_DIRECTORIES.with(|synced| synced.borrow().len()), 1);
    }
}
