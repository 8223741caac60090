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
    /// Build an HNSW-style hierarchy of layers (Malkov & Yashunin 2018) above the graph. Each node
    /// draws a level from a seeded geometric distribution (`P(level >= l) = M^-l`, with
    /// `M = max(max_degree / 2, 2)`); the nodes of level `l >= 1` form a sparser graph whose degree
    /// cap is `M` (the base layer keeps `max_degree`), and the node of the highest level is the entry
    /// point. Insertion descends greedily through the upper layers and links the node on every layer
    /// up to its level with the same diversity rule. Searches use the layers only with
    /// [`Entry::Hierarchy`]. Off (the default) builds the flat NSW graph exactly as before.
    pub hierarchy: bool,
}

impl Default for BuildParams {
    fn default() -> Self {
        BuildParams {
            max_degree: 32,
            ef_construction: 64,
            restarts: 1,
            seed: DEFAULT_SEED,
            hierarchy: false,
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
    /// HNSW-style entry: descend greedily (beam 1) from the top node through the upper layers of a
    /// hierarchical index ([`BuildParams::hierarchy`]) and start the first restart's base-layer
    /// search from the node found; further restarts start at random nodes as in [`Entry::Random`].
    /// On a flat index this is [`Entry::Random`]. ([`Entry::Random`] and [`Entry::Pivots`] ignore
    /// the layers of a hierarchical index.)
    Hierarchy,
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
    /// Walk the graph comparing the query with the stored rows' 8-bit codes (a quarter of the
    /// memory reads of the floats; the index must keep them, see [`crate::Index::set_codes`]),
    /// then re-rank the final beam of each restart by the float distances. Returned distances are
    /// exact; which nodes the walk visits can differ (recall at a given `ef` moves by about
    /// +-0.002 on the benchmark data). Ignored by exact search; the upper layers of a hierarchy
    /// are walked on the floats.
    pub quantized: bool,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            ef: 64,
            restarts: 1,
            n_threads: 0,
            prune: true,
            entry: Entry::Random,
            quantized: false,
        }
    }
}
