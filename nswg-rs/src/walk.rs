//! The graph walk: best-first search with a bounded beam and restarts on the base graph, the
//! greedy descent through the upper layers, and the distance evaluations they share. Insertion,
//! orphan repair and queries each describe the walk they need with one [`Walk`] request.

use crate::graph::{Cand, Layer, Layers, MAX_LEVEL};
use crate::index::Index;
use crate::metric::euclidean::{dot_codes, sq_euclidean, sq_euclidean_codes};
use crate::metric::lanes::LANES;
use crate::metric::{eval_sq, vector_sq, Metric, Stored};
use crate::pivots::Pivots;
use crate::rng::Rng;
use crate::scratch::{keep_best, Scratch};
use crate::stats::SearchStats;
use crate::store::Codes;
use std::cmp::Reverse;

/// Where the first restart of a walk starts; further restarts start at random nodes.
#[derive(Clone, Copy)]
pub(crate) enum Start<'a> {
    /// At a random node of `0..limit`.
    Random,
    /// From these candidates (with their distances); random when empty.
    Seeds(&'a [Cand]),
    /// From the nearest pivots ([`crate::Entry::Pivots`]); random when there are none.
    Pivots(&'a Pivots),
}

/// The 8-bit codes a quantized walk compares with, and the query prepared for them: for
/// Euclidean and cosine the query minus the code offsets (`q - lo`); for the inner product the
/// query times the code scales (`q * scale`), with `offset = <q, lo>`.
#[derive(Clone, Copy)]
pub(crate) struct Coded<'a> {
    pub codes: &'a Codes,
    pub shifted: &'a [f32],
    pub offset: f32,
}

/// One walk on the base graph.
pub(crate) struct Walk<'a> {
    /// The query row (`dim` floats).
    pub query: &'a [f32],
    /// Walk on the codes and re-rank by floats, or `None` to walk on the floats.
    pub coded: Option<Coded<'a>>,
    /// A node never visited (the node being inserted or repaired).
    pub exclude: Option<u32>,
    /// How many results to keep (in `Scratch::top`).
    pub k: usize,
    /// Beam of each restart; the walk uses `max(ef, k)`.
    pub ef: usize,
    /// Number of restarts; their results are merged.
    pub restarts: usize,
    /// Where the first restart starts.
    pub start: Start<'a>,
    /// A node the first restart also starts from, beside `start`: queries pass the root (see
    /// [`Index::root`]), from which the orphan pass makes every node reachable, so a beam as
    /// large as the index reaches every node whatever `start` is (one distance more per query;
    /// a far root is never expanded by an ordinary beam).
    pub root: Option<u32>,
    /// Random entries are drawn from nodes `0..limit` (during a parallel build, the nodes known to
    /// be fully linked).
    pub limit: usize,
    /// Seed of the random entries.
    pub seed: u64,
}

impl Index {
    /// Squared distance from the prepared query `q` to stored node `node` (see [`eval_sq`]: exact
    /// when `<= cutoff`, otherwise some value `> cutoff`), counted in `s.stats`.
    #[inline(always)]
    pub(crate) fn eval_node(&self, q: &[f32], node: u32, cutoff: f32, s: &mut Scratch) -> f32 {
        let stored = self.store.stored(node as usize);
        let cutoff = s.cutoff(cutoff);
        eval_sq(
            self.store.metric,
            q,
            &mut s.prep,
            stored,
            cutoff,
            &mut s.stats,
        )
    }

    /// Squared Euclidean distance from a query, given as `query - lo` (see
    /// [`crate::store::Codes`]), to the 8-bit codes of `node`. Counts a distance computation, not
    /// a visit (the caller counts visits).
    #[inline(always)]
    fn eval_coded(&self, c: Coded<'_>, node: u32, stats: &mut SearchStats) -> f32 {
        stats.distance_calls += 1;
        let row = c.codes.row(self.store.dim, node as usize);
        let d = if self.store.metric == Metric::InnerProduct {
            1.0 - (c.offset + dot_codes(c.shifted, row))
        } else {
            sq_euclidean_codes(c.shifted, &c.codes.scale, row)
        };
        // Values near f32::MAX can make inf - inf; rank such a node last rather than arbitrarily.
        if d.is_nan() {
            f32::INFINITY
        } else {
            d
        }
    }

