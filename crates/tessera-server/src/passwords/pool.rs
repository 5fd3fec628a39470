//! The memory password checks run in: at most `limit` checks at a time, each lent one of at
//! most `limit` reusable Argon2 block buffers (19 MiB each with the default parameters).
//!
//! Why: a fresh 19 MiB buffer per check comes from glibc's per-thread arenas once its mmap
//! threshold has risen past that size, and those arenas never give it back; the server's
//! resident memory then grows with every blocking thread that ever ran a check. Buffers that
//! are kept and reused cap it at `limit` buffers, whatever the number of checks.

use argon2::{Block, Params};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The block buffers of the checks that may run at once, and the permits that bound them.
pub struct PasswordMemory {
    permits: Arc<Semaphore>,
    free: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Buffers ever allocated: never more than the permits.
    allocated: AtomicUsize,
    blocks_per_buffer: usize,
}

impl PasswordMemory {
    /// Room for `limit` concurrent checks with the default Argon2 parameters. Buffers are
    /// allocated on first use, so a server that never checks a password never pays for them.
    pub fn new(limit: usize) -> Self {
        Self::with_buffer_size(limit, Params::DEFAULT.block_count())
    }

    fn with_buffer_size(limit: usize, blocks_per_buffer: usize) -> Self {
        PasswordMemory {
            permits: Arc::new(Semaphore::new(limit.max(1))),
            free: Arc::new(Mutex::new(Vec::new())),
            allocated: AtomicUsize::new(0),
            blocks_per_buffer,
        }
    }

    /// Waits for a permit, then lends a buffer; both return when the lease is dropped.
    pub async fn lease(&self) -> Result<Lease, AcquireError> {
        let permit = Arc::clone(&self.permits).acquire_owned().await?;
        // A permit holder always finds a buffer unless fewer than `limit` exist yet: a lease
        // gives its buffer back before its permit (see `Drop for Lease`).
        let reused = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let blocks = reused.unwrap_or_else(|| {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            vec![Block::default(); self.blocks_per_buffer]
        });
        Ok(Lease { blocks, free: Arc::clone(&self.free), _permit: permit })
    }

    /// How many buffers have been allocated so far.
    pub fn buffers(&self) -> usize {
        self.allocated.load(Ordering::Relaxed)
    }
}

/// One permitted check and its buffer. Move it into the blocking task that runs the check, so
/// the permit is held until the work ends even if the request that asked for it is gone.
pub struct Lease {
    blocks: Vec<Block>,
    free: Arc<Mutex<Vec<Vec<Block>>>>,
    _permit: OwnedSemaphorePermit,
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
        let memory = Arc::new(PasswordMemory::with_buffer_size(2, 8));
        let in_use = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (memory, in_use) = (Arc::clone(&memory), Arc::clone(&in_use));
            tasks.push(tokio::spawn(async move {
                let mut lease = memory.lease().await.unwrap();
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
    }

    #[tokio::test]
    async fn a_zero_limit_still_allows_one_check() {
        let memory = PasswordMemory::with_buffer_size(0, 1);
        drop(memory.lease().await.unwrap());
        assert_eq!(memory.buffers(), 1);
    }
}
