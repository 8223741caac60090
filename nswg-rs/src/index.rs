//! The index itself: the store, the graph, its layers and the id map in one struct, its accessors,
//! and adding rows (validated whole first, then inserted in pieces with an optional progress and
//! cancel callback, then repaired). Walks, insertion, repair and queries live in their own files.

use crate::error::{invalid, Error};
use crate::graph::{Graph, Layers};
use crate::insert::upper_degree;
use crate::metric::Metric;
use crate::params::{check_threads, BuildParams, GraphKind, MAX_DIM};
use crate::pivots::Pivots;
use crate::rng::draw_level;
use crate::scratch::Scratch;
use crate::stats::{Added, BuildStats, Built};
use crate::store::Store;
use parking_lot::Mutex;
use std::collections::HashMap;

/// A navigable small world graph index over fixed-length `f32` vectors.
///
/// `Index` is `Send + Sync`: searches take `&self` and may run from many threads at once.
pub struct Index {
    pub(crate) store: Store,
    pub(crate) graph: Graph,
    pub(crate) params: BuildParams,
    pub(crate) ids: Vec<i64>,
    pub(crate) id_map: HashMap<i64, u32>,
    /// One more than the largest stored id (0 when empty): where default ids start, so they are
    /// never stored ones.
    /// (i128: it is 2^63 once `i64::MAX` is stored.)
    pub(crate) next_id: i128,
    /// The layers above the base graph ([`GraphKind::Hnsw`]).
    pub(crate) layers: Option<Layers>,
    pub(crate) pivots: Pivots,
    /// Nodes inserted since the last orphan pass (not saved).
    pub(crate) unlinked_since_repair: usize,
    pub(crate) scratch: Mutex<Vec<Scratch>>,
    /// Per slot, true while the slot is free (its row removed, its id [`FREE_ID`]); empty until
    /// the first removal. A free slot has no links and no in-links.
    pub(crate) dead: Vec<bool>,
    /// The free slots, reused by later adds (the lowest first: popped from the end of this list,
    /// kept descending).
    pub(crate) free: Vec<u32>,
    /// Slots below the graph's length refilled by an add after a removal and not yet linked
    /// again: pending like the rows past the graph's end (see [`Index::pending`]).
    pub(crate) relink: Vec<u32>,
    /// The root of a flat graph (see `Index::root`): the lowest slot linked and not free.
    pub(crate) flat_root: u32,
    /// Changes with every add and removal (see [`Index::generation`]).
    pub(crate) generation: u64,
    /// Linked rows removed since the graph was last built whole (not saved): see `remove.rs`.
    pub(crate) removed_since_full: usize,
}

/// The id a free slot holds in [`Index`]'s id list and in files of version 5.
pub(crate) const FREE_ID: i64 = -1;

/// Checks that `rows` is the concatenation of series of `lengths` time steps (each at least 1)
/// of `channels` finite floats per step; returns where each series ends (one past its last float
/// in `rows`).
pub(crate) fn check_series(
    what: &'static str,
    rows: &[f32],
    lengths: &[usize],
    channels: usize,
) -> Result<Vec<usize>, Error> {
    let mut ends = Vec::with_capacity(lengths.len());
    let mut total = 0usize;
    for (i, &len) in lengths.iter().enumerate() {
        let f = len.checked_mul(channels).filter(|&f| f > 0 && f <= MAX_DIM);
        let Some(f) = f else {
            return Err(invalid(
                "lengths",
                format!(
                    "must be between 1 and {} time steps, got {len} for series {i}",
                    MAX_DIM / channels.max(1)
                ),
            ));
        };
        total = total.saturating_add(f);
        ends.push(total);
    }
    if total != rows.len() {
        return Err(invalid(
            "lengths",
            format!(
                "add up to {total} floats ({} series x {channels} channel(s)), but {what} holds {}",
                lengths.len(),
                rows.len()
            ),
        ));
    }
    if let Some(pos) = rows.iter().position(|x| !x.is_finite()) {
        let row = ends.partition_point(|&end| end <= pos);
        let start = if row == 0 { 0 } else { ends[row - 1] };
        return Err(Error::NonFinite {
            what,
            row,
            col: pos - start,
        });
    }
    Ok(ends)
}

