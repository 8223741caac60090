//! Work counters returned with every search: the honest measure of work, next to time.

/// Counters of one search (one query).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Full distance computations started (Euclidean, or DTW including the ones abandoned early).
    /// A quantized search counts its comparisons with 8-bit codes and its float re-ranking.
    pub distance_calls: u64,
    /// Candidates skipped because LB_Kim already exceeded the current k-th best (DTW only).
    pub lb_kim_pruned: u64,
    /// Candidates skipped by LB_Keogh of the candidate against the query's envelope (DTW only).
    pub lb_keogh_pruned: u64,
    /// Candidates skipped by LB_Keogh of the query against the candidate's envelope (DTW only).
    pub lb_keogh_rev_pruned: u64,
    /// DTW computations stopped early because a whole band row exceeded the cutoff.
    pub abandoned: u64,
    /// Nodes whose distance was considered at all (evaluated or pruned).
    pub visited: u64,
}

impl SearchStats {
    /// Candidates skipped by any lower bound (sum of the three bound counters).
    pub fn lb_pruned(&self) -> u64 {
        self.lb_kim_pruned + self.lb_keogh_pruned + self.lb_keogh_rev_pruned
    }

    /// Adds another set of counters to this one.
    pub fn add(&mut self, o: &SearchStats) {
        self.distance_calls += o.distance_calls;
        self.lb_kim_pruned += o.lb_kim_pruned;
        self.lb_keogh_pruned += o.lb_keogh_pruned;
        self.lb_keogh_rev_pruned += o.lb_keogh_rev_pruned;
        self.abandoned += o.abandoned;
        self.visited += o.visited;
    }
}
