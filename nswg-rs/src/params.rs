//! Build and search parameters, with their documented defaults.

/// Default seed of every random choice (entry points, construction order effects).
pub const DEFAULT_SEED: u64 = 0;

/// How the graph is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildParams {
    /// Cap on each node's out-degree. A new node first links to at most `3 * max_degree / 4` neighbors
    /// chosen by the diversity rule; back-links may fill a list up to `max_degree`, after which the
    /// list is re-pruned by the same rule. Must be at least 2.
    pub max_degree: usize,
    /// Size of the candidate beam of the k-NN search that finds a new node's neighbors.
    pub ef_construction: usize,
    /// Random restarts of that search (each from a random already-inserted node).
    pub restarts: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for BuildParams {
    fn default() -> Self {
        BuildParams {
            max_degree: 32,
            ef_construction: 64,
            restarts: 1,
            seed: DEFAULT_SEED,
        }
    }
}

/// Where each graph search starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Entry {
    /// Every restart starts at a random stored node (the classic NSW search with restarts).
    #[default]
    Random,
    /// The first restart starts from the pivots: a fixed, evenly spaced sample of the stored nodes
    /// (node numbers `i * len / P`, `P = min(len, 64)`) whose vectors are kept in one contiguous,
    /// cache-resident block. The query is compared with every pivot and the beam is seeded with the
    /// nearest ones, so the search begins near the answer instead of walking there from a random
    /// node. Further restarts start at random nodes as in [`Entry::Random`].
    Pivots,
}

/// How a search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchParams {
    /// Size of the bounded result set of each restart (the beam); the search uses `max(ef, k)`.
    pub ef: usize,
    /// Number of greedy searches from random entry points; their results are merged.
    pub restarts: usize,
    /// Threads for batch search: 0 means all cores, 1 runs on the calling thread.
    pub n_threads: usize,
    /// Use lower bounds and early abandoning (DTW). They never change an answer; off is for tests.
    pub prune: bool,
    /// Where the search starts.
    pub entry: Entry,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            ef: 64,
            restarts: 1,
            n_threads: 0,
            prune: true,
            entry: Entry::Random,
        }
    }
}
