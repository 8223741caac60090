//! Range search: every stored row within a radius of each query, by an exact scan (equal to brute
//! force) or by a graph walk followed by a flood fill through the links of the rows found inside
//! the radius.

use crate::error::{invalid, Error};
use crate::filter::Filter;
use crate::graph::Cand;
use crate::index::{check_rows, Index};
use crate::metric::Metric;
use crate::params::SearchParams;
use crate::scratch::{Scratch, ScratchGuard};
use crate::stats::SearchStats;
use rayon::prelude::*;

/// Answers of a range search, flat: query `i` owns `ids[offsets[i]..offsets[i + 1]]` and the
/// same range of `distances`, ascending by distance, ties by id.
#[derive(Debug, Clone, Default)]
pub struct RangeResult {
    /// `n + 1` offsets into `ids` and `distances`, from 0 to their length.
    pub offsets: Vec<usize>,
    /// User ids of the rows within the radius.
    pub ids: Vec<i64>,
    /// Their distances in true units.
    pub distances: Vec<f32>,
    /// Counters per query.
    pub stats: Vec<SearchStats>,
}

impl Index {
    /// Every stored row at distance `<= radius` (true units) of each query (row-major, `dim`
    /// floats each; cosine queries are normalised first), restricted to the rows `filter`
    /// allows. `exact`: a scan of every row (or every allowed row), equal to brute force, with
    /// the radius as the cutoff of DTW's bounds and early abandoning. Otherwise a graph search of
    /// beam `p.ef` finds the nearest rows, and a flood fill from those inside the radius follows
    /// the links of every row it finds inside, so a row inside the radius is missed only when no
    /// path of rows inside the radius leads to it from the ones the walk found (under the inner
    /// product the fill also steps once through a row outside; rows not yet linked are scanned
    /// exactly). Parallel over queries as [`Index::search_batch`].
    ///
    /// # Errors
    /// As [`Index::search_batch`] (with `k` unused); `InvalidParameter` (`radius`) for a NaN, or a
    /// negative radius under any metric but the inner product (whose distances can be negative).
    pub fn range_search(
        &self,
        queries: &[f32],
        radius: f32,
        p: &SearchParams,
        exact: bool,
        filter: Option<&Filter>,
    ) -> Result<RangeResult, Error> {
        if self.store.variable {
            return Err(invalid(
                "queries",
                "range search of series of their own lengths is not supported",
            ));
        }
        let n = check_rows("queries", queries, self.dim())?;
        if radius.is_nan() || (self.store.metric.non_negative() && radius < 0.0) {
            return Err(invalid(
                "radius",
                format!("must be a number >= 0 (distances are never negative), got {radius}"),
            ));
        }
        if self.is_empty() {
            return Err(Error::EmptyIndex);
        }
        self.check_query(1, p, exact)?;
        if let Some(f) = filter {
            self.check_filter(f)?;
        }
        let queries =
            &*crate::metric::as_compared(self.store.metric, "queries", queries, self.dim())?;
        let dim = self.dim();
        let one = |q: &[f32], s: &mut Scratch| -> (Vec<(f32, i64)>, SearchStats) {
            self.range_one(q, radius, p, exact, filter, s);
            let mut hits = std::mem::take(&mut s.hits);
            hits.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            (hits, std::mem::take(&mut s.stats))
        };
        let answers: Vec<(Vec<(f32, i64)>, SearchStats)> = match self.pool(p.n_threads, n) {
            Some(pool) => pool.install(|| {
                queries
                    .par_chunks_exact(dim)
                    .map_init(|| ScratchGuard::new(self), |g, q| one(q, g.get()))
                    .collect()
            }),
            None => {
                let mut s = self.take_scratch();
                let a = queries.chunks_exact(dim).map(|q| one(q, &mut s)).collect();
                self.give_scratch(s);
                a
            }
        };
        let total = answers.iter().map(|a| a.0.len()).sum();
        let mut out = RangeResult {
            offsets: Vec::with_capacity(n + 1),
            ids: Vec::with_capacity(total),
            distances: Vec::with_capacity(total),
            stats: Vec::with_capacity(n),
        };
        out.offsets.push(0);
        for (hits, stats) in answers {
            out.ids.extend(hits.iter().map(|h| h.1));
            out.distances.extend(hits.iter().map(|h| h.0));
            out.offsets.push(out.ids.len());
            out.stats.push(stats);
        }
        Ok(out)
    }

