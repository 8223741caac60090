//! Fuzz target `ops`: one index driven by a sequence of operations decoded from fuzz input (adds
//! with and without ids, including repeated, negative and clashing ids, wrong lengths, non-finite
//! values, pieces and cancels; removals of stored, repeated and unknown ids, which free slots
//! later adds fill lowest first; searches; byte round trips; codes on and off; the orphan pass),
//! checked after every step against a plain model of what it stores: length, ids, vectors,
//! membership, graph invariants, and exact search equal to the naive scan.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use common::{build_params, check_graph, metric, round_trip, search_and_check, EntryChoice, Val};
use libfuzzer_sys::fuzz_target;
use nswg::{Entry, Error, Index, SearchParams};
use std::collections::HashSet;

#[derive(Arbitrary, Debug)]
struct Input {
    dim: u8,
    dtw: bool,
    band: u8,
    nsw: bool,
    max_degree: u8,
    ef_construction: u8,
    seed: u64,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum IdChoice {
    /// A small non-negative id (likely to clash with stored or other new ids).
    Small(u8),
    /// The id stored at this position (mod len), a guaranteed clash.
    Stored(u8),
    Negative(i8),
    Max,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Add {
        values: Vec<Val>,
        /// Drop this many floats from the end (a length that is not a whole number of rows).
        ragged: u8,
        ids: Option<Vec<IdChoice>>,
        /// Rows per piece (0 is an error).
        chunk_rows: u8,
        /// Stop after this many pieces (the callback returns false).
        cancel_after: Option<u8>,
        threads: bool,
    },
    Search {
        values: Vec<Val>,
        k: u8,
        ef: u8,
        restarts: u8,
        entry: EntryChoice,
        quantized: bool,
        exact: bool,
    },
    RoundTrip,
    SetCodes(bool),
    LinkOrphans,
    Remove {
        ids: Vec<IdChoice>,
        threads: bool,
    },
}

/// What the index should hold: its slots (an id, or free) and their rows; `ids` and `rows` are
/// the stored ones in slot order (kept by [`Model::refresh`]).
struct Model {
    slots: Vec<Option<i64>>,
    slot_rows: Vec<f32>,
    ids: Vec<i64>,
    rows: Vec<f32>,
    /// The largest id stored since the last reload (default ids follow it).
    max_id: Option<i64>,
    codes: bool,
}

impl Model {
    /// Where default ids start: one past the largest id stored since the index was made or
    /// loaded (saturating), 0 when none.
    fn next_id(&self) -> i64 {
        self.max_id.map_or(0, |m| m.saturating_add(1))
    }

    /// Stores `rows` with `ids`: free slots first, lowest first, then appended.
    fn add(&mut self, dim: usize, rows: &[f32], ids: &[i64]) {
        for (row, &id) in rows.chunks_exact(dim).zip(ids) {
            match self.slots.iter().position(Option::is_none) {
                Some(slot) => {
                    self.slots[slot] = Some(id);
                    self.slot_rows[slot * dim..(slot + 1) * dim].copy_from_slice(row);
                }
                None => {
                    self.slots.push(Some(id));
                    self.slot_rows.extend_from_slice(row);
                }
            }
            self.max_id = self.max_id.max(Some(id));
        }
        self.refresh(dim);
    }

    /// Frees the slots of `ids` (all stored).
    fn remove(&mut self, dim: usize, ids: &HashSet<i64>) {
        for slot in self.slots.iter_mut() {
            if slot.is_some_and(|id| ids.contains(&id)) {
                *slot = None;
            }
        }
        self.refresh(dim);
    }

