//! Build and search parameters with the one set of defaults every layer uses (the binding exports
//! them to Python, which reads them instead of repeating literals), and the names the API spells
//! the graph kinds and entry modes with.

use crate::error::{invalid, Error};
use std::str::FromStr;

/// Default seed of every random choice (levels, entry points).
pub const DEFAULT_SEED: u64 = 0;

/// Rows per piece of [`crate::Index::add_chunked`] when the caller has no reason to choose: small
/// enough that a progress report or a cancel check comes every fraction of a second, large enough
/// that the per-piece work (pivots, the cancel callback) is negligible.
pub const ADD_CHUNK_ROWS: usize = 8192;

/// Largest `dim` an index accepts (2^24 values, 64 MiB per float32 row): wider rows are almost
/// surely a transposed array, and the per-coordinate buffers are sized by `dim` before any row.
pub const MAX_DIM: usize = 1 << 24;

/// Most worker threads a call accepts (`n_threads`); more is almost surely a mistake, and each
/// thread costs a stack.
pub const MAX_THREADS: usize = 1024;

/// Checks a thread count (0 = all cores) against [`MAX_THREADS`].
pub(crate) fn check_threads(n_threads: usize) -> Result<(), Error> {
    if n_threads > MAX_THREADS {
        return Err(invalid(
            "n_threads",
            format!("must be at most {MAX_THREADS} (0 = all cores), got {n_threads}"),
        ));
    }
    Ok(())
}

/// Which graph an index builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphKind {
    /// HNSW (Malkov & Yashunin 2018): the base graph plus a hierarchy of sparser layers. Each node
    /// draws a level from a seeded geometric distribution (`P(level >= l) = M^-l`, with
    /// `M = max(max_degree / 2, 2)`); the nodes of level `l >= 1` form a graph whose degree cap is
    /// `M` (the base layer keeps `max_degree`), and the node of the highest level is the entry
    /// point. Insertion descends greedily through the upper layers and links the node on every
    /// layer up to its level with the diversity rule. Searched from a greedy descent through the
    /// layers ([`Entry::Hierarchy`]) by default. Saved as format version 2.
    #[default]
    Hnsw,
    /// The flat navigable small world graph of Malkov et al. 2014: one layer, searched from random
    /// entry points with restarts ([`Entry::Random`]) by default. Saved as format version 1.
    Nsw,
}

impl GraphKind {
    /// The API name: `"hnsw"` or `"nsw"`.
    pub fn name(&self) -> &'static str {
        match self {
            GraphKind::Hnsw => "hnsw",
            GraphKind::Nsw => "nsw",
        }
    }

    /// The entry a search uses when [`SearchParams::entry`] is `None`.
    pub fn default_entry(&self) -> Entry {
        match self {
            GraphKind::Hnsw => Entry::Hierarchy,
            GraphKind::Nsw => Entry::Random,
        }
    }
}

impl FromStr for GraphKind {
    type Err = Error;

    /// Parses `"hnsw"` or `"nsw"`.
    ///
    /// # Errors
    /// `InvalidParameter` (`graph`) for any other name.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "hnsw" => Ok(GraphKind::Hnsw),
            "nsw" => Ok(GraphKind::Nsw),
            other => Err(invalid(
                "graph",
                format!("must be 'hnsw' or 'nsw', got {other:?}"),
            )),
        }
    }
}

/// How the graph is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildParams {
    /// Cap on each node's out-degree (M of the NSW paper, 2M of HNSW's base layer). A new node
    /// first links to at most `3 * max_degree / 4` neighbors chosen by the diversity rule;
    /// back-links may fill a list up to `max_degree`, after which the list is re-pruned by the
    /// same rule. Between 2 and 4096.
    pub max_degree: usize,
    /// Size of the candidate beam of the k-NN search that finds a new node's neighbors
    /// (`efConstruction` of HNSW). At least 1.
    pub ef_construction: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Which graph to build.
    pub graph: GraphKind,
}

