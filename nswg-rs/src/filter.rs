//! Filtered search: the set of stored rows a search may return ([`Filter`]), the graph walk that
//! navigates through every node but keeps only allowed ones, and the rule that sends a
//! restrictive filter to an exact scan of its rows instead.

use crate::error::{invalid, Error};
use crate::graph::Cand;
use crate::index::Index;
use crate::scratch::{keep_best, Scratch};
use crate::walk::{Start, Walk};
use std::cmp::Reverse;

/// A graph search under a filter allowing at most `EXACT_ROWS + EXACT_ROWS_PER_EF * max(ef, k)`
/// rows scans them exactly instead of walking: a scanned row costs about a fifth of a walk's
/// visit (sequential reads against random ones), and the filtered walk visits about a thousand
/// nodes or more whatever the selectivity. Measured on 100,000 x 128 clustered vectors (300
/// queries, k = 10, 1 thread; queries/second of the scan / the walk): 5% allowed 12,477 / 7,450
/// (ef 16), 2,864 (ef 64); 10% 6,120 / 9,991 (ef 16), 5,545 (ef 64), 2,788 (ef 128); 20% 2,652 /
/// 13,600 (ef 16), 7,233 (ef 64), 5,388 (ef 128); the walk's recall@10 was 0.96-1.0 there. The
/// crossing lies near 7,000 rows at ef 16, 10,000 at ef 64 and 14,000 at ef 128.
const EXACT_ROWS: usize = 4000;

/// See [`EXACT_ROWS`].
const EXACT_ROWS_PER_EF: usize = 80;

/// The stored rows a search may return, made by [`Index::filter`] for one state of the index
/// (adding or removing rows makes it stale: a search with it is then an error).
#[derive(Debug, Clone)]
pub struct Filter {
    /// Allowed slots, ascending.
    pub(crate) nodes: Vec<u32>,
    /// One bit per slot (bit `i % 64` of word `i / 64`).
    bits: Vec<u64>,
    /// [`Index::generation`] when the filter was made.
    generation: u64,
}

impl Filter {
    /// Number of allowed rows.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no row is allowed.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// True if slot `node` is allowed.
    #[inline(always)]
    pub(crate) fn allows(&self, node: u32) -> bool {
        self.bits
            .get(node as usize / 64)
            .is_some_and(|w| w >> (node % 64) & 1 == 1)
    }
}

impl Index {
    /// A counter that changes whenever rows are added or removed: a [`Filter`] made at one value
    /// is refused at another.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The filter allowing exactly the stored rows of `ids` (repeats are allowed and count
    /// once), for [`Index::search_batch_with`] and [`Index::range_search`].
    ///
    /// # Errors
    /// `UnknownIds` naming the ids that are not stored.
    pub fn filter(&self, ids: &[i64]) -> Result<Filter, Error> {
        let mut nodes = Vec::with_capacity(ids.len());
        let mut unknown = Vec::new();
        for &id in ids {
            match self.id_map.get(&id) {
                Some(&node) => nodes.push(node),
                None => unknown.push(id),
            }
        }
        if !unknown.is_empty() {
            return Err(Error::unknown_ids(unknown));
        }
        Ok(self.filter_of_nodes(nodes))
    }

    /// The filter allowing the rows whose entry of `mask` is true, `mask` following the order of
    /// [`Index::ids`] (one entry per stored row).
    ///
    /// # Errors
    /// `InvalidParameter` (`filter`) when `mask` does not have one entry per stored row.
    pub fn filter_mask(&self, mask: &[bool]) -> Result<Filter, Error> {
        if mask.len() != self.len() {
            return Err(invalid(
                "filter",
                format!(
                    "as a boolean mask needs one entry per stored row ({}), got {}",
                    self.len(),
                    mask.len()
                ),
            ));
        }
        let live = (0..self.slots() as u32).filter(|&n| !self.is_dead(n));
        let nodes = live.zip(mask).filter(|(_, &m)| m).map(|(n, _)| n).collect();
        Ok(self.filter_of_nodes(nodes))
    }

    fn filter_of_nodes(&self, mut nodes: Vec<u32>) -> Filter {
        nodes.sort_unstable();
        nodes.dedup();
        let mut bits = vec![0u64; self.slots().div_ceil(64)];
        for &n in &nodes {
            bits[n as usize / 64] |= 1 << (n % 64);
        }
        Filter {
            nodes,
            bits,
            generation: self.generation,
        }
    }

    /// An error unless `f` was made for the index as it is now.
    pub(crate) fn check_filter(&self, f: &Filter) -> Result<(), Error> {
        if f.generation != self.generation {
            return Err(invalid(
                "filter",
                "was made before rows were added or removed: make it again with index.filter",
            ));
        }
        Ok(())
    }

    /// Whether a graph search under filter `f` with beam `ef` (at least `k`) scans the allowed
    /// rows exactly instead (see [`EXACT_ROWS`]).
    pub(crate) fn filter_scans(&self, f: &Filter, ef: usize) -> bool {
        f.len() <= EXACT_ROWS.saturating_add(EXACT_ROWS_PER_EF.saturating_mul(ef))
    }

