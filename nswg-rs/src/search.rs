//! Queries: graph search and the exact scan (the oracle), one query or a parallel batch, with the
//! checks every query passes first and the results' order (distance, then id; padded with -1).

use crate::error::{invalid, Error};
use crate::filter::Filter;
use crate::graph::Cand;
use crate::index::{check_rows, check_series, Index};
use crate::metric::lanes::LANES;
use crate::metric::{band_lb_applies, bounds, pair_band, Metric};
use crate::params::{check_threads, Entry, GraphKind, SearchParams};
use crate::rng::query_seed;
use crate::scratch::{keep_best, Scratch, ScratchGuard};
use crate::stats::SearchStats;
use crate::walk::{Coded, Start, Walk};
use rayon::prelude::*;
use std::collections::BinaryHeap;

/// One search hit: the user id and the distance in the metric's true units (not squared).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    /// User id of the stored vector, or -1 for "no result" (padding).
    pub id: i64,
    /// Euclidean (L2) distance, or DTW distance (sqrt of the warping path's sum of squares); +inf for padding.
    pub distance: f32,
}

/// Results of a batch search, row-major: query `i` owns `ids[i*k..(i+1)*k]` and `distances[i*k..]`.
#[derive(Debug, Clone, Default)]
pub struct BatchResult {
    /// Number of neighbors per query.
    pub k: usize,
    /// User ids, -1 where fewer than `k` neighbors were found.
    pub ids: Vec<i64>,
    /// Distances in true units, ascending per row (ties by id), +inf for padding.
    pub distances: Vec<f32>,
    /// Counters per query.
    pub stats: Vec<SearchStats>,
}