    /// One step of the best-first search: evaluates the newly visited node `nb` and, if the beam
    /// (`s.beam`, bounded to `ef`) is not full or `(d, nb)` beats its worst result, adds it.
    ///
    /// Pruning (lower bounds, early abandoning) cannot change the outcome: the cutoff handed to
    /// the distance is the worst result's distance when the beam is full, a bound or an abandoned
    /// DTW only reports some `d > cutoff`, and any such `d` fails the admission test anyway; below
    /// the cutoff the value is exact.
    #[inline]
    fn offer(&self, q: &[f32], coded: Option<Coded<'_>>, nb: u32, ef: usize, s: &mut Scratch) {
        debug_assert!(s.beam.len() <= ef);
        let d = match coded {
            Some(c) => {
                s.stats.visited += 1;
                self.eval_coded(c, nb, &mut s.stats)
            }
            None => {
                let cutoff = s.beam.worst_if_full().map_or(f32::INFINITY, |w| w.d);
                self.eval_node(q, nb, cutoff, s)
            }
        };
        s.beam.push(Cand { d, node: nb });
    }

    /// Best-first search with restarts ([`Walk`]). Leaves the best `k` (by squared distance) in
    /// `s.top` and adds its counters to `s.stats`.
    ///
    /// Each restart keeps a result set bounded to `ef`, expands the nearest candidate, and stops
    /// when the nearest remaining candidate is farther than the worst result. The visited set is
    /// shared by all restarts. A restart that does not start from seeds or pivots starts at a
    /// random node of `0..limit` not yet visited.
    ///
    /// Pruning (lower bounds, early abandoning) cannot change the result: a neighbor enters the
    /// candidate queue only if its key `(d, node)` is below the current worst result when the result
    /// set is full. A bound or an abandoned DTW only reports `d > cutoff` = the worst distance, and any
    /// such `d` fails that test anyway; below the cutoff the returned value is exact.
    pub(crate) fn walk(&self, w: &Walk<'_>, s: &mut Scratch) {
        self.walk_with(w, w.coded.is_none() && self.defers_dtw(), s);
    }

    /// [`Index::walk`], expanding by [`Index::expand_deferred`] when `deferring` (which needs a
    /// DTW index of one length and a float walk), else evaluating every neighbor on the spot.
    fn walk_with(&self, w: &Walk<'_>, deferring: bool, s: &mut Scratch) {
        let q = w.query;
        s.begin(self.graph.len());
        s.prep
            .prepare(self.store.metric, self.store.channels, self.store.window, q);
        s.top.clear();
        if let Some(x) = w.exclude {
            s.mark(x);
        }
        if w.limit == 0 {
            return;
        }
        let mut rng = Rng::new(w.seed);
        let ef = w.ef.max(w.k);
        for restart in 0..w.restarts {
            s.beam.reset(ef);
            let seeded = match w.start {
                Start::Pivots(pv) if restart == 0 && !pv.nodes.is_empty() => {
                    self.seed_from_pivots(pv, q, s);
                    true
                }
                Start::Seeds(seeds) if restart == 0 && !seeds.is_empty() => {
                    s.seed(seeds, ef);
                    true
                }
                _ => false,
            };
            if seeded {
                if let Some(c) = w.coded {
                    // Seeds come with float distances; the walk compares code distances (which
                    // run higher by the coding error): put the seeds on the same footing.
                    rescore_beam(s, ef, |node, stats| self.eval_coded(c, node, stats));
                }
            } else {
                for _ in 0..8 {
                    let e = rng.below(w.limit) as u32;
                    if !self.is_dead(e) && s.mark(e) {
                        self.offer(q, w.coded, e, ef, s);
                        break;
                    }
                }
            }
            if let Some(r) = w.root.filter(|&r| restart == 0 && !self.is_dead(r)) {
                self.offer_start(q, w.coded, r, ef, s);
            }
            if s.beam.len() == 0 {
                continue;
            }
            if deferring {
                self.expand_deferred(q, ef, None, s);
            } else {
                while let Some(c) = s.beam.pop_next() {
                    self.mark_neighbors(c.node, None, w.coded, s);
                    for idx in 0..s.nbrs.len() {
                        self.offer(q, w.coded, s.nbrs[idx], ef, s);
                    }
                }
            }
            if w.coded.is_some() {
                // Re-rank the walk's candidates by their float distances (each already counted
                // as visited by the walk: one more distance computation).
                let metric = self.store.metric;
                rescore_beam(s, ef, |node, stats| {
                    stats.distance_calls += 1;
                    vector_sq(metric, q, self.store.row(node as usize))
                });
            }
            for c in s.beam.iter() {
                keep_best(&mut s.top, c, w.k);
            }
        }
    }

