//! [`MemoryStore`]: a credential store that keeps its one profile in memory.

use std::sync::{Mutex, MutexGuard};

use super::{CredentialStore, StoreLock};
use crate::error::StoreError;
use crate::profile::Profile;

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

    fn slot(&self) -> MutexGuard<'_, Option<Profile>> {
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
