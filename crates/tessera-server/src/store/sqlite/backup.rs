//! `tessera backup FILE`: a consistent snapshot of a live SQLite database, taken while the
//! server runs and serves, and written atomically with mode `0600`.
//!
//! The snapshot is SQLite's `VACUUM INTO`, which reads the whole database inside one read
//! transaction: under WAL a reader sees exactly the transactions committed when it began and
//! never blocks the writer, so the copy holds every refresh acknowledged before the backup
//! started (the writer acknowledges only after its commit) and none half-applied. It is
//! written into an empty private file beside the target, checked (`PRAGMA quick_check`),
//! synced, renamed over the target, and the directory synced: the target is either the old
//! file or the complete new one, even across a crash.

use rusqlite::{Connection, OpenFlags};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no database at {0}")]
    NoDatabase(String),
    #[error("the backup must not overwrite the database itself ({0})")]
    SameFile(String),
    #[error("paths must be valid UTF-8 for SQLite: {0}")]
    NotUtf8(String),
    #[error("cannot read the database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the snapshot failed its integrity check: {0}")]
    Corrupt(String),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: String, source: io::Error },
}

/// Where the snapshot went and how large it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub bytes: u64,
}

/// How long the snapshot may wait for a lock: only a checkpoint's brief exclusive moments or
/// a database being created can hold it up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BackupError + use<> {
    let path = path.display().to_string();
    move |source| BackupError::Io { what, path, source }
}

/// Writes a consistent snapshot of the SQLite database at `database` to `target` (replacing
/// it, atomically, if it exists). Blocking: call it from a blocking thread.
pub fn backup_sqlite(database: &Path, target: &Path) -> Result<BackupSummary, BackupError> {
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database.display().to_string()));
    }
    let same = std::fs::canonicalize(database).ok().zip(std::fs::canonicalize(target).ok());
    if same.is_some_and(|(database, target)| database == target) {
        return Err(BackupError::SameFile(target.display().to_string()));
    }
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let temporary = PrivateTemporary::create(target)?;
    let written = snapshot_into(database, &temporary.path).and_then(|()| {
        let file = std::fs::File::open(&temporary.path).map_err(io_error("cannot open", &temporary.path))?;
        file.sync_all().map_err(io_error("cannot sync", &temporary.path))?;
        file.metadata().map(|metadata| metadata.len()).map_err(io_error("cannot read", &temporary.path))
    })?;
    std::fs::rename(&temporary.path, target).map_err(io_error("cannot rename the snapshot to", target))?;
    temporary.disarm();
    // The rename is durable only once the directory holding the new name is synced.
    #[cfg(unix)]
    std::fs::File::open(&directory)
        .and_then(|directory| directory.sync_all())
        .map_err(io_error("cannot sync the directory", &directory))?;
    Ok(BackupSummary { path: target.to_owned(), bytes: written })
}

/// `VACUUM INTO` the (empty) file at `into`, then a quick check of the copy.
fn snapshot_into(database: &Path, into: &Path) -> Result<(), BackupError> {
    let into_text = into.to_str().ok_or_else(|| BackupError::NotUtf8(into.display().to_string()))?;
    // Read-write without create: a database in WAL mode needs its shared-memory file, which a
    // read-only connection may not be able to create; nothing is written to it.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let source = Connection::open_with_flags(database, flags)?;
    source.busy_timeout(BUSY_TIMEOUT)?;
    source.execute("VACUUM INTO ?1", [into_text])?;
    drop(source);
    let copy = Connection::open_with_flags(into, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let verdict: String = copy.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if verdict != "ok" {
        return Err(BackupError::Corrupt(verdict));
    }
    Ok(())
}

/// An empty `0600` file beside the target, removed on drop unless renamed into place.
struct PrivateTemporary {
    path: PathBuf,
    keep: bool,
}

impl PrivateTemporary {
    fn create(target: &Path) -> Result<Self, BackupError> {
        let mut name = target.as_os_str().to_owned();
        name.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        let path = PathBuf::from(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(&path).map_err(io_error("cannot create", &path))?;
        Ok(PrivateTemporary { path, keep: false })
    }

    fn disarm(mut self) {
        self.keep = true;
    }
}

impl Drop for PrivateTemporary {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let directory = std::env::temp_dir().join(format!("tessera-backup-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory).unwrap();
        directory
    }

    #[test]
    fn snapshot_is_complete_private_and_replaces_the_target_atomically() {
        let directory = scratch();
        let database = directory.join("t.db");
        let writer = Connection::open(&database).unwrap();
        writer.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER);").unwrap();
        writer.execute("INSERT INTO t VALUES (1), (2), (3)", []).unwrap();
        let target = directory.join("backup.db");
        std::fs::write(&target, b"an older backup").unwrap();

        let summary = backup_sqlite(&database, &target).unwrap();
        assert_eq!(summary.path, target);
        assert_eq!(summary.bytes, std::fs::metadata(&target).unwrap().len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let copy = Connection::open(&target).unwrap();
        let count: i64 = copy.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 3);
        let names: Vec<String> = std::fs::read_dir(&directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".tmp-"))
            .collect();
        assert!(names.is_empty(), "temporary files left behind: {names:?}");
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[test]
    fn refuses_a_missing_database_and_overwriting_the_database() {
        let directory = scratch();
        let database = directory.join("t.db");
        let missing = backup_sqlite(&database, &directory.join("b.db"));
        assert!(matches!(missing, Err(BackupError::NoDatabase(_))), "{missing:?}");
        Connection::open(&database).unwrap().execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        let same = backup_sqlite(&database, &database);
        assert!(matches!(same, Err(BackupError::SameFile(_))), "{same:?}");
        let _ = std::fs::remove_dir_all(&directory);
    }
}
