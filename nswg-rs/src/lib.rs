//! `nswg`: a navigable small world graph index (Malkov et al. 2014) for fixed-length `f32` vectors,
//! with Euclidean and Sakoe-Chiba banded DTW distances, exact brute-force search over the same
//! distance code, work counters on every search and add, and a checksummed on-disk format. By
//! default ([`GraphKind::Hnsw`]) an HNSW-style hierarchy of sparser layers (Malkov & Yashunin 2018)
//! is built above the graph and searched from a greedy descent through it; [`GraphKind::Nsw`]
//! builds the flat graph, searched from random entry points with restarts.
//!
//! Where things live: `params` (parameters and their defaults), `index` (the struct, adding rows),
//! `insert` (linking new nodes), `repair` (orphan links), `remove` (removal and slot reuse),
//! `filter` (filtered search), `range` (range search), `walk` (the graph walk), `search`
//! (queries, exact scan, batches), `pivots`, `scratch` (per-thread buffers), `pool` (threads),
//! `rng` (seeded randomness), `graph` (adjacency lists, layers, beam, diversity rule), `store`
//! (rows, envelopes, 8-bit codes), `metric` (distances and bounds), `io` (the file format,
//! streamed), `durable` (crash-safe file replacement),
//! `stats` (counters), `error`.
//!
//! ```
//! use nswg::{BuildParams, Index, Metric, SearchParams};
//! let mut index = Index::new(2, Metric::Euclidean, BuildParams::default()).unwrap();
//! let added = index.add(&[0.0, 0.0, 1.0, 0.0, 5.0, 5.0], None, 1).unwrap();
//! assert_eq!(added.ids, vec![0, 1, 2]);
//! let (hits, stats) = index.search(&[0.9, 0.1], 1, &SearchParams::default()).unwrap();
//! assert_eq!(hits[0].id, 1);
//! assert!(stats.distance_calls >= 1);
//! ```
#![deny(missing_docs)]

mod durable;
mod error;
mod filter;
mod graph;
mod index;
mod insert;
mod io;
pub mod metric;
mod pages;
mod params;
mod pivots;
mod pool;
mod range;
mod remove;
mod repair;
mod rng;
mod scratch;
mod search;
mod stats;
mod store;
mod walk;

pub use error::Error;
pub use filter::Filter;
pub use index::Index;
pub use io::{read_header, Header, FORMAT_VERSION};
pub use metric::Metric;
pub use params::{
    BuildParams, Entry, GraphKind, SearchParams, ADD_CHUNK_ROWS, DEFAULT_SEED, MAX_DIM, MAX_THREADS,
};
pub use range::RangeResult;
pub use search::{BatchResult, Neighbor};
pub use stats::{Added, BuildStats, Built, Counter, SearchStats};