/// Checks that the flat buffer `rows` holds whole rows of width `dim` of finite values; returns
/// the row count. (A caller with 2-D input checks its column count against `dim` itself: a flat
/// buffer cannot tell a 3 x 4 batch from two rows of 6.)
pub(crate) fn check_rows(what: &'static str, rows: &[f32], dim: usize) -> Result<usize, Error> {
    if !rows.len().is_multiple_of(dim) {
        return Err(invalid(
            what,
            format!(
                "holds {} floats, not a whole number of rows of dim={dim}",
                rows.len()
            ),
        ));
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
    /// Creates an empty index for vectors of `dim` floats (one channel).
    ///
    /// # Errors
    /// `InvalidParameter` if `dim == 0`, a DTW band is above `dim`, `max_degree` is outside
    /// 2..=4096 or `ef_construction == 0`.
    pub fn new(dim: usize, metric: Metric, params: BuildParams) -> Result<Index, Error> {
        Self::with_channels(dim, 1, metric, params)
    }

    /// Creates an empty index for multichannel series of `length` time steps and `channels`
    /// floats per step, stored time-major (`dim = length * channels` floats per row; time step
    /// `t` of a row is `row[t * channels .. (t + 1) * channels]`). DTW bands count time steps;
    /// [`Metric::Dtw`] is the dependent form, [`Metric::DtwIndependent`] the independent one;
    /// Euclidean is over all floats. `channels = 1` is [`Index::new`] with `dim = length`.
    ///
    /// # Errors
    /// `InvalidParameter` if `channels == 0`, `length == 0`, `length * channels` is above the
    /// largest dim, a DTW band is above `length`, or the build parameters are invalid (as in
    /// [`Index::new`]).
    pub fn with_channels(
        length: usize,
        channels: usize,
        metric: Metric,
        params: BuildParams,
    ) -> Result<Index, Error> {
        if channels == 0 || channels > MAX_DIM {
            return Err(invalid(
                "channels",
                format!("must be between 1 and {MAX_DIM}, got {channels}"),
            ));
        }
        let dim = length.saturating_mul(channels);
        if length == 0 || dim > MAX_DIM {
            return Err(if channels == 1 {
                invalid(
                    "dim",
                    format!("must be between 1 and {MAX_DIM}, got {length}"),
                )
            } else {
                invalid(
                    "length",
                    format!(
                        "must be between 1 and {} time steps with {channels} channels, got \
                         {length}",
                        MAX_DIM / channels
                    ),
                )
            });
        }
        if let Some(band) = metric.band() {
            if band > length {
                let what = if channels == 1 { "dim" } else { "length" };
                return Err(invalid(
                    "band",
                    format!("must be between 0 and {what}={length} samples, got {band}"),
                ));
            }
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
        let layers =
            (params.graph == GraphKind::Hnsw).then(|| Layers::new(upper_degree(params.max_degree)));
        Ok(Self::from_parts(
            Store::new(dim, channels, metric),
            Graph::new(params.max_degree),
            layers,
            params,
            Vec::new(),
            HashMap::new(),
        ))
    }

    /// Creates an empty index of multichannel series of their own lengths (`channels` floats
    /// per time step, time-major; at least one step each), added by
    /// [`Index::add_series_unlinked`] and searched by [`Index::search_series_with`]. Rows are
    /// stored back to back, never padded. The metric must be DTW (either form): Euclidean has no
    /// meaning between series of different lengths. Between series of unequal lengths the band
    /// follows the diagonal from the first to the last cell of the cost matrix, as aeon's
    /// Sakoe-Chiba window does (see `metric::dtw`); equal lengths use the usual
    /// `|i - j| <= band`. `band` is in time steps and at most the largest dim; full DTW is
    /// [`Index::FULL_BAND`]. [`Index::dim`] is 0.
    ///
    /// # Errors
    /// `InvalidParameter` for Euclidean (`metric`), `channels` outside 1..=largest dim, a band
    /// above [`Index::FULL_BAND`], or invalid build parameters.
    pub fn variable(channels: usize, metric: Metric, params: BuildParams) -> Result<Index, Error> {
        Self::variable_windowed(channels, None, metric, params)
    }

    /// [`Index::variable`] whose DTW band is a `window`, a fraction of the shorter series of each
    /// pair, as aeon's `window` is: series of `n` and `m` time steps are compared within a band of
    /// `int(window * min(n, m))` steps (computed in f64), and a window of 1 is full DTW; the
    /// metric's own band is then unused. `None` is [`Index::variable`].
    ///
    /// # Errors
    /// As [`Index::variable`]; `InvalidParameter` (`window`) outside `0..=1` or NaN.
    pub fn variable_windowed(
        channels: usize,
        window: Option<f64>,
        metric: Metric,
        params: BuildParams,
    ) -> Result<Index, Error> {
        if let Some(w) = window {
            if !(0.0..=1.0).contains(&w) {
                return Err(invalid(
                    "window",
                    format!("must be a fraction between 0 and 1 of the shorter series, got {w}"),
                ));
            }
        }
        let mut idx = Self::variable_unwindowed(channels, metric, params)?;
        idx.store.window = window;
        Ok(idx)
    }

    /// The DTW window of a variable-length index ([`Index::variable_windowed`]), if any.
    pub fn window(&self) -> Option<f64> {
        self.store.window
    }

    fn variable_unwindowed(
        channels: usize,
        metric: Metric,
        params: BuildParams,
    ) -> Result<Index, Error> {
        let Some(band) = metric.band() else {
            return Err(invalid(
                "metric",
                "series of their own lengths need metric='dtw' (Euclidean compares equal lengths)",
            ));
        };
        if band > Self::FULL_BAND {
            return Err(invalid(
                "band",
                format!("must be at most {} time steps, got {band}", Self::FULL_BAND),
            ));
        }
        let mut idx = Self::with_channels(1, channels, Metric::Dtw { band: 0 }, params)?;
        idx.store = Store::new(0, channels, metric);
        idx.store.variable = true;
        Ok(idx)
    }

    /// The band of full DTW on a variable-length index: no series is longer (in time steps).
    pub const FULL_BAND: usize = MAX_DIM;

    /// True for an index of series of their own lengths ([`Index::variable`]).
    pub fn is_variable(&self) -> bool {
        self.store.variable
    }

    /// Time steps of the stored series of `ids` (for a fixed-length index, `dim / channels`
    /// each).
    ///
    /// # Errors
    /// `UnknownId` for the first id not stored.
    pub fn lengths(&self, ids: &[i64]) -> Result<Vec<usize>, Error> {
        ids.iter()
            .map(|&id| {
                let node = *self.id_map.get(&id).ok_or(Error::UnknownId { id })?;
                Ok(self.store.span(node as usize).len() / self.channels())
            })
            .collect()
    }

    pub(crate) fn from_parts(
        store: Store,
        graph: Graph,
        layers: Option<Layers>,
        params: BuildParams,
        ids: Vec<i64>,
        id_map: HashMap<i64, u32>,
    ) -> Index {
        let pivots = Pivots::build(&store, graph.len(), &[]);
        let next_id = ids.iter().max().map_or(0, |&m| i128::from(m) + 1);
        Index {
            next_id,
            store,
            graph,
            layers,
            params,
            ids,
            id_map,
            pivots,
            unlinked_since_repair: 0,
            scratch: Mutex::new(Vec::new()),
            dead: Vec::new(),
            free: Vec::new(),
            relink: Vec::new(),
            flat_root: 0,
            generation: 0,
            removed_since_full: 0,
        }
    }

    /// Number of stored vectors (removed ones not counted).
    pub fn len(&self) -> usize {
        self.ids.len() - self.free.len()
    }

    /// True when no vector is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of slots: stored vectors plus the free slots removals left (which later adds fill).
    pub fn slots(&self) -> usize {
        self.ids.len()
    }

    /// Bytes of memory the index holds: the rows (and DTW envelopes, 8-bit codes), the graph and
    /// its layers, the ids and their map (estimated from the hash table's capacity: one bucket of
    /// 16 bytes and one control byte per slot of a power-of-two table at most 7/8 full), the
    /// pivots, the slot lists, and the search buffers kept for reuse (a visited array per
    /// thread that searched). Allocated capacity, so geometric growth shows; the thread pool's
    /// stacks are not counted.
    pub fn memory_usage(&self) -> usize {
        let layers = self.layers.as_ref().map_or(0, |l| {
            l.levels.capacity()
                + l.upper
                    .iter()
                    .map(|layer| 4 * layer.nodes.capacity() + layer.graph.memory_usage())
                    .sum::<usize>()
        });
        let cap = self.id_map.capacity();
        let buckets = if cap == 0 {
            0
        } else {
            (cap * 8 / 7).next_power_of_two()
        };
        let id_map = buckets * (std::mem::size_of::<(i64, u32)>() + 1);
        let pivots = 4 * self.pivots.rows.capacity()
            + 4 * self.pivots.nodes.capacity()
            + 8 * self.pivots.ends.capacity();
        let slots = self.dead.capacity() + 4 * (self.free.capacity() + self.relink.capacity());
        let scratch: usize = self.scratch.lock().iter().map(Scratch::memory_usage).sum();
        self.store.memory_usage()
            + self.graph.memory_usage()
            + layers
            + 8 * self.ids.capacity()
            + id_map
            + pivots
            + slots
            + scratch
    }

    /// True if slot `node` is free (its row removed).
    #[inline(always)]
    pub(crate) fn is_dead(&self, node: u32) -> bool {
        self.dead.get(node as usize).copied().unwrap_or(false)
    }

    /// Width of every vector.
    pub fn dim(&self) -> usize {
        self.store.dim
    }

    /// Floats per time step (1 unless built by [`Index::with_channels`]).
    pub fn channels(&self) -> usize {
        self.store.channels
    }

    /// The distance the index uses.
    pub fn metric(&self) -> Metric {
        self.store.metric
    }

    /// The parameters the graph was built with (files of format 1 and 2 load with their stored
    /// `max_degree`, `ef_construction` and `seed`; the graph kind follows the version).
    pub fn build_params(&self) -> BuildParams {
        self.params
    }

    /// User ids of the stored vectors in slot order: insertion order, except that an add after a
    /// removal fills the freed slots first (lowest slot first).
    pub fn ids(&self) -> Vec<i64> {
        if self.free.is_empty() {
            return self.ids.clone();
        }
        self.ids
            .iter()
            .copied()
            .filter(|&id| id != FREE_ID)
            .collect()
    }

    /// True if `id` is stored.
    pub fn contains(&self, id: i64) -> bool {
        self.id_map.contains_key(&id)
    }

    /// Out-links of the node holding user id `id`, as user ids (for inspection and tests; none
    /// while the row is pending, see [`Index::pending`]).
    ///
    /// # Errors
    /// `UnknownId` if `id` is not stored.
    pub fn neighbors(&self, id: i64) -> Result<Vec<i64>, Error> {
        let node = *self.id_map.get(&id).ok_or(Error::UnknownId { id })?;
        let mut v = Vec::new();
        if (node as usize) < self.graph.len() {
            self.graph.neighbors_into(node, &mut v);
        }
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

    /// Copies of the stored vectors of `ids`, row-major `(ids.len(), dim)` (series of their own
    /// lengths back to back: see [`Index::lengths`]).
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

    /// Adds `rows` (row-major, a whole number of rows of `dim` floats) with the given user ids, or
    /// with the `n` ids after the largest stored one when `ids` is `None` (`len()..len()+n` while
    /// every id was given this way; never a stored id), and links every row not yet in the graph
    /// into it ([`Index::add_unlinked`] then [`Index::build`]). Returns the ids and the work done.
    /// `n_threads`: 0 = all cores, 1 = sequential (the bit-reproducible mode; insertion in
    /// parallel may give a different, equally valid graph).
    ///
    /// # Errors
    /// `InvalidParameter` (a length that is not a whole number of rows, wrong id count, negative
    /// id, index full), `NonFinite`, `DuplicateId`: nothing is added. `OutOfMemory` for the
    /// graph: the rows stay stored, pending.
    pub fn add(
        &mut self,
        rows: &[f32],
        ids: Option<&[i64]>,
        n_threads: usize,
    ) -> Result<Added, Error> {
        self.add_chunked(rows, ids, n_threads, usize::MAX, |_, _| true)
    }

    /// As [`Index::add`], linking in pieces of `chunk_rows` rows (see [`Index::build_chunked`]):
    /// the rows are stored first, whole, and when `on_chunk` stops the linking early they stay
    /// stored, the rest of them pending ([`Index::pending`]; [`Added::complete`] is false).
    ///
    /// # Errors
    /// As [`Index::add`]; `InvalidParameter` (`chunk_rows`) when it is 0 or `n_threads` is out of
    /// range: nothing is added. `OutOfMemory` for the graph: the rows stay stored, pending.
    pub fn add_chunked(
        &mut self,
        rows: &[f32],
        ids: Option<&[i64]>,
        n_threads: usize,
        chunk_rows: usize,
        on_chunk: impl FnMut(usize, usize) -> bool,
    ) -> Result<Added, Error> {
        if chunk_rows == 0 {
            return Err(invalid("chunk_rows", "must be at least 1, got 0"));
        }
        check_threads(n_threads)?;
        let ids = self.add_unlinked(rows, ids)?;
        let built = self.build_chunked(n_threads, chunk_rows, on_chunk)?;
        Ok(Added {
            ids,
            stats: built.stats,
            complete: built.complete,
        })
    }

    /// Stores `rows` with their ids (as [`Index::add`] assigns and checks them) without linking
    /// them into the graph: O(n * dim) work (DTW: the rows' envelopes), no distance computation.
    /// Exact search sees them at once. A graph search walks the linked rows and scans the pending
    /// ones exactly, so its answers stay right; [`Index::build`] links them.
    ///
    /// # Errors
    /// As [`Index::add`]; `OutOfMemory` when the store cannot grow by the rows. On error nothing
    /// is added.
    pub fn add_unlinked(&mut self, rows: &[f32], ids: Option<&[i64]>) -> Result<Vec<i64>, Error> {
        let new_ids = self.check_new(rows, ids, false)?;
        let rows = crate::metric::as_compared(self.store.metric, "vectors", rows, self.dim())?;
        self.store_new(&rows, new_ids)
    }

    /// Stores checked `rows` (as the metric compares them: see `metric::as_compared`) with
    /// their checked ids `new_ids`, filling free slots first (lowest first), then appending.
    ///
    /// # Errors
    /// `OutOfMemory` when the store cannot grow by the appended rows (nothing added).
    pub(crate) fn store_new(&mut self, rows: &[f32], new_ids: Vec<i64>) -> Result<Vec<i64>, Error> {
        let reuse = new_ids.len().min(self.free.len());
        let (into_free, appended) = rows.split_at(reuse * self.dim());
        let n = new_ids.len() - reuse;
        if n > crate::ADD_CHUNK_ROWS {
            // A large batch: one exact reservation (small ones grow the buffers geometrically, so
            // a stream of them stays linear).
            self.reserve_rows(n, appended.len())?;
        }
        for (row, &id) in into_free.chunks_exact(self.dim()).zip(&new_ids[..reuse]) {
            let Some(slot) = self.free.pop() else { break };
            self.fill_slot(slot, row, id);
        }
        self.record_ids(&new_ids[reuse..]);
        self.store.push_rows(appended);
        Ok(new_ids)
    }

    /// Stores `row` with user id `id` in the free slot `slot` (taken off the free list by the
    /// caller); a slot inside the graph waits in [`Index::relink`] for its links.
    fn fill_slot(&mut self, slot: u32, row: &[f32], id: i64) {
        self.generation += 1;
        self.store.overwrite_row(slot as usize, row);
        self.ids[slot as usize] = id;
        self.id_map.insert(id, slot);
        self.dead[slot as usize] = false;
        self.next_id = self.next_id.max(i128::from(id) + 1);
        if (slot as usize) < self.graph.len() {
            self.relink.push(slot);
        }
    }

    /// Restores the free and refilled slots of a loaded file (`free`: slots whose id is
    /// [`FREE_ID`]; `relink`: slots awaiting their links), and the roots that depend on them.
    pub(crate) fn restore_slots(&mut self, mut free: Vec<u32>, relink: Vec<u32>) {
        if !free.is_empty() {
            self.dead = vec![false; self.slots()];
            for &f in &free {
                self.dead[f as usize] = true;
            }
        }
        free.sort_unstable_by(|a, b| b.cmp(a));
        self.free = free;
        self.relink = relink;
        self.update_roots();
        self.pivots = Pivots::build(&self.store, self.graph.len(), &self.dead);
    }

    /// Stores series of their own lengths in a variable-length index ([`Index::variable`])
    /// without linking them, as [`Index::add_unlinked`] does for rows of one width: `rows` is
    /// the concatenation of the series (each time-major, `channels` floats per time step) and
    /// `lengths[i]` the time steps of series `i`. Returns their ids.
    ///
    /// # Errors
    /// `InvalidParameter` (`vectors`) on an index of fixed-length rows; `InvalidParameter`
    /// (`lengths`) for a length of 0 or lengths that do not add up to `rows.len() / channels`;
    /// `NonFinite` (row = series, col = float within it), and the id errors of
    /// [`Index::add`]: nothing is added.
    pub fn add_series_unlinked(
        &mut self,
        rows: &[f32],
        lengths: &[usize],
        ids: Option<&[i64]>,
    ) -> Result<Vec<i64>, Error> {
        self.check_variable()?;
        let ends = check_series("vectors", rows, lengths, self.channels())?;
        let new_ids = self.check_ids(lengths.len(), ids, false)?;
        if new_ids.len() > crate::ADD_CHUNK_ROWS {
            self.reserve_rows(new_ids.len(), rows.len())?;
        }
        self.record_ids(&new_ids);
        self.store.push_series(rows, &ends);
        Ok(new_ids)
    }

    /// An error naming `lengths` unless this index holds series of their own lengths.
    pub(crate) fn check_variable(&self) -> Result<(), Error> {
        if self.store.variable {
            return Ok(());
        }
        Err(invalid(
            "lengths",
            format!(
                "are only for an index of variable-length series; this one holds rows of dim={}",
                self.dim()
            ),
        ))
    }

    /// Maps the checked `new_ids` to the next node numbers.
    fn record_ids(&mut self, new_ids: &[i64]) {
        self.generation += 1;
        let start = self.slots();
        if !self.dead.is_empty() {
            self.dead.resize(start + new_ids.len(), false);
        }
        for (k, &id) in new_ids.iter().enumerate() {
            self.id_map.insert(id, (start + k) as u32);
        }
        self.ids.extend_from_slice(new_ids);
        if let Some(&m) = new_ids.iter().max() {
            self.next_id = self.next_id.max(i128::from(m) + 1);
        }
    }

    /// Stored rows not yet linked into the graph (see [`Index::add_unlinked`]): the rows past the
    /// graph's end and the refilled slots awaiting their links.
    pub fn pending(&self) -> usize {
        let g = self.graph.len();
        let free_past = self.free.iter().filter(|&&f| f as usize >= g).count();
        self.slots() - g - free_past + self.relink.len()
    }

    /// True when [`Index::pending`] is not 0 (or a free slot lies past the graph's end), cheaply.
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.graph.len() < self.slots() || !self.relink.is_empty()
    }

    /// Links every pending row into the graph, in storage order, and runs the orphan pass
    /// ([`Index::link_orphans`]) when the rows linked since the last pass reach 1/64 of the
    /// graph. Returns the work done. A graph built by storing rows in any number of calls and one
    /// `build` equals the graph of one [`Index::add`] of the same rows (with `n_threads == 1`).
    ///
    /// # Errors
    /// `InvalidParameter` (`n_threads`) above [`crate::MAX_THREADS`]; `OutOfMemory` when the graph
    /// cannot grow (nothing linked).
    pub fn build(&mut self, n_threads: usize) -> Result<BuildStats, Error> {
        Ok(self
            .build_chunked(n_threads, usize::MAX, |_, _| true)?
            .stats)
    }

    /// As [`Index::build`], in pieces of `chunk_rows` rows (see [`crate::ADD_CHUNK_ROWS`]): memory
    /// for the graph is reserved once, and after each piece (the last one included)
    /// `on_chunk(rows_done, rows_total)` is called; when it returns false before the last piece
    /// the build stops there (the rows linked so far stay linked, the others pending,
    /// [`Built::complete`] is false and no orphan pass runs). With `n_threads == 1` the graph does
    /// not depend on `chunk_rows`.
    ///
    /// # Errors
    /// As [`Index::build`]; `InvalidParameter` (`chunk_rows`) when it is 0.
    pub fn build_chunked(
        &mut self,
        n_threads: usize,
        chunk_rows: usize,
        mut on_chunk: impl FnMut(usize, usize) -> bool,
    ) -> Result<Built, Error> {
        if chunk_rows == 0 {
            return Err(invalid("chunk_rows", "must be at least 1, got 0"));
        }
        check_threads(n_threads)?;
        let mut stats = BuildStats::default();
        let relinked = self.relink.len();
        if relinked > 0 {
            stats.distance_calls += self.relink_slots(n_threads);
        }
        let first = self.graph.len();
        let total = self.slots() - first;
        if relinked > 0 && !on_chunk(relinked, relinked + total) && total > 0 {
            return Ok(Built {
                stats,
                complete: false,
            });
        }
        if total > chunk_rows {
            // One exact reservation for a build in pieces: the pieces never reallocate.
            let bytes = total.saturating_mul(4 * (self.graph.max_degree + 1));
            self.graph.reserve(total).map_err(|_| Error::OutOfMemory {
                what: "the graph",
                bytes,
            })?;
        }
        let mut done = 0;
        while done < total {
            let end = done + chunk_rows.min(total - done);
            stats.distance_calls += self.link_range(first + done, first + end, n_threads);
            done = end;
            if !on_chunk(relinked + done, relinked + total) {
                break;
            }
        }
        let complete = done == total;
        if complete && self.repair_due() {
            let (linked, calls) = self.repair();
            stats.repair_passes = 1;
            stats.orphans_linked = linked as u64;
            stats.distance_calls += calls;
        }
        Ok(Built { stats, complete })
    }

    /// Links the stored nodes `from..to` (the next ones after the graph's last) into the graph
    /// and its layers; returns the distance computations it took.
    fn link_range(&mut self, from: usize, to: usize, n_threads: usize) -> u64 {
        debug_assert_eq!(from, self.graph.len());
        self.graph.grow(to);
        let seed = self.params.seed;
        if let Some(layers) = &mut self.layers {
            for node in from..to {
                let level = draw_level(seed, node, layers.m);
                layers.push(node as u32, level);
            }
        }
        let calls = self.link_nodes(from, to, n_threads);
        self.unlinked_since_repair += to - from;
        self.pivots = Pivots::build(&self.store, to, &self.dead);
        self.update_roots();
        calls
    }

    /// Reserves memory for `additional` more stored rows exactly (rows, ids, id map), so that a
    /// large add does not leave the geometric over-allocation of growing buffers behind.
    ///
    /// # Errors
    /// `OutOfMemory` if the allocator refuses (what was reserved stays reserved, nothing added).
    fn reserve_rows(&mut self, additional: usize, floats: usize) -> Result<(), Error> {
        let bytes = floats
            .saturating_mul(4)
            .saturating_add(additional.saturating_mul(24));
        let oom = |_| Error::OutOfMemory {
            what: "the added vectors",
            bytes,
        };
        self.store.reserve(additional, floats).map_err(oom)?;
        self.ids.try_reserve_exact(additional).map_err(oom)?;
        self.id_map.try_reserve(additional).map_err(oom)
    }

    /// Checks what [`Index::add`] checks, without adding; returns the ids the rows would get.
    /// With `stored_ok`, ids already stored are accepted (rows that replace them).
    pub(crate) fn check_new(
        &self,
        rows: &[f32],
        ids: Option<&[i64]>,
        stored_ok: bool,
    ) -> Result<Vec<i64>, Error> {
        if self.store.variable {
            return Err(invalid(
                "vectors",
                "this index holds series of their own lengths: add them with their lengths",
            ));
        }
        let n_new = check_rows("vectors", rows, self.dim())?;
        self.check_ids(n_new, ids, stored_ok)
    }

    /// The ids `n_new` rows added with `ids` would get, or the error adding them would give
    /// (with `stored_ok`, a stored id is no error).
    fn check_ids(
        &self,
        n_new: usize,
        ids: Option<&[i64]>,
        stored_ok: bool,
    ) -> Result<Vec<i64>, Error> {
        let start = self.slots() - n_new.min(self.free.len());
        if start + n_new > u32::MAX as usize {
            return Err(invalid(
                "vectors",
                "would grow the index past 2^32 - 1 vectors",
            ));
        }
        match ids {
            None => {
                // Every default id is above every stored id, so none of them is stored.
                let first = self.next_id;
                let last = first + n_new as i128 - 1;
                match (i64::try_from(first), i64::try_from(last)) {
                    _ if n_new == 0 => Ok(Vec::new()),
                    (Ok(first), Ok(last)) => Ok((first..=last).collect()),
                    _ => Err(invalid(
                        "ids",
                        format!(
                            "cannot be assigned: the default ids follow the largest stored id \
                             ({}), and {n_new} more would pass 2^63 - 1; pass ids explicitly",
                            first.saturating_sub(1)
                        ),
                    )),
                }
            }
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
                    if (!stored_ok && self.id_map.contains_key(&id)) || !seen.insert(id) {
                        return Err(Error::DuplicateId { id });
                    }
                }
                Ok(ids.to_vec())
            }
        }
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
        if on && self.store.metric.band().is_some() {
            return Err(invalid(
                "quantized",
                "8-bit codes need a vector metric (DTW searches walk on the floats)",
            ));
        }
        self.store.set_codes(on);
        Ok(())
    }

    /// Whether the index keeps 8-bit codes (see [`Index::set_codes`]).
    pub fn has_codes(&self) -> bool {
        self.store.codes.is_some()
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
