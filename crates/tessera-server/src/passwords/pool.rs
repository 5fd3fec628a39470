//! The memory password checks run in: at most `limit` checks at a time, each lent one of at
//! most `limit` reusable Argon2 block buffers (19 MiB each with the default parameters), and
//! at most `queue` more waiting for their turn.
//!
//! Why the buffers: a fresh 19 MiB buffer per check comes from glibc's per-thread arenas once
//! its mmap threshold has risen past that size, and those arenas never give it back; the
//! server's resident memory then grows with every blocking thread that ever ran a check.
//! Buffers that are kept and reused cap it at `limit` buffers, whatever the number of checks.
//!
//! Why the queue bound: without it a burst of sign-ins queues without limit, and every other
//! sign-in on the instance waits behind it. Past the bound a check is refused at once
//! ([`QueueFull`]), so the caller can answer `503` with `Retry-After` instead.

use argon2::{Block, Params};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The block buffers of the checks that may run at once, and the permits that bound them.
pub struct PasswordMemory {
    permits: Arc<Semaphore>,
    /// Places for checks running or waiting: `limit + queue` of them.
    places: Arc<Semaphore>,
    free: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Buffers ever allocated: never more than the permits.
    allocated: AtomicUsize,
    blocks_per_buffer: usize,
}

/// Every place in the queue is taken: the check was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks are waiting")]
pub struct QueueFull;

impl PasswordMemory {
    /// Room for `limit` concurrent checks with the default Argon2 parameters, and `queue` more
    /// waiting. Buffers are allocated on first use, so a server that never checks a password
    /// never pays for them.
    pub fn new(limit: usize, queue: usize) -> Self {
        Self::with_buffer_size(limit, queue, Params::DEFAULT.block_count())
    }

    fn with_buffer_size(limit: usize, queue: usize, blocks_per_buffer: usize) -> Self {
        let limit = limit.max(1);
        PasswordMemory {
            permits: Arc::new(Semaphore::new(limit)),
            places: Arc::new(Semaphore::new(limit.saturating_add(queue).min(Semaphore::MAX_PERMITS))),
            free: Arc::new(Mutex::new(Vec::new())),
            allocated: AtomicUsize::new(0),
            blocks_per_buffer,
        }
    }

    /// A place among the checks running or waiting, at once, or [`QueueFull`].
    pub fn admit(&self) -> Result<Admission<'_>, QueueFull> {
        let place = Arc::clone(&self.places).try_acquire_owned().map_err(|_| QueueFull)?;
        Ok(Admission { memory: self, place })
    }

    /// Tests: takes every free place, so that checks are refused until the hold is dropped.
    #[cfg(feature = "fault-injection")]
    pub fn hold_every_place(&self) -> QueueHold {
        let free = u32::try_from(self.places.available_permits()).unwrap_or(u32::MAX);
        QueueHold(Arc::clone(&self.places).try_acquire_many_owned(free).ok())
    }

    /// How many buffers have been allocated so far.
    pub fn buffers(&self) -> usize {
        self.allocated.load(Ordering::Relaxed)
    }
}

/// Tests: places held by [`PasswordMemory::hold_every_place`], given back on drop.
#[cfg(feature = "fault-injection")]
pub struct QueueHold(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

/// A place in the queue, kept until the check it admitted ends.
pub struct Admission<'a> {
    memory: &'a PasswordMemory,
    place: OwnedSemaphorePermit,
}

impl Admission<'_> {
    /// Waits for a permit, then lends a buffer; all return when the lease is dropped.
    pub async fn lease(self) -> Result<Lease, AcquireError> {
        let memory = self.memory;
        let permit = Arc::clone(&memory.permits).acquire_owned().await?;
        // A permit holder always finds a buffer unless fewer than `limit` exist yet: a lease
        // gives its buffer back before its permit (see `Drop for Lease`).
        let reused = memory.free.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let blocks = reused.unwrap_or_else(|| {
            memory.allocated.fetch_add(1, Ordering::Relaxed);
            vec![Block::default(); memory.blocks_per_buffer]
        });
        Ok(Lease { blocks, free: Arc::clone(&memory.free), _permit: permit, _place: self.place })
    }
}

/// One permitted check and its buffer. Move it into the blocking task that runs the check, so
/// the permit is held until the work ends even if the request that asked for it is gone.
pub struct Lease {
    blocks: Vec<Block>,
    free: Arc<Mutex<Vec<Vec<Block>>>>,
    _permit: OwnedSemaphorePermit,
    _place: OwnedSemaphorePermit,
}

impl Lease {
    pub fn blocks(&mut self) -> &mut [Block] {
        &mut self.blocks
    }
}

impl Drop for Lease {
    /// Runs before the fields drop: the buffer is back in the pool before the permit is.
    fn drop(&mut self) {
        let blocks = std::mem::take(&mut self.blocks);
        self.free.lock().unwrap_or_else(PoisonError::into_inner).push(blocks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn never_more_buffers_than_permits_and_every_buffer_comes_back() {
        let memory = Arc::new(PasswordMemory::with_buffer_size(2, 16, 8));
        let in_use = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (memory, in_use) = (Arc::clone(&memory), Arc::clone(&in_use));
            tasks.push(tokio::spawn(async move {
                let mut lease = memory.admit().unwrap().lease().await.unwrap();
                assert_eq!(lease.blocks().len(), 8);
                let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                assert!(now <= 2, "{now} leases at once");
                tokio::task::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    in_use.fetch_sub(1, Ordering::SeqCst);
                    drop(lease);
                })
                .await
                .unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(memory.buffers() <= 2, "{} buffers", memory.buffers());
        assert_eq!(memory.free.lock().unwrap().len(), memory.buffers(), "all returned");
        assert_eq!(memory.permits.available_permits(), 2);
        assert_eq!(memory.places.available_permits(), 18);
    }

    /// Issue 10: past the running checks and the queue, a check is refused at once; a place
    /// comes back when its check ends (or is abandoned before it ran).
    #[tokio::test]
    async fn past_the_queue_a_check_is_refused_at_once() {
        let memory = PasswordMemory::with_buffer_size(1, 2, 1);
        let running = memory.admit().unwrap().lease().await.unwrap();
        let (first, second) = (memory.admit().unwrap(), memory.admit().unwrap());
        assert_eq!(memory.admit().err(), Some(QueueFull), "one running, two waiting");
        drop(first);
        let third = memory.admit().unwrap();
        assert_eq!(memory.admit().err(), Some(QueueFull));
        drop(running);
        drop(second.lease().await.unwrap());
        drop(third);
        assert_eq!(memory.places.available_permits(), 3);
    }

    #[tokio::test]
    async fn a_zero_limit_still_allows_one_check() {
        let memory = PasswordMemory::with_buffer_size(0, 0, 1);
        drop(memory.admit().unwrap().lease().await.unwrap());
        assert_eq!(memory.buffers(), 1);
    }
}