impl Index {
    /// Approximate k-NN of one query by graph search. Results are ascending by distance (true
    /// units), ties by id; fewer than `k` reachable nodes are padded with id -1, +inf.
    ///
    /// # Errors
    /// `DimensionMismatch` (the query is not `dim` floats), `NonFinite`, `EmptyIndex`,
    /// `InvalidParameter` (k outside 1..=len, ef or restarts 0, `entry` hierarchy on an NSW
    /// graph, `quantized` on an index without codes).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        p: &SearchParams,
    ) -> Result<(Vec<Neighbor>, SearchStats), Error> {
        self.one(query, k, p, false)
    }

    /// Exact k-NN of one query by brute force (the oracle), same units and order as
    /// [`Index::search`]; `p.entry` and `p.quantized` are ignored.
    ///
    /// # Errors
    /// As [`Index::search`].
    pub fn exact_search(
        &self,
        query: &[f32],
        k: usize,
        p: &SearchParams,
    ) -> Result<(Vec<Neighbor>, SearchStats), Error> {
        self.one(query, k, p, true)
    }

    fn one(
        &self,
        query: &[f32],
        k: usize,
        p: &SearchParams,
        exact: bool,
    ) -> Result<(Vec<Neighbor>, SearchStats), Error> {
        let r = if self.store.variable {
            let c = self.channels();
            if query.is_empty() || !query.len().is_multiple_of(c) {
                return Err(invalid(
                    "query",
                    format!(
                        "holds {} floats, not a series of whole time steps of {c} channel(s)",
                        query.len()
                    ),
                ));
            }
            let len = [query.len() / c];
            self.search_series_with(query, &len, k, p, exact, None, None, |_, _| true)?
                .0
        } else {
            if query.len() != self.dim() {
                return Err(Error::DimensionMismatch {
                    what: "query",
                    expected: self.dim(),
                    got: query.len(),
                });
            }
            self.search_batch(query, k, p, exact)?
        };
        let hits = r
            .ids
            .iter()
            .zip(&r.distances)
            .map(|(&id, &distance)| Neighbor { id, distance })
            .collect();
        Ok((hits, r.stats[0]))
    }

    /// k-NN of many queries (row-major, a whole number of rows of `dim` floats), in parallel over
    /// queries unless `p.n_threads == 1`; `exact` selects brute force. The batch succeeds whole or
    /// fails before any work with the first error.
    ///
    /// # Errors
    /// As [`Index::search`]; `InvalidParameter` (`queries`) when the length is not a multiple of
    /// `dim`; `OutOfMemory` when the `(queries, k)` result arrays cannot be allocated.
    pub fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        p: &SearchParams,
        exact: bool,
    ) -> Result<BatchResult, Error> {
        Ok(self
            .search_batch_with(queries, k, p, exact, None, None, |_, _| true)?
            .0)
    }

    /// [`Index::search_batch`] in pieces of about half a second each (at least 4 queries per
    /// thread, so slow queries do not leave threads idle at the end of every piece), calling
    /// `keep_going(done, total)` on the calling thread after each piece: returning false stops the
    /// batch there (how Ctrl-C reaches a long batch). Returns the result and how many queries,
    /// from the first, were answered; the rows of the others keep id -1 and +inf. Answers do not
    /// depend on the pieces (each query's randomness is seeded by its own values).
    ///
    /// `max_distances` (exact search only; one per query, in true units, +inf for none) keeps
    /// only neighbors at distance `<= max_distances[i]`: row `i` holds the `k` nearest of those,
    /// padded with -1 / +inf. The scan starts with that limit as its cutoff, so lower bounds and
    /// early abandoning reject more from the first row on (how a sharded exact search passes the
    /// running k-th best to the shards it asks later).
    ///
    /// `filter` ([`Index::filter`]) restricts the answers to the rows it allows: an exact search
    /// scans only those; a graph search walks through every node but keeps only allowed ones
    /// (see `Index::walk_filtered`), or scans the allowed rows exactly when they are few (at most
    /// `4000 + 80 * max(ef, k)`, where the scan was measured faster). Rows padded with -1 / +inf when fewer than `k`
    /// are allowed. Cosine queries are normalised first (a zero query is an error).
    ///
    /// # Errors
    /// As [`Index::search_batch`]; `InvalidParameter` (`max_distance`) when given with
    /// `exact == false`, with a length other than the number of queries, or holding a NaN or a
    /// negative value (a negative limit is allowed for the inner product, whose distances can be
    /// negative); `InvalidParameter` (`filter`) for a filter made before rows were added or
    /// removed; `InvalidParameter` (`queries`) for a zero query under cosine.
    #[allow(clippy::too_many_arguments)]
    pub fn search_batch_with(
        &self,
        queries: &[f32],
        k: usize,
        p: &SearchParams,
        exact: bool,
        max_distances: Option<&[f32]>,
        filter: Option<&Filter>,
        keep_going: impl FnMut(usize, usize) -> bool,
    ) -> Result<(BatchResult, usize), Error> {
        let n = self.check_search(queries, k, p, exact, max_distances)?;
        if let Some(f) = filter {
            self.check_filter(f)?;
        }
        let queries =
            &*crate::metric::as_compared(self.store.metric, "queries", queries, self.dim())?;
        let batch = Batch {
            data: queries,
            dim: self.dim(),
            ends: &[],
        };
        self.run_batch(batch, n, k, p, exact, max_distances, filter, keep_going)
    }

    /// [`Index::search_batch_with`] for a variable-length index ([`Index::variable`]): `queries`
    /// is the concatenation of the query series (time-major, `channels` floats per time step) and
    /// `lengths[i]` the time steps of query `i`. Same results, pieces and errors.
    ///
    /// # Errors
    /// As [`Index::search_batch_with`]; `InvalidParameter` (`lengths`) on a fixed-length index,
    /// for a length of 0 or lengths that do not add up to the floats given; `NonFinite`.
    #[allow(clippy::too_many_arguments)]
    pub fn search_series_with(
        &self,
        queries: &[f32],
        lengths: &[usize],
        k: usize,
        p: &SearchParams,
        exact: bool,
        max_distances: Option<&[f32]>,
        filter: Option<&Filter>,
        keep_going: impl FnMut(usize, usize) -> bool,
    ) -> Result<(BatchResult, usize), Error> {
        let ends = self.check_search_series(queries, lengths, k, p, exact, max_distances)?;
        if let Some(f) = filter {
            self.check_filter(f)?;
        }
        let batch = Batch {
            data: queries,
            dim: 0,
            ends: &ends,
        };
        let n = lengths.len();
        self.run_batch(batch, n, k, p, exact, max_distances, filter, keep_going)
    }

    /// The checks of [`Index::search_series_with`], before any work; returns each query's end
    /// (one past its last float).
    ///
    /// # Errors
    /// As [`Index::search_series_with`], except `OutOfMemory`.
    pub fn check_search_series(
        &self,
        queries: &[f32],
        lengths: &[usize],
        k: usize,
        p: &SearchParams,
        exact: bool,
        max_distances: Option<&[f32]>,
    ) -> Result<Vec<usize>, Error> {
        self.check_variable()?;
        let ends = check_series("queries", queries, lengths, self.channels())?;
        self.check_query(k, p, exact)?;
        if let Some(m) = max_distances {
            check_max_distances(m, lengths.len(), exact, self.store.metric.non_negative())?;
        }
        Ok(ends)
    }

    /// Runs a checked batch of `n` queries in pieces (see [`Index::search_batch_with`]).
    #[allow(clippy::too_many_arguments)]
    fn run_batch(
        &self,
        queries: Batch<'_>,
        n: usize,
        k: usize,
        p: &SearchParams,
        exact: bool,
        max_distances: Option<&[f32]>,
        filter: Option<&Filter>,
        mut keep_going: impl FnMut(usize, usize) -> bool,
    ) -> Result<(BatchResult, usize), Error> {
        let cells = n.checked_mul(k).ok_or(Error::OutOfMemory {
            what: "the search results",
            bytes: usize::MAX,
        })?;
        let oom = |_| Error::OutOfMemory {
            what: "the search results",
            bytes: cells.saturating_mul(12),
        };
        let mut out = BatchResult {
            k,
            ..BatchResult::default()
        };
        out.ids.try_reserve_exact(cells).map_err(oom)?;
        out.distances.try_reserve_exact(cells).map_err(oom)?;
        out.stats.try_reserve_exact(n).map_err(oom)?;
        out.ids.resize(cells, -1);
        out.distances.resize(cells, f32::INFINITY);
        out.stats.resize(n, SearchStats::default());
        // A batch whose brute force is under about a million cell operations (DTW: samples
        // times the band's width) takes less time than waking a pool: it runs on the calling
        // thread.
        let row_floats = self.store.data.len().checked_div(self.len()).unwrap_or(0);
        let width = self
            .store
            .metric
            .band()
            .map_or(1, |b| 2 * b.min(row_floats / self.channels()) + 1);
        let per_query = self.len().saturating_mul(row_floats).saturating_mul(width);
        let small = n.saturating_mul(per_query) < SMALL_BATCH_WORK;
        let pool = if n <= 1 || small {
            None
        } else {
            self.pool(p.n_threads, n)
        };
        let threads = pool.as_ref().map_or(1, |p| p.current_num_threads());
        let least = 4 * threads;
        // The first piece: as many queries as brute force would answer in about half a second
        // (so a batch of cheap queries is one parallel piece, not several that each wait for
        // their slowest query), at least `least`.
        let mut piece = (PIECE_WORK / per_query.max(1)).max(least);
        let mut done = 0;
        while done < n {
            let end = done + piece.min(n - done);
            let started = std::time::Instant::now();
            let rows = done..end;
            let limits = max_distances.map(|m| &m[rows.clone()]);
            let target = Target { limits, filter };
            self.search_rows(queries, rows, p, exact, target, pool.as_deref(), &mut out);
            let took = started.elapsed().as_secs_f64();
            let rows = end - done;
            done = end;
            if done < n && !keep_going(done, n) {
                break;
            }
            // Aim the next piece at half a second, growing at most fourfold.
            let per_row = took / rows as f64;
            let aim = if per_row > 0.0 {
                (0.5 / per_row) as usize
            } else {
                usize::MAX
            };
            piece = aim.clamp(least, piece.saturating_mul(4));
        }
        Ok((out, done))
    }

    /// The checks [`Index::search_batch_with`] makes before any work, with the same arguments and
    /// errors; returns the number of queries. (A caller that builds the graph before a search
    /// checks first, so a bad argument never waits for a build.)
    ///
    /// # Errors
    /// As [`Index::search_batch_with`], except `OutOfMemory`.
    pub fn check_search(
        &self,
        queries: &[f32],
        k: usize,
        p: &SearchParams,
        exact: bool,
        max_distances: Option<&[f32]>,
    ) -> Result<usize, Error> {
        if self.store.variable {
            return Err(invalid(
                "queries",
                "this index holds series of their own lengths: search with their lengths",
            ));
        }
        let n = check_rows("queries", queries, self.dim())?;
        self.check_query(k, p, exact)?;
        if let Some(m) = max_distances {
            check_max_distances(m, n, exact, self.store.metric.non_negative())?;
        }
        Ok(n)
    }

    /// Answers the queries numbered `rows` of the batch `queries` into their rows of `out`, on
    /// `pool` or the calling thread; `limits` holds those rows' distance limits (exact only).
    #[allow(clippy::too_many_arguments)]
    fn search_rows(
        &self,
        queries: Batch<'_>,
        rows: std::ops::Range<usize>,
        p: &SearchParams,
        exact: bool,
        target: Target<'_>,
        pool: Option<&rayon::ThreadPool>,
        out: &mut BatchResult,
    ) {
        let Target { limits, filter } = target;
        let (first, k) = (rows.start, out.k);
        let ids = &mut out.ids[rows.start * k..rows.end * k];
        let dists = &mut out.distances[rows.start * k..rows.end * k];
        let stats = &mut out.stats[rows];
        let limit = |j: usize| limits.map_or(f32::INFINITY, |m| m[j]);
        let run = |j: usize, q: &[f32], s: &mut Scratch, ids: &mut [i64], ds: &mut [f32]| {
            let stats = self.run_query(q, k, p, exact, limit(j), filter, s);
            self.write_top(s, ids, ds);
            stats
        };
        match pool {
            None => {
                let mut s = self.take_scratch();
                for (j, ((ids, ds), st)) in ids
                    .chunks_exact_mut(k)
                    .zip(dists.chunks_exact_mut(k))
                    .zip(stats.iter_mut())
                    .enumerate()
                {
                    *st = run(j, queries.row(first + j), &mut s, ids, ds);
                }
                self.give_scratch(s);
            }
            Some(pool) => {
                pool.install(|| {
                    ids.par_chunks_exact_mut(k)
                        .zip(dists.par_chunks_exact_mut(k))
                        .zip(stats.par_iter_mut())
                        .enumerate()
                        .for_each_init(
                            || ScratchGuard::new(self),
                            |g, (j, ((ids, ds), st))| {
                                *st = run(j, queries.row(first + j), g.get(), ids, ds)
                            },
                        );
                });
            }
        }
    }

    /// The checks of every query batch, before any work.
    pub(crate) fn check_query(&self, k: usize, p: &SearchParams, exact: bool) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::EmptyIndex);
        }
        if k == 0 || k > self.len() {
            return Err(invalid(
                "k",
                format!("must be between 1 and len(index)={}, got {k}", self.len()),
            ));
        }
        if p.ef == 0 {
            return Err(invalid("ef", "must be at least 1, got 0"));
        }
        if p.restarts == 0 {
            return Err(invalid("restarts", "must be at least 1, got 0"));
        }
        check_threads(p.n_threads)?;
        if exact {
            return Ok(());
        }
        if let Some(e @ (Entry::Hierarchy | Entry::Euclidean)) = p.entry {
            if self.params.graph == GraphKind::Nsw {
                return Err(invalid(
                    "entry",
                    format!(
                        "'{}' needs an index built with graph='hnsw'; this one has graph='nsw'",
                        e.name()
                    ),
                ));
            }
        }
        if p.entry == Some(Entry::Euclidean) && !self.walks_from_euclidean() {
            return Err(invalid(
                "entry",
                "'euclidean' needs a DTW index of series of one length (the Euclidean distance \
                 of two such series bounds their DTW from above)",
            ));
        }
        if p.quantized && self.store.codes.is_none() {
            return Err(invalid(
                "quantized",
                if self.store.metric.band().is_none() {
                    "search needs the index's 8-bit codes: turn them on with set_codes first"
                } else {
                    "search needs a vector metric (DTW walks on the floats)"
                },
            ));
        }
        Ok(())
    }

    /// Runs one query, leaving the best `k` in `s.top`; returns its counters. `limit` (true
    /// units; +inf for none) bounds the distances an exact scan keeps.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_query(
        &self,
        q: &[f32],
        k: usize,
        p: &SearchParams,
        exact: bool,
        limit: f32,
        filter: Option<&Filter>,
        s: &mut Scratch,
    ) -> SearchStats {
        s.stats = SearchStats::default();
        // Every query sets it; the pool hands every scratch out with pruning on, so builds and
        // repairs never see a search's setting.
        s.no_prune = !p.prune;
        let allowed = filter.map(|f| &f.nodes[..]);
        if exact || filter.is_some_and(|f| self.filter_scans(f, p.ef.max(k))) {
            self.exact_scan(q, k, limit, allowed, s);
            return std::mem::take(&mut s.stats);
        }
        self.graph_query(q, k, p, filter, s);
        std::mem::take(&mut s.stats)
    }

    /// The graph search of one query (the walk, filtered or not, then the pending rows), leaving
    /// the best `k` in `s.top` and its counters in `s.stats`.
    ///
    /// The walk keeps its best `max(ef, k)` by squared distance and the best `k` of those are
    /// then taken as results are ranked, by (true distance, user id) as [`Index::exact_scan`]
    /// ranks them: two rows whose squared distances differ in the last bit can share a rounded
    /// square root, and then the smaller id wins here as it does there, so a beam that reaches
    /// every row answers exactly what the exact search answers.
    pub(crate) fn graph_query(
        &self,
        q: &[f32],
        k: usize,
        p: &SearchParams,
        filter: Option<&Filter>,
        s: &mut Scratch,
    ) {
        let keep = p.ef.max(k);
        self.query_walk(q, keep, p, filter, s);
        if self.has_pending() {
            self.scan_pending(q, keep, filter, s);
        }
        self.keep_ranked(k, s);
    }

    /// Keeps in `s.top` the best `k` of its entries by (true distance, user id), the order in
    /// which results are reported.
    fn keep_ranked(&self, k: usize, s: &mut Scratch) {
        if s.top.len() <= k {
            return;
        }
        let metric = self.store.metric;
        let key = |c: &Cand| (metric.to_true(c.d), self.ids[c.node as usize]);
        let mut all = std::mem::take(&mut s.sorted);
        all.clear();
        all.extend(s.top.drain());
        all.select_nth_unstable_by(k - 1, |a, b| {
            let (ta, ia) = key(a);
            let (tb, ib) = key(b);
            ta.total_cmp(&tb).then(ia.cmp(&ib))
        });
        s.top.extend(all.drain(..k));
        s.sorted = all;
    }

    /// The walk of one query as `p` asks for it (entry, restarts, beam, 8-bit codes; filtered or
    /// not), over the linked rows only: leaves the best `k` in `s.top` and the counters in
    /// `s.stats`, and the query prepared in `s.prep`.
    pub(crate) fn query_walk(
        &self,
        q: &[f32],
        k: usize,
        p: &SearchParams,
        filter: Option<&Filter>,
        s: &mut Scratch,
    ) {
        let entry = p.entry.unwrap_or(self.default_entry());
        let mut seeds = std::mem::take(&mut s.seeds);
        seeds.clear();
        match (entry, &self.layers) {
            (Entry::Hierarchy, Some(layers)) => self.descend(layers, q, s, &mut seeds),
            (Entry::Euclidean, Some(layers)) => {
                self.euclidean_seeds(layers, q, None, s, &mut seeds)
            }
            _ => {}
        }
        let mut shifted = std::mem::take(&mut s.shifted);
        let codes = self.store.codes.as_ref().filter(|_| p.quantized);
        let mut offset = 0.0;
        if let Some(c) = codes {
            shifted.clear();
            if self.store.metric == Metric::InnerProduct {
                shifted.extend(q.iter().zip(&c.scale).map(|(x, s)| x * s));
                offset = crate::metric::euclidean::dot(q, &c.lo);
            } else {
                shifted.extend(q.iter().zip(&c.lo).map(|(x, lo)| x - lo));
            }
        }
        let start = match entry {
            Entry::Random => Start::Random,
            Entry::Pivots => Start::Pivots(&self.pivots),
            Entry::Hierarchy | Entry::Euclidean => Start::Seeds(&seeds),
        };
        let walk = Walk {
            query: q,
            coded: codes.map(|codes| Coded {
                codes,
                shifted: &shifted,
                offset,
            }),
            exclude: None,
            k,
            ef: p.ef,
            restarts: p.restarts,
            start,
            root: Some(self.root()),
            limit: self.graph.len(),
            seed: query_seed(self.params.seed, q),
        };
        match filter {
            Some(f) => self.walk_filtered(&walk, f, s),
            None => self.walk(&walk, s),
        }
        s.shifted = shifted;
        s.seeds = seeds;
    }

    /// Merges the rows not yet linked into the graph ([`Index::pending`]) into the walk's best
    /// `k` in `s.top` by an exact scan of them (bounds and early abandoning against the current
    /// k-th best), so a graph search never misses a stored row for want of links.
    /// Runs right after [`Index::walk`], whose preparation of `q` in `s.prep` it reuses.
    pub(crate) fn scan_pending(&self, q: &[f32], k: usize, f: Option<&Filter>, s: &mut Scratch) {
        // Refilled slots inside the graph may have been visited by the walk (as a random
        // entry): those are in its results already.
        let allowed = |n: u32| f.is_none_or(|f| f.allows(n));
        let relink = self
            .relink
            .iter()
            .copied()
            .filter(|&n| s.mark(n) && allowed(n));
        let relink: Vec<u32> = relink.collect();
        let past = (self.graph.len() as u32..self.slots() as u32)
            .filter(|&n| !self.is_dead(n) && allowed(n));
        for node in relink.into_iter().chain(past) {
            let cutoff = if s.top.len() >= k {
                s.top.peek().map_or(f32::INFINITY, |w| w.d)
            } else {
                f32::INFINITY
            };
            let c = Cand {
                d: self.eval_node(q, node, cutoff, s),
                node,
            };
            keep_best(&mut s.top, c, k);
        }
    }

    /// Writes `s.top` into one row of results as (true distance, id) ascending, ties by id,
    /// padded with -1 / +inf.
    fn write_top(&self, s: &mut Scratch, out_ids: &mut [i64], out_d: &mut [f32]) {
        let mut res: Vec<(f32, i64)> = s
            .top
            .drain()
            .map(|c| (self.store.metric.to_true(c.d), self.ids[c.node as usize]))
            .collect();
        res.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (j, (id, d)) in out_ids.iter_mut().zip(out_d.iter_mut()).enumerate() {
            (*id, *d) = res.get(j).map_or((-1, f32::INFINITY), |&(d, id)| (id, d));
        }
    }

    /// Brute-force search over every stored vector with the same distance code (lower bounds and
    /// early abandoning for DTW). Leaves the best `k` at true distance `<= limit` in `s.top`,
    /// ranked by (true distance, user id) as results are reported: two rows whose squared
    /// distances differ can share a rounded square root, and then the smaller id is kept, so a
    /// top k is the start of the top k + 1 and merging shards' answers gives one index's answer.
    ///
    /// `allowed` (ascending slots, none free) restricts the scan to those rows (a filter).
    pub(crate) fn exact_scan(
        &self,
        q: &[f32],
        k: usize,
        limit: f32,
        allowed: Option<&[u32]>,
        s: &mut Scratch,
    ) {
        let metric = self.store.metric;
        // Series this short go through the batched kernel whole, without bounds or a scan
        // order (see `SHORT_SERIES_STEPS`); they need no envelope.
        let short = matches!(metric, Metric::Dtw { .. })
            && crate::metric::lanes_apply(metric, self.store.variable)
            && q.len() / self.store.channels.max(1) <= SHORT_SERIES_STEPS
            && self.dead.is_empty()
            && allowed.is_none()
            && !s.no_prune;
        if short {
            s.prep
                .prepare_without_envelope(self.store.channels, self.store.window);
        } else {
            s.prep
                .prepare(metric, self.store.channels, self.store.window, q);
        }
        let ceiling = metric.internal_above(limit);
        // (true distance, user id, node, squared distance); ids are unique, so the first two
        // fields decide every comparison.
        let mut top = BinaryHeap::with_capacity(k + 1);
        // Bounds and early abandoning may only reject squared distances whose square root is
        // above the worst kept distance (or the limit); at or below the cutoff values are exact.
        let mut cutoff = ceiling;
        // Keeps `node` at squared distance `d` (or a value above the cutoff) if it is among the
        // best `k`, tightening the cutoff.
        type Top = BinaryHeap<(OrdF32, i64, u32, OrdF32)>;
        let keep = |top: &mut Top, node: u32, d: f32, cutoff: &mut f32| {
            if d > *cutoff {
                return;
            }
            let t = metric.to_true(d);
            if t > limit {
                return;
            }
            let key = (OrdF32(t), self.ids[node as usize], node, OrdF32(d));
            if top.len() < k {
                top.push(key);
            } else if top.peek().is_some_and(|w| key < *w) {
                top.pop();
                top.push(key);
            }
            if top.len() >= k {
                *cutoff = top
                    .peek()
                    .map_or(ceiling, |w| metric.internal_above(w.0 .0).min(ceiling));
            }
        };
        // Evaluates `node` (with the bounds and abandoning of `eval_node`) and keeps it.
        let offer = |top: &mut Top, node: u32, s: &mut Scratch, cutoff: &mut f32| {
            let d = self.eval_node(q, node, *cutoff, s);
            keep(top, node, d, cutoff);
        };
        let rows = allowed.map_or(self.len(), <[u32]>::len);
        match self.store.metric {
            _ if short => {
                // Pairs this cheap cost less in the batched kernel, which prunes cells above the
                // running k-th best, than LB_Keogh, a scan order and a screen cost per row: every
                // row that LB_Kim does not reject goes through the lanes, in storage order.
                let mut rows: [&[f32]; LANES] = [&[]; LANES];
                let mut batch = [0u32; LANES];
                let mut found = [f32::INFINITY; LANES];
                let c = self.store.channels;
                let mut next = 0..self.len() as u32;
                loop {
                    // The next rows that LB_Kim (O(1)) does not reject.
                    let mut len = 0;
                    for node in next.by_ref() {
                        let row = self.store.row(node as usize);
                        s.stats.visited += 1;
                        if cutoff < f32::INFINITY && bounds::lb_kim_channels_sq(q, row, c) > cutoff
                        {
                            s.stats.lb_kim_pruned += 1;
                            continue;
                        }
                        (batch[len], rows[len]) = (node, row);
                        len += 1;
                        if len == LANES {
                            break;
                        }
                    }
                    if len == 0 {
                        break;
                    }
                    crate::metric::dtw_lanes_batch(
                        metric,
                        q,
                        &mut s.prep,
                        &rows[..len],
                        cutoff,
                        &mut s.stats,
                        &mut found,
                    );
                    for (&node, &d) in batch[..len].iter().zip(&found) {
                        keep(&mut top, node, d, &mut cutoff);
                    }
                }
            }
            Metric::Dtw { band } | Metric::DtwIndependent { band }
                if band > 0
                    && rows > k
                    && rows <= ORDERED_SCAN_ROWS_PER_K.saturating_mul(k)
                    && self.dead.is_empty()
                    && allowed.is_none()
                    && !s.no_prune =>
            {
                // Candidates in the order of their LB_Keogh (the query's envelope against the
                // row): the nearest rows come first, so the k-th best, and with it the cutoff,
                // is tight from the start; once a bound exceeds the cutoff, so do all later ones.
                let mut order = std::mem::take(&mut s.order);
                order.clear();
                let prep = &mut s.prep;
                let c = self.store.channels.max(1);
                order.extend((0..self.len() as u32).map(|node| {
                    let row = self.store.row(node as usize);
                    // Stops early above the limit's cutoff: such a row is rejected anyway. A
                    // series of another length gets LB_Keogh along the pair's sloped band (or,
                    // for a band that is the whole matrix, LB_Kim).
                    let lb = if row.len() == q.len() {
                        bounds::lb_keogh_sq(row, &prep.upper, &prep.lower, cutoff)
                    } else {
                        let kim = bounds::lb_kim_channels_sq(q, row, self.store.channels);
                        let pair = pair_band(band, self.store.window, q.len() / c, row.len() / c);
                        match prep.lb_band_of_row_sq(q, row, pair, cutoff, true) {
                            Some(keogh) => keogh.max(kim),
                            None => kim,
                        }
                    };
                    (lb, node)
                }));
                order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                // With a wide band LB_Keogh hardly orders the rows (the envelope spans the
                // whole series), so the first DTWs would run without a useful cutoff. The
                // Euclidean distance is an upper bound of DTW (the diagonal is a warping path):
                // the k rows nearest by it go first, and the k-th of those distances is a
                // cutoff before any DTW (k rows are within it, so the k-th best is too).
                s.begin(self.len());
                if band.saturating_mul(WIDE_BAND_PER_LENGTH) >= q.len() / self.store.channels {
                    let mut seeds = std::mem::take(&mut s.nearest_ed);
                    seeds.clear();
                    seeds.extend(order.iter().filter_map(|&(_, node)| {
                        let row = self.store.row(node as usize);
                        (row.len() == q.len())
                            .then(|| (crate::metric::euclidean::sq_euclidean(q, row), node))
                    }));
                    if seeds.len() >= k {
                        seeds.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
                        seeds.truncate(k);
                        seeds.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                        if let Some(&(kth, _)) = seeds.last() {
                            // Slack for the different order of summation of the two sums.
                            let slack = 1.0 + (4 * q.len() + 8) as f32 * f32::EPSILON;
                            cutoff = cutoff.min(kth * slack);
                        }
                        for &(_, node) in seeds.iter() {
                            s.mark(node);
                            offer(&mut top, node, s, &mut cutoff);
                        }
                    }
                    s.nearest_ed = seeds;
                }
                // Rows of the query's length go through the DTW kernel in batches of
                // `LANES`, once k rows are kept (so the batch has the running k-th best as its
                // cutoff); the cheap bounds screen each row first. Wide bands too: the lanes
                // prune cells as EAPrunedDTW does, for the batch as a whole (measured, exact 1-NN
                // at the full window: BasicMotions, Coffee, ArrowHead, GunPoint about 1.6-2.3x
                // faster than the scalar kernel's per-pair pruning).
                let lanes = crate::metric::lanes_apply(metric, self.store.variable) && !s.no_prune;
                let mut batch = [0u32; LANES];
                let mut found = [f32::INFINITY; LANES];
                let mut at = 0;
                while let Some(&(lb, node)) = order.get(at) {
                    if lanes && top.len() >= k && lb <= cutoff {
                        let cut = s.cutoff(cutoff);
                        let mut rows: [&[f32]; LANES] = [&[]; LANES];
                        let mut len = 0;
                        while let Some(&(lb, node)) = order.get(at) {
                            if lb > cutoff || len == LANES {
                                break;
                            }
                            at += 1;
                            let stored = self.store.stored(node as usize);
                            if s.mark(node)
                                && crate::metric::dtw_lanes_screen(
                                    q,
                                    &s.prep,
                                    stored,
                                    cut,
                                    &mut s.stats,
                                )
                            {
                                (batch[len], rows[len]) = (node, stored.row);
                                len += 1;
                            }
                        }
                        crate::metric::dtw_lanes_batch(
                            metric,
                            q,
                            &mut s.prep,
                            &rows[..len],
                            cut,
                            &mut s.stats,
                            &mut found,
                        );
                        for (&node, &d) in batch[..len].iter().zip(&found) {
                            keep(&mut top, node, d, &mut cutoff);
                        }
                        continue;
                    }
                    if lb > cutoff {
                        let rest = &order[at..];
                        let kim = if self.store.variable {
                            // Rows of another length without a band bound were ordered by
                            // LB_Kim.
                            let other = |&&(_, n): &&(f32, u32)| {
                                let len = self.store.span(n as usize).len();
                                let (qn, rn) = (q.len() / c, len / c);
                                len != q.len()
                                    && !band_lb_applies(
                                        pair_band(band, self.store.window, qn, rn),
                                        qn,
                                        rn,
                                    )
                            };
                            rest.iter().filter(other).count() as u64
                        } else {
                            0
                        };
                        let seeded = rest.iter().filter(|&&(_, n)| !s.mark(n)).count() as u64;
                        let rest = rest.len() as u64 - seeded;
                        s.stats.visited += rest;
                        s.stats.lb_kim_pruned += kim;
                        s.stats.lb_keogh_pruned += rest - kim;
                        break;
                    }
                    at += 1;
                    if s.mark(node) {
                        offer(&mut top, node, s, &mut cutoff);
                    }
                }
                s.order = order;
            }
            Metric::Euclidean
            | Metric::Cosine
            | Metric::InnerProduct
            | Metric::Dtw { band: 0 }
            | Metric::DtwIndependent { band: 0 }
                if allowed.is_none() && !self.store.variable =>
            {
                // One pass over a row is the whole distance (DTW with band 0 is the squared
                // Euclidean distance in both forms, as `eval_sq` computes it): no bound can be
                // cheaper, so the rows go straight through the vector kernel.
                let vector = if metric.band().is_some() {
                    Metric::Euclidean
                } else {
                    metric
                };
                for node in 0..self.slots() as u32 {
                    if self.dead.get(node as usize).copied().unwrap_or(false) {
                        continue;
                    }
                    s.stats.visited += 1;
                    s.stats.distance_calls += 1;
                    let d = crate::metric::vector_sq(vector, q, self.store.row(node as usize));
                    keep(&mut top, node, d, &mut cutoff);
                }
            }
            _ if allowed.is_some() => {
                for &node in allowed.unwrap_or(&[]) {
                    offer(&mut top, node, s, &mut cutoff);
                }
            }
            _ if self.dead.is_empty() => {
                for node in 0..self.slots() as u32 {
                    offer(&mut top, node, s, &mut cutoff);
                }
            }
            _ => {
                for node in 0..self.slots() as u32 {
                    if !self.dead[node as usize] {
                        offer(&mut top, node, s, &mut cutoff);
                    }
                }
            }
        }
        s.top.clear();
        s.top
            .extend(top.into_iter().map(|(_, _, node, d)| Cand { d: d.0, node }));
    }
}

