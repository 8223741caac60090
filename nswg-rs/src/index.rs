//! The index: store + graph + id map, with insertion, graph search, exact search and batch search.

use crate::error::{invalid, Error};
use crate::graph::{reselect_diverse, select_diverse, Beam, Cand, Graph, Layer, Layers, MAX_LEVEL};
use crate::metric::dtw::DtwScratch;
use crate::metric::euclidean::{sq_euclidean, sq_euclidean_codes};
use crate::metric::{eval_sq, Metric, QueryPrep};
use crate::params::{BuildParams, Entry, SearchParams};
use crate::stats::SearchStats;
use crate::store::{Codes, Store};
use parking_lot::Mutex;
use rayon::prelude::*;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

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

/// Per-thread search state: a generation-stamped visited array, the beam, heaps and DTW buffers, reused
/// between queries so a search allocates nothing once warm. The stamps are 16-bit (as hnswlib's
/// visited tags): half the cache footprint of 32-bit ones for the array every step of a search
/// touches at random, for one clearing of the array every 65,535 searches.
#[derive(Default)]
pub(crate) struct Scratch {
    visited: Vec<u16>,
    stamp: u16,
    beam: Beam,
    top: BinaryHeap<Cand>,
    nbrs: Vec<u32>,
    prep: QueryPrep,
    sorted: Vec<Cand>,
    resel: Vec<(Cand, bool)>,
    fresh: Vec<u32>,
    chosen: Vec<u32>,
    kept: Vec<u32>,
    seeds: Vec<Cand>,
    /// The query minus the code offsets, for a quantized search.
    shifted: Vec<f32>,
    build_dtw: BuildDist,
}

/// Distance state of one insertion: DTW buffers and a count of the distance computations (search
/// and neighbor selection), reported through [`crate::build_stats`] with the `build-stats` feature.
#[derive(Default)]
pub(crate) struct BuildDist {
    dtw: DtwScratch,
    calls: u64,
}

impl Scratch {
    fn begin(&mut self, n: usize) {
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
    fn seed(&mut self, entries: &[Cand], ef: usize) {
        self.beam.reset(ef);
        for &c in entries {
            if self.mark(c.node) {
                self.beam.push(c);
            }
        }
    }

    /// Marks `node` visited; true if it was not visited before in this search.
    #[inline]
    fn mark(&mut self, node: u32) -> bool {
        let v = &mut self.visited[node as usize];
        if *v == self.stamp {
            false
        } else {
            *v = self.stamp;
            true
        }
    }
}

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

/// The level of node `node` in a hierarchy: `floor(-ln(u) / ln(M))` for a uniform `u` in `(0, 1]`
/// drawn from the index seed and the node number (so it does not depend on how rows are batched),
/// capped at [`MAX_LEVEL`].
fn draw_level(seed: u64, node: usize, m: usize) -> usize {
    let mut r =
        Rng::new(seed ^ 0x5851_F42D_4C95_7F2D ^ (node as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let x = -(1.0 - u).ln() / (m.max(2) as f64).ln();
    if x.is_finite() && x > 0.0 {
        (x as usize).min(MAX_LEVEL)
    } else {
        0
    }
}

/// SplitMix64: a small, fast, seedable generator (all randomness of the index goes through it).
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// Seed of the entry-point generator of one query: the index seed mixed with the query's bits, so the
/// same query gets the same entry points wherever it sits in a batch, and different queries differ.
fn query_seed(seed: u64, q: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for x in q {
        h = (h ^ x.to_bits() as u64).wrapping_mul(0x0100_0000_01b3);
    }
    Rng::new(h).next_u64()
}

/// Most pivots an index keeps (see [`Entry::Pivots`]).
const MAX_PIVOTS: usize = 64;

/// The entry sample of [`Entry::Pivots`]: node numbers `i * n / P` and a contiguous copy of their
/// vectors (P x dim floats, small enough to stay in cache), rebuilt whenever nodes are added.
#[derive(Default)]
pub(crate) struct Pivots {
    nodes: Vec<u32>,
    rows: Vec<f32>,
}

impl Pivots {
    fn build(store: &Store, n: usize) -> Pivots {
        let p = n.min(MAX_PIVOTS);
        let nodes: Vec<u32> = (0..p).map(|i| (i * n / p) as u32).collect();
        let mut rows = Vec::with_capacity(p * store.dim);
        for &v in &nodes {
            rows.extend_from_slice(store.row(v as usize));
        }
        Pivots { nodes, rows }
    }
}

struct PoolSlot {
    pid: u32,
    n_threads: usize,
    pool: Arc<rayon::ThreadPool>,
}

/// A navigable small world graph index over fixed-length `f32` vectors.
///
/// `Index` is `Send + Sync`: searches take `&self` and may run from many threads at once.
pub struct Index {
    pub(crate) store: Store,
    pub(crate) graph: Graph,
    pub(crate) params: BuildParams,
    pub(crate) ids: Vec<i64>,
    pub(crate) id_map: HashMap<i64, u32>,
    /// The layers above the base graph when built with [`BuildParams::hierarchy`].
    pub(crate) layers: Option<Layers>,
    pivots: Pivots,
    /// Nodes inserted since the last [`Index::link_orphans`] pass (not saved).
    unlinked_since_repair: usize,
    /// Orphans linked by [`Index::link_orphans`] since this index was made or loaded (not saved).
    orphans_linked: usize,
    scratch: Mutex<Vec<Scratch>>,
    pool: Mutex<Option<PoolSlot>>,
}

/// `add` runs [`Index::link_orphans`] once the nodes inserted since the last pass reach
/// `1/REPAIR_FRACTION` of the index: the pass reads every list once, so its cost stays a small
/// fraction of the insertion work it follows.
const REPAIR_FRACTION: usize = 64;

/// Checks that `rows` holds whole rows of width `dim` of finite values; returns the row count.
pub(crate) fn check_rows(what: &'static str, rows: &[f32], dim: usize) -> Result<usize, Error> {
    if !rows.len().is_multiple_of(dim) {
        return Err(Error::DimensionMismatch {
            what,
            expected: dim,
            got: rows.len() % dim,
        });
    }
    if let Some(pos) = rows.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            what,
            row: pos / dim,
            col: pos % dim,
        });
    }
    Ok(rows.len() / dim)
}