    /// Whether walks order and defer their neighbors by a lower bound ([`Index::expand_deferred`]):
    /// DTW with a band wider than 0 between series of one length.
    fn defers_dtw(&self) -> bool {
        self.equal_length_band().is_some()
    }

    /// Fills `s.nbrs` with the unvisited neighbors of `node` on the base graph (or on `layer`),
    /// now marked visited, and starts loading the next candidate's links and these neighbors' rows
    /// (or codes) so that the distances find them in cache.
    #[inline]
    fn mark_neighbors(
        &self,
        node: u32,
        layer: Option<&Layer>,
        coded: Option<Coded<'_>>,
        s: &mut Scratch,
    ) {
        s.nbrs.clear();
        let (graph, slot) = match layer {
            None => {
                if let Some(next) = s.beam.peek_next() {
                    self.graph.touch(next.node);
                }
                (&self.graph, node)
            }
            Some(layer) => match layer.slot(node) {
                Some(slot) => (&layer.graph, slot),
                None => return,
            },
        };
        for nb in graph.links(slot) {
            if s.mark(nb) {
                if let Some(cd) = coded {
                    cd.codes.touch(self.store.dim, nb as usize);
                } else {
                    self.store.touch_row(nb as usize);
                }
                s.nbrs.push(nb);
            }
        }
    }

