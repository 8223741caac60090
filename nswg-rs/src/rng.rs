//! Seeded randomness: the one generator every random choice of the index goes through, and the
//! seeds it is started from (per query, per inserted node, per level draw), so that answers depend
//! on the index seed and the data only, never on batching, threads or the clock.

use crate::graph::MAX_LEVEL;

/// SplitMix64: a small, fast, seedable generator.
pub(crate) struct Rng(u64);

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

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// Seed of the entry-point generator of one query: the index seed mixed with the query's bits, so the
/// same query gets the same entry points wherever it sits in a batch, and different queries differ.
pub(crate) fn query_seed(seed: u64, q: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for x in q {
        h = (h ^ x.to_bits() as u64).wrapping_mul(0x0100_0000_01b3);
    }
    Rng::new(h).next_u64()
}

/// Seed of the entry-point generator of the insertion search of node `node`.
pub(crate) fn insert_seed(seed: u64, node: u32) -> u64 {
    seed ^ (node as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// The level of node `node` in a hierarchy: `floor(-ln(u) / ln(M))` for a uniform `u` in `(0, 1]`
/// drawn from the index seed and the node number (so it does not depend on how rows are batched),
/// capped at [`MAX_LEVEL`].
pub(crate) fn draw_level(seed: u64, node: usize, m: usize) -> usize {
    let mut r =
        Rng::new(seed ^ 0x5851_F42D_4C95_7F2D ^ (node as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let x = -(1.0 - u).ln() / (m.max(2) as f64).ln();
    if x.is_finite() && x > 0.0 {
        (x as usize).min(MAX_LEVEL)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_seeded_and_in_range() {
        let a: Vec<usize> = {
            let mut r = Rng::new(42);
            (0..100).map(|_| r.below(7)).collect()
        };
        let mut r = Rng::new(42);
        let b: Vec<usize> = (0..100).map(|_| r.below(7)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&x| x < 7));
        assert!(
            (0..7).all(|v| a.contains(&v)),
            "every value appears in 100 draws"
        );
    }

    #[test]
    fn levels_follow_the_geometric_law() {
        // P(level >= 1) = 1/M: with M = 16, about 1/16 of 64,000 nodes (4,000 +- 4 sigma ~ 250).
        let n = 64_000;
        let upper = (0..n).filter(|&i| draw_level(7, i, 16) >= 1).count();
        assert!(
            (3_750..=4_250).contains(&upper),
            "{upper} nodes above level 0"
        );
        assert_eq!(draw_level(7, 123, 16), draw_level(7, 123, 16));
    }
}
