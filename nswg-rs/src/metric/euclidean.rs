//! Squared Euclidean distance and dot product kernels, written so the compiler vectorises them (16
//! independent lanes).

const LANES: usize = 16;

/// Squared Euclidean distance `sum_i (a_i - b_i)^2` over the common length of `a` and `b` (squared units).
///
/// Compiled once per instruction set (AVX-512, AVX2+FMA, baseline) and chosen at run time by the
/// `multiversion` crate; every version adds in the same order, so the result is bit-identical
/// whichever runs (Rust never fuses `d * d + acc` into an FMA on its own). Measured on 100,000 x 128
/// clustered vectors: search about 10% faster than the baseline SSE2 build.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn sq_euclidean(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ta.iter().zip(tb) {
        let d = x - y;
        tail += d * d;
    }
    let mut s = 0.0f32;
    for v in acc {
        s += v;
    }
    s + tail
}

/// Squared Euclidean distance from a query to a row stored as 8-bit codes, in the query's squared
/// units: `sum_i (shifted_i - scale_i * codes_i)^2`, where `shifted = query - lo` and a code `c`
/// stands for the value `lo + scale * c` (see [`crate::store::Codes`]). The row is read as 1 byte
/// per coordinate instead of 4, which is what a memory-bound search pays for. Dispatched like
/// [`sq_euclidean`]; every version adds in the same order.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn sq_euclidean_codes(shifted: &[f32], scale: &[f32], codes: &[u8]) -> f32 {
    let n = shifted.len().min(scale.len()).min(codes.len());
    let (q, w, c) = (&shifted[..n], &scale[..n], &codes[..n]);
    let mut acc = [0.0f32; LANES];
    let (cq, cw, cc) = (
        q.chunks_exact(LANES),
        w.chunks_exact(LANES),
        c.chunks_exact(LANES),
    );
    let (tq, tw, tc) = (cq.remainder(), cw.remainder(), cc.remainder());
    for ((x, s), y) in cq.zip(cw).zip(cc) {
        for i in 0..LANES {
            let d = x[i] - s[i] * f32::from(y[i]);
            acc[i] += d * d;
        }
    }
    let mut tail = 0.0f32;
    for ((x, s), y) in tq.iter().zip(tw).zip(tc) {
        let d = x - s * f32::from(*y);
        tail += d * d;
    }
    let mut s = 0.0f32;
    for v in acc {
        s += v;
    }
    s + tail
}

/// Dot product `sum_i a_i * b_i` over the common length of `a` and `b` (the inner-product and
/// cosine metrics). Dispatched like [`sq_euclidean`]; every version adds in the same order.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ta.iter().zip(tb) {
        tail += x * y;
    }
    let mut s = 0.0f32;
    for v in acc {
        s += v;
    }
    s + tail
}

/// Dot product of a query, given as `weighted = query * scale` coordinate by coordinate, with a
/// row stored as 8-bit codes, without the codes' offsets: `sum_i weighted_i * codes_i`. The dot
/// product with the decoded row `lo + scale * codes` is this plus `<query, lo>` (see
/// [`crate::store::Codes`]). Dispatched like [`sq_euclidean`].
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn dot_codes(weighted: &[f32], codes: &[u8]) -> f32 {
    let n = weighted.len().min(codes.len());
    let (q, c) = (&weighted[..n], &codes[..n]);
    let mut acc = [0.0f32; LANES];
    let (cq, cc) = (q.chunks_exact(LANES), c.chunks_exact(LANES));
    let (tq, tc) = (cq.remainder(), cc.remainder());
    for (x, y) in cq.zip(cc) {
        for i in 0..LANES {
            acc[i] += x[i] * f32::from(y[i]);
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in tq.iter().zip(tc) {
        tail += x * f32::from(*y);
    }
    let mut s = 0.0f32;
    for v in acc {
        s += v;
    }
    s + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(sq_euclidean(&[], &[]), 0.0);
        assert_eq!(sq_euclidean(&[1.0, 2.0], &[4.0, 6.0]), 25.0);
        let a: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32) + 2.0).collect();
        assert_eq!(sq_euclidean(&a, &b), 4.0 * 37.0);
    }

    /// The same sum written out scalar, lane by lane: the dispatched SIMD versions must agree to the bit.
    fn lanes_in_order(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; LANES];
        let whole = a.len() / LANES * LANES;
        for (i, (x, y)) in a[..whole].iter().zip(&b[..whole]).enumerate() {
            let d = x - y;
            acc[i % LANES] += d * d;
        }
        let mut tail = 0.0f32;
        for (x, y) in a[whole..].iter().zip(&b[whole..]) {
            let d = x - y;
            tail += d * d;
        }
        let mut s = 0.0f32;
        for v in acc {
            s += v;
        }
        s + tail
    }

    #[test]
    fn bit_identical_to_scalar_order() {
        let mut x = 0x2545_F491u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        for len in [1, 15, 16, 17, 32, 100, 128, 131, 784] {
            let a: Vec<f32> = (0..len).map(|_| next()).collect();
            let b: Vec<f32> = (0..len).map(|_| next()).collect();
            assert_eq!(
                sq_euclidean(&a, &b).to_bits(),
                lanes_in_order(&a, &b).to_bits(),
                "length {len}"
            );
        }
    }

    #[test]
    fn matches_naive_sum() {
        let a: Vec<f32> = (0..131).map(|i| ((i * 7919) % 97) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..131).map(|i| ((i * 104729) % 89) as f32 * 0.1).collect();
        let naive: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum();
        let got = sq_euclidean(&a, &b) as f64;
        assert!((got - naive).abs() <= 1e-4 * naive, "{got} vs {naive}");
    }

    #[test]
    fn codes_distance_is_the_distance_to_the_decoded_row() {
        // Codes that decode exactly (lo + scale * c with small integers): the distance is exact.
        let len = 37;
        let q: Vec<f32> = (0..len).map(|i| (i % 5) as f32 - 1.0).collect();
        let lo: Vec<f32> = (0..len).map(|i| -((i % 3) as f32)).collect();
        let scale: Vec<f32> = (0..len).map(|i| [0.5, 1.0, 2.0, 0.0][i % 4]).collect();
        let codes: Vec<u8> = (0..len).map(|i| ((i * 31) % 256) as u8).collect();
        let decoded: Vec<f32> = (0..len)
            .map(|i| lo[i] + scale[i] * f32::from(codes[i]))
            .collect();
        let shifted: Vec<f32> = q.iter().zip(&lo).map(|(x, l)| x - l).collect();
        let naive: f64 = q
            .iter()
            .zip(&decoded)
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum();
        assert_eq!(sq_euclidean_codes(&shifted, &scale, &codes) as f64, naive);
        assert_eq!(sq_euclidean_codes(&[], &[], &[]), 0.0);
        // The dot product with the decoded row is the codes' dot plus <q, lo>.
        let weighted: Vec<f32> = q.iter().zip(&scale).map(|(x, s)| x * s).collect();
        let want: f64 = q.iter().zip(&decoded).map(|(x, y)| f64::from(x * y)).sum();
        let got = f64::from(dot_codes(&weighted, &codes)) + f64::from(dot(&q, &lo));
        assert!(
            (got - want).abs() <= 1e-3 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }

    #[test]
    fn dot_known_values() {
        assert_eq!(dot(&[], &[]), 0.0);
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, -5.0, 6.0]), 12.0);
        let a: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let ones = vec![1.0f32; 37];
        assert_eq!(dot(&a, &ones), (0..37).sum::<i32>() as f32);
    }
}
