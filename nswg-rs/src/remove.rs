//! Removal: freeing the slots of removed rows, repairing the graph around them (every list that
//! linked a removed node is re-selected among its other links and the removed node's links), and
//! linking again the slots later adds fill; replacing a stored row.

use crate::error::{invalid, Error};
use crate::graph::{select_diverse, Cand, Graph};
use crate::index::{Index, FREE_ID};
use crate::params::check_threads;
use crate::pivots::Pivots;
use crate::scratch::BuildDist;
use crate::stats::BuildStats;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

impl Index {
    /// Removes the rows of `ids` (repeats count once). Their ids are no longer stored, no search
    /// returns them, and their slots are reused by later adds (lowest slot first). The graph is
    /// repaired at once: every list that linked a removed node is re-selected by the diversity
    /// rule among its remaining links and the removed node's own links (on every layer), the
    /// hierarchy's entry point moves to a remaining node of the highest level, and the orphan
    /// pass links back whatever became unreachable. Work runs on `n_threads` threads (0 = all
    /// cores); the result does not depend on them. Returns the work done (distance computations
    /// of the re-selection and the orphan pass).
    ///
    /// # Errors
    /// `UnknownIds` naming every id not stored, `InvalidParameter` (`ids`) on a variable-length
    /// index (not supported) or (`n_threads`) above [`crate::MAX_THREADS`]: nothing is removed.
    pub fn remove(&mut self, ids: &[i64], n_threads: usize) -> Result<BuildStats, Error> {
        check_threads(n_threads)?;
        let nodes = self.nodes_of(ids)?;
        Ok(self.remove_nodes(&nodes, n_threads))
    }

    /// The slots of `ids`, ascending and without repeats.
    ///
    /// # Errors
    /// As [`Index::remove`].
    fn nodes_of(&self, ids: &[i64]) -> Result<Vec<u32>, Error> {
        if self.store.variable && !ids.is_empty() {
            return Err(invalid(
                "ids",
                "cannot be removed from an index of series of their own lengths (not supported)",
            ));
        }
        let mut unknown = Vec::new();
        let mut nodes = Vec::with_capacity(ids.len());
        for &id in ids {
            match self.id_map.get(&id) {
                Some(&n) => nodes.push(n),
                None => unknown.push(id),
            }
        }
        if !unknown.is_empty() {
            unknown.sort_unstable();
            unknown.dedup();
            return Err(Error::unknown_ids(unknown));
        }
        nodes.sort_unstable();
        nodes.dedup();
        Ok(nodes)
    }