impl Index {
    /// Creates an empty index for vectors of `dim` floats.
    ///
    /// # Errors
    /// `InvalidParameter` if `dim == 0`, `max_degree < 2`, `ef_construction == 0` or `restarts == 0`.
    pub fn new(dim: usize, metric: Metric, params: BuildParams) -> Result<Index, Error> {
        if dim == 0 {
            return Err(invalid("dim", "must be at least 1, got 0"));
        }
        if params.max_degree < 2 || params.max_degree > 4096 {
            return Err(invalid(
                "max_degree",
                format!("must be between 2 and 4096, got {}", params.max_degree),
            ));
        }
        if params.ef_construction == 0 {
            return Err(invalid("ef_construction", "must be at least 1, got 0"));
        }
        if params.restarts == 0 {
            return Err(invalid("restarts", "must be at least 1, got 0"));
        }
        let layers = params
            .hierarchy
            .then(|| Layers::new(upper_degree(params.max_degree)));
        Ok(Self::from_parts(
            Store::new(dim, metric),
            Graph::new(params.max_degree),
            layers,
            params,
            Vec::new(),
            HashMap::new(),
        ))
    }

    pub(crate) fn from_parts(
        store: Store,
        graph: Graph,
        layers: Option<Layers>,
        params: BuildParams,
        ids: Vec<i64>,
        id_map: HashMap<i64, u32>,
    ) -> Index {
        let pivots = Pivots::build(&store, ids.len());
        Index {
            store,
            graph,
            layers,
            params,
            ids,
            id_map,
            pivots,
            unlinked_since_repair: 0,
            orphans_linked: 0,
            scratch: Mutex::new(Vec::new()),
            pool: Mutex::new(None),
        }
    }

    /// Number of stored vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no vector is stored.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Width of every vector.
    pub fn dim(&self) -> usize {
        self.store.dim
    }

    /// The distance the index uses.
    pub fn metric(&self) -> Metric {
        self.store.metric
    }

    /// The parameters the graph was built with.
    pub fn build_params(&self) -> BuildParams {
        self.params
    }

    /// User ids in insertion order.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// True if `id` is stored.
    pub fn contains(&self, id: i64) -> bool {
        self.id_map.contains_key(&id)
    }

    /// Out-links of the node holding user id `id`, as user ids (for inspection and tests).
    ///
    /// # Errors
    /// `UnknownId` if `id` is not stored.
    pub fn neighbors(&self, id: i64) -> Result<Vec<i64>, Error> {
        let node = *self.id_map.get(&id).ok_or(Error::UnknownId { id })?;
        let mut v = Vec::new();
        self.graph.neighbors_into(node, &mut v);
        Ok(v.iter().map(|&n| self.ids[n as usize]).collect())
    }

    /// Level of the node holding `id` in the hierarchy (0 on a flat index, and for nodes that are
    /// only in the base graph).
    ///
    /// # Errors
    /// `UnknownId` if `id` is not stored.
    pub fn level(&self, id: i64) -> Result<usize, Error> {
        let node = *self.id_map.get(&id).ok_or(Error::UnknownId { id })?;
        Ok(self
            .layers
            .as_ref()
            .and_then(|l| l.levels.get(node as usize))
            .map_or(0, |&v| v as usize))
    }

    /// Highest level of the hierarchy and the user id of its entry point, or `None` on a flat or
    /// empty index.
    pub fn entry_point(&self) -> Option<(i64, usize)> {
        let (node, level) = self.layers.as_ref()?.entry()?;
        Some((*self.ids.get(node as usize)?, level))
    }

    /// Out-links of `id` on layer `level` (0 = the base graph, as [`Index::neighbors`]), as user ids.
    ///
    /// # Errors
    /// `UnknownId` if `id` is not stored; `InvalidParameter` if `level` is above the node's level.
    pub fn neighbors_at(&self, id: i64, level: usize) -> Result<Vec<i64>, Error> {
        if level == 0 {
            return self.neighbors(id);
        }
        let node = *self.id_map.get(&id).ok_or(Error::UnknownId { id })?;
        let top = self.level(id)?;
        let layer = self
            .layers
            .as_ref()
            .and_then(|l| l.upper.get(level - 1))
            .filter(|_| level <= top)
            .ok_or_else(|| {
                invalid(
                    "level",
                    format!("id {id} is on levels 0..={top}, got {level}"),
                )
            })?;
        let mut v = Vec::new();
        if let Some(slot) = layer.slot(node) {
            layer.graph.neighbors_into(slot, &mut v);
        }
        Ok(v.iter().map(|&n| self.ids[n as usize]).collect())
    }

    /// Copies of the stored vectors of `ids`, row-major `(ids.len(), dim)`.
    ///
    /// # Errors
    /// `UnknownId` for the first id not stored.
    pub fn get_vectors(&self, ids: &[i64]) -> Result<Vec<f32>, Error> {
        let mut out = Vec::with_capacity(ids.len() * self.dim());
        for &id in ids {
            let node = *self.id_map.get(&id).ok_or(Error::UnknownId { id })?;
            out.extend_from_slice(self.store.row(node as usize));
        }
        Ok(out)
    }

    /// Adds `rows` (row-major, a multiple of `dim` floats) with the given user ids, or with ids
    /// `len()..len()+n` when `ids` is `None`, and links each new node into the graph. Returns the ids.
    /// `n_threads`: 0 = all cores, 1 = sequential (the bit-reproducible mode; insertion in parallel
    /// may give a different, equally valid graph).
    ///
    /// # Errors
    /// `DimensionMismatch`, `NonFinite`, `InvalidParameter` (wrong id count, negative id, index full),
    /// `DuplicateId`. On error nothing is added.
    pub fn add(
        &mut self,
        rows: &[f32],
        ids: Option<&[i64]>,
        n_threads: usize,
    ) -> Result<Vec<i64>, Error> {
        let new_ids = self.add_deferring_repair(rows, ids, n_threads)?;
        if self.repair_due() {
            self.link_orphans();
        }
        Ok(new_ids)
    }

