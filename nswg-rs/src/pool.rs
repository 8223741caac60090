//! The index's rayon thread pool, made on first parallel use and kept for later calls; fork-aware,
//! because torch DataLoader workers and multiprocessing fork processes that hold an index.

use crate::index::Index;
use std::sync::Arc;

/// A pool and what it was made for: the process that made it and its thread count.
pub(crate) struct PoolSlot {
    pid: u32,
    n_threads: usize,
    pool: Arc<rayon::ThreadPool>,
}

impl Index {
    /// The index's rayon pool for `n_threads` workers (0 = all cores), or `None` when the work should
    /// run on the calling thread: one thread wanted, one item, or a forked child (the process id
    /// differs from the one that built the pool, whose threads do not exist in the child).
    pub(crate) fn pool(&self, n_threads: usize, n_items: usize) -> Option<Arc<rayon::ThreadPool>> {
        let want = if n_threads == 0 {
            std::thread::available_parallelism().map_or(1, |v| v.get())
        } else {
            n_threads
        };
        if want <= 1 || n_items <= 1 {
            return None;
        }
        let pid = std::process::id();
        let mut slot = self.pool.lock();
        match slot.as_ref() {
            Some(p) if p.pid != pid => None,
            Some(p) if p.n_threads == want => Some(p.pool.clone()),
            _ => {
                let pool = Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(want)
                        .build()
                        .ok()?,
                );
                *slot = Some(PoolSlot {
                    pid,
                    n_threads: want,
                    pool: pool.clone(),
                });
                Some(pool)
            }
        }
    }
}
