//! Per-thread working memory of searches and insertions, reused between calls so that a warm
//! search allocates nothing, and the index's pool of it (threads borrow one and give it back).

use crate::graph::{Beam, Cand};
use crate::index::Index;
use crate::metric::dtw::DtwScratch;
use crate::metric::QueryPrep;
use crate::stats::SearchStats;
use std::collections::BinaryHeap;

/// Search and insertion state of one thread: a generation-stamped visited array, the beam, heaps,
/// the query's preparation, buffers of the neighbor selection, and the counters of the walk in
/// progress. The stamps are 16-bit (as hnswlib's visited tags): half the cache footprint of 32-bit
/// ones for the array every step of a search touches at random, for one clearing of the array
/// every 65,535 searches.
#[derive(Default)]
pub(crate) struct Scratch {
    visited: Vec<u16>,
    stamp: u16,
    pub beam: Beam,
    pub top: BinaryHeap<Cand>,
    pub nbrs: Vec<u32>,
    pub prep: QueryPrep,
    pub sorted: Vec<Cand>,
    pub resel: Vec<(Cand, bool)>,
    pub fresh: Vec<u32>,
    pub chosen: Vec<u32>,
    pub kept: Vec<u32>,
    pub seeds: Vec<Cand>,
    /// (bound, node) of every stored row, for an exact DTW scan in the order of its bound.
    pub order: Vec<(f32, u32)>,
    /// The rows an ordered exact DTW scan evaluates first (squared Euclidean distance, node).
    pub nearest_ed: Vec<(f32, u32)>,
    /// The query minus the code offsets, for a quantized search.
    pub shifted: Vec<f32>,
    /// The unbounded candidate queue of a filtered walk (nearest first).
    pub cands: BinaryHeap<std::cmp::Reverse<Cand>>,
    /// The neighbors a DTW walk has met but not yet evaluated, nearest lower bound first, each
    /// with whether LB_Kim gave its bound (see [`Index::walk`]).
    pub deferred: BinaryHeap<std::cmp::Reverse<(Cand, bool)>>,
    /// Entry nodes of a filtered walk's restart.
    pub entries: Vec<u32>,
    /// The hits of a range search (true distance, user id).
    pub hits: Vec<(f32, i64)>,
    /// The nodes a range search's flood fill has still to expand.
    pub queue: Vec<(u32, u8)>,
    /// Compute every query distance in full (no bounds, no abandoning): set by every query from
    /// [`crate::SearchParams::prune`], cleared by [`Index::take_scratch`].
    pub no_prune: bool,
    /// Counters of the walks since the caller last took them.
    pub stats: SearchStats,
    /// Distances between stored nodes during insertion and repair.
    pub build: BuildDist,
}

/// Offers `c` to the best `k` kept in `top` (a max-heap, as [`Scratch::top`]): kept while fewer
/// than `k` are, or when it beats the worst, which it then replaces.
#[inline]
pub(crate) fn keep_best(top: &mut BinaryHeap<Cand>, c: Cand, k: usize) {
    if top.len() < k {
        top.push(c);
    } else if top.peek().is_some_and(|t| c < *t) {
        top.pop();
        top.push(c);
    }
}

/// Distance state of insertion and repair: DTW buffers and a count of the distance computations
/// between stored nodes (the neighbor selection), which a build reports with its counters.
#[derive(Default)]
pub(crate) struct BuildDist {
    pub dtw: DtwScratch,
    /// Buffers of the batched DTW kernel ([`crate::metric::lanes`]).
    pub lanes: crate::metric::lanes::LaneScratch,
    pub calls: u64,
}

impl Scratch {
    /// The cutoff a query distance gets: `cutoff`, or +inf when pruning is off
    /// ([`Scratch::no_prune`]).
    pub fn cutoff(&self, cutoff: f32) -> f32 {
        if self.no_prune {
            f32::INFINITY
        } else {
            cutoff
        }
    }

    fn beam_capacity(&self) -> usize {
        self.beam.capacity()
            + self.top.capacity()
            + self.cands.capacity()
            + self.deferred.capacity()
    }

