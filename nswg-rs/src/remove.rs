//! Removal: freeing the slots of removed rows, repairing the graph around them (every list that
//! linked a removed node is re-selected among its other links and the removed node's links), and
//! linking again the slots later adds fill; replacing a stored row.

use crate::error::{invalid, Error};
use crate::graph::{Cand, Graph, Layers};
use crate::index::{Index, FREE_ID};
use crate::params::check_threads;
use crate::pivots::Pivots;
use crate::scratch::BuildDist;
use crate::stats::BuildStats;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Removals since the graph was last built whole, in percent of its rows, above which a removal
/// drops the graph (rebuilt by the next build) instead of repairing it in place. Measured on
/// 20,000 x 32 clustered vectors (remove a share at random, add as many, recall@10 of 2,000
/// queries at ef 16 to 128 against fresh builds of the same rows, whose recall differs by up to
/// 0.03 between two build seeds): repaired in place, 3% removed is within that noise (0.002 to
/// 0.007 below the fresh build), 8% is 0.008 to 0.017 below it, 20% 0.02 to 0.03 and 30% 0.03 to
/// 0.04 (inserting every affected node again did not close the gap). Past the threshold the
/// next build costs a full build.
const REBUILD_PERCENT: usize = 5;

impl Index {
    /// Removes the rows of `ids` (repeats count once). Their ids are no longer stored, no search
    /// returns them, and their slots are reused by later adds (lowest slot first). While the
    /// rows removed since the graph was last built whole stay within 5% of it, the graph is
    /// repaired at once: every list that linked a removed node keeps its other links and fills
    /// the room with the removed node's links, nearest first, as the diversity rule admits them
    /// (on every layer); the hierarchy's entry point moves to a remaining node of the highest
    /// level; and the orphan pass links back whatever became unreachable. Beyond 5% the graph
    /// is dropped instead and every row is pending: the next [`Index::build`] (or graph search
    /// through the binding) links them again, as a fresh index of the rows (see
    /// `REBUILD_PERCENT` for the measurements behind the rule). Work runs on `n_threads` threads
    /// (0 = all cores); the result does not depend on them. Returns the work done (distance
    /// computations of the repair and the orphan pass).
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
        // Every check of the add first, stored ids allowed: nothing changes on error.
        let new_ids = self.check_new(rows, Some(ids), true)?;
        let rows = crate::metric::as_compared(self.store.metric, "vectors", rows, self.dim())?;
        let nodes = self.nodes_of(&stored)?;
        self.remove_nodes(&nodes, 0);
        self.store_new(&rows, new_ids)
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
        let linked = nodes.iter().filter(|&&n| (n as usize) < g).count();
        self.removed_since_full += linked;
        if self.removed_since_full * 100 > REBUILD_PERCENT * g {
            // Many removals since the graph was built whole: repairs in place fall behind a fresh
            // build; the graph is dropped and the next build links every row again.
            self.drop_graph();
            return stats;
        }
        let linked = linked > 0;
        if linked {
            let calls = AtomicU64::new(0);
            let m = self.graph.max_degree;
            self.bypass(&self.graph, |s| s, Some, m, n_threads, &calls);
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
            // The links that remain stay; the removed nodes' links are the candidates for the
            // room they leave, nearest first, each kept if the diversity rule passes it against
            // every link kept so far.
            let mut out: Vec<u32> = graph.links(slot).filter(|&v| !self.is_dead(v)).collect();
            let mut cands: Vec<u32> = Vec::with_capacity(2 * m);
            for v in graph.links(slot).filter(|&v| self.is_dead(v)) {
                if let Some(sv) = slot_of(v) {
                    cands.extend(graph.links(sv).filter(|&w| w != u && !self.is_dead(w)));
                }
            }
            cands.sort_unstable();
            cands.dedup();
            cands.retain(|c| !out.contains(c));
            let mut sorted: Vec<Cand> = cands
                .iter()
                .map(|&c| Cand {
                    d: self.node_dist_sq(u, c, f32::INFINITY, dist),
                    node: c,
                })
                .collect();
            sorted.sort_unstable();
            for c in sorted {
                if out.len() >= m {
                    break;
                }
                let diverse = out
                    .iter()
                    .all(|&s| self.node_dist_sq(c.node, s, c.d, dist) >= c.d);
                if diverse {
                    out.push(c.node);
                }
            }
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
                let lists = affected
                    .iter()
                    .map(|&slot| relist(slot, &mut dist))
                    .collect();
                calls.fetch_add(dist.calls, Ordering::Relaxed);
                lists
            }
        };
        for (&slot, list) in affected.iter().zip(&lists) {
            let _lock = graph.lock(slot);
            graph.set_links(slot, list, 0);
        }
        for s in 0..slots {
            if self.is_dead(node_of(s)) && graph.degree(s) > 0 {
                let _lock = graph.lock(s);
                graph.set_links(s, &[], 0);
            }
        }
    }

    /// Drops the graph and its layers: every stored row is pending again, and the next build
    /// links them all in slot order (free slots skipped), as a fresh index of the rows would be.
    fn drop_graph(&mut self) {
        self.graph = Graph::new(self.params.max_degree);
        if let Some(layers) = &mut self.layers {
            *layers = Layers::new(layers.m);
        }
        self.relink.clear();
        self.unlinked_since_repair = 0;
        self.removed_since_full = 0;
        self.pivots = Pivots::build(&self.store, 0, &self.dead);
        self.update_roots();
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
        let upper = layers
            .upper
            .iter()
            .enumerate()
            .rev()
            .find_map(|(l, layer)| {
                let node = layer
                    .nodes
                    .iter()
                    .copied()
                    .find(|&n| self.is_linked_live(n))?;
                Some((node, l + 1))
            });
        let entry = upper.or_else(|| {
            self.is_linked_live(self.flat_root)
                .then_some((self.flat_root, 0))
        });
        layers.set_entry(entry);
    }

    /// Links the refilled slots ([`Index::relink`]) into the graph and its layers again, on
    /// `n_threads` threads (workers take the next slot from a shared counter, as a parallel
    /// build does; entries come from the whole graph); returns the distance computations.
    pub(crate) fn relink_slots(&mut self, n_threads: usize) -> u64 {
        let mut nodes = std::mem::take(&mut self.relink);
        nodes.sort_unstable();
        let calls = self.reinsert(&nodes, self.graph.len(), n_threads);
        self.unlinked_since_repair += nodes.len();
        self.update_roots();
        calls
    }

    /// Inserts the linked or refilled slots `nodes` again ([`Index::insert_again`]: a walk for
    /// the node's own row picks new links, merged with the links it has, and back-links), on
    /// `n_threads` threads (workers take the next slot from a shared counter, as a parallel
    /// build does; random entries from `0..limit`); returns the distance computations.
    fn reinsert(&self, nodes: &[u32], limit: usize, n_threads: usize) -> u64 {
        let calls = AtomicU64::new(0);
        let next = AtomicUsize::new(0);
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
        calls.into_inner()
    }
}
