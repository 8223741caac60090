//! Search-loop timing on a saved index (development aid, for perf/callgrind):
//! `cargo run --release --example search_bench -- INDEX QUERIES.f32 EF REPEATS`
//! QUERIES.f32 is raw little-endian f32 rows of the index's width; ENTRY=pivots selects
//! `Entry::Pivots`, ENTRY=hierarchy `Entry::Hierarchy`. Prints the best time per query
//! over the repeats, recall@10 and the mean distance calls.
#![allow(clippy::unwrap_used)]
use nswg::{Entry, Index, SearchParams};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let idx = Index::load(std::path::Path::new(&a[1])).unwrap();
    let raw = std::fs::read(&a[2]).unwrap();
    let q: Vec<f32> = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let ef: usize = a[3].parse().unwrap();
    let reps: usize = a[4].parse().unwrap();
    let nq = q.len() / idx.dim();
    let p = SearchParams {
        ef,
        n_threads: 1,
        // ENTRY=random|pivots|hierarchy; unset: the graph's own entry.
        entry: std::env::var("ENTRY")
            .ok()
            .map(|e| e.parse::<Entry>().unwrap()),
        ..Default::default()
    };
    let truth = idx
        .search_batch(&q, 10, &SearchParams::default(), true)
        .unwrap();
    let mut best = f64::INFINITY;
    let mut hits = 0usize;
    let mut calls = 0u64;
    for _ in 0..reps {
        let t = std::time::Instant::now();
        calls = 0;
        hits = 0;
        for (i, row) in q.chunks_exact(idx.dim()).enumerate() {
            let (r, st) = idx.search(row, 10, &p).unwrap();
            calls += st.distance_calls;
            let t = &truth.ids[i * 10..i * 10 + 10];
            hits += r.iter().filter(|h| t.contains(&h.id)).count();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "ef={ef} recall={:.4} us/query={:.2} calls/query={}",
        hits as f64 / (nq * 10) as f64,
        best * 1e6 / nq as f64,
        calls / nq as u64
    );
}