impl Default for BuildParams {
    fn default() -> Self {
        BuildParams {
            max_degree: 32,
            ef_construction: 64,
            seed: DEFAULT_SEED,
            graph: GraphKind::Hnsw,
        }
    }
}

/// Where the first restart of a graph search starts (further restarts start at random nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// At a random stored node (the classic NSW search with restarts).
    Random,
    /// From the pivots: a fixed, evenly spaced sample of the stored nodes (node numbers
    /// `i * len / P`, `P = min(len, 64)`) whose vectors are kept in one contiguous, cache-resident
    /// block. The query is compared with every pivot and the beam is seeded with the nearest ones.
    Pivots,
    /// Where a greedy descent (beam 1) from the top node through the upper layers ends (HNSW).
    /// Needs an index built with [`GraphKind::Hnsw`].
    Hierarchy,
    /// For DTW between series of one length: where a walk under the Euclidean distance of the
    /// series ends (the greedy descent through the upper layers, then a small beam on the base
    /// graph, all comparing rows by Euclidean distance, an upper bound of their DTW); the DTW walk
    /// starts from the nearest of those rows. Needs an index built with [`GraphKind::Hnsw`]; the
    /// default entry of such an index.
    Euclidean,
}

impl Entry {
    /// The API name: `"random"`, `"pivots"`, `"hierarchy"` or `"euclidean"`.
    pub fn name(&self) -> &'static str {
        match self {
            Entry::Random => "random",
            Entry::Pivots => "pivots",
            Entry::Hierarchy => "hierarchy",
            Entry::Euclidean => "euclidean",
        }
    }
}

impl FromStr for Entry {
    type Err = Error;

    /// Parses `"random"`, `"pivots"`, `"hierarchy"` or `"euclidean"`.
    ///
    /// # Errors
    /// `InvalidParameter` (`entry`) for any other name.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "random" => Ok(Entry::Random),
            "pivots" => Ok(Entry::Pivots),
            "hierarchy" => Ok(Entry::Hierarchy),
            "euclidean" => Ok(Entry::Euclidean),
            other => Err(invalid(
                "entry",
                format!("must be 'random', 'pivots', 'hierarchy' or 'euclidean', got {other:?}"),
            )),
        }
    }
}

/// How a search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchParams {
    /// Size of the bounded result set of each restart (the beam); the search uses `max(ef, k)`.
    /// At least 1.
    pub ef: usize,
    /// Number of greedy searches per query, merged; the first starts at [`SearchParams::entry`],
    /// the others at random nodes. At least 1.
    pub restarts: usize,
    /// Threads for batch search: 0 means all cores, 1 runs on the calling thread.
    pub n_threads: usize,
    /// Where the first restart starts; `None` is [`Entry::Euclidean`] on an HNSW index under DTW
    /// of series of one length, else the graph's own entry ([`GraphKind::default_entry`]).
    pub entry: Option<Entry>,
    /// Walk the graph comparing the query with the stored rows' 8-bit codes (a quarter of the
    /// memory reads of the floats; the index must keep them, see [`crate::Index::set_codes`]),
    /// then re-rank the final beam of each restart by the float distances. Returned distances are
    /// exact; which nodes the walk visits can differ (recall at a given `ef` moves by about
    /// +-0.002 on the benchmark data). Ignored by exact search; the upper layers of a hierarchy
    /// are walked on the floats.
    pub quantized: bool,
    /// Let lower bounds and early abandoning reject candidates (the default). `false` computes
    /// every distance in full: the same answers (a bound or an abandoned DTW only rejects a
    /// candidate that could not enter the results), more work; for measuring what pruning saves.
    pub prune: bool,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            ef: 64,
            restarts: 1,
            n_threads: 0,
            entry: None,
            quantized: false,
            prune: true,
        }
    }
}
