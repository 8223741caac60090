//! Quick recall/work sweep on seeded uniform data (development aid): `cargo run --release --example sweep`.
#![allow(clippy::unwrap_used)]
use nswg::{BuildParams, Index, Metric, SearchParams};
use std::collections::HashSet;
fn rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n * dim)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}
fn main() {
    let dim = 32;
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let data = rows(n, dim, 7);
    let q = rows(200, dim, 8);
    let mut idx0 = Index::new(dim, Metric::Euclidean, BuildParams::default()).unwrap();
    idx0.add(&data, None, 1).unwrap();
    let truth = idx0
        .search_batch(&q, 10, &SearchParams::default(), true)
        .unwrap();
    for (md, efc) in [(32, 64)] {
        let t = std::time::Instant::now();
        let mut idx = Index::new(
            dim,
            Metric::Euclidean,
            BuildParams {
                max_degree: md,
                ef_construction: efc,
                seed: 0,
                graph: nswg::GraphKind::Nsw,
            },
        )
        .unwrap();
        idx.add(
            &data,
            None,
            std::env::var("T")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
        )
        .unwrap();
        let bt = t.elapsed().as_secs_f64();
        for ef in [32, 64, 128] {
            let p = SearchParams {
                ef,
                n_threads: 1,
                ..Default::default()
            };
            let t = std::time::Instant::now();
            let r = idx.search_batch(&q, 10, &p, false).unwrap();
            let qt = t.elapsed().as_secs_f64();
            let mut hit = 0;
            for i in 0..200 {
                let tr: HashSet<i64> = truth.ids[i * 10..i * 10 + 10].iter().copied().collect();
                hit += r.ids[i * 10..i * 10 + 10]
                    .iter()
                    .filter(|x| tr.contains(x))
                    .count();
            }
            let calls: u64 = r.stats.iter().map(|s| s.distance_calls).sum();
            println!(
                "md={md} efc={efc} build={bt:.2}s ef={ef} recall={:.4} calls/q={} qps={:.0}",
                hit as f64 / 2000.0,
                calls / 200,
                200.0 / qt
            );
        }
    }
}
