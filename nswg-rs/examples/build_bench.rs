//! Build-speed benchmark (development aid), the Rust twin of `benchmarks/ann.py`'s build step:
//! `cargo run --release -p nswg --example build_bench`
//!
//! Data (seeded, generated here): `random-32` (N x 32 uniform in [0, 1)) and `clustered-128`
//! (N x 128 Gaussian mixture: 100 means ~ N(0, 1), points = mean + 0.35 N(0, 1)), with 1,000
//! queries from the same distribution. Builds the default HNSW graph, `max_degree` 32,
//! `ef_construction` 200, with `add_chunked` in pieces of 8,192 rows (as the Python binding adds),
//! once per thread count, and prints the build seconds, the build's distance calls (from the
//! add's counters), and recall@10 / us per query / distance calls per query at a few `ef`
//! (single-threaded search, [`Entry::Hierarchy`]) against brute force.
//!
//! Environment: `N` (rows, default 100000), `DATA` (`random-32`, `clustered-128` or both, the
//! default), `THREADS` (comma list, default `1,2`), `EFS` (comma list, default `16,32,64,128`),
//! `REPS` (build repeats, the best time is printed; default 1), `DUMP` (a directory: write
//! `<name>.data.f32` and `<name>.queries.f32`, raw little-endian rows, to compare other libraries
//! on the same data).
#![allow(clippy::unwrap_used)]
use nswg::{BuildParams, Entry, Index, Metric, SearchParams};

struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn uniform(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    (0..n * dim).map(|_| r.unit() as f32).collect()
}

fn mixture(n: usize, nq: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut r = Rng(seed);
    let centers = 100;
    let means: Vec<f64> = (0..centers * dim).map(|_| r.normal()).collect();
    let mut draw = |m: usize| -> Vec<f32> {
        let mut out = Vec::with_capacity(m * dim);
        for _ in 0..m {
            let c = (r.next_u64() % centers as u64) as usize;
            for j in 0..dim {
                out.push((means[c * dim + j] + 0.35 * r.normal()) as f32);
            }
        }
        out
    };
    let data = draw(n);
    let queries = draw(nq);
    (data, queries)
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|v| v.trim().parse().unwrap())
        .collect()
}

fn dump(dir: &str, name: &str, what: &str, rows: &[f32]) {
    let bytes: Vec<u8> = rows.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(format!("{dir}/{name}.{what}.f32"), bytes).unwrap();
}

/// Builds the index in pieces of 8192 rows (as the Python binding does); returns it, the build
/// seconds and the distance computations the add reported.
fn build(data: &[f32], dim: usize, threads: usize) -> (Index, f64, u64) {
    let t = std::time::Instant::now();
    let mut idx = Index::new(
        dim,
        Metric::Euclidean,
        BuildParams {
            max_degree: 32,
            ef_construction: 200,
            ..Default::default()
        },
    )
    .unwrap();
    let added = idx
        .add_chunked(data, None, threads, nswg::ADD_CHUNK_ROWS, |_, _| true)
        .unwrap();
    (idx, t.elapsed().as_secs_f64(), added.stats.distance_calls)
}

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let which = std::env::var("DATA").unwrap_or_default();
    let threads = env_list("THREADS", "1,2");
    let efs = env_list("EFS", "16,32,64,128");
    let reps = env_list("REPS", "1")[0].max(1);
    let nq = 1000;
    for name in ["random-32", "clustered-128"] {
        if !which.is_empty() && which != name {
            continue;
        }
        let (dim, data, queries) = if name == "random-32" {
            (32, uniform(n, 32, 2), uniform(nq, 32, 3))
        } else {
            let (d, q) = mixture(n, nq, 128, 1);
            (128, d, q)
        };
        if let Ok(dir) = std::env::var("DUMP") {
            dump(&dir, name, "data", &data);
            dump(&dir, name, "queries", &queries);
        }
        let mut truth: Option<Vec<i64>> = None;
        for &t in &threads {
            let mut best = f64::INFINITY;
            let mut idx = None;
            let mut calls = 0;
            for _ in 0..reps {
                let (ix, secs, c) = build(&data, dim, t);
                calls = c;
                best = best.min(secs);
                idx = Some(ix);
            }
            let idx = idx.unwrap();
            let truth = truth.get_or_insert_with(|| {
                idx.search_batch(&queries, 10, &SearchParams::default(), true)
                    .unwrap()
                    .ids
            });
            print!("{name} n={n} threads={t} build={best:.2}s build_calls={calls}");
            for &ef in &efs {
                let p = SearchParams {
                    ef,
                    n_threads: 1,
                    entry: Some(Entry::Hierarchy),
                    ..Default::default()
                };
                let tq = std::time::Instant::now();
                let r = idx.search_batch(&queries, 10, &p, false).unwrap();
                let us = tq.elapsed().as_secs_f64() * 1e6 / nq as f64;
                let mut hits = 0usize;
                for i in 0..nq {
                    let tr = &truth[i * 10..i * 10 + 10];
                    hits += r.ids[i * 10..i * 10 + 10]
                        .iter()
                        .filter(|x| tr.contains(x))
                        .count();
                }
                let qc: u64 = r.stats.iter().map(|s| s.distance_calls).sum();
                print!(
                    " | ef{ef} r={:.4} {us:.1}us c={}",
                    hits as f64 / (nq * 10) as f64,
                    qc / nq as u64
                );
            }
            println!();
        }
    }
}
