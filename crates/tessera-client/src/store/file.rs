//! [`FileStore`]: a profile as a JSON file, written atomically (temporary file, fsync, rename,
//! fsync of the directory) with mode 0600 in a 0700 directory, and locked through a sibling
//! `.lock` file (see the [store layout](super)).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::private_fs::{create_private_dir, lock_exclusive, private_file_options, restrict_dir_permissions, sync_dir};
use super::{CredentialStore, StoreLock, default_dir, key_file, validate_profile_name};
use crate::dpop::DpopKey;
use crate::error::StoreError;
use crate::profile::Profile;

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

    /// The profile's DPoP key file (made by the first DPoP login).
    pub fn dpop_key_path(&self) -> PathBuf {
        self.dir.join(format!("{}.dpop.pem", self.profile))
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
        key_file::remove(&self.dpop_key_path())?;
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

    fn dpop_key(&self) -> Result<DpopKey, StoreError> {
        self.ensure_dir()?;
        key_file::load_or_create(&self.dir, &self.dpop_key_path())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::profile::{ClientSettings, TokenSet, TokenType};
    use oauth2::{AccessToken, ClientSecret, RefreshToken};
    use std::fs::File;
    use tempfile::TempDir;

    fn profile(refresh_token: &str) -> Profile {
        Profile {
            client: ClientSettings::new(
                "http://127.0.0.1:1/oauth/token",
                "client-1",
                Some(ClientSecret::new("s3cret".into())),
            ),
            tokens: TokenSet {
                access_token: AccessToken::new("access".into()),
                token_type: TokenType::Bearer,
                obtained_at: 1_700_000_000,
                expires_at: Some(1_700_003_600),
                refresh_token: Some(RefreshToken::new(refresh_token.into())),
                scope: Some("read write".into()),
                id_token: None,
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
        let temp = TempDir::new().unwrap();
        let store = FileStore::in_dir(temp.path().join("tessera"), "default").unwrap();
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
        let temp = TempDir::new().unwrap();
        let dir = temp.path().join("config").join("tessera");
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
        let temp = TempDir::new().unwrap();
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let store = FileStore::in_dir(temp.path(), "default").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        assert_eq!(mode(temp.path()), 0o700);
    }

    #[test]
    fn the_file_never_holds_a_password_and_holds_the_refresh_token() {
        let temp = TempDir::new().unwrap();
        let store = FileStore::in_dir(temp.path(), "default").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("tsr_one"));
        assert!(!text.contains("password"));
    }

    /// A profile written before id tokens (no `id_token`, no `jwks_uri`) still loads.
    #[test]
    fn a_profile_file_from_before_id_tokens_loads() {
        let temp = TempDir::new().unwrap();
        let store = FileStore::in_dir(temp.path(), "default").unwrap();
        let old = r#"{"client": {"issuer": "http://127.0.0.1:8080", "token_endpoint": "http://127.0.0.1:8080/oauth/token",
            "client_id": "client-1", "client_auth": "none", "scope": "read"},
            "tokens": {"access_token": "access", "obtained_at": 1700000000, "expires_at": 1700003600,
            "refresh_token": "tsr_one", "scope": "read"}}"#;
        fs::write(store.path(), old).unwrap();
        let loaded = store.load().unwrap().unwrap();
        assert!(loaded.tokens.id_token.is_none() && loaded.client.jwks_uri.is_none());
        assert_eq!(loaded.tokens.refresh_token.unwrap().secret(), "tsr_one");
    }

    #[test]
    fn a_damaged_file_is_reported_without_its_content() {
        let temp = TempDir::new().unwrap();
        let store = FileStore::in_dir(temp.path(), "default").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        fs::write(store.path(), br#"{"client": "tsr_leaked"#).unwrap();
        let error = store.load().unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
        assert!(!error.to_string().contains("tsr_leaked"), "{error}");
    }

    #[test]
    fn delete_removes_the_profile_and_is_idempotent() {
        let temp = TempDir::new().unwrap();
        let store = FileStore::in_dir(temp.path(), "default").unwrap();
        store.save(&profile("tsr_one")).unwrap();
        store.delete().unwrap();
        assert!(store.load().unwrap().is_none());
        store.delete().unwrap();
    }

    /// The DPoP key file: made once (racing makers end up with one key), private, the same key
    /// on every later read, and deleted with the profile.
    #[test]
    fn the_dpop_key_is_made_once_and_deleted_with_the_profile() {
        let temp = TempDir::new().unwrap();
        let dir = temp.path().join("tessera");
        let makers: Vec<_> = (0..8)
            .map(|_| {
                let store = FileStore::in_dir(&dir, "default").unwrap();
                std::thread::spawn(move || store.dpop_key().unwrap().thumbprint().to_owned())
            })
            .collect();
        let mut thumbprints: Vec<_> = makers.into_iter().map(|maker| maker.join().unwrap()).collect();
        thumbprints.dedup();
        assert_eq!(thumbprints.len(), 1, "{thumbprints:?}");
        let store = FileStore::in_dir(&dir, "default").unwrap();
        assert_eq!(store.dpop_key().unwrap().thumbprint(), thumbprints[0]);
        #[cfg(unix)]
        assert_eq!(mode(&store.dpop_key_path()), 0o600);
        let names: Vec<_> =
            fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names, ["default.dpop.pem"], "no temporary file is left");

        store.save(&profile("tsr_one")).unwrap();
        store.delete().unwrap();
        assert!(!store.dpop_key_path().exists());
        assert_ne!(store.dpop_key().unwrap().thumbprint(), thumbprints[0], "a new login gets a new key");
    }

    #[test]
    fn a_damaged_dpop_key_file_is_reported_without_its_content() {
        let temp = TempDir::new().unwrap();
        let store = FileStore::in_dir(temp.path(), "default").unwrap();
        fs::write(store.dpop_key_path(), "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n").unwrap();
        let error = store.dpop_key().unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
        assert!(!error.to_string().contains("c2VjcmV0"), "{error}");
    }

    #[test]
    fn the_lock_is_exclusive_between_two_open_files() {
        let temp = TempDir::new().unwrap();
        let store = FileStore::in_dir(temp.path(), "default").unwrap();
        let held = store.lock().unwrap();
        // A second open file description of the lock file stands for another process.
        let other = File::options().write(true).open(temp.path().join("default.lock")).unwrap();
        assert!(matches!(other.try_lock(), Err(fs::TryLockError::WouldBlock)));
        drop(held);
        other.try_lock().unwrap();
    }
}
