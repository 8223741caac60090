//! Insertion: linking new nodes into the base graph and the layers above it, sequentially or in
//! parallel waves, with back-links and the diversity rule that re-prunes full lists.

use crate::graph::{reselect_diverse, select_diverse, Cand, Graph, Layers, MAX_LEVEL};
use crate::index::Index;
use crate::metric::Metric;
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
    /// `ef_construction` from the previous layer's results and links by the diversity rule.
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
                |a, b, cut| self.node_dist_sq(a, b, cut, build),
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
                |a, b, cut| self.node_dist_sq(a, b, cut, build),
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
        sorted.extend(cands.iter().enumerate().map(|(k, &n)| {
            let d = self.node_dist_sq(at.node, n, f32::INFINITY, build);
            (Cand { d, node: n }, k < known)
        }));
        sorted.sort_unstable_by_key(|a| a.0);
        reselect_diverse(
            &sorted,
            at.graph.max_degree,
            |a, b, cut| self.node_dist_sq(a, b, cut, build),
            &mut kept,
            &mut fresh,
        );
        at.graph.set_links(at.slot, &kept, kept.len());
        s.resel = sorted;
        s.kept = kept;
        s.fresh = fresh;
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
