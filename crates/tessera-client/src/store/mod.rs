//! The credential store: where a profile (client settings and tokens) is kept, the exclusive lock
//! that serializes refreshes across processes, and the naming rules for profiles and their
//! default directory.
//!
//! Layout of the default store (`$XDG_CONFIG_HOME/tessera/`, or `~/.config/tessera/`), written by
//! [`FileStore`]:
//!
//! ```text
//! tessera/            0700
//!   default.json      0600  the profile: client settings and tokens (never the password)
//!   default.dpop.pem  0600  the profile's DPoP key (RFC 9449), PKCS#8; only after `login --dpop`
//!   default.lock      0600  empty; held with an exclusive lock during read → refresh → write
//! ```
//!
//! Lock files are never deleted, not even by `logout`: deleting one while another process waits on
//! it would let a third process lock a fresh file of the same name, and two processes would each
//! believe they hold "the" lock.

mod file;
mod key_file;
mod memory;
mod private_fs;

use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;

use crate::dpop::DpopKey;
use crate::error::StoreError;
use crate::profile::Profile;

pub use file::FileStore;
pub use memory::MemoryStore;

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

    /// Removes the profile (not an error when there is none), and its DPoP key.
    fn delete(&self) -> Result<(), StoreError>;

    /// The profile's DPoP key (RFC 9449), made on first use and then the same key in every
    /// process until [`delete`](Self::delete): a DPoP-bound refresh token is refused without a
    /// proof by the key it was bound to. Called with the store's lock held.
    ///
    /// A store that cannot keep a key answers [`StoreError::Other`] (the default), and DPoP
    /// logins with it fail.
    fn dpop_key(&self) -> Result<DpopKey, StoreError> {
        Err(StoreError::Other("this credential store keeps no DPoP key".to_owned()))
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

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