    fn refresh(&mut self, dim: usize) {
        self.ids.clear();
        self.rows.clear();
        for (slot, id) in self.slots.iter().enumerate() {
            if let Some(id) = id {
                self.ids.push(*id);
                self.rows
                    .extend_from_slice(&self.slot_rows[slot * dim..(slot + 1) * dim]);
            }
        }
    }
}

const MAX_ROWS: usize = 160;

fuzz_target!(|input: Input| {
    let dim = 1 + input.dim as usize % 6;
    let metric = metric(input.dtw, input.band, dim);
    let params = build_params(
        input.max_degree,
        input.ef_construction,
        input.seed,
        input.nsw,
        8,
        16,
    );
    let mut index = Index::new(dim, metric, params).unwrap();
    let mut model = Model {
        slots: Vec::new(),
        slot_rows: Vec::new(),
        ids: Vec::new(),
        rows: Vec::new(),
        max_id: None,
        codes: false,
    };
    for op in input.ops.iter().take(24) {
        match op {
            Op::Add {
                values,
                ragged,
                ids,
                chunk_rows,
                cancel_after,
                threads,
            } => {
                let room = MAX_ROWS.saturating_sub(model.ids.len());
                let n = (values.len() / dim).min(room).min(40);
                let len = (n * dim).saturating_sub(*ragged as usize % (dim + 1));
                let rows: Vec<f32> = values[..len].iter().map(|v| v.get()).collect();
                let ids: Option<Vec<i64>> = ids.as_ref().map(|ids| {
                    ids.iter()
                        .take(n + 1)
                        .map(|c| match *c {
                            IdChoice::Small(v) => v as i64,
                            IdChoice::Stored(i) if !model.ids.is_empty() => {
                                model.ids[i as usize % model.ids.len()]
                            }
                            IdChoice::Stored(i) => i as i64,
                            IdChoice::Negative(v) => -1 - (v as i64).abs(),
                            IdChoice::Max => i64::MAX,
                        })
                        .collect()
                });
                let chunk = *chunk_rows as usize % 9;
                let mut pieces = 0usize;
                let r = index.add_chunked(
                    &rows,
                    ids.as_deref(),
                    if *threads { 2 } else { 1 },
                    chunk,
                    |done, total| {
                        assert!(done <= total);
                        pieces += 1;
                        cancel_after.is_none_or(|c| pieces <= c as usize)
                    },
                );
                let why = add_failure(&model, dim, &rows, ids.as_deref(), chunk);
                match (r, why) {
                    (Err(e), Some(_)) => {
                        assert!(
                            matches!(
                                e,
                                Error::InvalidParameter { .. }
                                    | Error::NonFinite { .. }
                                    | Error::DuplicateId { .. }
                            ),
                            "unexpected add error {e:?}"
                        );
                        assert_eq!(pieces, 0, "a failed add reported progress");
                    }
                    (Err(e), None) => panic!("add failed without a reason: {e:?}"),
                    (Ok(added), why) => {
                        assert!(why.is_none(), "add succeeded although {why:?}");
                        let want: Vec<i64> = match &ids {
                            Some(ids) => ids.clone(),
                            None => (model.next_id()..).take(rows.len() / dim).collect(),
                        };
                        // Every row is stored; a cancelled add leaves the rest of the graph's
                        // work pending (searches still find those rows: the model checks it).
                        assert_eq!(added.ids, want, "assigned ids");
                        if !added.complete {
                            assert!(cancel_after.is_some(), "an add stopped by itself");
                            assert!(index.pending() > 0, "a cancelled add left nothing pending");
                        } else {
                            assert_eq!(index.pending(), 0, "a complete add left rows pending");
                        }
                        let known: HashSet<i64> = model.ids.iter().copied().collect();
                        for id in &added.ids {
                            assert!(!known.contains(id), "add reused stored id {id}");
                        }
                        model.add(dim, &rows, &added.ids);
                    }
                }
            }
            Op::Search {
                values,
                k,
                ef,
                restarts,
                entry,
                quantized,
                exact,
            } => {
                let mut query: Vec<f32> = values.iter().take(dim).map(|v| v.get()).collect();
                query.resize(dim, 0.25);
                let p = SearchParams {
                    ef: *ef as usize % 40,
                    restarts: *restarts as usize % 4,
                    n_threads: 1,
                    entry: entry.get(),
                    quantized: *quantized,
                    ..Default::default()
                };
                let k = *k as usize % (model.ids.len() + 2);
                search_and_check(&index, &query, k, &p, *exact, false);
            }
            Op::RoundTrip => {
                let back = round_trip(&index);
                if !index.is_empty() {
                    let q = &model.rows[..dim];
                    let k = index.len().min(4);
                    let mut entries = vec![Entry::Random, Entry::Pivots];
                    if index.entry_point().is_some() {
                        entries.push(Entry::Hierarchy);
                    }
                    for entry in entries {
                        let p = SearchParams {
                            entry: Some(entry),
                            n_threads: 1,
                            ..Default::default()
                        };
                        let a = index.search(q, k, &p).unwrap();
                        let b = back.search(q, k, &p).unwrap();
                        assert_eq!(a, b, "answers changed on reload ({entry:?})");
                    }
                }
                index = back;
                model.codes = false;
                model.max_id = model.ids.iter().max().copied();
            }
            Op::SetCodes(on) => {
                let r = index.set_codes(*on);
                if *on && input.dtw {
                    assert!(matches!(r, Err(Error::InvalidParameter { .. })));
                } else {
                    r.unwrap();
                    model.codes = *on;
                }
            }
            Op::LinkOrphans => {
                let linked = index.link_orphans();
                assert!(linked <= index.len());
            }
            Op::Remove { ids, threads } => {
                let ids: Vec<i64> = ids
                    .iter()
                    .take(12)
                    .map(|c| match *c {
                        IdChoice::Stored(i) if !model.ids.is_empty() => {
                            model.ids[i as usize % model.ids.len()]
                        }
                        IdChoice::Small(v) | IdChoice::Stored(v) => v as i64,
                        IdChoice::Negative(v) => -1 - (v as i64).abs(),
                        IdChoice::Max => i64::MAX,
                    })
                    .collect();
                let stored: HashSet<i64> = model.ids.iter().copied().collect();
                let unknown: HashSet<i64> =
                    ids.iter().copied().filter(|id| !stored.contains(id)).collect();
                let before = index.to_bytes();
                match index.remove(&ids, if *threads { 2 } else { 1 }) {
                    Err(Error::UnknownIds { ids: named, count }) => {
                        assert_eq!(count, unknown.len(), "unknown ids counted");
                        assert!(named.iter().all(|id| unknown.contains(id)));
                        assert_eq!(index.to_bytes(), before, "a failed removal changed the index");
                    }
                    Err(e) => panic!("unexpected removal error {e:?}"),
                    Ok(_) => {
                        assert!(unknown.is_empty(), "removed although {unknown:?} are unknown");
                        let gone: HashSet<i64> = ids.iter().copied().collect();
                        model.remove(dim, &gone);
                        for id in &gone {
                            assert!(!index.contains(*id));
                        }
                    }
                }
            }
        }
        check_model(&index, &model, dim);
    }
});

/// Why this add must fail, or `None` when it must succeed (the documented checks of `add`).
fn add_failure(
    model: &Model,
    dim: usize,
    rows: &[f32],
    ids: Option<&[i64]>,
    chunk: usize,
) -> Option<&'static str> {
    if chunk == 0 {
        return Some("chunk_rows 0");
    }
    if !rows.len().is_multiple_of(dim) {
        return Some("ragged");
    }
    if rows.iter().any(|x| !x.is_finite()) {
        return Some("non-finite");
    }
    let n = rows.len() / dim;
    let Some(ids) = ids else {
        // Default ids follow the largest stored id; they must not pass i64::MAX.
        let overflows = n > 0 && model.next_id().checked_add(n as i64).is_none();
        return overflows.then_some("default ids overflow");
    };
    if ids.len() != n {
        return Some("id count");
    }
    let mut seen: HashSet<i64> = model.ids.iter().copied().collect();
    for &id in ids {
        if id < 0 {
            return Some("negative id");
        }
        if !seen.insert(id) {
            return Some("duplicate id");
        }
    }
    None
}

/// The index holds what the model says, its graph is valid, and exact search is the naive scan.
fn check_model(index: &Index, model: &Model, dim: usize) {
    assert_eq!(index.len(), model.ids.len());
    assert_eq!(index.ids(), &model.ids[..]);
    assert_eq!(index.has_codes(), model.codes);
    let unique: HashSet<i64> = model.ids.iter().copied().collect();
    assert_eq!(unique.len(), model.ids.len(), "repeated ids stored");
    for &id in &model.ids {
        assert!(index.contains(id));
    }
    let absent = model.ids.iter().max().map_or(0, |m| m.saturating_add(1));
    assert!(!index.contains(absent) || absent == i64::MAX);
    assert!(!index.contains(-1));
    let vectors = index.get_vectors(&model.ids).unwrap();
    assert_eq!(
        vectors.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        model.rows.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    check_graph(index);
    if !model.ids.is_empty() {
        let k = model.ids.len().min(4);
        let p = SearchParams {
            n_threads: 1,
            ..Default::default()
        };
        let q: Vec<f32> = model.rows[..dim].iter().map(|x| x * 0.5 + 0.125).collect();
        search_and_check(index, &q, k, &p, true, false);
        search_and_check(index, &q, k, &p, false, false);
    }
}
