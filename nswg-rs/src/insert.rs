//! Insertion: linking new nodes into the base graph and the layers above it, sequentially or in
//! parallel waves, with back-links and the diversity rule that re-prunes full lists.

use crate::graph::{reselect_diverse, select_diverse, Cand, Graph, Layers, MAX_LEVEL};
use crate::index::Index;
use crate::metric::lanes::{self, LANES};
use crate::metric::{bounds, lanes_apply, Metric};
use crate::rng::insert_seed;
use crate::scratch::{BuildDist, Scratch};
use crate::walk::{Start, Walk};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Links a new node makes when inserted: three quarters of the degree cap (at least 1), leaving
/// room for back-links before a list must be re-pruned. Measured on 10,000 uniform 32-d vectors:
/// recall@10 at ef=64 goes from 0.957 (m/2) to 0.969 (3m/4) for 6% more distance computations.
fn new_node_links(max_degree: usize) -> usize {
    (max_degree * 3 / 4).max(1)
}

/// Degree cap of the upper layers of a hierarchy: `M = max(max_degree / 2, 2)`, as HNSW's `M`
/// against its base-layer cap `2M`.
pub(crate) fn upper_degree(max_degree: usize) -> usize {
    (max_degree / 2).max(2)
}

/// The list of `node`, kept at `slot` of `graph` (on the base graph the slot is the node number;
/// on an upper layer it is the node's position in that layer).
#[derive(Clone, Copy)]
struct ListAt<'a> {
    graph: &'a Graph,
    slot: u32,
    node: u32,
}