    /// [`Index::add_unlinked`] that replaces the rows of ids already stored instead of refusing
    /// them: those rows are removed first (with the repair of [`Index::remove`], on all cores),
    /// then every row is stored, pending, so the replaced rows get new links at the next build.
    /// Ids not stored are simply added. The ids must be given.
    ///
    /// # Errors
    /// As [`Index::add_unlinked`], except that a stored id is not a `DuplicateId` (an id twice
    /// in `ids` still is); `InvalidParameter` (`ids`) on a variable-length index: nothing
    /// changes.
    pub fn add_unlinked_replacing(&mut self, rows: &[f32], ids: &[i64]) -> Result<Vec<i64>, Error> {
        let stored: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| self.id_map.contains_key(id))
            .collect();
        if stored.is_empty() {
            return self.add_unlinked(rows, Some(ids));
        }
        // Every check of the add first, as if the stored ids were free: nothing changes on error.
        let n = crate::index::check_rows("vectors", rows, self.dim())?;
        if ids.len() != n {
            return Err(invalid(
                "ids",
                format!("has {} entries but vectors has {n} rows", ids.len()),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        for &id in ids {
            if id < 0 {
                return Err(invalid("ids", format!("must be non-negative, got {id}")));
            }
            if !seen.insert(id) {
                return Err(Error::DuplicateId { id });
            }
        }
        if self.store.metric.normalizes() {
            crate::metric::normalize_rows("vectors", rows, self.dim(), &mut Vec::new())?;
        }
        let nodes = self.nodes_of(&stored)?;
        self.remove_nodes(&nodes, 0);
        self.add_unlinked(rows, Some(ids))
    }

    /// Frees the slots `nodes` (stored, ascending, no repeats) and repairs the graph (see
    /// [`Index::remove`]).
    pub(crate) fn remove_nodes(&mut self, nodes: &[u32], n_threads: usize) -> BuildStats {
        let mut stats = BuildStats::default();
        if nodes.is_empty() {
            return stats;
        }
        self.generation += 1;
        if self.dead.is_empty() {
            self.dead = vec![false; self.slots()];
        }
        for &n in nodes {
            let id = std::mem::replace(&mut self.ids[n as usize], FREE_ID);
            self.id_map.remove(&id);
            self.dead[n as usize] = true;
        }
        let dead = &self.dead;
        self.relink.retain(|&r| !dead[r as usize]);
        self.free.extend_from_slice(nodes);
        self.free.sort_unstable_by(|a, b| b.cmp(a));
        let g = self.graph.len();
        let linked = nodes.iter().any(|&n| (n as usize) < g);
        if linked {
            let calls = AtomicU64::new(0);
            self.bypass(&self.graph, |s| s, Some, self.graph.max_degree, n_threads, &calls);
            if let Some(layers) = &self.layers {
                for layer in &layers.upper {
                    let slot_of = |v: u32| layer.slot(v);
                    let node_of = |s: u32| layer.nodes[s as usize];
                    self.bypass(&layer.graph, node_of, slot_of, layers.m, n_threads, &calls);
                }
            }
            stats.distance_calls += calls.into_inner();
        }
        self.update_roots();
        self.pivots = Pivots::build(&self.store, g, &self.dead);
        if linked {
            let (orphans, calls) = self.repair();
            stats.repair_passes = 1;
            stats.orphans_linked = orphans as u64;
            stats.distance_calls += calls;
        }
        stats
    }

    /// Re-selects every list of `graph` (slot `s` holding the list of node `node_of(s)`; a node's
    /// slot is `slot_of(node)`) that links a free slot, among its other links and the links of
    /// the free slots it linked, by the diversity rule up to `m`; then empties the lists of the
    /// free slots. The new lists are computed in parallel from the old ones and written after,
    /// so the result does not depend on the threads.
    fn bypass(
        &self,
        graph: &Graph,
        node_of: impl Fn(u32) -> u32 + Sync,
        slot_of: impl Fn(u32) -> Option<u32> + Sync,
        m: usize,
        n_threads: usize,
        calls: &AtomicU64,
    ) {
        let slots = graph.len() as u32;
        let affected: Vec<u32> = (0..slots)
            .filter(|&s| !self.is_dead(node_of(s)) && graph.links(s).any(|v| self.is_dead(v)))
            .collect();
        let relist = |slot: u32, dist: &mut BuildDist| -> Vec<u32> {
            let u = node_of(slot);
            let mut cands: Vec<u32> = Vec::with_capacity(4 * m);
            for v in graph.links(slot) {
                if !self.is_dead(v) {
                    cands.push(v);
                } else if let Some(sv) = slot_of(v) {
                    cands.extend(graph.links(sv).filter(|&w| w != u && !self.is_dead(w)));
                }
            }
            cands.sort_unstable();
            cands.dedup();
            let mut sorted: Vec<Cand> = cands
                .iter()
                .map(|&c| Cand {
                    d: self.node_dist_sq(u, c, f32::INFINITY, dist),
                    node: c,
                })
                .collect();
            sorted.sort_unstable();
            let mut out = Vec::with_capacity(m);
            select_diverse(&sorted, m, |a, b, cut| self.node_dist_sq(a, b, cut, dist), &mut out);
            out
        };
        let lists: Vec<Vec<u32>> = match self.pool(n_threads, affected.len()) {
            Some(pool) => pool.install(|| {
                affected
                    .par_iter()
                    .map_init(BuildDist::default, |dist, &slot| {
                        let list = relist(slot, dist);
                        calls.fetch_add(std::mem::take(&mut dist.calls), Ordering::Relaxed);
                        list
                    })
                    .collect()
            }),
            None => {
                let mut dist = BuildDist::default();
                let lists = affected.iter().map(|&slot| relist(slot, &mut dist)).collect();
                calls.fetch_add(dist.calls, Ordering::Relaxed);
                lists
            }
        };
        for (&slot, list) in affected.iter().zip(&lists) {
            let _lock = graph.lock(slot);
            graph.set_links(slot, list, list.len());
        }
        for s in 0..slots {
            if self.is_dead(node_of(s)) && graph.degree(s) > 0 {
                let _lock = graph.lock(s);
                graph.set_links(s, &[], 0);
            }
        }
    }

    /// True if slot `node` is linked into the graph and in use: not free, not awaiting links.
    fn is_linked_live(&self, node: u32) -> bool {
        (node as usize) < self.graph.len() && !self.is_dead(node) && !self.relink.contains(&node)
    }

    /// Points the roots at linked slots in use after removals or relinks: the hierarchy's entry
    /// (kept if still in use, else the first such node of the highest level that has one, else
    /// of the base graph) and the flat graph's root (the lowest such slot).
    pub(crate) fn update_roots(&mut self) {
        if self.dead.is_empty() && self.relink.is_empty() {
            self.flat_root = 0;
            return;
        }
        self.flat_root = (0..self.graph.len() as u32)
            .find(|&n| self.is_linked_live(n))
            .unwrap_or(0);
        let Some(layers) = &self.layers else {
            return;
        };
        if layers.entry().is_some_and(|(e, _)| self.is_linked_live(e)) {
            return;
        }
        let upper = layers.upper.iter().enumerate().rev().find_map(|(l, layer)| {
            let node = layer.nodes.iter().copied().find(|&n| self.is_linked_live(n))?;
            Some((node, l + 1))
        });
        let entry =
            upper.or_else(|| self.is_linked_live(self.flat_root).then_some((self.flat_root, 0)));
        layers.set_entry(entry);
    }

    /// Links the refilled slots ([`Index::relink`]) into the graph and its layers again, on
    /// `n_threads` threads (workers take the next slot from a shared counter, as a parallel
    /// build does; entries come from the whole graph); returns the distance computations.
    pub(crate) fn relink_slots(&mut self, n_threads: usize) -> u64 {
        let mut nodes = std::mem::take(&mut self.relink);
        nodes.sort_unstable();
        let calls = AtomicU64::new(0);
        let next = AtomicUsize::new(0);
        let limit = self.graph.len();
        let work = || {
            let mut s = self.take_scratch();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&node) = nodes.get(i) else { break };
                self.insert_again(node, limit, &mut s);
            }
            calls.fetch_add(std::mem::take(&mut s.build.calls), Ordering::Relaxed);
            self.give_scratch(s);
        };
        match self.pool(n_threads, nodes.len()) {
            Some(pool) => {
                pool.broadcast(|_| work());
            }
            None => work(),
        }
        self.unlinked_since_repair += nodes.len();
        self.update_roots();
        calls.into_inner()
    }
}