    /// As [`Index::add`] without the orphan pass: for a caller that adds one batch in pieces (to
    /// stay interruptible) and runs [`Index::link_orphans`] once at the end, instead of a pass
    /// after every piece.
    ///
    /// # Errors
    /// As [`Index::add`].
    pub fn add_deferring_repair(
        &mut self,
        rows: &[f32],
        ids: Option<&[i64]>,
        n_threads: usize,
    ) -> Result<Vec<i64>, Error> {
        let new_ids = self.check_new(rows, ids)?;
        let start = self.len();
        let n_new = new_ids.len();
        for (k, &id) in new_ids.iter().enumerate() {
            self.id_map.insert(id, (start + k) as u32);
        }
        self.ids.extend_from_slice(&new_ids);
        self.store.push_rows(rows);
        self.graph.grow(start + n_new);
        let seed = self.params.seed;
        if let Some(layers) = &mut self.layers {
            for node in start..start + n_new {
                let level = draw_level(seed, node, layers.m);
                layers.push(node as u32, level);
            }
        }
        self.link_nodes(start, start + n_new, n_threads);
        self.unlinked_since_repair += n_new;
        self.pivots = Pivots::build(&self.store, self.len());
        Ok(new_ids)
    }

    /// Starts (`on`) or stops keeping an 8-bit code of every stored coordinate, which a search
    /// with [`SearchParams::quantized`] walks the graph on: one byte per coordinate more memory
    /// (a quarter of the vectors'), encoded now for the stored rows (O(n * dim)) and kept up to
    /// date by `add`. Not saved: a loaded index has none until asked. Coordinate `j` is coded
    /// linearly between the smallest and largest stored value of `j` in 255 steps, so one extreme
    /// outlier in a coordinate coarsens that coordinate for every row (the answers' distances stay
    /// exact; the walk gets less precise).
    ///
    /// # Errors
    /// `InvalidParameter` (`quantized`) when turning codes on for a DTW index.
    pub fn set_codes(&mut self, on: bool) -> Result<(), Error> {
        if on && self.store.metric != Metric::Euclidean {
            return Err(invalid(
                "quantized",
                "8-bit codes need the Euclidean metric (DTW searches walk on the floats)",
            ));
        }
        self.store.set_codes(on);
        Ok(())
    }

    /// Whether the index keeps 8-bit codes (see [`Index::set_codes`]).
    pub fn has_codes(&self) -> bool {
        self.store.codes.is_some()
    }

    /// Nodes added since the last [`Index::link_orphans`] pass (`add` runs one by itself once this
    /// reaches 1/64 of the index).
    pub fn added_since_repair(&self) -> usize {
        self.unlinked_since_repair
    }

    /// Whether [`Index::add`] would run the orphan pass now: the nodes added since the last pass
    /// reach 1/64 of the index.
    pub fn repair_due(&self) -> bool {
        self.unlinked_since_repair > 0 && self.unlinked_since_repair * REPAIR_FRACTION >= self.len()
    }

    /// How many orphans [`Index::link_orphans`] has linked since this index was made or loaded.
    pub fn orphans_linked(&self) -> usize {
        self.orphans_linked
    }

    /// Links every node of the base graph that a search from the root cannot reach, and returns
    /// how many nodes it linked. The root is the hierarchy's entry node, or node 0 on a flat
    /// graph. A search that starts from the root (or descends to the base graph through the
    /// layers) never reaches such an orphan, so searching for its own vector would not find it.
    /// The diversity rule makes a few: when a full list is re-selected, a node whose only in-link
    /// it was can be dropped (about 1 node in 800 on 100,000 clustered 128-d vectors), and a few
    /// such nodes can link only among themselves.
    ///
    /// For each unreached node `u` (ascending), the link `v -> u` is offered to the nodes `v` that
    /// are reached, nearest to `u` first: those `u` links to, or when it links to none, the
    /// results of a base-graph search for `u`'s vector from the root (beam `ef_construction`).
    /// The link is appended if `v`'s list has room, else it replaces the link of `v` to its
    /// farthest neighbour that another reached node also links to, so no list exceeds
    /// `max_degree`. Everything `u` reaches is then reached. A replaced link can still cut a node
    /// off (when its other in-link was reached only through it), so the pass repeats, up to 4
    /// rounds, until everything is reached; a node no offer can take stays unlinked (not seen in
    /// the tests or benchmarks). `add` calls this by itself once the nodes inserted since the last
    /// pass reach 1/64 of the index; call it after a stream of small adds. Each round reads every
    /// list once (O(n * max_degree)); each orphan costs a few list scorings (`max_degree` distance
    /// computations each) and, when it links to no reached node, one search.
    pub fn link_orphans(&mut self) -> usize {
        self.unlinked_since_repair = 0;
        let n = self.len();
        if n < 2 {
            return 0;
        }
        let root = self
            .layers
            .as_ref()
            .and_then(Layers::entry)
            .map_or(0, |(e, _)| e);
        let g = &self.graph;
        let mut dtw = BuildDist::default();
        let mut s = self.take_scratch();
        let mut was_linked = vec![false; n];
        let (mut cands, mut list, mut queue) = (Vec::new(), Vec::new(), Vec::new());
        for _round in 0..4 {
            // In-links from reached nodes only: a link may be given up only by a node whose
            // target keeps another in-link from the reached part of the graph.
            let mut indeg = vec![0u32; n];
            let mut reached = vec![false; n];
            let mut spread = |from: u32, reached: &mut Vec<bool>, indeg: &mut Vec<u32>| {
                reached[from as usize] = true;
                queue.clear();
                queue.push(from);
                while let Some(v) = queue.pop() {
                    for w in g.links(v) {
                        indeg[w as usize] += 1;
                        if !std::mem::replace(&mut reached[w as usize], true) {
                            queue.push(w);
                        }
                    }
                }
            };
            spread(root, &mut reached, &mut indeg);
            if reached.iter().all(|&r| r) {
                break;
            }
            for u in 0..n as u32 {
                if reached[u as usize] {
                    continue;
                }
                cands.clear();
                cands.extend(g.links(u).filter(|&v| reached[v as usize]).map(|v| Cand {
                    d: self.node_dist_sq(u, v, f32::INFINITY, &mut dtw),
                    node: v,
                }));
                if cands.is_empty() {
                    let q = self.store.row(u as usize);
                    let mut stats = SearchStats::default();
                    let d = self.eval_node(q, root, f32::INFINITY, false, &mut s.prep, &mut stats);
                    let ef = self.params.ef_construction;
                    let root_seed = [Cand { d, node: root }];
                    self.graph_search(
                        q,
                        None,
                        Some(u),
                        ef,
                        ef,
                        1,
                        None,
                        &root_seed,
                        n,
                        false,
                        0,
                        &mut s,
                        &mut stats,
                    );
                    cands.extend(s.top.drain().filter(|c| reached[c.node as usize]));
                }
                cands.sort_unstable();
                let mut done = false;
                for &Cand { node: v, .. } in &cands {
                    let _lock = g.lock(v);
                    if g.try_push(v, u) {
                        indeg[u as usize] += 1;
                        done = true;
                        break;
                    }
                    list.clear();
                    list.extend(g.links(v).map(|w| Cand {
                        d: self.node_dist_sq(v, w, f32::INFINITY, &mut dtw),
                        node: w,
                    }));
                    list.sort_unstable();
                    let Some(pos) = list.iter().rposition(|c| indeg[c.node as usize] >= 2) else {
                        continue;
                    };
                    indeg[list[pos].node as usize] -= 1;
                    indeg[u as usize] += 1;
                    let d = self.node_dist_sq(v, u, f32::INFINITY, &mut dtw);
                    list[pos] = Cand { d, node: u };
                    list.sort_unstable();
                    let nodes: Vec<u32> = list.iter().map(|c| c.node).collect();
                    // The list changed outside the diversity rule: no prefix is known diverse.
                    g.set_links(v, &nodes, 0);
                    done = true;
                    break;
                }
                if done {
                    was_linked[u as usize] = true;
                    spread(u, &mut reached, &mut indeg);
                }
            }
        }
        self.give_scratch(s);
        let linked = was_linked.iter().filter(|&&l| l).count();
        self.orphans_linked += linked;
        linked
    }

