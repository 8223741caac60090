//! `nswg`: a navigable small world graph index (Malkov et al. 2014) for fixed-length `f32` vectors,
//! with Euclidean and Sakoe-Chiba banded DTW distances, exact brute-force search over the same
//! distance code, work counters on every search, and a checksummed on-disk format. Optionally
//! ([`BuildParams::hierarchy`]) an HNSW-style hierarchy of sparser layers (Malkov & Yashunin 2018)
//! is built above the graph and searched with [`Entry::Hierarchy`]; the flat graph with random
//! restarts stays the default.
//!
//! ```
//! use nswg::{BuildParams, Index, Metric, SearchParams};
//! let mut index = Index::new(2, Metric::Euclidean, BuildParams::default()).unwrap();
//! index.add(&[0.0, 0.0, 1.0, 0.0, 5.0, 5.0], None, 1).unwrap();
//! let (hits, stats) = index.search(&[0.9, 0.1], 1, &SearchParams::default()).unwrap();
//! assert_eq!(hits[0].id, 1);
//! assert!(stats.distance_calls >= 1);
//! ```
#![deny(missing_docs)]

#[cfg(feature = "build-stats")]
pub mod build_stats {
    //! Distance computations spent by index builds (development aid, `build-stats` feature only).
    use std::sync::atomic::{AtomicU64, Ordering};

    static DISTANCE_CALLS: AtomicU64 = AtomicU64::new(0);

    pub(crate) fn add(n: u64) {
        DISTANCE_CALLS.fetch_add(n, Ordering::Relaxed);
    }

    /// Distance computations of every insertion in this process since the last call (search and
    /// neighbor selection, all indexes and threads together); resets the count.
    pub fn take_distance_calls() -> u64 {
        DISTANCE_CALLS.swap(0, Ordering::Relaxed)
    }
}
mod error;
mod graph;
mod index;
mod io;
pub mod metric;
mod pages;
mod params;
mod stats;
mod store;

pub use error::Error;
pub use index::{BatchResult, Index, Neighbor};
pub use io::{read_header, Header, FORMAT_VERSION};
pub use metric::Metric;
pub use params::{BuildParams, Entry, SearchParams, DEFAULT_SEED};
pub use stats::SearchStats;