    /// The expansion loop of [`Index::walk`] (on the base graph) or of [`Index::layer_search`]
    /// (on `layer`) for DTW, with every neighbor's DTW deferred until it
    /// could matter. An expanded node's unvisited neighbors get a cheap lower bound
    /// ([`crate::metric::QueryPrep::lb_order_sq`]) and wait in `s.deferred`, nearest bound first; before the
    /// beam's nearest unexpanded entry (distance `d`) is expanded, every waiting neighbor with a
    /// bound `<= d` is evaluated, and a waiting neighbor whose bound exceeds the beam's worst
    /// distance is dropped without a DTW (the worst only shrinks, so it could never enter).
    ///
    /// The result is the eager loop's, node for node: a neighbor that the eager loop would expand
    /// before the entry at `d` has a distance below `d`, so its bound is too and it is evaluated
    /// first; one left unevaluated has a bound, hence a distance, above the worst result, which
    /// the eager loop rejects as well. What changes is the work: each DTW that is computed runs
    /// against the cutoff of a fuller, tighter beam, so more neighbors are rejected by their
    /// bound and the others abandon earlier. With pruning off every waiting neighbor is
    /// evaluated in full (the same nodes visited, every distance exact).
    fn expand_deferred(&self, q: &[f32], ef: usize, layer: Option<&Layer>, s: &mut Scratch) {
        s.deferred.clear();
        let lanes = crate::metric::lanes_apply(self.store.metric, self.store.variable);
        loop {
            let mut next = s.beam.peek_next();
            while let Some(&Reverse((p, _))) = s.deferred.peek() {
                if next.is_some_and(|n| p.d > n.d) {
                    break;
                }
                let worst = s.beam.worst_if_full().map_or(f32::INFINITY, |w| w.d);
                if p.d > s.cutoff(worst) {
                    // Sorted by bound: every neighbor still waiting is out as well.
                    for Reverse((_, kim)) in s.deferred.drain() {
                        s.stats.count_bound_prune(kim);
                    }
                    break;
                }
                if lanes {
                    self.offer_lanes(q, s.cutoff(worst), s);
                } else {
                    s.deferred.pop();
                    self.offer(q, None, p.node, ef, s);
                }
                next = s.beam.peek_next();
            }
            // The waiting neighbors left all have bounds above `next`, so none when it is None.
            let Some(c) = s.beam.pop_next() else {
                break;
            };
            self.mark_neighbors(c.node, layer, None, s);
            for idx in 0..s.nbrs.len() {
                let nb = s.nbrs[idx];
                let worst = s.beam.worst_if_full().map_or(f32::INFINITY, |w| w.d);
                let cutoff = s.cutoff(worst);
                let (lb, kim) = s.prep.lb_order_sq(q, self.store.row(nb as usize), cutoff);
                if lb > cutoff {
                    s.stats.count_bound_prune(kim);
                } else {
                    s.deferred.push(Reverse((Cand { d: lb, node: nb }, kim)));
                }
            }
        }
    }

    /// Takes up to [`LANES`] waiting neighbors with bounds `<= cutoff` from `s.deferred`
    /// (nearest bound first) and offers them to the beam with their DTWs computed together
    /// ([`crate::metric::dtw_lanes_batch`]).
    /// Evaluating a neighbor sooner than [`Index::expand_deferred`] needs it changes no result,
    /// only the work.
    fn offer_lanes(&self, q: &[f32], cutoff: f32, s: &mut Scratch) {
        let mut nodes = [0u32; LANES];
        let mut rows: [&[f32]; LANES] = [&[]; LANES];
        let mut len = 0;
        while len < LANES {
            let Some(&Reverse((p, _))) = s.deferred.peek() else {
                break;
            };
            if p.d > cutoff {
                break;
            }
            s.deferred.pop();
            // LB_Kim and the forward LB_Keogh were the key; the reverse LB_Keogh would read the
            // row's envelope (twice the row's bytes) to reject about one in ten of these, which
            // costs more than the batched DTWs it saves (about 15 % of the walk's time, 20,000
            // walks of 256 at band 26).
            s.stats.visited += 1;
            (nodes[len], rows[len]) = (p.node, self.store.row(p.node as usize));
            len += 1;
        }
        let mut found = [0.0f32; LANES];
        crate::metric::dtw_lanes_batch(
            self.store.metric,
            q,
            &mut s.prep,
            &rows[..len],
            cutoff,
            &mut s.stats,
            &mut found,
        );
        for (&node, &d) in nodes[..len].iter().zip(&found) {
            s.beam.push(Cand { d, node });
        }
    }

    /// Marks `node` visited and offers it to the beam as a starting candidate, unless it was
    /// already visited (a seed, the excluded node).
    fn offer_start(
        &self,
        q: &[f32],
        coded: Option<Coded<'_>>,
        node: u32,
        ef: usize,
        s: &mut Scratch,
    ) {
        if s.mark(node) {
            self.offer(q, coded, node, ef, s);
        }
    }