    /// Reserves memory for `additional` more vectors exactly, so that a large add made of many
    /// smaller `add` calls (as the Python binding does, to stay interruptible) does not leave the
    /// geometric over-allocation of growing buffers behind. Optional: `add` works without it.
    pub fn reserve(&mut self, additional: usize) {
        self.store.reserve(additional);
        self.graph.reserve(additional);
        self.ids.reserve_exact(additional);
        self.id_map.reserve(additional);
    }

    /// Checks what [`Index::add`] would check, without adding; returns the ids the rows would get.
    ///
    /// # Errors
    /// As [`Index::add`].
    pub fn check_new(&self, rows: &[f32], ids: Option<&[i64]>) -> Result<Vec<i64>, Error> {
        let n_new = check_rows("vectors", rows, self.dim())?;
        let start = self.len();
        if start + n_new > u32::MAX as usize {
            return Err(invalid(
                "vectors",
                "would grow the index past 2^32 - 1 vectors",
            ));
        }
        match ids {
            None => Ok((start as i64..(start + n_new) as i64).collect()),
            Some(ids) => {
                if ids.len() != n_new {
                    return Err(invalid(
                        "ids",
                        format!("has {} entries but vectors has {} rows", ids.len(), n_new),
                    ));
                }
                let mut seen = std::collections::HashSet::with_capacity(ids.len());
                for &id in ids {
                    if id < 0 {
                        return Err(invalid("ids", format!("must be non-negative, got {id}")));
                    }
                    if self.id_map.contains_key(&id) || !seen.insert(id) {
                        return Err(Error::DuplicateId { id });
                    }
                }
                Ok(ids.to_vec())
            }
        }
    }

