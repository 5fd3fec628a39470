//! The web origins browser apps may call from (CORS, issue 12): the union of every client's
//! `--allowed-origin`, remembered per instance like the client cache. The bound: a change made
//! elsewhere (the CLI, which writes to the database directly, or another instance) is seen here
//! at most `client_cache_ttl` later, on the server's clock; a change made through this
//! instance's service (`update_client`, `delete_client`, `client_changed`) drops the set at
//! once, so a removed origin stops here at once. The set is read whole (origins are registered
//! by admins, a short list), and a reload is single-flight: concurrent requests that find the
//! set stale wait for one read instead of each asking the database.

use super::{AuthService, ServiceError};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tessera_core::Timestamp;

type OriginSet = Arc<HashSet<String>>;

pub(super) struct OriginCache {
    ttl: Duration,
    /// When the set was read, and the set; `None` until the first CORS request or after a change.
    current: RwLock<Option<(Timestamp, OriginSet)>>,
    /// Bumped by every [`OriginCache::forget`], so a read that raced with a change is not kept.
    generation: AtomicU64,
    /// Held while one request re-reads the set.
    reload: tokio::sync::Mutex<()>,
}

impl OriginCache {
    pub fn new(ttl: Duration) -> Self {
        OriginCache {
            ttl,
            current: RwLock::new(None),
            generation: AtomicU64::new(0),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    /// The set, if it was read less than `ttl` before `now` (never when `ttl` is zero).
    fn fresh(&self, now: Timestamp) -> Option<OriginSet> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let (read_at, origins) = current.as_ref()?;
        (*read_at <= now && now.since(*read_at) < self.ttl).then(|| Arc::clone(origins))
    }

    /// Keeps a set read at `now`, unless a change on this instance happened since `generation`.
    fn remember(&self, generation: u64, origins: &OriginSet, now: Timestamp) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) == generation {
            *current = Some((now, Arc::clone(origins)));
        }
    }

    /// Drops the set: a client changed through this instance.
    pub fn forget(&self) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        *current = None;
    }
}

impl AuthService {
    /// Whether some client registered `origin` (a request's `Origin` header, compared as the
    /// browser sent it: registered origins are stored in that same normal form).
    pub async fn origin_allowed(&self, origin: &str) -> Result<bool, ServiceError> {
        if let Some(origins) = self.origins.fresh(self.now()) {
            return Ok(origins.contains(origin));
        }
        let _reloading = self.origins.reload.lock().await;
        // Another request may have read the set while this one waited.
        let now = self.now();
        if let Some(origins) = self.origins.fresh(now) {
            return Ok(origins.contains(origin));
        }
        let generation = self.origins.generation.load(Ordering::Acquire);
        let origins: OriginSet = Arc::new(
            self.store.allowed_origins().await?.into_iter().map(|origin| origin.as_str().to_owned()).collect(),
        );
        self.origins.remember(generation, &origins, now);
        Ok(origins.contains(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(origins: &[&str]) -> OriginSet {
        Arc::new(origins.iter().map(|origin| (*origin).to_owned()).collect())
    }

    #[test]
    fn the_set_lives_ttl_and_a_change_drops_it_and_a_racing_read() {
        let cache = OriginCache::new(Duration::from_secs(5));
        let at = Timestamp::from_secs(100);
        assert!(cache.fresh(at).is_none());
        cache.remember(0, &set(&["https://app.example"]), at);
        assert!(cache.fresh(at.plus(Duration::from_millis(4_999))).is_some());
        assert!(cache.fresh(at.plus(Duration::from_secs(5))).is_none(), "stale after ttl");
        assert!(cache.fresh(at.minus(Duration::from_secs(1))).is_none(), "a clock that went back");
        let racing = cache.generation.load(Ordering::Acquire);
        cache.forget();
        assert!(cache.fresh(at).is_none());
        cache.remember(racing, &set(&["https://app.example"]), at);
        assert!(cache.fresh(at).is_none(), "a set read before the change is not kept after it");
    }

    #[test]
    fn zero_ttl_keeps_nothing() {
        let cache = OriginCache::new(Duration::ZERO);
        let at = Timestamp::from_secs(100);
        cache.remember(0, &set(&[]), at);
        assert!(cache.fresh(at).is_none());
    }
}