    /// Seeds the beam of a search from the pivots: compares the query with every unvisited pivot
    /// (a contiguous, cache-resident block) and keeps the nearest (as many as the beam holds) as
    /// the starting candidates.
    fn seed_from_pivots(&self, pivots: &Pivots, q: &[f32], s: &mut Scratch) {
        let metric = self.store.metric;
        for (i, &node) in pivots.nodes.iter().enumerate() {
            let row = pivots.row(i);
            if !s.mark(node) {
                continue;
            }
            let cutoff = s.cutoff(s.beam.worst_if_full().map_or(f32::INFINITY, |w| w.d));
            // The pivot's own copy of its row: the block stays in cache across queries.
            let (upper, lower) = self.store.envelope(node as usize);
            let stored = Stored { row, upper, lower };
            let d = eval_sq(metric, q, &mut s.prep, stored, cutoff, &mut s.stats);
            s.beam.push(Cand { d, node });
        }
    }

    /// Best-first search on one upper layer from `entries`, with a result set bounded to `ef`;
    /// replaces `entries` with the results, ascending. Same pruning contract as [`Index::walk`].
    pub(crate) fn layer_search(
        &self,
        layer: &Layer,
        q: &[f32],
        exclude: Option<u32>,
        entries: &mut Vec<Cand>,
        ef: usize,
        s: &mut Scratch,
    ) {
        self.layer_search_with(layer, q, exclude, entries, (ef, self.defers_dtw()), s);
    }

    /// [`Index::layer_search`], expanding by [`Index::expand_deferred`] when `deferring` (a DTW
    /// index of one length), else evaluating every neighbor on the spot.
    fn layer_search_with(
        &self,
        layer: &Layer,
        q: &[f32],
        exclude: Option<u32>,
        entries: &mut Vec<Cand>,
        (ef, deferring): (usize, bool),
        s: &mut Scratch,
    ) {
        let ef = ef.max(1);
        s.begin(self.graph.len());
        if let Some(x) = exclude {
            s.mark(x);
        }
        s.seed(entries, ef);
        if deferring {
            self.expand_deferred(q, ef, Some(layer), s);
        } else {
            while let Some(c) = s.beam.pop_next() {
                self.mark_neighbors(c.node, Some(layer), None, s);
                for idx in 0..s.nbrs.len() {
                    self.offer(q, None, s.nbrs[idx], ef, s);
                }
            }
        }
        entries.clear();
        entries.extend(s.beam.iter());
    }

    /// Greedy descent (beam 1) from the entry point through the upper layers; leaves the node found
    /// on layer 1 in `seeds` (empty on an empty hierarchy).
    pub(crate) fn descend(
        &self,
        layers: &Layers,
        q: &[f32],
        s: &mut Scratch,
        seeds: &mut Vec<Cand>,
    ) {
        seeds.clear();
        let Some((ep, top)) = layers.entry() else {
            return;
        };
        s.prep
            .prepare(self.store.metric, self.store.channels, self.store.window, q);
        let d = self.eval_node(q, ep, f32::INFINITY, s);
        seeds.push(Cand { d, node: ep });
        for level in (1..=top.min(MAX_LEVEL)).rev() {
            if let Some(layer) = layers.upper.get(level - 1) {
                self.layer_search(layer, q, None, seeds, 1, s);
            }
        }
    }

    /// Whether [`crate::Entry::Euclidean`] applies: an HNSW index under DTW whose series all have
    /// one length.
    pub(crate) fn walks_from_euclidean(&self) -> bool {
        self.layers.is_some() && self.store.metric.band().is_some() && !self.store.variable
    }

    /// The entry of a search that names none: [`crate::Entry::Euclidean`] where it applies, else
    /// the graph's own ([`crate::GraphKind::default_entry`]).
    pub(crate) fn default_entry(&self) -> crate::Entry {
        if self.walks_from_euclidean() {
            crate::Entry::Euclidean
        } else {
            self.params.graph.default_entry()
        }
    }

