//! DTW graph walk work and recall on z-normalised random walks (development aid for
//! `benchmarks/dtw_scale.py`, without Python): `cargo run --release --example dtw_walk -- N BAND
//! [INDEX_FILE]`. Builds (or loads, when INDEX_FILE exists; saves it otherwise) an index of N walks
//! of 256 samples, then sweeps `ef` for 200 queries (half fresh walks, half stored series plus
//! noise) and prints recall@1 against exact search with the work per query.
#![allow(clippy::unwrap_used)]
use nswg::{BuildParams, Index, Metric, SearchParams};
use std::path::Path;

const LEN: usize = 256;

struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn znorm(x: &mut [f64]) -> Vec<f32> {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let sd = (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64).sqrt();
    x.iter().map(|v| ((v - m) / sd.max(1e-12)) as f32).collect()
}

fn walks(n: usize, rng: &mut Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * LEN);
    for _ in 0..n {
        let mut acc = 0.0;
        let mut x: Vec<f64> = (0..LEN)
            .map(|_| {
                acc += rng.normal();
                acc
            })
            .collect();
        out.extend(znorm(&mut x));
    }
    out
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n: usize = a.get(1).and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let band: usize = a.get(2).and_then(|v| v.parse().ok()).unwrap_or(26);
    let metric = Metric::Dtw { band };
    let mut rng = Rng(7);
    let data = walks(n, &mut rng);
    let file = a.get(3).map(Path::new);
    let idx = match file {
        Some(f) if f.exists() => Index::load(f).unwrap(),
        _ => {
            let env = |k: &str, d: usize| {
                std::env::var(k)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(d)
            };
            let params = BuildParams {
                max_degree: env("MD", 32),
                ef_construction: env("EFC", 64),
                ..BuildParams::default()
            };
            let mut idx = Index::new(LEN, metric, params).unwrap();
            let t = std::time::Instant::now();
            let threads = std::env::var("THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2);
            let added = idx.add(&data, None, threads).unwrap();
            println!(
                "build {:.1} s, {} distances per series",
                t.elapsed().as_secs_f64(),
                added.stats.distance_calls / n as u64
            );
            if let Some(f) = file {
                idx.save(f).unwrap();
            }
            idx
        }
    };
    let nq = 200;
    let mut q = walks(nq / 2, &mut Rng(8));
    for i in 0..nq / 2 {
        let row = &data[(i * 37 % n) * LEN..][..LEN];
        let mut x: Vec<f64> = row.iter().map(|&v| v as f64 + 0.1 * rng.normal()).collect();
        q.extend(znorm(&mut x));
    }
    let one = SearchParams {
        n_threads: 1,
        entry: std::env::var("ENTRY").ok().map(|e| e.parse().unwrap()),
        ..SearchParams::default()
    };
    let t = std::time::Instant::now();
    // NOEXACT: a tiny exact pass (for work counts under a profiler), recall then meaningless.
    let truth_q = if std::env::var("NOEXACT").is_ok() {
        &q[..LEN]
    } else {
        &q[..]
    };
    let truth = idx.search_batch(truth_q, 1, &one, true).unwrap();
    let exact_s = t.elapsed().as_secs_f64();
    let dtws: u64 = truth.stats.iter().map(|s| s.distance_calls).sum();
    println!(
        "exact: {:.2} ms/query, {} DTWs/query",
        exact_s * 1e3 / nq as f64,
        dtws / nq as u64
    );
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let efs: Vec<usize> = std::env::var("EFS")
        .ok()
        .map(|v| v.split(',').filter_map(|e| e.parse().ok()).collect())
        .unwrap_or(vec![8, 16, 24, 32, 64]);
    for ef in efs.iter().flat_map(|&e| std::iter::repeat_n(e, reps)) {
        // STHREADS: threads of the graph searches (the exact pass always runs on one).
        let n_threads = std::env::var("STHREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let p = SearchParams {
            ef,
            n_threads,
            ..one
        };
        let t = std::time::Instant::now();
        let r = idx.search_batch(&q, 1, &p, false).unwrap();
        let s = t.elapsed().as_secs_f64();
        let hits = (0..nq).filter(|&i| r.ids[i] == truth.ids[i]).count() as f64;
        let sum = |f: fn(&nswg::SearchStats) -> u64| {
            r.stats.iter().map(f).sum::<u64>() as f64 / nq as f64
        };
        println!(
            "ef={ef:3} recall@1 {:.3} {:.3} ms/query ({:.1}x exact) dtw {:.0} kim {:.0} keogh {:.0} rev {:.0} abandoned {:.0} visited {:.0} euclidean {:.0}",
            hits / nq as f64,
            s * 1e3 / nq as f64,
            exact_s / s,
            sum(|s| s.distance_calls),
            sum(|s| s.lb_kim_pruned),
            sum(|s| s.lb_keogh_pruned),
            sum(|s| s.lb_keogh_rev_pruned),
            sum(|s| s.abandoned),
            sum(|s| s.visited),
            sum(|s| s.euclidean_calls),
        );
    }
}