    /// The graph walk of `w` keeping only rows `f` allows: every node is a waypoint, but only
    /// allowed ones enter the results (at most `max(ef, k)` of them, in `s.top`); the walk goes on
    /// while the nearest unexpanded candidate is nearer than the worst result, or the results are
    /// not full (hnswlib's filtered search, with the candidates unbounded). A beam as large as
    /// the index therefore reaches every node reachable from the root, so the answer equals the
    /// filtered exact scan. Leaves the best `w.k` in `s.top`. Walks on the floats (a quantized
    /// request is ignored).
    pub(crate) fn walk_filtered(&self, w: &Walk<'_>, f: &Filter, s: &mut Scratch) {
        let q = w.query;
        s.begin(self.graph.len());
        s.prep
            .prepare(self.store.metric, self.store.channels, self.store.window, q);
        s.top.clear();
        let mut cands = std::mem::take(&mut s.cands);
        cands.clear();
        let ef = w.ef.max(w.k);
        let mut rng = crate::rng::Rng::new(w.seed);
        let mut entries = std::mem::take(&mut s.entries);
        for restart in 0..w.restarts {
            entries.clear();
            let mut seeded = false;
            match w.start {
                Start::Seeds(seeds) if restart == 0 => {
                    // Seeds come with their exact float distances (the descent's beam, the
                    // Euclidean entry's DTWs): enter them without computing those again.
                    for &c in seeds {
                        if self.is_dead(c.node) || !s.mark(c.node) {
                            continue;
                        }
                        seeded = true;
                        cands.push(Reverse(c));
                        if f.allows(c.node) {
                            keep_best(&mut s.top, c, ef);
                        }
                    }
                }
                Start::Pivots(pv) if restart == 0 => entries.extend(pv.nodes.iter().copied()),
                _ => {}
            }
            if restart == 0 {
                entries.extend(w.root);
            }
            if entries.is_empty() && !seeded && w.limit > 0 {
                for _ in 0..8 {
                    let e = rng.below(w.limit) as u32;
                    if !self.is_dead(e) && !s.is_marked(e) {
                        entries.push(e);
                        break;
                    }
                }
            }
            for &e in &entries {
                if self.is_dead(e) || !s.mark(e) {
                    continue;
                }
                let d = self.eval_node(q, e, f32::INFINITY, s);
                cands.push(Reverse(Cand { d, node: e }));
                if f.allows(e) {
                    keep_best(&mut s.top, Cand { d, node: e }, ef);
                }
            }
            while let Some(Reverse(c)) = cands.pop() {
                let bound = if s.top.len() >= ef {
                    s.top.peek().map_or(f32::INFINITY, |t| t.d)
                } else {
                    f32::INFINITY
                };
                if c.d > bound {
                    break;
                }
                s.nbrs.clear();
                for nb in self.graph.links(c.node) {
                    if s.mark(nb) {
                        self.store.touch_row(nb as usize);
                        s.nbrs.push(nb);
                    }
                }
                for idx in 0..s.nbrs.len() {
                    let nb = s.nbrs[idx];
                    let worst = if s.top.len() >= ef {
                        s.top.peek().map(|t| t.d)
                    } else {
                        None
                    };
                    let d = self.eval_node(q, nb, worst.unwrap_or(f32::INFINITY), s);
                    if worst.is_none_or(|w| d < w) {
                        cands.push(Reverse(Cand { d, node: nb }));
                        if f.allows(nb) {
                            keep_best(&mut s.top, Cand { d, node: nb }, ef);
                        }
                    }
                }
            }
            cands.clear();
        }
        while s.top.len() > w.k {
            s.top.pop();
        }
        s.entries = entries;
        s.cands = cands;
    }
}

#[cfg(test)]
mod tests {
    use crate::{BuildParams, GraphKind, Index, Metric, SearchParams};

    /// The filtered walk itself (the exact-scan rule bypassed), with a beam as large as the
    /// index, equals the filtered exact scan: every node is reachable from the root.
    #[test]
    fn filtered_walk_with_a_full_beam_is_exact() {
        let (n, dim, k) = (800usize, 6usize, 5usize);
        let mut x = 12345u64;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 40) as f32 / (1u64 << 24) as f32
        };
        let data: Vec<f32> = (0..n * dim).map(|_| next()).collect();
        for (metric, graph) in [
            (Metric::Euclidean, GraphKind::Hnsw),
            (Metric::Euclidean, GraphKind::Nsw),
            (Metric::Dtw { band: 1 }, GraphKind::Hnsw),
            (Metric::InnerProduct, GraphKind::Hnsw),
        ] {
            let params = BuildParams {
                graph,
                ..BuildParams::default()
            };
            let mut idx = Index::new(dim, metric, params).unwrap();
            idx.add(&data, None, 1).unwrap();
            // Leave some rows pending too: the walk merges them.
            idx.add_unlinked(&data[..20 * dim], None).unwrap();
            for step in [2, 7, 50] {
                let allowed: Vec<i64> = (0..(n + 20) as i64).filter(|i| i % step == 1).collect();
                let f = idx.filter(&allowed).unwrap();
                let p = SearchParams {
                    ef: n + 20,
                    n_threads: 1,
                    ..SearchParams::default()
                };
                let mut s = idx.take_scratch();
                for q in data.chunks_exact(dim).take(25) {
                    idx.graph_query(q, k, &p, Some(&f), &mut s);
                    let mut walked: Vec<(f32, u32)> =
                        s.top.drain().map(|c| (c.d, c.node)).collect();
                    walked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    idx.exact_scan(q, k, f32::INFINITY, Some(&f.nodes), &mut s);
                    let mut scanned: Vec<(f32, u32)> =
                        s.top.drain().map(|c| (c.d, c.node)).collect();
                    scanned.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    assert_eq!(walked, scanned, "{metric:?} {graph:?} 1/{step}");
                    assert!(walked.iter().all(|&(_, node)| f.allows(node)));
                }
                idx.give_scratch(s);
            }
        }
    }
}