    /// The seeds of [`crate::Entry::Euclidean`]: the greedy descent through the upper layers and
    /// a best-first walk of beam [`EUCLIDEAN_EF`] on the base graph, both under the squared
    /// Euclidean distance of the rows (one SIMD pass, a hundred times cheaper than a banded DTW of
    /// 256 steps), then the DTW of the nearest [`EUCLIDEAN_SEEDS`] of that beam, which start the
    /// DTW walk. The Euclidean distance of two series of one length is the cost of the diagonal
    /// warping path, an upper bound of their DTW: the rows near the query by it are near by DTW,
    /// and the DTW walk starts where the descent would have spent its DTWs getting to.
    /// `exclude` (the node being inserted) is never a seed unless the descent ends on it. Leaves
    /// `seeds` empty on an empty hierarchy; counts the Euclidean distances in
    /// `s.stats.euclidean_calls`.
    pub(crate) fn euclidean_seeds(
        &self,
        layers: &Layers,
        q: &[f32],
        exclude: Option<u32>,
        s: &mut Scratch,
        seeds: &mut Vec<Cand>,
    ) {
        seeds.clear();
        let Some((ep, top)) = layers.entry() else {
            return;
        };
        let mut calls = 0u64;
        let mut ed = |node: u32| {
            calls += 1;
            sq_euclidean(q, self.store.row(node as usize))
        };
        let mut cur = Cand {
            d: ed(ep),
            node: ep,
        };
        for level in (1..=top.min(MAX_LEVEL)).rev() {
            let Some(layer) = layers.upper.get(level - 1) else {
                continue;
            };
            loop {
                let from = cur.node;
                if let Some(slot) = layer.slot(from) {
                    for nb in layer.graph.links(slot) {
                        let c = Cand {
                            d: ed(nb),
                            node: nb,
                        };
                        if c < cur {
                            cur = c;
                        }
                    }
                }
                if cur.node == from {
                    break;
                }
            }
        }
        s.begin(self.graph.len());
        if let Some(x) = exclude {
            s.mark(x);
        }
        s.beam.reset(EUCLIDEAN_EF);
        s.mark(cur.node);
        s.beam.push(cur);
        while let Some(c) = s.beam.pop_next() {
            self.mark_neighbors(c.node, None, None, s);
            for idx in 0..s.nbrs.len() {
                let nb = s.nbrs[idx];
                s.beam.push(Cand {
                    d: ed(nb),
                    node: nb,
                });
            }
        }
        s.stats.euclidean_calls += calls;
        s.prep
            .prepare(self.store.metric, self.store.channels, self.store.window, q);
        let mut best = std::mem::take(&mut s.sorted);
        best.clear();
        best.extend(
            s.beam
                .iter()
                .filter(|c| !self.is_dead(c.node))
                .take(EUCLIDEAN_SEEDS),
        );
        for c in &best {
            let d = self.eval_node(q, c.node, f32::INFINITY, s);
            seeds.push(Cand { d, node: c.node });
        }
        s.sorted = best;
    }
}

/// Beam of the Euclidean walk of [`Index::euclidean_seeds`]. 100,000 random walks of 256 steps,
/// band 26, one thread: beams of 10, 24 and 48 seed DTW walks of equal recall, 10 the cheapest.
pub(crate) const EUCLIDEAN_EF: usize = 10;
/// How many of its nearest rows seed the DTW walk (1 and 4 measured the same as 2 there).
pub(crate) const EUCLIDEAN_SEEDS: usize = 2;