    /// Starts a new search over `n` nodes: nothing is visited.
    pub fn begin(&mut self, n: usize) {
        if self.visited.len() < n {
            self.visited.resize(n, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.visited.iter_mut().for_each(|v| *v = 0);
            self.stamp = 1;
        }
    }

    /// Starts a beam bounded to `ef` from `entries`: each one not yet visited is marked and
    /// enters the beam.
    pub fn seed(&mut self, entries: &[Cand], ef: usize) {
        self.beam.reset(ef);
        for &c in entries {
            if self.mark(c.node) {
                self.beam.push(c);
            }
        }
    }

    /// Bytes of its largest buffers: the visited array and the exact scan's orderings.
    pub fn memory_usage(&self) -> usize {
        2 * self.visited.capacity()
            + 8 * (self.order.capacity() + self.nearest_ed.capacity())
            + 8 * self.beam_capacity()
    }

    /// True if `node` was visited in this search (without marking it).
    #[inline]
    pub fn is_marked(&self, node: u32) -> bool {
        self.visited[node as usize] == self.stamp
    }

    /// Marks `node` visited; true if it was not visited before in this search.
    #[inline]
    pub fn mark(&mut self, node: u32) -> bool {
        let v = &mut self.visited[node as usize];
        if *v == self.stamp {
            false
        } else {
            *v = self.stamp;
            true
        }
    }
}

impl Index {
    /// A scratch from the pool (a fresh one when the pool is empty).
    pub(crate) fn take_scratch(&self) -> Scratch {
        let mut s = self.scratch.lock().pop().unwrap_or_default();
        s.no_prune = false; // the last search on it may have set it
        s
    }

    /// Returns a scratch to the pool.
    pub(crate) fn give_scratch(&self, s: Scratch) {
        self.scratch.lock().push(s);
    }
}

/// Borrows a scratch from the index's pool and gives it back when dropped (for rayon workers).
pub(crate) struct ScratchGuard<'a> {
    index: &'a Index,
    s: Option<Scratch>,
}

impl<'a> ScratchGuard<'a> {
    pub fn new(index: &'a Index) -> Self {
        ScratchGuard {
            index,
            s: Some(index.take_scratch()),
        }
    }

    pub fn get(&mut self) -> &mut Scratch {
        self.s.get_or_insert_with(Scratch::default)
    }
}

impl Drop for ScratchGuard<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.s.take() {
            self.index.give_scratch(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;

    #[test]
    fn visited_marks_reset_between_searches_and_survive_stamp_wrap() {
        let mut s = Scratch::default();
        s.begin(4);
        assert!(s.mark(2));
        assert!(!s.mark(2), "second mark in one search must report visited");
        s.begin(4);
        assert!(s.mark(2), "a new search starts with nothing visited");
        // Force the generation counter to wrap: stale stamps must not read as visited.
        s.visited.iter_mut().for_each(|v| *v = u16::MAX);
        s.stamp = u16::MAX - 1;
        s.begin(4);
        assert_eq!(s.stamp, u16::MAX);
        assert!(!s.mark(1), "stamp u16::MAX equals the stale marks: visited");
        s.begin(4);
        assert_eq!(
            s.stamp, 1,
            "after wrapping, the array is cleared and stamps restart at 1"
        );
        for node in 0..4 {
            assert!(s.mark(node), "node {node} must be unvisited after the wrap");
        }
        s.begin(10);
        assert!(s.mark(9), "the array grows with the index");
    }

    #[test]
    fn candidate_order_is_total_and_heaps_pop_in_order() {
        let mut cand: BinaryHeap<Reverse<Cand>> = BinaryHeap::new();
        let mut worst: BinaryHeap<Cand> = BinaryHeap::new();
        for (d, node) in [(3.0, 1), (1.0, 7), (1.0, 2), (f32::INFINITY, 0), (2.0, 5)] {
            cand.push(Reverse(Cand { d, node }));
            worst.push(Cand { d, node });
        }
        let order: Vec<u32> = std::iter::from_fn(|| cand.pop().map(|c| c.0.node)).collect();
        assert_eq!(
            order,
            vec![2, 7, 5, 1, 0],
            "nearest first, ties by node number"
        );
        assert_eq!(
            worst.pop().map(|c| c.node),
            Some(0),
            "result heap drops the farthest"
        );
    }
}