/// What the answers of a piece of a batch are restricted to: the pieces' distance limits
/// (exact search), and the filter.
#[derive(Clone, Copy)]
struct Target<'a> {
    limits: Option<&'a [f32]>,
    filter: Option<&'a Filter>,
}

/// The query rows of a batch: `dim` floats each, or (`dim == 0`) ending at `ends[i]`.
#[derive(Clone, Copy)]
struct Batch<'a> {
    data: &'a [f32],
    dim: usize,
    ends: &'a [usize],
}

impl<'a> Batch<'a> {
    /// Query `i` of the batch (checked to exist).
    fn row(&self, i: usize) -> &'a [f32] {
        if self.dim > 0 {
            &self.data[i * self.dim..(i + 1) * self.dim]
        } else {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.data[start..self.ends[i]]
        }
    }
}

/// An exact DTW scan of at most this many stored rows per neighbor asked for (`k`) visits them in
/// the order of their LB_Keogh (see `exact_scan`); larger scans go in storage order, where the
/// O(1) LB_Kim rejects most rows before any O(L) bound is computed. Measured (length 256, band
/// 26, 2 threads, ms per query, ordered / storage order): random walks k=1: 0.42 / 0.33 at 2,000
/// rows, 1.48 / 0.91 at 8,192, 29.7 / 12.9 at 100,000; k=10: 0.92 / 1.43 at 2,000, 2.56 / 3.00
/// at 8,192, 39.1 / 25.3 at 100,000; UCR 1-NN (28-67 rows): ordered 1.0-2.2x faster.
const ORDERED_SCAN_ROWS_PER_K: usize = 1024;