    /// One query of [`Index::range_search`]: leaves its hits (true distance, id) in `s.hits`
    /// and its counters in `s.stats`.
    fn range_one(
        &self,
        q: &[f32],
        radius: f32,
        p: &SearchParams,
        exact: bool,
        filter: Option<&Filter>,
        s: &mut Scratch,
    ) {
        s.stats = SearchStats::default();
        s.no_prune = !p.prune;
        s.hits.clear();
        let metric = self.store.metric;
        let ceiling = metric.internal_above(radius);
        let allowed = |n: u32| filter.is_none_or(|f| f.allows(n));
        let mut hits = std::mem::take(&mut s.hits);
        let take = |node: u32, d: f32, hits: &mut Vec<(f32, i64)>| {
            let t = metric.to_true(d);
            if d <= ceiling && t <= radius && allowed(node) {
                hits.push((t, self.ids[node as usize]));
            }
        };
        if exact {
            s.prep
                .prepare(metric, self.store.channels, self.store.window, q);
            let mut scan = |node: u32, s: &mut Scratch| {
                let d = self.eval_node(q, node, ceiling, s);
                take(node, d, &mut hits);
            };
            match filter {
                Some(f) => f.nodes.iter().for_each(|&n| scan(n, s)),
                None => (0..self.slots() as u32)
                    .filter(|&n| !self.is_dead(n))
                    .for_each(|n| scan(n, s)),
            }
            s.hits = hits;
            return;
        }
        // The walk: the nearest `ef` rows (navigating through every node), on the floats.
        let on_floats = SearchParams {
            quantized: false,
            ..*p
        };
        self.query_walk(q, p.ef, &on_floats, None, s);
        // The flood fill from the rows inside the radius (allowed or not: all are waypoints).
        let mut queue = std::mem::take(&mut s.queue);
        queue.clear();
        let found: Vec<Cand> = s.top.drain().collect();
        s.begin(self.graph.len());
        for c in found {
            if c.d <= ceiling && metric.to_true(c.d) <= radius && s.mark(c.node) {
                take(c.node, c.d, &mut hits);
                queue.push((c.node, 0));
            }
        }
        // Under the inner product the rows within a radius are a half-space, which the graph's
        // links connect less well: the fill also steps once through rows outside it (measured
        // on 3,000 x 16 clustered rows, 40 queries with ~370 hits each: 92.6% of the hits found
        // without the step, 97.1% with one, 97.9% with two).
        let slack = u8::from(metric == Metric::InnerProduct);
        while let Some((u, out)) = queue.pop() {
            for nb in self.graph.links(u) {
                if !s.mark(nb) {
                    continue;
                }
                let d = self.eval_node(q, nb, ceiling, s);
                if d <= ceiling && metric.to_true(d) <= radius {
                    take(nb, d, &mut hits);
                    queue.push((nb, 0));
                } else if out < slack {
                    queue.push((nb, out + 1));
                }
            }
        }
        s.queue = queue;
        // Rows not linked yet: scanned exactly.
        if self.has_pending() {
            let relink: Vec<u32> = self.relink.iter().copied().filter(|&n| s.mark(n)).collect();
            let past = (self.graph.len() as u32..self.slots() as u32).filter(|&n| !self.is_dead(n));
            for node in relink.into_iter().chain(past) {
                let d = self.eval_node(q, node, ceiling, s);
                take(node, d, &mut hits);
            }
        }
        s.hits = hits;
    }
}
