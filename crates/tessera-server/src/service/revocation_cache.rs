//! Remembers, for a short time, that an access token's family and `jti` were not revoked, so
//! that most bearer checks need no database round trip. The bound: a family revoked through
//! another instance is honoured here at most `ttl` later; through this instance, at once
//! (the revoking call drops the family's entry, and with it every token of the family).
//!
//! The entries live in a `quick_cache` of bounded size (S3-FIFO eviction); the time-to-live
//! is checked on read against the instant stored with each entry.

use quick_cache::sync::Cache;
use std::time::{Duration, Instant};
use tessera_core::{FamilyId, Jti};

/// What the database said "not revoked" about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Checked {
    Family(FamilyId),
    Token(Jti),
}

pub(super) struct RevocationCache {
    ttl: Duration,
    /// Entry → when the database said "not revoked". `None` when `ttl` is zero: every check
    /// goes to the database.
    checked: Option<Cache<Checked, Instant>>,
}

impl RevocationCache {
    /// At most this many families and tokens are remembered; older entries are evicted.
    pub const CAPACITY: usize = 10_000;

    pub fn new(ttl: Duration) -> Self {
        RevocationCache { ttl, checked: (!ttl.is_zero()).then(|| Cache::new(Self::CAPACITY)) }
    }

    fn is_fresh(&self, cache: &Cache<Checked, Instant>, key: &Checked) -> bool {
        cache.get(key).is_some_and(|checked_at| checked_at.elapsed() < self.ttl)
    }

    /// Whether the database said, less than `ttl` ago, that neither the token nor its family
    /// is revoked.
    pub fn fresh(&self, jti: &Jti, family_id: Option<&FamilyId>) -> bool {
        let Some(cache) = &self.checked else { return false };
        self.is_fresh(cache, &Checked::Token(jti.clone()))
            && family_id.is_none_or(|family_id| self.is_fresh(cache, &Checked::Family(family_id.clone())))
    }

    /// Records that the database just said neither is revoked.
    pub fn remember(&self, jti: &Jti, family_id: Option<&FamilyId>) {
        let Some(cache) = &self.checked else { return };
        let now = Instant::now();
        cache.insert(Checked::Token(jti.clone()), now);
        if let Some(family_id) = family_id {
            cache.insert(Checked::Family(family_id.clone()), now);
        }
    }

    pub fn forget_family(&self, family_id: &FamilyId) {
        if let Some(cache) = &self.checked {
            cache.remove(&Checked::Family(family_id.clone()));
        }
    }

    pub fn forget_token(&self, jti: &Jti) {
        if let Some(cache) = &self.checked {
            cache.remove(&Checked::Token(jti.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(5);

    #[test]
    fn revoking_a_family_forgets_every_token_of_it_at_once() {
        let cache = RevocationCache::new(TTL);
        let (family, other_family) = (FamilyId::new("f1"), FamilyId::new("f2"));
        let (first, second, third) = (Jti::new("j1"), Jti::new("j2"), Jti::new("j3"));
        assert!(!cache.fresh(&first, Some(&family)), "nothing is known before the first check");
        cache.remember(&first, Some(&family));
        cache.remember(&second, Some(&family));
        cache.remember(&third, Some(&other_family));
        assert!(cache.fresh(&first, Some(&family)) && cache.fresh(&second, Some(&family)));
        cache.forget_family(&family);
        assert!(!cache.fresh(&first, Some(&family)) && !cache.fresh(&second, Some(&family)));
        assert!(cache.fresh(&third, Some(&other_family)), "other families keep their entries");
        cache.forget_token(&third);
        assert!(!cache.fresh(&third, Some(&other_family)));
    }

    #[test]
    fn tokens_without_a_family_are_remembered_alone() {
        let cache = RevocationCache::new(TTL);
        let jti = Jti::new("client-credentials token");
        cache.remember(&jti, None);
        assert!(cache.fresh(&jti, None));
    }

    #[test]
    fn zero_ttl_remembers_nothing() {
        let cache = RevocationCache::new(Duration::ZERO);
        let jti = Jti::new("j");
        cache.remember(&jti, None);
        assert!(!cache.fresh(&jti, None));
    }

    #[test]
    fn size_is_bounded() {
        let cache = RevocationCache::new(TTL);
        for i in 0..3 * RevocationCache::CAPACITY {
            cache.remember(&Jti::new(i.to_string()), None);
        }
        let held = cache.checked.as_ref().map_or(0, Cache::len);
        assert!(held <= RevocationCache::CAPACITY + RevocationCache::CAPACITY / 10, "{held} entries");
    }
}
