//! Squared Euclidean distance kernel, written so the compiler vectorises it (16 independent lanes).

const LANES: usize = 16;

/// Squared Euclidean distance `sum_i (a_i - b_i)^2` over the common length of `a` and `b` (squared units).
#[inline]
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
}
