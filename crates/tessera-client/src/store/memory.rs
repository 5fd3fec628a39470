//! [`MemoryStore`]: a credential store that keeps its one profile in memory.

use std::sync::{Mutex, MutexGuard};

use super::{CredentialStore, StoreLock};
use crate::dpop::DpopKey;
use crate::error::StoreError;
use crate::profile::Profile;

/// A store in memory, for programs that do not persist tokens and for tests. It needs no
/// cross-process lock: a [`TokenSource`](crate::TokenSource) already serializes its own
/// refreshes.
#[derive(Debug, Default)]
pub struct MemoryStore {
    profile: Mutex<Option<Profile>>,
    dpop_key: Mutex<Option<DpopKey>>,
}

impl MemoryStore {
    /// A store holding `profile`.
    pub fn new(profile: Option<Profile>) -> Self {
        Self { profile: Mutex::new(profile), dpop_key: Mutex::new(None) }
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
        *self.dpop_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        Ok(())
    }

    fn dpop_key(&self) -> Result<DpopKey, StoreError> {
        let mut slot = self.dpop_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(key) = slot.as_ref() {
            return Ok(key.clone());
        }
        let key = DpopKey::generate().map_err(|error| StoreError::Other(error.to_string()))?;
        *slot = Some(key.clone());
        Ok(key)
    }
}
