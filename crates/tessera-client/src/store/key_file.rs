//! A profile's DPoP key file (`NAME.dpop.pem`, 0600, beside `NAME.json`): read when it exists,
//! otherwise made once. A new key is written to a private temporary file and linked into place
//! without replacing anything, so two processes that race to make it end up with the same key:
//! the loser reads the winner's.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::private_fs::{private_file_options, sync_dir};
use crate::dpop::DpopKey;
use crate::error::StoreError;

/// The key in `path`, made first if there is none. `dir` (which holds `path`) must exist.
pub(super) fn load_or_create(dir: &Path, path: &Path) -> Result<DpopKey, StoreError> {
    if let Some(key) = load(path)? {
        return Ok(key);
    }
    let key = DpopKey::generate().map_err(|error| StoreError::Other(error.to_string()))?;
    static UNIQUE: AtomicU64 = AtomicU64::new(0);
    let unique = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let temporary = dir.join(format!(".{}.{}-{unique}.tmp", file_name(path), std::process::id()));
    let io_error = |action, path: &Path, source| StoreError::Io { action, path: path.to_owned(), source };
    let written = private_file_options().write(true).create_new(true).open(&temporary).and_then(|mut file| {
        file.write_all(key.to_pem().as_bytes())?;
        file.sync_all()
    });
    if let Err(source) = written {
        let _ = fs::remove_file(&temporary);
        return Err(io_error("write", &temporary, source));
    }
    // link(2) fails when the name exists, where rename(2) would replace another process's key.
    let linked = fs::hard_link(&temporary, path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            sync_dir(dir).map_err(|source| io_error("sync directory", dir, source))?;
            Ok(key)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            load(path)?.ok_or_else(|| StoreError::Other(format!("{} vanished while being made", path.display())))
        }
        Err(source) => Err(io_error("create", path, source)),
    }
}

fn load(path: &Path) -> Result<Option<DpopKey>, StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::Io { action: "read", path: path.to_owned(), source }),
    };
    // The parser's message never quotes the key.
    DpopKey::from_pem(&text)
        .map(Some)
        .map_err(|error| StoreError::Corrupt { path: path.to_owned(), message: error.to_string() })
}

/// Removes the key file; not an error when there is none.
pub(super) fn remove(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io { action: "delete", path: PathBuf::from(path), source }),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}
