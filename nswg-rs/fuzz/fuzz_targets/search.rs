//! Fuzz target `search`: a small index built from fuzz input (Euclidean or banded DTW, HNSW or
//! NSW, with or without 8-bit codes), then queries with arbitrary parameters (k, ef, restarts,
//! entry, quantized, exact, single or batch) and arbitrary values (NaN, infinities, huge values,
//! wrong lengths). Every bad argument must come back as an `Err`, never a panic; every answer must
//! be ascending, without repeats, of stored ids with their true distances; exact answers must be
//! the naive scan.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use common::{build_params, metric, search_and_check, EntryChoice, Val};
use libfuzzer_sys::fuzz_target;
use nswg::{Index, SearchParams};

#[derive(Arbitrary, Debug)]
struct Input {
    dim: u8,
    dtw: bool,
    band: u8,
    nsw: bool,
    max_degree: u8,
    ef_construction: u8,
    seed: u64,
    codes: bool,
    rows: Vec<Val>,
    queries: Vec<Query>,
}

#[derive(Arbitrary, Debug)]
struct Query {
    /// Query values: `dim` of them, or this many more/fewer when `wrong_len` is set.
    values: Vec<Val>,
    wrong_len: Option<i8>,
    k: u8,
    ef: u16,
    restarts: u8,
    entry: EntryChoice,
    quantized: bool,
    exact: bool,
    batch: bool,
    /// Two threads for a batch (the index's pool) instead of the calling thread.
    threads: bool,
}

fuzz_target!(|input: Input| {
    let dim = 1 + input.dim as usize % 8;
    let metric = metric(input.dtw, input.band, dim);
    let params = build_params(
        input.max_degree,
        input.ef_construction,
        input.seed,
        input.nsw,
        10,
        24,
    );
    let mut index = Index::new(dim, metric, params).unwrap();
    let n = (input.rows.len() / dim).min(48);
    let raw: Vec<f32> = input.rows[..n * dim].iter().map(|v| v.get()).collect();
    let rows: Vec<f32> = input.rows[..n * dim].iter().map(|v| v.finite()).collect();
    if raw.iter().any(|x| !x.is_finite()) {
        assert!(matches!(
            index.add(&raw, None, 1),
            Err(nswg::Error::NonFinite { .. })
        ));
        assert!(index.is_empty());
    }
    index.add(&rows, None, 1).unwrap();
    assert_eq!(index.len(), n);
    if input.codes && !input.dtw {
        index.set_codes(true).unwrap();
    }
    for q in input.queries.iter().take(8) {
        let len = match q.wrong_len {
            Some(d) if d != 0 => (dim as isize + d as isize % 4).max(0) as usize,
            _ => dim,
        };
        let mut query: Vec<f32> = q.values.iter().take(len).map(|v| v.get()).collect();
        query.resize(len, 0.5);
        let p = SearchParams {
            ef: q.ef as usize % 80,
            restarts: q.restarts as usize % 5,
            n_threads: if q.threads { 2 } else { 1 },
            entry: q.entry.get(),
            quantized: q.quantized,
            ..Default::default()
        };
        let k = q.k as usize % (n + 2);
        search_and_check(&index, &query, k, &p, q.exact, q.batch);
    }
});