    /// Links nodes `from..to` (already stored) into the graph.
    fn link_nodes(&self, from: usize, to: usize, n_threads: usize) {
        let m = self.graph.max_degree;
        // The first m+1 nodes are connected to all earlier ones, sequentially.
        let seq_end = to.min(m + 1).max(from);
        let mut s = self.take_scratch();
        for i in from..seq_end {
            self.insert(i as u32, i, &mut s);
        }
        self.give_scratch(s);
        let mut done = seq_end;
        let Some(pool) = self.pool(n_threads, to - done) else {
            let mut s = self.take_scratch();
            for i in done..to {
                self.insert(i as u32, i, &mut s);
            }
            self.give_scratch(s);
            return;
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
                self.give_scratch(s);
            });
            done = end;
        }
    }

    /// Links node `i` into the graph (and its layers), entering from nodes `0..limit`.
    fn insert(&self, i: u32, limit: usize, s: &mut Scratch) {
        let mut dtw = std::mem::take(&mut s.build_dtw);
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
            self.insert_upper(layers, i, lvl, s, &mut seeds, &mut dtw);
            self.link_base(i, limit, &seeds, s, &mut dtw);
            layers.offer_entry(i, lvl);
        } else {
            self.link_base(i, limit, &[], s, &mut dtw);
        }
        #[cfg(feature = "build-stats")]
        crate::build_stats::add(std::mem::take(&mut dtw.calls));
        s.seeds = seeds;
        s.build_dtw = dtw;
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
        dtw: &mut BuildDist,
    ) {
        let Some((ep, top)) = layers.entry() else {
            return;
        };
        let metric = self.store.metric;
        let q = self.store.row(i as usize);
        let mut stats = SearchStats::default();
        s.prep.prepare(metric, q);
        let d = self.eval_node(q, ep, f32::INFINITY, true, &mut s.prep, &mut stats);
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
            self.layer_search(layer, q, Some(i), seeds, ef, true, s, &mut stats);
            dtw.calls += std::mem::take(&mut stats.distance_calls);
            if level > lvl {
                continue;
            }
            let Some(slot) = layer.slot(i) else {
                continue;
            };
            select_diverse(
                seeds,
                layers.m,
                |a, b, cut| self.node_dist_sq(a, b, cut, dtw),
                &mut chosen,
            );
            self.set_own_links(&layer.graph, slot, i, &chosen, chosen.len(), s, dtw);
            for &j in &chosen {
                if let Some(sj) = layer.slot(j) {
                    self.back_link(&layer.graph, sj, j, i, s, dtw);
                }
            }
        }
        s.chosen = chosen;
    }

    /// Writes the new node `i`'s own list on `g` (slot `si`). In a parallel build, `i` can already be
    /// visible (through a layer above, linked first) to concurrent inserts, which may have pushed
    /// back-links into its still-empty list on this layer. Overwriting those would strand the nodes
    /// they point to, so they are merged with `chosen`, and the union is re-selected by the
    /// diversity rule when it exceeds the cap. In a sequential build the list is always empty here,
    /// so the result is exactly `chosen`. The first `diverse` entries of `chosen` are a choice of
    /// the diversity rule (see [`Graph::set_links`]).
    #[allow(clippy::too_many_arguments)]
    fn set_own_links(
        &self,
        g: &Graph,
        si: u32,
        i: u32,
        chosen: &[u32],
        diverse: usize,
        s: &mut Scratch,
        dtw: &mut BuildDist,
    ) {
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
                self.reselect(g, si, i, &nbrs, known, s, dtw);
            }
        }
        s.nbrs = nbrs;
    }

    /// Adds the link `j -> i` to `g` (where `j` has slot `sj`); when `j`'s list is full, re-selects
    /// among its old links and `i` by the diversity rule, up to the graph's cap.
    fn back_link(&self, g: &Graph, sj: u32, j: u32, i: u32, s: &mut Scratch, dtw: &mut BuildDist) {
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
        self.reselect(g, sj, j, &nbrs, known, s, dtw);
        s.nbrs = nbrs;
    }

    /// Replaces `node`'s list on `g` (slot `slot`) by the diversity rule's choice among `cands`, up
    /// to the graph's cap, where the first `known` of `cands` are already known diverse (the
    /// list's [`Graph::diverse_prefix`]), which spares their comparisons among themselves. The
    /// caller holds the slot's lock.
    #[allow(clippy::too_many_arguments)]
    fn reselect(
        &self,
        g: &Graph,
        slot: u32,
        node: u32,
        cands: &[u32],
        known: usize,
        s: &mut Scratch,
        dtw: &mut BuildDist,
    ) {
        let mut sorted = std::mem::take(&mut s.resel);
        let mut kept = std::mem::take(&mut s.kept);
        let mut fresh = std::mem::take(&mut s.fresh);
        sorted.clear();
        sorted.extend(cands.iter().enumerate().map(|(k, &n)| {
            let d = self.node_dist_sq(node, n, f32::INFINITY, dtw);
            (Cand { d, node: n }, k < known)
        }));
        sorted.sort_unstable_by_key(|a| a.0);
        reselect_diverse(
            &sorted,
            g.max_degree,
            |a, b, cut| self.node_dist_sq(a, b, cut, dtw),
            &mut kept,
            &mut fresh,
        );
        g.set_links(slot, &kept, kept.len());
        s.resel = sorted;
        s.kept = kept;
        s.fresh = fresh;
    }

    /// Best-first search on one upper layer from `entries`, with a result set bounded to `ef`;
    /// replaces `entries` with the results, ascending. Same pruning contract as `graph_search`.
    #[allow(clippy::too_many_arguments)]
    fn layer_search(
        &self,
        layer: &Layer,
        q: &[f32],
        exclude: Option<u32>,
        entries: &mut Vec<Cand>,
        ef: usize,
        prune: bool,
        s: &mut Scratch,
        stats: &mut SearchStats,
    ) {
        let ef = ef.max(1);
        s.begin(self.graph.len());
        if let Some(x) = exclude {
            s.mark(x);
        }
        s.seed(entries, ef);
        while let Some(c) = s.beam.pop_next() {
            let Some(slot) = layer.slot(c.node) else {
                continue;
            };
            s.nbrs.clear();
            for nb in layer.graph.links(slot) {
                if s.mark(nb) {
                    s.nbrs.push(nb);
                }
            }
            for idx in 0..s.nbrs.len() {
                self.offer(q, None, s.nbrs[idx], ef, prune, s, stats);
            }
        }
        entries.clear();
        entries.extend(s.beam.iter());
    }

    /// Squared distance from the prepared query `q` to stored node `node` (see [`eval_sq`]: exact
    /// when `<= cutoff`, otherwise some value `> cutoff`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn eval_node(
        &self,
        q: &[f32],
        node: u32,
        cutoff: f32,
        prune: bool,
        prep: &mut QueryPrep,
        stats: &mut SearchStats,
    ) -> f32 {
        let (u, l) = self.store.envelope(node as usize);
        let row = self.store.row(node as usize);
        eval_sq(self.store.metric, q, prep, row, u, l, cutoff, prune, stats)
    }

    /// One step of the best-first search: evaluates the newly visited node `nb` and, if the beam
    /// (`s.beam`, bounded to `ef`) is not full or `(d, nb)` beats its worst result, adds it.
    ///
    /// Pruning (lower bounds, early abandoning) cannot change the outcome: the cutoff handed to
    /// the distance is the worst result's distance when the beam is full, a bound or an abandoned
    /// DTW only reports some `d > cutoff`, and any such `d` fails the admission test anyway; below
    /// the cutoff the value is exact.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn offer(
        &self,
        q: &[f32],
        coded: Option<(&Codes, &[f32])>,
        nb: u32,
        ef: usize,
        prune: bool,
        s: &mut Scratch,
        stats: &mut SearchStats,
    ) {
        debug_assert!(s.beam.len() <= ef);
        let d = match coded {
            Some((codes, shifted)) => {
                stats.visited += 1;
                self.eval_coded(codes, shifted, nb, stats)
            }
            None => {
                let cutoff = s.beam.worst_if_full().map_or(f32::INFINITY, |w| w.d);
                self.eval_node(q, nb, cutoff, prune, &mut s.prep, stats)
            }
        };
        s.beam.push(Cand { d, node: nb });
    }

    /// Squared Euclidean distance from a query, given as `query - lo` (see
    /// [`crate::store::Codes`]), to the 8-bit codes of `node`. Counts a distance computation, not
    /// a visit (the caller counts visits).
    #[inline(always)]
    fn eval_coded(
        &self,
        codes: &Codes,
        shifted: &[f32],
        node: u32,
        stats: &mut SearchStats,
    ) -> f32 {
        stats.distance_calls += 1;
        let d = sq_euclidean_codes(
            shifted,
            &codes.scale,
            codes.row(self.store.dim, node as usize),
        );
        // Values near f32::MAX can make inf - inf; rank such a node last rather than arbitrarily.
        if d.is_nan() {
            f32::INFINITY
        } else {
            d
        }
    }

    /// Greedy descent (beam 1) from the entry point through the upper layers; leaves the node found
    /// on layer 1 in `seeds` (empty on an empty hierarchy).
    fn descend(
        &self,
        layers: &Layers,
        q: &[f32],
        prune: bool,
        s: &mut Scratch,
        seeds: &mut Vec<Cand>,
        stats: &mut SearchStats,
    ) {
        seeds.clear();
        let Some((ep, top)) = layers.entry() else {
            return;
        };
        let metric = self.store.metric;
        s.prep.prepare(metric, q);
        let d = self.eval_node(q, ep, f32::INFINITY, prune, &mut s.prep, stats);
        seeds.push(Cand { d, node: ep });
        for level in (1..=top.min(MAX_LEVEL)).rev() {
            if let Some(layer) = layers.upper.get(level - 1) {
                self.layer_search(layer, q, None, seeds, 1, prune, s, stats);
            }
        }
    }

    /// Links node `i` into the base graph, entering from `seeds` (first restart) or from nodes
    /// `0..limit`.
    fn link_base(
        &self,
        i: u32,
        limit: usize,
        seeds: &[Cand],
        s: &mut Scratch,
        dtw: &mut BuildDist,
    ) {
        let m = self.graph.max_degree;
        if i == 0 {
            return;
        }
        let q = self.store.row(i as usize);
        let mut chosen = std::mem::take(&mut s.chosen);
        let diverse;
        if (i as usize) <= m {
            chosen.clear();
            chosen.extend(0..i);
            diverse = 0;
        } else {
            let mut stats = SearchStats::default();
            let ef = self.params.ef_construction;
            let seed = self.params.seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
            self.graph_search(
                q,
                None,
                Some(i),
                ef,
                ef,
                self.params.restarts,
                None,
                seeds,
                limit,
                true,
                seed,
                s,
                &mut stats,
            );
            dtw.calls += stats.distance_calls;
            let mut sorted = std::mem::take(&mut s.sorted);
            sorted.clear();
            sorted.extend(s.top.drain());
            sorted.sort_unstable();
            select_diverse(
                &sorted,
                new_node_links(m),
                |a, b, cut| self.node_dist_sq(a, b, cut, dtw),
                &mut chosen,
            );
            s.sorted = sorted;
            diverse = chosen.len();
        }
        self.set_own_links(&self.graph, i, i, &chosen, diverse, s, dtw);
        for &j in &chosen {
            self.back_link(&self.graph, j, j, i, s, dtw);
        }
        s.chosen = chosen;
    }

    /// Squared distance between two stored nodes (used when building): exact when `<= cutoff`,
    /// otherwise some value `> cutoff` (DTW abandons early).
    fn node_dist_sq(&self, a: u32, b: u32, cutoff: f32, dtw: &mut BuildDist) -> f32 {
        let (ra, rb) = (self.store.row(a as usize), self.store.row(b as usize));
        dtw.calls += 1;
        match self.store.metric {
            Metric::Euclidean => crate::metric::euclidean::sq_euclidean(ra, rb),
            Metric::Dtw { band } => crate::metric::dtw::dtw_sq(ra, rb, band, cutoff, &mut dtw.dtw),
        }
    }

    /// Best-first search with restarts. Leaves the best `k` (by squared distance) in `s.top`.
    ///
    /// With `pivots`, the first restart's beam is seeded with the nearest pivots
    /// ([`Entry::Pivots`]). Every other restart starts at a random node of `0..limit` not yet visited, expands the nearest
    /// candidate, keeps a result set bounded to `ef`, and stops when the nearest remaining candidate is
    /// farther than the worst result. The visited set is shared by all restarts.
    ///
    /// Pruning (lower bounds, early abandoning) cannot change the result: a neighbor enters the
    /// candidate queue only if its key `(d, node)` is below the current worst result when the result
    /// set is full. A bound or an abandoned DTW only reports `d > cutoff` = the worst distance, and any
    /// such `d` fails that test anyway; below the cutoff the returned value is exact.
    #[allow(clippy::too_many_arguments)]
    fn graph_search(
        &self,
        q: &[f32],
        coded: Option<(&Codes, &[f32])>,
        exclude: Option<u32>,
        k: usize,
        ef: usize,
        restarts: usize,
        pivots: Option<&Pivots>,
        seeds: &[Cand],
        limit: usize,
        prune: bool,
        seed: u64,
        s: &mut Scratch,
        stats: &mut SearchStats,
    ) {
        let metric = self.store.metric;
        s.begin(self.graph.len());
        s.prep.prepare(metric, q);
        s.top.clear();
        if let Some(x) = exclude {
            s.mark(x);
        }
        if limit == 0 {
            return;
        }
        let mut rng = Rng::new(seed);
        let ef = ef.max(k);
        for restart in 0..restarts {
            s.beam.reset(ef);
            let seeded = if let Some(pv) = pivots.filter(|pv| restart == 0 && !pv.nodes.is_empty())
            {
                self.seed_from_pivots(pv, q, prune, s, stats);
                true
            } else if restart == 0 && !seeds.is_empty() {
                s.seed(seeds, ef);
                true
            } else {
                false
            };
            if seeded {
                if let Some((codes, shifted)) = coded {
                    // Seeds come with float distances; the walk compares code distances (which
                    // run higher by the coding error): put the seeds on the same footing.
                    let mut beam = std::mem::take(&mut s.beam);
                    let mut sorted = std::mem::take(&mut s.sorted);
                    sorted.clear();
                    sorted.extend(beam.iter().map(|c| Cand {
                        d: self.eval_coded(codes, shifted, c.node, stats),
                        node: c.node,
                    }));
                    beam.reset(ef);
                    for &c in &sorted {
                        beam.push(c);
                    }
                    s.beam = beam;
                    s.sorted = sorted;
                }
            } else {
                let mut start = None;
                for _ in 0..8 {
                    let e = rng.below(limit) as u32;
                    if s.mark(e) {
                        start = Some(e);
                        break;
                    }
                }
                let Some(e) = start else { continue };
                let d = match coded {
                    Some((codes, shifted)) => {
                        stats.visited += 1;
                        self.eval_coded(codes, shifted, e, stats)
                    }
                    None => self.eval_node(q, e, f32::INFINITY, prune, &mut s.prep, stats),
                };
                s.beam.push(Cand { d, node: e });
            }
            while let Some(c) = s.beam.pop_next() {
                // Next candidate's links, then the vectors of this node's unvisited neighbors:
                // start every load first, so the distances below find them in cache.
                if let Some(next) = s.beam.peek_next() {
                    self.graph.touch(next.node);
                }
                s.nbrs.clear();
                for nb in self.graph.links(c.node) {
                    if s.mark(nb) {
                        if let Some((codes, _)) = coded {
                            codes.touch(self.store.dim, nb as usize);
                        } else {
                            self.store.touch_row(nb as usize);
                        }
                        s.nbrs.push(nb);
                    }
                }
                for idx in 0..s.nbrs.len() {
                    self.offer(q, coded, s.nbrs[idx], ef, prune, s, stats);
                }
            }
            if coded.is_some() {
                // Re-rank the walk's candidates by their float distances.
                let mut sorted = std::mem::take(&mut s.sorted);
                sorted.clear();
                for c in s.beam.iter() {
                    // Already counted as visited by the walk: one more distance computation.
                    stats.distance_calls += 1;
                    let d = sq_euclidean(q, self.store.row(c.node as usize));
                    sorted.push(Cand { d, node: c.node });
                }
                s.beam.reset(ef);
                for &c in &sorted {
                    s.beam.push(c);
                }
                s.sorted = sorted;
            }
            for c in s.beam.iter() {
                if s.top.len() < k {
                    s.top.push(c);
                } else if s.top.peek().is_some_and(|w| c < *w) {
                    s.top.pop();
                    s.top.push(c);
                }
            }
        }
    }

    /// Seeds the beam of a search from the pivots: compares the query with every unvisited pivot
    /// (a contiguous, cache-resident block) and keeps the nearest (as many as the beam holds) as
    /// the starting candidates.
    fn seed_from_pivots(
        &self,
        pivots: &Pivots,
        q: &[f32],
        prune: bool,
        s: &mut Scratch,
        stats: &mut SearchStats,
    ) {
        let metric = self.store.metric;
        let dim = self.store.dim;
        for (&node, row) in pivots.nodes.iter().zip(pivots.rows.chunks_exact(dim)) {
            if !s.mark(node) {
                continue;
            }
            let cutoff = s.beam.worst_if_full().map_or(f32::INFINITY, |w| w.d);
            // The pivot's own copy of its row: the block stays in cache across queries.
            let (u, l) = self.store.envelope(node as usize);
            let d = eval_sq(metric, q, &mut s.prep, row, u, l, cutoff, prune, stats);
            s.beam.push(Cand { d, node });
        }
    }

    /// Brute-force search over every stored vector with the same distance code (lower bounds and
    /// early abandoning for DTW). Leaves the best `k` in `s.top`, ranked by (distance, user id).
    fn exact_scan(
        &self,
        q: &[f32],
        k: usize,
        prune: bool,
        s: &mut Scratch,
        stats: &mut SearchStats,
    ) {
        let metric = self.store.metric;
        s.prep.prepare(metric, q);
        // Ranked by (d, user id): with `node` temporarily holding the rank of the user id.
        let mut top: BinaryHeap<(OrdF32, i64, u32)> = BinaryHeap::with_capacity(k + 1);
        for node in 0..self.len() {
            let cutoff = if top.len() >= k {
                top.peek().map_or(f32::INFINITY, |t| t.0 .0)
            } else {
                f32::INFINITY
            };
            let d = self.eval_node(q, node as u32, cutoff, prune, &mut s.prep, stats);
            let key = (OrdF32(d), self.ids[node], node as u32);
            if top.len() < k {
                top.push(key);
            } else if top.peek().is_some_and(|w| key < *w) {
                top.pop();
                top.push(key);
            }
        }
        s.top.clear();
        s.top
            .extend(top.into_iter().map(|(d, _, node)| Cand { d: d.0, node }));
    }

    fn check_query(&self, k: usize, p: &SearchParams, exact: bool) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::EmptyIndex);
        }
        if k == 0 || k > self.len() {
            return Err(invalid(
                "k",
                format!("must be between 1 and len(index)={}, got {k}", self.len()),
            ));
        }
        if p.restarts == 0 {
            return Err(invalid("restarts", "must be at least 1, got 0"));
        }
        if p.quantized && !exact && self.store.codes.is_none() {
            return Err(invalid(
                "quantized",
                if self.store.metric == Metric::Euclidean {
                    "the index keeps no 8-bit codes: call set_codes(true) first"
                } else {
                    "quantized search needs the Euclidean metric (DTW walks on the floats)"
                },
            ));
        }
        Ok(())
    }

    /// Runs one query into `out_ids`/`out_d` (length k), padding with -1/+inf.
    #[allow(clippy::too_many_arguments)]
    fn search_into(
        &self,
        q: &[f32],
        k: usize,
        p: &SearchParams,
        exact: bool,
        s: &mut Scratch,
        out_ids: &mut [i64],
        out_d: &mut [f32],
    ) -> SearchStats {
        let mut stats = SearchStats::default();
        if exact {
            self.exact_scan(q, k, p.prune, s, &mut stats);
        } else {
            let seed = query_seed(self.params.seed, q);
            let mut seeds = std::mem::take(&mut s.seeds);
            seeds.clear();
            if let (Entry::Hierarchy, Some(layers)) = (p.entry, &self.layers) {
                self.descend(layers, q, p.prune, s, &mut seeds, &mut stats);
            }
            let mut shifted = std::mem::take(&mut s.shifted);
            let codes = self.store.codes.as_ref().filter(|_| p.quantized);
            if let Some(c) = codes {
                shifted.clear();
                shifted.extend(q.iter().zip(&c.lo).map(|(x, lo)| x - lo));
            }
            self.graph_search(
                q,
                codes.map(|c| (c, &shifted[..])),
                None,
                k,
                p.ef,
                p.restarts,
                (p.entry == Entry::Pivots).then_some(&self.pivots),
                &seeds,
                self.len(),
                p.prune,
                seed,
                s,
                &mut stats,
            );
            s.shifted = shifted;
            s.seeds = seeds;
        }
        let mut res: Vec<(f32, i64)> = s
            .top
            .drain()
            .map(|c| (c.d.sqrt(), self.ids[c.node as usize]))
            .collect();
        res.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for j in 0..k {
            match res.get(j) {
                Some(&(d, id)) => {
                    out_ids[j] = id;
                    out_d[j] = d;
                }
                None => {
                    out_ids[j] = -1;
                    out_d[j] = f32::INFINITY;
                }
            }
        }
        stats
    }

    /// Approximate k-NN of one query by graph search with random restarts. Results are ascending by
    /// distance (true units), ties by id; fewer than `k` reachable nodes are padded with id -1, +inf.
    ///
    /// # Errors
    /// `DimensionMismatch`, `NonFinite`, `EmptyIndex`, `InvalidParameter` (k outside 1..=len,
    /// restarts 0, `quantized` on an index without codes).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        p: &SearchParams,
    ) -> Result<(Vec<Neighbor>, SearchStats), Error> {
        self.one(query, k, p, false)
    }

    /// Exact k-NN of one query by brute force (the oracle), same units and order as [`Index::search`].
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
        if query.len() != self.dim() {
            return Err(Error::DimensionMismatch {
                what: "query",
                expected: self.dim(),
                got: query.len(),
            });
        }
        let r = self.search_batch(query, k, p, exact)?;
        let hits = r
            .ids
            .iter()
            .zip(&r.distances)
            .map(|(&id, &distance)| Neighbor { id, distance })
            .collect();
        Ok((hits, r.stats[0]))
    }

    /// k-NN of many queries (row-major, a multiple of `dim` floats), in parallel over queries unless
    /// `p.n_threads == 1`; `exact` selects brute force. The batch succeeds whole or fails before any
    /// work with the first error.
    ///
    /// # Errors
    /// As [`Index::search`].
    pub fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        p: &SearchParams,
        exact: bool,
    ) -> Result<BatchResult, Error> {
        let n = check_rows("queries", queries, self.dim())?;
        self.check_query(k, p, exact)?;
        let mut out = BatchResult {
            k,
            ids: vec![-1; n * k],
            distances: vec![f32::INFINITY; n * k],
            stats: vec![SearchStats::default(); n],
        };
        let dim = self.dim();
        let pool = if n <= 1 {
            None
        } else {
            self.pool(p.n_threads, n)
        };
        match pool {
            None => {
                let mut s = self.take_scratch();
                for (((q, ids), ds), st) in queries
                    .chunks_exact(dim)
                    .zip(out.ids.chunks_exact_mut(k))
                    .zip(out.distances.chunks_exact_mut(k))
                    .zip(out.stats.iter_mut())
                {
                    *st = self.search_into(q, k, p, exact, &mut s, ids, ds);
                }
                self.give_scratch(s);
            }
            Some(pool) => {
                let (ids, dists, stats) = (&mut out.ids, &mut out.distances, &mut out.stats);
                pool.install(|| {
                    queries
                        .par_chunks_exact(dim)
                        .zip(ids.par_chunks_exact_mut(k))
                        .zip(dists.par_chunks_exact_mut(k))
                        .zip(stats.par_iter_mut())
                        .for_each_init(
                            || ScratchGuard::new(self),
                            |g, (((q, ids), ds), st)| {
                                *st = self.search_into(q, k, p, exact, g.get(), ids, ds);
                            },
                        );
                });
            }
        }
        Ok(out)
    }

    fn take_scratch(&self) -> Scratch {
        self.scratch.lock().pop().unwrap_or_default()
    }

    fn give_scratch(&self, s: Scratch) {
        self.scratch.lock().push(s);
    }

    /// The index's rayon pool for `n_threads` workers (0 = all cores), or `None` when the work should
    /// run on the calling thread: one thread wanted, one item, or a forked child (the process id
    /// differs from the one that built the pool, whose threads do not exist in the child).
    fn pool(&self, n_threads: usize, n_items: usize) -> Option<Arc<rayon::ThreadPool>> {
        let want = if n_threads == 0 {
            std::thread::available_parallelism().map_or(1, |v| v.get())
        } else {
            n_threads
        };
        if want <= 1 || n_items <= 1 {
            return None;
        }
        let pid = std::process::id();
        let mut slot = self.pool.lock();
        match slot.as_ref() {
            Some(p) if p.pid != pid => None,
            Some(p) if p.n_threads == want => Some(p.pool.clone()),
            _ => {
                let pool = Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(want)
                        .build()
                        .ok()?,
                );
                *slot = Some(PoolSlot {
                    pid,
                    n_threads: want,
                    pool: pool.clone(),
                });
                Some(pool)
            }
        }
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("dim", &self.dim())
            .field("metric", &self.metric())
            .field("len", &self.len())
            .field("params", &self.params)
            .finish()
    }
}

/// Borrows a scratch from the index's pool and gives it back when dropped.
struct ScratchGuard<'a> {
    index: &'a Index,
    s: Option<Scratch>,
}

impl<'a> ScratchGuard<'a> {
    fn new(index: &'a Index) -> Self {
        ScratchGuard {
            index,
            s: Some(index.take_scratch()),
        }
    }
    fn get(&mut self) -> &mut Scratch {
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

    #[test]
    fn rng_is_seeded_and_in_range() {
        let a: Vec<usize> = {
            let mut r = Rng::new(42);
            (0..100).map(|_| r.below(7)).collect()
        };
        let mut r = Rng::new(42);
        let b: Vec<usize> = (0..100).map(|_| r.below(7)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&x| x < 7));
        assert!(
            (0..7).all(|v| a.contains(&v)),
            "every value appears in 100 draws"
        );
    }
}
