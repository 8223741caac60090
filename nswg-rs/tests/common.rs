//! Shared helpers for the integration tests: seeded data without extra crates.
#![allow(dead_code)]

pub struct Rng(u64);
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
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn normal(&mut self) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
}

pub fn uniform_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n * dim).map(|_| r.uniform()).collect()
}

/// Gaussian mixture: `centers` means ~ N(0, 1) per coordinate, rows = a random mean plus
/// N(0, `spread`^2) noise (clustered, embedding-like data).
pub fn clustered_rows(n: usize, dim: usize, centers: usize, spread: f32, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    let means: Vec<f32> = (0..centers * dim).map(|_| r.normal()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = (r.next_u64() % centers as u64) as usize;
        out.extend((0..dim).map(|j| means[c * dim + j] + spread * r.normal()));
    }
    out
}

/// Random walks (cumulative sums of normal steps): time-series-like rows.
pub fn walks(n: usize, len: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n * len);
    for _ in 0..n {
        let mut x = 0.0;
        for _ in 0..len {
            x += r.normal();
            out.push(x);
        }
    }
    out
}

/// Naive exact k-NN: (distance, id) sorted by distance then id.
pub fn naive_knn(
    metric: &nswg::Metric,
    data: &[f32],
    dim: usize,
    q: &[f32],
    k: usize,
) -> Vec<(f32, i64)> {
    naive_knn_channels(metric, data, dim, 1, q, k)
}

/// [`naive_knn`] over time-major series of `channels` floats per time step.
pub fn naive_knn_channels(
    metric: &nswg::Metric,
    data: &[f32],
    dim: usize,
    channels: usize,
    q: &[f32],
    k: usize,
) -> Vec<(f32, i64)> {
    let mut all: Vec<(f32, i64)> = data
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, row)| (metric.distance_channels(q, row, channels), i as i64))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    all
}

/// The graph kind of the old `hierarchy` flag: layers (HNSW) or flat (NSW).
pub fn kind(hierarchy: bool) -> nswg::GraphKind {
    if hierarchy {
        nswg::GraphKind::Hnsw
    } else {
        nswg::GraphKind::Nsw
    }
}

/// The search modes of an index of `graph` and `metric` (series of one length): (entry,
/// quantized) for every entry the graph offers (None is its own) and, for Euclidean, with and
/// without the 8-bit codes.
pub fn modes(graph: nswg::GraphKind, metric: nswg::Metric) -> Vec<(Option<nswg::Entry>, bool)> {
    use nswg::Entry;
    let mut entries = vec![None, Some(Entry::Random), Some(Entry::Pivots)];
    if graph == nswg::GraphKind::Hnsw {
        entries.push(Some(Entry::Hierarchy));
        if metric.band().is_some() {
            entries.push(Some(Entry::Euclidean));
        }
    }
    let quantized: &[bool] = if metric == nswg::Metric::Euclidean {
        &[false, true]
    } else {
        &[false]
    };
    entries
        .into_iter()
        .flat_map(|e| quantized.iter().map(move |&q| (e, q)))
        .collect()
}
