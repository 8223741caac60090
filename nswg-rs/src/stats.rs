//! Work counters: the honest measure of work, next to time. Search counters come with every
//! search, build counters with every add; [`SearchStats::COUNTERS`] is the one list of their names
//! and order that the binding iterates.

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
    /// DTW candidates of another length than the query's (variable-length indexes) that were
    /// evaluated against a cutoff with LB_Kim only: their band is the whole matrix or narrower
    /// than `metric::BAND_LB_MIN_RADIUS` (others get LB_Keogh along the pair's sloped band).
    pub lb_keogh_skipped: u64,
    /// Squared Euclidean distances between the query and stored series computed to find where a
    /// DTW walk starts ([`crate::Entry::Euclidean`]); not in `distance_calls` (each is one pass
    /// over the two rows, about a hundredth of a banded DTW of 256 steps).
    pub euclidean_calls: u64,
}

/// A counter's name and how to read it from its counters struct ([`SearchStats`] or
/// [`BuildStats`]).
pub type Counter<S> = (&'static str, fn(&S) -> u64);

impl SearchStats {
    /// Every counter a search reports, by name, in the order the binding returns them.
    pub const COUNTERS: [Counter<SearchStats>; 9] = [
        ("distance_calls", |s| s.distance_calls),
        ("lb_pruned", SearchStats::lb_pruned),
        ("lb_kim_pruned", |s| s.lb_kim_pruned),
        ("lb_keogh_pruned", |s| s.lb_keogh_pruned),
        ("lb_keogh_rev_pruned", |s| s.lb_keogh_rev_pruned),
        ("abandoned", |s| s.abandoned),
        ("visited", |s| s.visited),
        ("lb_keogh_skipped", |s| s.lb_keogh_skipped),
        ("euclidean_calls", |s| s.euclidean_calls),
    ];

    /// Candidates skipped by any lower bound (sum of the three bound counters).
    pub fn lb_pruned(&self) -> u64 {
        self.lb_kim_pruned + self.lb_keogh_pruned + self.lb_keogh_rev_pruned
    }

    /// Counts a node visited and rejected by its bound alone: LB_Kim's when `kim`, else the
    /// forward LB_Keogh's.
    pub(crate) fn count_bound_prune(&mut self, kim: bool) {
        self.visited += 1;
        if kim {
            self.lb_kim_pruned += 1;
        } else {
            self.lb_keogh_pruned += 1;
        }
    }

    /// Adds another set of counters to this one.
    pub fn add(&mut self, o: &SearchStats) {
        self.distance_calls += o.distance_calls;
        self.lb_kim_pruned += o.lb_kim_pruned;
        self.lb_keogh_pruned += o.lb_keogh_pruned;
        self.lb_keogh_rev_pruned += o.lb_keogh_rev_pruned;
        self.abandoned += o.abandoned;
        self.visited += o.visited;
        self.lb_keogh_skipped += o.lb_keogh_skipped;
        self.euclidean_calls += o.euclidean_calls;
    }
}

/// Counters of one [`crate::Index::build`] (or the linking of an [`crate::Index::add`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Distance computations of the insertion searches, the neighbor selection and the orphan
    /// repair (DTW: including the ones abandoned early).
    pub distance_calls: u64,
    /// Orphan repair passes run at the end of the build (0 or 1; see [`crate::Index::link_orphans`]).
    pub repair_passes: u64,
    /// Nodes the repair pass linked back into the graph.
    pub orphans_linked: u64,
}

impl BuildStats {
    /// Every counter a build reports, by name, in the order the binding returns them.
    pub const COUNTERS: [Counter<BuildStats>; 3] = [
        ("distance_calls", |s| s.distance_calls),
        ("repair_passes", |s| s.repair_passes),
        ("orphans_linked", |s| s.orphans_linked),
    ];

    /// Adds another set of counters to this one.
    pub fn add(&mut self, o: &BuildStats) {
        self.distance_calls += o.distance_calls;
        self.repair_passes += o.repair_passes;
        self.orphans_linked += o.orphans_linked;
    }
}

/// What an [`crate::Index::build`] did: its counters, and whether it linked every pending row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Built {
    /// The work the build did.
    pub stats: BuildStats,
    /// False when [`crate::Index::build_chunked`]'s callback stopped the build early (the rows
    /// not yet linked stay pending, and no repair pass ran).
    pub complete: bool,
}

/// What an [`crate::Index::add`] did: the ids of the rows it added and its counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Added {
    /// The ids of the added rows, in row order.
    pub ids: Vec<i64>,
    /// The work the add did.
    pub stats: BuildStats,
    /// False when [`crate::Index::add_chunked`]'s callback stopped the linking early: every row
    /// is stored (`ids` holds them all), the ones not yet linked are pending (and no repair pass
    /// ran).
    pub complete: bool,
}
