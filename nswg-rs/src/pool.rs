//! The thread pools of parallel calls, one per thread count, shared by every index of the process
//! and kept for later calls (a new index, such as the one a scikit-learn estimator makes on every
//! fit, does not spawn threads again); fork-aware, because torch DataLoader workers and
//! multiprocessing fork processes that hold an index.

use crate::index::Index;
use std::sync::{Arc, Mutex, PoisonError};

/// A pool and what it was made for: the process that made it and its thread count.
struct PoolSlot {
    pid: u32,
    n_threads: usize,
    pool: Arc<rayon::ThreadPool>,
}

/// Pools of distinct thread counts kept at once; making another drops the least recently made
/// (its threads end once the calls using it return).
const KEPT_POOLS: usize = 4;

/// The process's pools, most recently made last.
static POOLS: Mutex<Vec<PoolSlot>> = Mutex::new(Vec::new());

impl Index {
    /// A rayon pool of `n_threads` workers (0 = all cores), or `None` when the work should run
    /// on the calling thread: one thread wanted, one item, or no pool could be made.
    pub(crate) fn pool(&self, n_threads: usize, n_items: usize) -> Option<Arc<rayon::ThreadPool>> {
        let want = if n_threads == 0 {
            std::thread::available_parallelism().map_or(1, |v| v.get())
        } else {
            n_threads
        };
        if want <= 1 || n_items <= 1 {
            return None;
        }
        shared_pool(want)
    }
}

/// The process's pool of `want` workers, made on first use.
fn shared_pool(want: usize) -> Option<Arc<rayon::ThreadPool>> {
    let pid = std::process::id();
    let mut pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
    // Pools inherited through fork: their threads do not exist in this process. They are
    // forgotten, not dropped (dropping would signal those threads).
    for stale in pools.extract_if(.., |p| p.pid != pid) {
        std::mem::forget(stale);
    }
    if let Some(p) = pools.iter().find(|p| p.n_threads == want) {
        return Some(p.pool.clone());
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(want)
            .build()
            .ok()?,
    );
    if pools.len() >= KEPT_POOLS {
        pools.remove(0);
    }
    pools.push(PoolSlot {
        pid,
        n_threads: want,
        pool: pool.clone(),
    });
    Some(pool)
}
