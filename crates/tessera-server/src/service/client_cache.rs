//! Remembers registered clients for a short time, so that most token requests need no database
//! read to authenticate their client. The bound: a change made elsewhere (the CLI, which writes
//! to the database directly, or another instance) is seen here at most `ttl` later, measured on
//! the server's clock; a change made through this instance's service (`update_client`,
//! `rotate_client_secret`, `delete_client`) drops the entry at once.
//!
//! Only clients that exist are remembered: an unknown id always asks the database, so a client
//! created by the CLI works at once, and random ids cannot crowd out the real ones. A lookup
//! that raced with a change on this instance does not store the row it read (the generation
//! counter below), so the old row cannot come back after the change dropped it.

use crate::store::ClientRow;
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tessera_core::{ClientId, Timestamp};

pub(super) struct ClientCache {
    ttl: Duration,
    /// Client id → (when it was read, the row). `None` when `ttl` is zero: every lookup asks
    /// the database.
    clients: Option<Cache<ClientId, (Timestamp, Arc<ClientRow>)>>,
    /// Bumped by every [`ClientCache::forget`].
    generation: AtomicU64,
}

/// Taken before a database read, handed back to [`ClientCache::remember`] with its result.
pub(super) struct Lookup(u64);

impl ClientCache {
    /// At most this many clients are remembered; older entries are evicted.
    pub const CAPACITY: usize = 1_000;

    pub fn new(ttl: Duration) -> Self {
        ClientCache {
            ttl,
            clients: (!ttl.is_zero()).then(|| Cache::new(Self::CAPACITY)),
            generation: AtomicU64::new(0),
        }
    }

    /// The client, if it was read from the database less than `ttl` before `now`.
    pub fn get(&self, client_id: &ClientId, now: Timestamp) -> Option<Arc<ClientRow>> {
        let (read_at, client) = self.clients.as_ref()?.get(client_id)?;
        // A clock that went backwards counts as stale too.
        (read_at <= now && now.since(read_at) < self.ttl).then_some(client)
    }

    /// Call before reading the client from the database.
    pub fn start_lookup(&self) -> Lookup {
        Lookup(self.generation.load(Ordering::Acquire))
    }

    /// Records the row read at `now`, unless a change on this instance happened meanwhile.
    pub fn remember(&self, lookup: Lookup, client: &Arc<ClientRow>, now: Timestamp) {
        let Some(clients) = &self.clients else { return };
        if self.generation.load(Ordering::Acquire) == lookup.0 {
            clients.insert(client.client_id.clone(), (now, Arc::clone(client)));
            // A forget between the check and the insert may have removed nothing yet.
            if self.generation.load(Ordering::Acquire) != lookup.0 {
                clients.remove(&client.client_id);
            }
        }
    }

    /// Drops an entry the database no longer confirms (the client was deleted elsewhere).
    pub fn discard(&self, client_id: &ClientId) {
        if let Some(clients) = &self.clients {
            clients.remove(client_id);
        }
    }

    /// Drops the client at once: it was changed or deleted through this instance.
    pub fn forget(&self, client_id: &ClientId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(clients) = &self.clients {
            clients.remove(client_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::Scope;

    const TTL: Duration = Duration::from_secs(5);

    fn client(id: &str) -> Arc<ClientRow> {
        Arc::new(ClientRow {
            client_id: ClientId::new(id),
            name: "app".into(),
            secret_hash: None,
            redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            scope: Scope::default(),
            created_at: Timestamp::from_secs(0),
            introspection: Default::default(),
            allowed_origins: Vec::new(),
            require_dpop: false,
        })
    }

    #[test]
    fn an_entry_lives_ttl_on_the_servers_clock() {
        let cache = ClientCache::new(TTL);
        let (id, at) = (ClientId::new("a"), Timestamp::from_secs(100));
        assert!(cache.get(&id, at).is_none());
        cache.remember(cache.start_lookup(), &client("a"), at);
        assert!(cache.get(&id, at.plus(TTL - Duration::from_millis(1))).is_some());
        assert!(cache.get(&id, at.plus(TTL)).is_none(), "stale after ttl");
        assert!(cache.get(&id, at.minus(Duration::from_secs(1))).is_none(), "a clock that went back");
    }

    #[test]
    fn forgetting_drops_the_entry_and_a_racing_lookup() {
        let cache = ClientCache::new(TTL);
        let (id, at) = (ClientId::new("a"), Timestamp::from_secs(100));
        cache.remember(cache.start_lookup(), &client("a"), at);
        let racing = cache.start_lookup();
        cache.forget(&id);
        assert!(cache.get(&id, at).is_none());
        cache.remember(racing, &client("a"), at);
        assert!(cache.get(&id, at).is_none(), "a row read before the change is not stored after it");
        cache.remember(cache.start_lookup(), &client("a"), at);
        assert!(cache.get(&id, at).is_some());
    }

    #[test]
    fn zero_ttl_remembers_nothing() {
        let cache = ClientCache::new(Duration::ZERO);
        let at = Timestamp::from_secs(100);
        cache.remember(cache.start_lookup(), &client("a"), at);
        assert!(cache.get(&ClientId::new("a"), at).is_none());
    }
}
