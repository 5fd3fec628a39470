//! Remembers, for a short time, that an access token's family and `jti` were not revoked, so
//! that most bearer checks need no database round trip. The bound: a family revoked through
//! another instance is honoured here at most `ttl` later; through this instance, at once
//! (the revoking call drops the family's entry, and with it every token of the family).
//!
//! The entries live in a `quick_cache` of bounded size (S3-FIFO eviction); the time-to-live
//! is checked on read against the instant stored with each entry.
//!
//! A check that read "not revoked" just before a revocation on this instance must not put its
//! stale answer back after the revoking call dropped the entry: every forget bumps a
//! generation first, a check takes the generation before its database read, and it keeps its
//! answer only if no forget happened meanwhile, checked again after the insert (a forget that
//! slips in between removes the entry itself, or is seen by the second check).

use quick_cache::sync::Cache;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Bumped by every forget, before its removal.
    generation: AtomicU64,
}

/// Taken before the database read, handed back to [`RevocationCache::remember`] with its answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Check(u64);

impl RevocationCache {
    /// At most this many families and tokens are remembered; older entries are evicted.
    pub const CAPACITY: usize = 10_000;

    pub fn new(ttl: Duration) -> Self {
        RevocationCache {
            ttl,
            checked: (!ttl.is_zero()).then(|| Cache::new(Self::CAPACITY)),
            generation: AtomicU64::new(0),
        }
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

    /// Call before asking the database whether the token or its family is revoked.
    pub fn start_check(&self) -> Check {
        Check(self.generation.load(Ordering::Acquire))
    }

    /// Records that the database said neither is revoked, unless this instance revoked
    /// something since `check` was taken: that answer may predate the revocation.
    pub fn remember(&self, check: Check, jti: &Jti, family_id: Option<&FamilyId>) {
        let Some(cache) = &self.checked else { return };
        if self.generation.load(Ordering::Acquire) != check.0 {
            return;
        }
        let now = Instant::now();
        let token = Checked::Token(jti.clone());
        let family = family_id.map(|family_id| Checked::Family(family_id.clone()));
        cache.insert(token.clone(), now);
        if let Some(family) = &family {
            cache.insert(family.clone(), now);
        }
        // A forget between the first check and the inserts may have removed nothing yet.
        if self.generation.load(Ordering::Acquire) != check.0 {
            cache.remove(&token);
            if let Some(family) = &family {
                cache.remove(family);
            }
        }
    }

    pub fn forget_family(&self, family_id: &FamilyId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.checked {
            cache.remove(&Checked::Family(family_id.clone()));
        }
    }

    pub fn forget_token(&self, jti: &Jti) {
        self.generation.fetch_add(1, Ordering::AcqRel);
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
        cache.remember(cache.start_check(), &first, Some(&family));
        cache.remember(cache.start_check(), &second, Some(&family));
        cache.remember(cache.start_check(), &third, Some(&other_family));
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
        cache.remember(cache.start_check(), &jti, None);
        assert!(cache.fresh(&jti, None));
    }

    #[test]
    fn zero_ttl_remembers_nothing() {
        let cache = RevocationCache::new(Duration::ZERO);
        let jti = Jti::new("j");
        cache.remember(cache.start_check(), &jti, None);
        assert!(!cache.fresh(&jti, None));
    }

    #[test]
    fn size_is_bounded() {
        let cache = RevocationCache::new(TTL);
        for i in 0..3 * RevocationCache::CAPACITY {
            cache.remember(cache.start_check(), &Jti::new(i.to_string()), None);
        }
        let held = cache.checked.as_ref().map_or(0, Cache::len);
        assert!(held <= RevocationCache::CAPACITY + RevocationCache::CAPACITY / 10, "{held} entries");
    }

    /// Issue 10, item 8: a check that read "not revoked" before a revocation on this instance
    /// must not cache its answer after the revoking call dropped the entry.
    #[test]
    fn a_check_that_raced_a_revocation_caches_nothing() {
        let cache = RevocationCache::new(TTL);
        let (family, jti) = (FamilyId::new("f"), Jti::new("j"));
        let check = cache.start_check(); // the bearer check is about to read the database ...
        cache.forget_family(&family); // ... the family is revoked meanwhile ...
        cache.remember(check, &jti, Some(&family)); // ... and the stale "not revoked" comes back
        assert!(!cache.fresh(&jti, Some(&family)), "a stale answer was cached after the revocation");
        let check = cache.start_check();
        cache.forget_token(&Jti::new("another"));
        cache.remember(check, &jti, None);
        assert!(!cache.fresh(&jti, None));
        // A check that began after the revocation is cached as usual.
        let check = cache.start_check();
        cache.remember(check, &jti, Some(&family));
        assert!(cache.fresh(&jti, Some(&family)));
    }
}
