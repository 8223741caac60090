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
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            ef: 64,
            restarts: 1,
            n_threads: 0,
            prune: true,
        }
    }
}