/// Query length (time steps) up to which the exact DTW scan (dependent form, equal lengths)
/// skips LB_Keogh, the scan order and the screen, and runs every stored row that LB_Kim does
/// not reject through the batched kernel, whose pruning against the running k-th best is then
/// cheaper than a bound, a sort and a screen per row. Measured (exact 1-NN, one thread, 200 x
/// 400 z-normalized random walks, bands 1, 2, 10%, 25% and full; plain scan time / ordered scan
/// time, interleaved): 16 steps 0.31-0.49, 24 steps 0.42-0.83, 32 steps 0.60-0.70, 48 steps
/// 0.74-1.17, 64 steps 0.85-1.08, 128 steps 0.95-1.77. ItalyPowerDemand (24 steps, 67 x 1029):
/// band 2 3.4 against 6.6 ms, full window 7.2 against 12.4 ms.
const SHORT_SERIES_STEPS: usize = 32;

/// A DTW band of at least the series length over this is wide: the ordered exact scan first
/// evaluates the rows nearest by Euclidean distance (see `exact_scan`).
const WIDE_BAND_PER_LENGTH: usize = 8;

/// Queries x stored rows x dim (x DTW band width) below which a batch runs on the calling thread.
const SMALL_BATCH_WORK: usize = 1 << 20;

/// Cell operations of brute force (rows times samples times band width) in the first piece of a
/// batch: about half a second of banded DTW at a nanosecond per cell, an upper bound of what the
/// pruned search does.
const PIECE_WORK: usize = 500_000_000;

/// Checks the per-query distance limits of an exact batch of `n` queries.
fn check_max_distances(m: &[f32], n: usize, exact: bool, non_negative: bool) -> Result<(), Error> {
    if !exact {
        return Err(invalid(
            "max_distance",
            "limits the exact search only (give exact=True)",
        ));
    }
    if m.len() != n {
        return Err(invalid(
            "max_distance",
            format!("needs one value per query ({n}), got {}", m.len()),
        ));
    }
    if let Some((i, v)) = m
        .iter()
        .enumerate()
        .find(|(_, v)| v.is_nan() || (non_negative && **v < 0.0))
    {
        return Err(invalid(
            "max_distance",
            format!("must be >= 0 (or +inf), got {v} at query {i}"),
        ));
    }
    Ok(())
}

/// `f32` with the total order (for heaps).
#[derive(Clone, Copy, Debug, PartialEq)]
struct OrdF32(f32);
impl Eq for OrdF32 {}
impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdF32 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}
