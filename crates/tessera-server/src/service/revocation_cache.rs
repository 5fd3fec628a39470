//! Remembers, for a short time, that an access token's family and `jti` were not revoked, so
//! that most bearer checks need no database round trip. The bound: a family revoked through
//! another instance is honoured here at most `ttl` later; through this instance, at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tessera_core::{FamilyId, Jti};

pub(super) struct RevocationCache {
    ttl: Duration,
    /// jti → (family id, when the database said "not revoked").
    entries: Mutex<HashMap<Jti, (Option<FamilyId>, Instant)>>,
}

impl RevocationCache {
    const MAX_ENTRIES: usize = 10_000;

    pub fn new(ttl: Duration) -> Self {
        RevocationCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub fn fresh(&self, jti: &Jti, _family_id: Option<&FamilyId>) -> bool {
        let Ok(entries) = self.entries.lock() else { return false };
        entries.get(jti).is_some_and(|(_, checked)| checked.elapsed() < self.ttl)
    }

    pub fn remember(&self, jti: &Jti, family_id: Option<&FamilyId>) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::MAX_ENTRIES {
                let ttl = self.ttl;
                entries.retain(|_, (_, checked)| checked.elapsed() < ttl);
                if entries.len() >= Self::MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(jti.clone(), (family_id.cloned(), Instant::now()));
        }
    }

    pub fn forget_family(&self, family_id: &FamilyId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (family, _)| family.as_ref() != Some(family_id));
        }
    }

    pub fn forget_token(&self, jti: &Jti) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(jti);
        }
    }
}
