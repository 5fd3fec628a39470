//! The credential store: one JSON file per profile, written atomically with mode 0600 in a 0700
//! directory, plus the exclusive lock that serializes refreshes across processes.
//!
//! Layout of the default store (`$XDG_CONFIG_HOME/tessera/`, or `~/.config/tessera/`):
//!
//! ```text
//! tessera/            0700
//!   default.json      0600  the profile: client settings and tokens (never the password)
//!   default.lock      0600  empty; held with an exclusive lock during read → refresh → write
//! ```
//!
//! Lock files are never deleted, not even by `logout`: deleting one while another process waits on
//! it would let a third process lock a fresh file of the same name, and two processes would each
//! believe they hold "the" lock.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::StoreError;
use crate::profile::Profile;

/// Where profiles are kept. Implement it to keep credentials elsewhere, or to inject failures in
/// tests (e.g. a store whose `save` fails, to simulate a crash between the refresh response and
/// the write).
///
/// The methods block; the token source calls them on tokio's blocking pool.
pub trait CredentialStore: Send + Sync {
    /// Takes the exclusive lock that serializes read → refresh → write across processes, waiting
    /// as long as another holder keeps it. The lock is released when the returned guard drops.
    fn lock(&self) -> Result<StoreLock, StoreError>;

    /// Reads the profile; `None` when there is none.
    fn load(&self) -> Result<Option<Profile>, StoreError>;

    /// Durably replaces the profile. When this returns `Ok`, the profile survives a crash.
    fn save(&self, profile: &Profile) -> Result<(), StoreError>;

    /// Removes the profile (not an error when there is none).
    fn delete(&self) -> Result<(), StoreError>;
}

/// Holds a store's exclusive lock until dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct StoreLock {
    _file: Option<File>,
}

impl StoreLock {
    /// A guard for a store that needs no cross-process lock (e.g. [`MemoryStore`]).
    pub fn not_needed() -> Self {
        Self { _file: None }
    }

    /// A guard that holds `file`'s lock; closing the file releases it.
    pub fn from_locked_file(file: File) -> Self {
        Self { _file: Some(file) }
    }
}

/// A profile stored as a file in a directory (see the module documentation for the layout).
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    profile: String,
}

impl FileStore {
    /// The profile `profile` in the default directory, `$XDG_CONFIG_HOME/tessera/` (or
    /// `~/.config/tessera/`).
    pub fn open(profile: &str) -> Result<Self, StoreError> {
        Self::in_dir(default_dir()?, profile)
    }

    /// The profile `profile` in `dir` (created with mode 0700 on first write).
    pub fn in_dir(dir: impl Into<PathBuf>, profile: &str) -> Result<Self, StoreError> {
        validate_profile_name(profile)?;
        Ok(Self { dir: dir.into(), profile: profile.to_owned() })
    }

    /// The profile's name.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The directory holding the profile.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The profile file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.profile))
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.profile))
    }

    fn ensure_dir(&self) -> Result<(), StoreError> {
        let io_error = |action, source| StoreError::Io { action, path: self.dir.clone(), source };
        create_private_dir(&self.dir).map_err(|source| io_error("create directory", source))?;
        restrict_dir_permissions(&self.dir).map_err(|source| io_error("restrict permissions of", source))
    }

    fn write_atomically(&self, bytes: &[u8]) -> Result<(), StoreError> {
        static UNIQUE: AtomicU64 = AtomicU64::new(0);
        let final_path = self.path();
        let temporary_path = self.dir.join(format!(
            ".{}.json.{}-{}.tmp",
            self.profile,
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        ));
        let io_error = |action, path: &Path, source| StoreError::Io { action, path: path.to_owned(), source };

        // The temporary file is private from its creation, so the secrets are never readable by
        // others, not even for a moment; rename keeps the mode.
        let written = private_file_options().write(true).create_new(true).open(&temporary_path).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
        if let Err(source) = written {
            let _ = fs::remove_file(&temporary_path);
            return Err(io_error("write", &temporary_path, source));
        }
        if let Err(source) = fs::rename(&temporary_path, &final_path) {
            let _ = fs::remove_file(&temporary_path);
            return Err(io_error("replace", &final_path, source));
        }
        // Make the rename itself durable: without this, a crash can bring back the old file,
        // whose refresh token the server has already rotated.
        sync_dir(&self.dir).map_err(|source| io_error("sync directory", &self.dir, source))
    }
}