/// Replaces the distance of every entry of `s.beam` by `dist(node, stats)` and re-sorts the
/// beam (bounded to `ef`), entries unexpanded: quantized walks switch between code and float
/// distances this way.
fn rescore_beam(s: &mut Scratch, ef: usize, mut dist: impl FnMut(u32, &mut SearchStats) -> f32) {
    let mut beam = std::mem::take(&mut s.beam);
    let mut sorted = std::mem::take(&mut s.sorted);
    sorted.clear();
    sorted.extend(beam.iter().map(|c| Cand {
        d: dist(c.node, &mut s.stats),
        node: c.node,
    }));
    beam.reset(ef);
    for &c in &sorted {
        beam.push(c);
    }
    s.beam = beam;
    s.sorted = sorted;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::BuildParams;
    use proptest::prelude::*;

    /// Seeded series of `n * dim` floats: small integers (ties) or random-walk steps.
    fn series(n: usize, dim: usize, seed: u64, ints: bool) -> Vec<f32> {
        let mut r = crate::rng::Rng::new(seed);
        let mut acc = 0.0f32;
        (0..n * dim)
            .map(|i| {
                let u = r.below(1 << 20) as f32 / (1 << 20) as f32;
                if ints {
                    (u * 5.0).floor()
                } else {
                    if i % dim == 0 {
                        acc = 0.0;
                    }
                    acc += u - 0.5;
                    acc
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The deferred expansion of DTW walks returns what evaluating every neighbor on the
        /// spot returns (ids and distances bit for bit) and visits the same nodes, in both
        /// forms, with and without the batched kernel (one channel and three), ties included.
        #[test]
        fn deferred_walk_is_the_eager_walk(
            seed in any::<u64>(),
            ints in any::<bool>(),
            (channels, independent) in prop_oneof![Just((1usize, false)), Just((3, false)), Just((2, true))],
            band in 1usize..12,
            ef in 1usize..40,
            k in 1usize..8,
            restarts in 1usize..3,
        ) {
            let steps = 24;
            let dim = steps * channels;
            let metric = if independent {
                Metric::DtwIndependent { band }
            } else {
                Metric::Dtw { band }
            };
            let params = BuildParams { max_degree: 8, ef_construction: 16, seed, ..BuildParams::default() };
            let mut idx = Index::with_channels(steps, channels, metric, params)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let data = series(300, dim, seed, ints);
            idx.add(&data, None, 1).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(idx.defers_dtw());
            let queries = series(6, dim, seed ^ 1, ints);
            let mut s = Scratch::default();
            for (i, q) in queries.chunks_exact(dim).enumerate() {
                let walk = Walk {
                    query: q,
                    coded: None,
                    exclude: None,
                    k,
                    ef,
                    restarts,
                    start: Start::Random,
                    root: Some(idx.root()),
                    limit: idx.graph.len(),
                    seed: seed.wrapping_add(i as u64),
                };
                let mut run = |deferring: bool| {
                    s.stats = SearchStats::default();
                    idx.walk_with(&walk, deferring, &mut s);
                    let mut top: Vec<Cand> = s.top.iter().copied().collect();
                    top.sort();
                    let bits: Vec<(u32, u32)> = top.iter().map(|c| (c.node, c.d.to_bits())).collect();
                    (bits, s.stats.visited)
                };
                let (eager, eager_visits) = run(false);
                let (deferred, deferred_visits) = run(true);
                prop_assert_eq!(&deferred, &eager, "query {}", i);
                prop_assert_eq!(deferred_visits, eager_visits, "query {}", i);
                // The same on the first upper layer, from the entry point.
                let (Some(layers), Some((ep, _))) = (&idx.layers, idx.layers.as_ref().and_then(|l| l.entry())) else {
                    continue;
                };
                let Some(layer) = layers.upper.first() else {
                    continue;
                };
                let mut on_layer = |deferring: bool| {
                    s.stats = SearchStats::default();
                    s.prep.prepare(metric, channels, None, q);
                    let mut entries = vec![Cand { d: idx.eval_node(q, ep, f32::INFINITY, &mut s), node: ep }];
                    idx.layer_search_with(layer, q, None, &mut entries, (ef, deferring), &mut s);
                    let bits: Vec<(u32, u32)> = entries.iter().map(|c| (c.node, c.d.to_bits())).collect();
                    (bits, s.stats.visited)
                };
                prop_assert_eq!(on_layer(true), on_layer(false), "layer, query {}", i);
            }
        }
    }
}