impl Index {
    /// Links nodes `from..to` (already stored) into the graph; returns the distance computations
    /// it took.
    pub(crate) fn link_nodes(&self, from: usize, to: usize, n_threads: usize) -> u64 {
        let m = self.graph.max_degree;
        let calls = AtomicU64::new(0);
        // Sequentially, node `i` enters from all nodes before it.
        let run = |range: std::ops::Range<usize>| {
            let mut s = self.take_scratch();
            for i in range {
                self.insert(i as u32, i, &mut s);
            }
            calls.fetch_add(std::mem::take(&mut s.build.calls), Ordering::Relaxed);
            self.give_scratch(s);
        };
        // The first m+1 nodes are connected to all earlier ones, sequentially.
        let seq_end = to.min(m + 1).max(from);
        run(from..seq_end);
        let mut done = seq_end;
        let Some(pool) = self.pool(n_threads, to - done) else {
            run(done..to);
            return calls.into_inner();
        };
        // Parallel: waves that grow with the graph. Workers take the next node from a shared
        // counter, so nodes are inserted nearly in order and see each other as soon as linked;
        // entry points come from nodes of earlier waves, which are fully linked.
        while done < to {
            let wave = (done / 2).clamp(1, 1 << 16);
            let end = (done + wave).min(to);
            let limit = done;
            let next = AtomicUsize::new(done);
            pool.broadcast(|_| {
                let mut s = self.take_scratch();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        break;
                    }
                    self.insert(i as u32, limit, &mut s);
                }
                calls.fetch_add(std::mem::take(&mut s.build.calls), Ordering::Relaxed);
                self.give_scratch(s);
            });
            done = end;
        }
        calls.into_inner()
    }

    /// Links the refilled slot `i` (inside the graph, its lists empty) into the graph and its
    /// layers again, entering from nodes `0..limit` and the root; counts its distance
    /// computations in `s.build.calls`.
    pub(crate) fn insert_again(&self, i: u32, limit: usize, s: &mut Scratch) {
        self.insert_node(i, limit, true, s);
    }

    /// Links node `i` into the graph (and its layers), entering from nodes `0..limit`; counts its
    /// distance computations in `s.build.calls`. A free slot is left unlinked.
    fn insert(&self, i: u32, limit: usize, s: &mut Scratch) {
        if !self.is_dead(i) {
            self.insert_node(i, limit, false, s);
        }
    }

    /// [`Index::insert`]; `again` for a refilled slot.
    fn insert_node(&self, i: u32, limit: usize, again: bool, s: &mut Scratch) {
        let mut seeds = std::mem::take(&mut s.seeds);
        seeds.clear();
        if let Some(layers) = &self.layers {
            let lvl = layers.levels.get(i as usize).map_or(0, |&l| l as usize);
            // A node that raises the top level is inserted alone (HNSW's global lock), so two new
            // top nodes cannot both miss each other on their new layers.
            let _top = layers
                .entry()
                .is_none_or(|(_, top)| lvl > top)
                .then(|| layers.top_lock.lock());
            self.insert_upper(layers, i, lvl, s, &mut seeds);
            self.link_base(i, limit, &seeds, again, s);
            layers.offer_entry(i, lvl);
        } else {
            self.link_base(i, limit, &[], again, s);
        }
        s.seeds = seeds;
        s.build.calls += std::mem::take(&mut s.stats).distance_calls;
    }

    /// Links node `i` on the upper layers `1..=lvl` and leaves in `seeds` where its base-layer
    /// search starts (empty before the first node is linked): descends greedily (beam 1) from the
    /// entry point down to level `lvl + 1`, then on each layer `lvl..=1` searches with beam
    /// `ef_construction` from the previous layer's results and links by the diversity rule. A
    /// node of level 0 of an index that [`Index::walks_from_euclidean`] takes the seeds of
    /// [`Index::euclidean_seeds`] instead.
    fn insert_upper(
        &self,
        layers: &Layers,
        i: u32,
        lvl: usize,
        s: &mut Scratch,
        seeds: &mut Vec<Cand>,
    ) {
        let Some((ep, top)) = layers.entry() else {
            return;
        };
        let q = self.store.row(i as usize);
        if lvl == 0 && self.walks_from_euclidean() {
            // A node of the base graph only, under DTW of one length: its base-layer search
            // starts where queries' do (the Euclidean walk), sparing the descent's DTWs (20,000
            // walks of 256, band 26: 944 -> 918 DTWs per series, recall unchanged).
            self.euclidean_seeds(layers, q, Some(i), s, seeds);
            return;
        }
        s.prep
            .prepare(self.store.metric, self.store.channels, self.store.window, q);
        let d = self.eval_node(q, ep, f32::INFINITY, s);
        seeds.push(Cand { d, node: ep });
        let mut chosen = std::mem::take(&mut s.chosen);
        for level in (1..=top.min(MAX_LEVEL)).rev() {
            let Some(layer) = layers.upper.get(level - 1) else {
                continue;
            };
            let ef = if level > lvl {
                1
            } else {
                self.params.ef_construction
            };
            self.layer_search(layer, q, Some(i), seeds, ef, s);
            if level > lvl {
                continue;
            }
            let Some(slot) = layer.slot(i) else {
                continue;
            };
            let build = &mut s.build;
            select_diverse(
                seeds,
                layers.m,
                |c, kept| self.beaten(c, kept, build),
                &mut chosen,
            );
            let g = &layer.graph;
            let own = ListAt {
                graph: g,
                slot,
                node: i,
            };
            self.set_own_links(own, &chosen, chosen.len(), s);
            for &j in &chosen {
                if let Some(sj) = layer.slot(j) {
                    let at = ListAt {
                        graph: g,
                        slot: sj,
                        node: j,
                    };
                    self.back_link(at, i, s);
                }
            }
        }
        s.chosen = chosen;
    }

    /// Links node `i` into the base graph, entering from `seeds` (first restart) or from nodes
    /// `0..limit`. The first `max_degree + 1` nodes of an index that never had a removal link to
    /// all nodes before them; otherwise (`again`: a refilled slot, or after a removal) the
    /// neighbours come from a walk that also starts at the root.
    fn link_base(&self, i: u32, limit: usize, seeds: &[Cand], again: bool, s: &mut Scratch) {
        let m = self.graph.max_degree;
        let fresh = !again && self.dead.is_empty();
        if fresh && i == 0 {
            return;
        }
        let q = self.store.row(i as usize);
        let mut chosen = std::mem::take(&mut s.chosen);
        let diverse;
        if fresh && (i as usize) <= m {
            chosen.clear();
            chosen.extend(0..i);
            diverse = 0;
        } else {
            let ef = self.params.ef_construction;
            let walk = Walk {
                query: q,
                coded: None,
                exclude: Some(i),
                k: ef,
                ef,
                restarts: 1,
                start: Start::Seeds(seeds),
                root: (!fresh).then(|| self.root()),
                limit,
                seed: insert_seed(self.params.seed, i),
            };
            self.walk(&walk, s);
            let mut sorted = std::mem::take(&mut s.sorted);
            sorted.clear();
            sorted.extend(s.top.drain());
            sorted.sort_unstable();
            let build = &mut s.build;
            select_diverse(
                &sorted,
                new_node_links(m),
                |c, kept| self.beaten(c, kept, build),
                &mut chosen,
            );
            s.sorted = sorted;
            diverse = chosen.len();
        }
        let g = &self.graph;
        let own = ListAt {
            graph: g,
            slot: i,
            node: i,
        };
        self.set_own_links(own, &chosen, diverse, s);
        for &j in &chosen {
            let at = ListAt {
                graph: g,
                slot: j,
                node: j,
            };
            self.back_link(at, i, s);
        }
        s.chosen = chosen;
    }

    /// Writes the new node's own list. In a parallel build, the node can already be visible
    /// (through a layer above, linked first) to concurrent inserts, which may have pushed
    /// back-links into its still-empty list on this layer. Overwriting those would strand the nodes
    /// they point to, so they are merged with `chosen`, and the union is re-selected by the
    /// diversity rule when it exceeds the cap. In a sequential build the list is always empty here,
    /// so the result is exactly `chosen`. The first `diverse` entries of `chosen` are a choice of
    /// the diversity rule (see [`Graph::set_links`]).
    fn set_own_links(&self, own: ListAt<'_>, chosen: &[u32], diverse: usize, s: &mut Scratch) {
        let (g, si) = (own.graph, own.slot);
        let _g = g.lock(si);
        let mut nbrs = std::mem::take(&mut s.nbrs);
        g.neighbors_into(si, &mut nbrs);
        if nbrs.is_empty() {
            g.set_links(si, chosen, diverse);
        } else {
            let known = g.diverse_prefix(si);
            for &c in chosen {
                if !nbrs.contains(&c) {
                    nbrs.push(c);
                }
            }
            if nbrs.len() <= g.max_degree {
                g.set_links(si, &nbrs, known);
            } else {
                self.reselect(own, &nbrs, known, s);
            }
        }
        s.nbrs = nbrs;
    }

    /// Adds the link `at.node -> i`; when the list is full, re-selects among its old links and `i`
    /// by the diversity rule, up to the graph's cap.
    fn back_link(&self, at: ListAt<'_>, i: u32, s: &mut Scratch) {
        let (g, sj) = (at.graph, at.slot);
        let _g = g.lock(sj);
        // In a parallel build `j` may already link to `i` (each chose the other while both were
        // being inserted); the link must not appear twice.
        if g.links(sj).any(|n| n == i) || g.try_push(sj, i) {
            return;
        }
        let mut nbrs = std::mem::take(&mut s.nbrs);
        g.neighbors_into(sj, &mut nbrs);
        nbrs.push(i);
        let known = g.diverse_prefix(sj);
        self.reselect(at, &nbrs, known, s);
        s.nbrs = nbrs;
    }

    /// Replaces the list `at` by the diversity rule's choice among `cands`, up to the graph's cap,
    /// where the first `known` of `cands` are already known diverse (the list's
    /// [`Graph::diverse_prefix`]), which spares their comparisons among themselves. The caller
    /// holds the slot's lock.
    fn reselect(&self, at: ListAt<'_>, cands: &[u32], known: usize, s: &mut Scratch) {
        let mut sorted = std::mem::take(&mut s.resel);
        let mut kept = std::mem::take(&mut s.kept);
        let mut fresh = std::mem::take(&mut s.fresh);
        let build = &mut s.build;
        sorted.clear();
        self.node_dists_sq(at.node, cands, build, |k, c| sorted.push((c, k < known)));
        sorted.sort_unstable_by_key(|a| a.0);
        reselect_diverse(
            &sorted,
            at.graph.max_degree,
            |c, kept| self.beaten(c, kept, build),
            &mut kept,
            &mut fresh,
        );
        at.graph.set_links(at.slot, &kept, kept.len());
        s.resel = sorted;
        s.kept = kept;
        s.fresh = fresh;
    }

    /// Whether some node `s` of `kept` is nearer to `c.node` than `c.d`, `dist(c.node, s) < c.d`
    /// in squared units (the diversity rule's test, see [`select_diverse`]), as
    /// [`Index::node_dist_sq`] computes the distances. DTW of one length skips every pair whose
    /// LB_Keogh (`c`'s row against the other's stored envelope) is already `>= c.d`, and, in the
    /// dependent form, computes the rest eight at a time with the batched kernel abandoned above
    /// `c.d` ([`crate::metric::lanes`]: the same bits as the one-pair kernel below it).
    pub(crate) fn beaten(&self, c: Cand, kept: &[u32], build: &mut BuildDist) -> bool {
        let Some(band) = self.equal_length_band() else {
            return kept
                .iter()
                .any(|&s| self.node_dist_sq(c.node, s, c.d, build) < c.d);
        };
        let row = self.store.row(c.node as usize);
        let lanes = lanes_apply(self.store.metric, self.store.variable);
        let mut batch: [&[f32]; LANES] = [row; LANES];
        let mut len = 0;
        for &s in kept {
            let other = self.store.stored(s as usize);
            if bounds::lb_keogh_sq(row, other.upper, other.lower, c.d) >= c.d {
                continue;
            }
            if !lanes {
                if self.node_dist_sq(c.node, s, c.d, build) < c.d {
                    return true;
                }
                continue;
            }
            batch[len] = other.row;
            len += 1;
            if len == LANES {
                if self.lanes_beat(row, &batch, len, band, c.d, build) {
                    return true;
                }
                len = 0;
            }
        }
        len > 0 && self.lanes_beat(row, &batch, len, band, c.d, build)
    }

    /// Whether one of the first `len` rows of `batch` is nearer to `row` than `d` by the batched
    /// DTW kernel (dependent form, radius `band`, abandoned above `d`).
    fn lanes_beat(
        &self,
        row: &[f32],
        batch: &[&[f32]; LANES],
        len: usize,
        band: usize,
        d: f32,
        build: &mut BuildDist,
    ) -> bool {
        build.calls += len as u64;
        let c = self.store.channels;
        let found = lanes::dtw_lanes_sq(row, batch, c, band, d, &mut build.lanes);
        found[..len].iter().any(|&v| v < d)
    }

    /// The squared distances from stored node `a` to each of `others`, exact (as
    /// [`Index::node_dist_sq`] computes them without a cutoff), handed to `put(k, cand)` in the
    /// order of `others`; DTW of one length in the dependent form computes them eight at a time
    /// with the batched kernel.
    pub(crate) fn node_dists_sq(
        &self,
        a: u32,
        others: &[u32],
        build: &mut BuildDist,
        mut put: impl FnMut(usize, Cand),
    ) {
        let band = self.equal_length_band();
        let (Some(band), true) = (band, lanes_apply(self.store.metric, self.store.variable)) else {
            for (k, &n) in others.iter().enumerate() {
                let d = self.node_dist_sq(a, n, f32::INFINITY, build);
                put(k, Cand { d, node: n });
            }
            return;
        };
        let row = self.store.row(a as usize);
        let c = self.store.channels;
        for (chunk, group) in others.chunks(LANES).enumerate() {
            let batch: [&[f32]; LANES] = std::array::from_fn(|l| {
                self.store
                    .row(group.get(l).copied().unwrap_or(group[0]) as usize)
            });
            build.calls += group.len() as u64;
            let found = lanes::dtw_lanes_sq(row, &batch, c, band, f32::INFINITY, &mut build.lanes);
            for (l, (&n, &d)) in group.iter().zip(&found).enumerate() {
                put(chunk * LANES + l, Cand { d, node: n });
            }
        }
    }

    /// The DTW radius of every pair of stored rows (time steps) when the index holds DTW series
    /// of one length with a band wider than 0 (where the batched kernel and the stored envelopes
    /// apply), else `None`.
    pub(crate) fn equal_length_band(&self) -> Option<usize> {
        let store = &self.store;
        if store.variable {
            return None;
        }
        let steps = store.dim / store.channels.max(1);
        let band = crate::metric::pair_band(store.metric.band()?, store.window, steps, steps);
        (band > 0).then_some(band)
    }

    /// Squared distance between two stored nodes (used when building): exact when `<= cutoff`,
    /// otherwise some value `> cutoff` (DTW abandons early). Counted in `build.calls`.
    pub(crate) fn node_dist_sq(&self, a: u32, b: u32, cutoff: f32, build: &mut BuildDist) -> f32 {
        let (ra, rb) = (self.store.row(a as usize), self.store.row(b as usize));
        build.calls += 1;
        let c = self.store.channels;
        let metric = self.store.metric;
        let band = metric.band().map(|band| {
            crate::metric::pair_band(band, self.store.window, ra.len() / c, rb.len() / c)
        });
        match band {
            // The vector metrics as `eval_sq` computes them; on the diagonal of equal lengths
            // DTW is the Euclidean distance (as `eval_sq`).
            None => crate::metric::vector_sq(metric, ra, rb),
            Some(0) if ra.len() == rb.len() => crate::metric::euclidean::sq_euclidean(ra, rb),
            band => {
                let independent = matches!(metric, Metric::DtwIndependent { .. });
                let band = band.unwrap_or(0);
                crate::metric::dtw::dtw_form_sq(
                    independent,
                    ra,
                    rb,
                    c,
                    band,
                    cutoff,
                    &mut build.dtw,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::BuildParams;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The batched build distances decide as the one-pair kernel does: `beaten` is "some kept
        /// node is nearer than `c.d`" by `node_dist_sq`, and `node_dists_sq` gives its exact
        /// distances bit for bit, in every DTW form (ties from small integers; `c.d` set to one
        /// of the true distances, so equality is tested).
        #[test]
        fn batched_build_distances_are_the_one_pair_ones(
            seed in any::<u64>(),
            ints in any::<bool>(),
            (channels, independent) in prop_oneof![Just((1usize, false)), Just((2, false)), Just((2, true))],
            band in 0usize..10,
            window in prop::option::of(0.05f64..1.5),
            kept in prop::collection::vec(1u32..40, 0..20),
        ) {
            let steps = 20;
            let metric = if independent {
                Metric::DtwIndependent { band }
            } else {
                Metric::Dtw { band }
            };
            let mut idx = Index::with_channels(steps, channels, metric, BuildParams::default())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Some(w) = window {
                idx.store.window = Some(w);
            }
            let mut r = crate::rng::Rng::new(seed);
            let data: Vec<f32> = (0..40 * steps * channels)
                .map(|_| {
                    let u = r.below(1 << 16) as f32 / (1 << 16) as f32;
                    if ints { (u * 4.0).floor() } else { u * 6.0 - 3.0 }
                })
                .collect();
            idx.add_unlinked(&data, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut build = BuildDist::default();
            let one = |a: u32, b: u32, build: &mut BuildDist| idx.node_dist_sq(a, b, f32::INFINITY, build);
            let mut got = Vec::new();
            idx.node_dists_sq(0, &kept, &mut build, |k, c| got.push((k, c.node, c.d.to_bits())));
            let want: Vec<(usize, u32, u32)> = kept
                .iter()
                .enumerate()
                .map(|(k, &n)| (k, n, one(0, n, &mut build).to_bits()))
                .collect();
            prop_assert_eq!(got, want);
            for node in 0..8 {
                // Every distance from `node` to the kept ones as `c.d`, their neighbours in f32,
                // and the extremes.
                let mut ds: Vec<f32> = kept.iter().map(|&n| one(node, n, &mut build)).collect();
                let near: Vec<f32> = ds.iter().flat_map(|&d| [d.next_down(), d.next_up()]).collect();
                ds.extend(near);
                ds.extend([0.0, 1.0, f32::INFINITY]);
                for &d in &ds {
                    let c = Cand { d, node };
                    let naive = kept.iter().any(|&n| one(node, n, &mut build) < d);
                    prop_assert_eq!(idx.beaten(c, &kept, &mut build), naive, "node {} d = {}", node, d);
                }
            }
        }
    }
}