impl CredentialStore for FileStore {
    fn lock(&self) -> Result<StoreLock, StoreError> {
        self.ensure_dir()?;
        let path = self.lock_path();
        let file = private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| StoreError::Io { action: "open lock file", path: path.clone(), source })?;
        // flock(2) on Unix: exclusive between open file descriptions, hence between processes,
        // and between two `FileStore`s of one process. Released when the file is closed, also by
        // a crash.
        lock_exclusive(&file).map_err(|source| StoreError::Io { action: "lock", path, source })?;
        Ok(StoreLock::from_locked_file(file))
    }

    fn load(&self) -> Result<Option<Profile>, StoreError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io { action: "read", path, source });
            }
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|error| StoreError::Corrupt {
            path,
            // Only the position: serde's message can quote the content, which holds secrets.
            message: format!("{:?} error at line {} column {}", error.classify(), error.line(), error.column()),
        })
    }

    fn save(&self, profile: &Profile) -> Result<(), StoreError> {
        self.ensure_dir()?;
        let mut bytes = serde_json::to_vec_pretty(profile)
            .map_err(|error| StoreError::Other(format!("cannot serialize the profile: {error:?}")))?;
        bytes.push(b'\n');
        self.write_atomically(&bytes)
    }

    fn delete(&self) -> Result<(), StoreError> {
        let path = self.path();
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StoreError::Io { action: "delete", path, source });
            }
        }
        sync_dir(&self.dir).map_err(|source| StoreError::Io {
            action: "sync directory",
            path: self.dir.clone(),
            source,
        })
    }
}

/// A store in memory, for programs that do not persist tokens and for tests. It needs no
/// cross-process lock: a [`TokenSource`](crate::TokenSource) already serializes its own
/// refreshes.
#[derive(Debug, Default)]
pub struct MemoryStore {
    profile: Mutex<Option<Profile>>,
}

