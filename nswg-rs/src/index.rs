//! The index itself: the store, the graph, its layers and the id map in one struct, its accessors,
//! and adding rows (validated whole first, then inserted in pieces with an optional progress and
//! cancel callback, then repaired). Walks, insertion, repair and queries live in their own files.

use crate::error::{invalid, Error};
use crate::graph::{Graph, Layers};
use crate::insert::upper_degree;
use crate::metric::Metric;
use crate::params::{check_threads, BuildParams, GraphKind, MAX_DIM};
use crate::pivots::Pivots;
use crate::pool::PoolSlot;
use crate::rng::draw_level;
use crate::scratch::Scratch;
use crate::stats::{Added, BuildStats};
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
    pub(crate) pool: Mutex<Option<PoolSlot>>,
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
    /// Creates an empty index for vectors of `dim` floats.
    ///
    /// # Errors
    /// `InvalidParameter` if `dim == 0`, a DTW band is above `dim`, `max_degree` is outside
    /// 2..=4096 or `ef_construction == 0`.
    pub fn new(dim: usize, metric: Metric, params: BuildParams) -> Result<Index, Error> {
        if dim == 0 || dim > MAX_DIM {
            return Err(invalid(
                "dim",
                format!("must be between 1 and {MAX_DIM}, got {dim}"),
            ));
        }
        if let Metric::Dtw { band } = metric {
            if band > dim {
                return Err(invalid(
                    "band",
                    format!("must be between 0 and dim={dim} samples, got {band}"),
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

    /// The parameters the graph was built with (files of format 1 and 2 load with their stored
    /// `max_degree`, `ef_construction` and `seed`; the graph kind follows the version).
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

    /// Adds `rows` (row-major, a whole number of rows of `dim` floats) with the given user ids, or
    /// with the `n` ids after the largest stored one when `ids` is `None` (`len()..len()+n` while
    /// every id was given this way; never a stored id), links each new node into the graph, runs
    /// the orphan pass ([`Index::link_orphans`]) when the nodes added since the last pass reach
    /// 1/64 of the index. Returns the ids and the work done. `n_threads`: 0 = all cores,
    /// 1 = sequential (the bit-reproducible mode; insertion in parallel may give a different,
    /// equally valid graph).
    ///
    /// # Errors
    /// `InvalidParameter` (a length that is not a whole number of rows, wrong id count, negative
    /// id, index full), `NonFinite`, `DuplicateId`. On error nothing is added.
    pub fn add(
        &mut self,
        rows: &[f32],
        ids: Option<&[i64]>,
        n_threads: usize,
    ) -> Result<Added, Error> {
        self.add_chunked(rows, ids, n_threads, usize::MAX, |_, _| true)
    }

    /// As [`Index::add`], in pieces of `chunk_rows` rows (see [`crate::ADD_CHUNK_ROWS`]): the
    /// whole batch is validated first, memory for it is reserved once, and after each piece
    /// (the last one included) `on_chunk(rows_done, rows_total)` is called; when it returns false
    /// before the last piece the add stops there (the pieces added so far stay,
    /// [`Added::complete`] is false and no orphan pass runs; a false after the last piece changes
    /// nothing). The orphan pass runs once at the end, not after every piece. With
    /// `n_threads == 1` the graph does not depend on `chunk_rows`.
    ///
    /// # Errors
    /// As [`Index::add`]; `InvalidParameter` (`chunk_rows`) when it is 0. On error nothing is added.
    pub fn add_chunked(
        &mut self,
        rows: &[f32],
        ids: Option<&[i64]>,
        n_threads: usize,
        chunk_rows: usize,
        mut on_chunk: impl FnMut(usize, usize) -> bool,
    ) -> Result<Added, Error> {
        if chunk_rows == 0 {
            return Err(invalid("chunk_rows", "must be at least 1, got 0"));
        }
        let new_ids = self.check_new(rows, ids)?;
        let n = new_ids.len();
        check_threads(n_threads)?;
        if n > chunk_rows {
            // One exact reservation for a batch added in pieces: the pieces never reallocate.
            self.reserve(n)?;
        }
        let dim = self.dim();
        let mut stats = BuildStats::default();
        let mut done = 0;
        while done < n {
            let end = done + chunk_rows.min(n - done);
            stats.distance_calls +=
                self.insert_rows(&rows[done * dim..end * dim], &new_ids[done..end], n_threads);
            done = end;
            if !on_chunk(done, n) {
                break;
            }
        }
        let complete = done == n;
        if complete && self.repair_due() {
            let (linked, calls) = self.repair();
            stats.repair_passes = 1;
            stats.orphans_linked = linked as u64;
            stats.distance_calls += calls;
        }
        let mut ids = new_ids;
        ids.truncate(done);
        Ok(Added {
            ids,
            stats,
            complete,
        })
    }

    /// Stores validated rows with their ids and links them into the graph; returns the distance
    /// computations it took.
    fn insert_rows(&mut self, rows: &[f32], new_ids: &[i64], n_threads: usize) -> u64 {
        let start = self.len();
        let n_new = new_ids.len();
        for (k, &id) in new_ids.iter().enumerate() {
            self.id_map.insert(id, (start + k) as u32);
        }
        self.ids.extend_from_slice(new_ids);
        if let Some(&m) = new_ids.iter().max() {
            self.next_id = self.next_id.max(i128::from(m) + 1);
        }
        self.store.push_rows(rows);
        self.graph.grow(start + n_new);
        let seed = self.params.seed;
        if let Some(layers) = &mut self.layers {
            for node in start..start + n_new {
                let level = draw_level(seed, node, layers.m);
                layers.push(node as u32, level);
            }
        }
        let calls = self.link_nodes(start, start + n_new, n_threads);
        self.unlinked_since_repair += n_new;
        self.pivots = Pivots::build(&self.store, self.len());
        calls
    }

    /// Reserves memory for `additional` more vectors exactly, so that a large add made in pieces
    /// does not leave the geometric over-allocation of growing buffers behind.
    ///
    /// # Errors
    /// `OutOfMemory` if the allocator refuses (what was reserved stays reserved, nothing added).
    fn reserve(&mut self, additional: usize) -> Result<(), Error> {
        // Row, id, id map entry and link block: the bulk of it.
        let bytes =
            additional.saturating_mul(4 * self.dim() + 24 + 4 * (self.graph.max_degree + 1));
        let oom = |_| Error::OutOfMemory {
            what: "the added vectors",
            bytes,
        };
        self.store.reserve(additional).map_err(oom)?;
        self.graph.reserve(additional).map_err(oom)?;
        self.ids.try_reserve_exact(additional).map_err(oom)?;
        self.id_map.try_reserve(additional).map_err(oom)
    }

    /// Checks what [`Index::add`] checks, without adding; returns the ids the rows would get.
    fn check_new(&self, rows: &[f32], ids: Option<&[i64]>) -> Result<Vec<i64>, Error> {
        let n_new = check_rows("vectors", rows, self.dim())?;
        let start = self.len();
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
                    if self.id_map.contains_key(&id) || !seen.insert(id) {
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
