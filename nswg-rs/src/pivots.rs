//! The pivots of [`crate::Entry::Pivots`]: a fixed, evenly spaced sample of the stored nodes whose
//! rows are copied into one contiguous block small enough to stay in cache across queries.

use crate::store::Store;

/// Most pivots an index keeps.
const MAX_PIVOTS: usize = 64;

/// Node numbers `i * n / P` (`P = min(n, 64)`; a free slot is replaced by the next slot in use)
/// and a contiguous copy of their rows (P x dim floats), rebuilt whenever nodes are added or
/// removed.
#[derive(Default)]
pub(crate) struct Pivots {
    pub nodes: Vec<u32>,
    pub rows: Vec<f32>,
    /// One past the last float of each pivot's row in `rows` (rows may differ in length).
    pub ends: Vec<usize>,
}

impl Pivots {
    /// The pivots of the first `n` rows of `store`, skipping the slots `dead` marks free (an
    /// empty `dead`: none is).
    pub fn build(store: &Store, n: usize, dead: &[bool]) -> Pivots {
        let p = n.min(MAX_PIVOTS);
        let is_dead = |v: usize| dead.get(v).copied().unwrap_or(false);
        let mut nodes: Vec<u32> = Vec::with_capacity(p);
        for i in 0..p {
            let mut v = (i * n / p).max(nodes.last().map_or(0, |&l| l as usize + 1));
            while v < n && is_dead(v) {
                v += 1;
            }
            if v < n {
                nodes.push(v as u32);
            }
        }
        let mut rows = Vec::with_capacity(p * store.dim);
        let mut ends = Vec::with_capacity(p);
        for &v in &nodes {
            rows.extend_from_slice(store.row(v as usize));
            ends.push(rows.len());
        }
        Pivots { nodes, rows, ends }
    }

    /// The copy of pivot `i`'s row.
    pub fn row(&self, i: usize) -> &[f32] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.rows[start..self.ends[i]]
    }
}