impl MemoryStore {
    /// A store holding `profile`.
    pub fn new(profile: Option<Profile>) -> Self {
        Self { profile: Mutex::new(profile) }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Profile>> {
        // A panic while holding this lock cannot leave a half-written profile (assignments are
        // whole values), so a poisoned lock is still consistent.
        self.profile.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl CredentialStore for MemoryStore {
    fn lock(&self) -> Result<StoreLock, StoreError> {
        Ok(StoreLock::not_needed())
    }

    fn load(&self) -> Result<Option<Profile>, StoreError> {
        Ok(self.slot().clone())
    }

    fn save(&self, profile: &Profile) -> Result<(), StoreError> {
        *self.slot() = Some(profile.clone());
        Ok(())
    }

    fn delete(&self) -> Result<(), StoreError> {
        *self.slot() = None;
        Ok(())
    }
}

/// The default store directory: `$XDG_CONFIG_HOME/tessera`, or `$HOME/.config/tessera`.
pub fn default_dir() -> Result<PathBuf, StoreError> {
    dir_from_env(std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME"))
}

/// [`default_dir`] with the environment passed in. A relative `XDG_CONFIG_HOME` is ignored, as the
/// XDG Base Directory specification requires.
pub fn dir_from_env(xdg_config_home: Option<OsString>, home: Option<OsString>) -> Result<PathBuf, StoreError> {
    let absolute = |value: Option<OsString>| value.map(PathBuf::from).filter(|path| path.is_absolute());
    if let Some(config) = absolute(xdg_config_home) {
        return Ok(config.join("tessera"));
    }
    absolute(home).map(|home| home.join(".config").join("tessera")).ok_or(StoreError::NoConfigDir)
}

/// Profile names become file names, so they are restricted to a safe alphabet.
pub fn validate_profile_name(name: &str) -> Result<(), StoreError> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid { Ok(()) } else { Err(StoreError::InvalidProfileName(name.to_owned())) }
}

// `File::lock` (flock(2) on Unix, LockFileEx on Windows) is stable since Rust 1.89.
fn lock_exclusive(file: &File) -> io::Result<()> {
    file.lock().map_err(|error| match error.kind() {
        io::ErrorKind::Unsupported => {
            io::Error::new(io::ErrorKind::Unsupported, "file locking is not supported on this file system")
        }
        _ => error,
    })
}

#[cfg(unix)]
fn private_file_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

#[cfg(not(unix))]
fn private_file_options() -> OpenOptions {
    OpenOptions::new()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Tightens a pre-existing directory too: it holds credentials.
#[cfg(unix)]
fn restrict_dir_permissions(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_dir_permissions(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::profile::{ClientSettings, TokenSet};
    use oauth2::{AccessToken, ClientSecret, RefreshToken};

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            static UNIQUE: AtomicU64 = AtomicU64::new(0);
            let path = std::env::temp_dir().join(format!(
                "tessera-client-{name}-{}-{}",
                std::process::id(),
                UNIQUE.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&path);
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn profile(refresh_token: &str) -> Profile {
        Profile {
            client: ClientSettings::new(
                "http://127.0.0.1:1/oauth/token",
                "client-1",
                Some(ClientSecret::new("s3cret".into())),
            ),
            tokens: TokenSet {
                access_token: AccessToken::new("access".into()),
                obtained_at: 1_700_000_000,
                expires_at: Some(1_700_003_600),
                refresh_token: Some(RefreshToken::new(refresh_token.into())),
                scope: Some("read write".into()),
            },
        }
    }

    fn json(profile: Option<Profile>) -> serde_json::Value {
        serde_json::to_value(profile).unwrap()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temporary_file() {
        let temp = TempDir::new("roundtrip");
        let store = FileStore::in_dir(temp.0.join("tessera"), "default").unwrap();
        assert!(store.load().unwrap().is_none());

        store.save(&profile("tsr_one")).unwrap();
        assert_eq!(json(store.load().unwrap()), json(Some(profile("tsr_one"))));
        store.save(&profile("tsr_two")).unwrap();
        assert_eq!(json(store.load().unwrap()), json(Some(profile("tsr_two"))));

        let mut names: Vec<_> =
            fs::read_dir(store.dir()).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["default.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_0600_and_the_directory_is_0700() {
        let temp = TempDir::new("modes");
        let dir = temp.0.join("config").join("tessera");
        let store = FileStore::in_dir(&dir, "work").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        let _lock = store.lock().unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&store.path()), 0o600);
        assert_eq!(mode(&dir.join("work.lock")), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_loose_existing_directory_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let temp = TempDir::new("tighten");
        fs::create_dir_all(&temp.0).unwrap();
        fs::set_permissions(&temp.0, fs::Permissions::from_mode(0o755)).unwrap();
        let store = FileStore::in_dir(&temp.0, "default").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        assert_eq!(mode(&temp.0), 0o700);
    }

    #[test]
    fn the_file_never_holds_a_password_and_holds_the_refresh_token() {
        let temp = TempDir::new("content");
        let store = FileStore::in_dir(&temp.0, "default").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("tsr_one"));
        assert!(!text.contains("password"));
    }

    #[test]
    fn a_damaged_file_is_reported_without_its_content() {
        let temp = TempDir::new("corrupt");
        let store = FileStore::in_dir(&temp.0, "default").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        fs::write(store.path(), br#"{"client": "tsr_leaked"#).unwrap();
        let error = store.load().unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
        assert!(!error.to_string().contains("tsr_leaked"), "{error}");
    }

    #[test]
    fn delete_removes_the_profile_and_is_idempotent() {
        let temp = TempDir::new("delete");
        let store = FileStore::in_dir(&temp.0, "default").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        store.delete().unwrap();
        assert!(store.load().unwrap().is_none());
        store.delete().unwrap();
    }

    #[test]
    fn the_lock_is_exclusive_between_two_open_files() {
        let temp = TempDir::new("lock");
        let store = FileStore::in_dir(&temp.0, "default").unwrap();
        let held = store.lock().unwrap();
        // A second open file description of the lock file stands for another process.
        let other = File::options().write(true).open(temp.0.join("default.lock")).unwrap();
        assert!(matches!(other.try_lock(), Err(fs::TryLockError::WouldBlock)));
        drop(held);
        other.try_lock().unwrap();
    }

    #[test]
    fn profile_names_are_restricted_to_safe_file_names() {
        for good in ["default", "work", "a", "prod-eu.1", "x_y"] {
            assert!(validate_profile_name(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(65);
        for bad in ["", "../x", "a/b", ".hidden", "-flag", "sp ace", too_long.as_str()] {
            assert!(validate_profile_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn directory_follows_xdg_then_home() {
        let some = |s: &str| Some(OsString::from(s));
        assert_eq!(dir_from_env(some("/x/config"), some("/home/u")).unwrap(), PathBuf::from("/x/config/tessera"));
        assert_eq!(dir_from_env(None, some("/home/u")).unwrap(), PathBuf::from("/home/u/.config/tessera"));
        assert_eq!(dir_from_env(some("relative"), some("/home/u")).unwrap(), PathBuf::from("/home/u/.config/tessera"));
        assert!(dir_from_env(None, None).is_err());
    }
}
