//! Writes the small hand-made seeds of the `load` corpus (`corpus/load/seed-*`): empty, flat and
//! layered indexes, Euclidean and DTW, each behind the flag byte the target reads first (0: the
//! file as it is). Run from `nswg-rs/fuzz`: `cargo run --example make_seeds`. The files of
//! `nswg-rs/tests/data/*.nswg` are copied in as they are, behind a zero flag byte, by hand.
use nswg::{BuildParams, GraphKind, Index, Metric};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/load");
    std::fs::create_dir_all(&dir).unwrap();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ((x >> 40) % 17) as f32 / 4.0 - 2.0
    };
    let cases: [(&str, usize, Metric, GraphKind, usize, usize); 8] = [
        (
            "empty-euclidean-hnsw",
            4,
            Metric::Euclidean,
            GraphKind::Hnsw,
            4,
            0,
        ),
        (
            "empty-dtw-nsw",
            4,
            Metric::Dtw { band: 1 },
            GraphKind::Nsw,
            4,
            0,
        ),
        (
            "one-euclidean-hnsw",
            3,
            Metric::Euclidean,
            GraphKind::Hnsw,
            4,
            1,
        ),
        ("euclidean-nsw", 3, Metric::Euclidean, GraphKind::Nsw, 4, 12),
        (
            "euclidean-hnsw",
            2,
            Metric::Euclidean,
            GraphKind::Hnsw,
            2,
            24,
        ),
        ("dtw-nsw", 5, Metric::Dtw { band: 2 }, GraphKind::Nsw, 3, 10),
        (
            "dtw-hnsw",
            4,
            Metric::Dtw { band: 1 },
            GraphKind::Hnsw,
            4,
            20,
        ),
        (
            "dtw-full-band-hnsw",
            3,
            Metric::Dtw { band: 3 },
            GraphKind::Hnsw,
            6,
            16,
        ),
    ];
    for (name, dim, metric, graph, max_degree, n) in cases {
        let params = BuildParams {
            max_degree,
            ef_construction: 8,
            seed: 3,
            graph,
        };
        let mut index = Index::new(dim, metric, params).unwrap();
        let rows: Vec<f32> = (0..n * dim).map(|_| next()).collect();
        index.add(&rows, None, 1).unwrap();
        let mut bytes = vec![0u8];
        bytes.extend(index.to_bytes());
        std::fs::write(dir.join(format!("seed-{name}")), &bytes).unwrap();
        println!("seed-{name}: {} bytes", bytes.len());
    }
}
