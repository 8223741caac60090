//! Banded DTW of one series against [`LANES`] others at once, one per SIMD lane.
//!
//! The dynamic program of one DTW is a serial chain: every cell waits for its left neighbour, so
//! a single DTW runs at the latency of an add and a min per cell, however wide the machine. Eight
//! DTWs of the same query against eight stored series of its length share the row loop and keep
//! one chain per lane: the loop body is the same arithmetic on `[f32; LANES]` arrays, which the
//! compiler turns into packed instructions, so eight cells cost about what one did.
//!
//! Each lane computes exactly what [`super::dtw::dtw_dependent_sq`] computes, with the same
//! operations in the same order (a cell's cost summed over the channels in channel order, then
//! `cost + min(min(up, diagonal), left)`), so a result `<= cutoff` is bit-identical to the scalar
//! one. Pruning is coarser than the scalar kernel's: every cell of the band is computed, and the
//! batch stops once every lane's row minimum exceeds `cutoff` (a lane above it can never come
//! back under: costs are non-negative, so row minima never decrease). Lanes above `cutoff` report
//! `f32::INFINITY`.
//!
//! Equal lengths only (the straight Sakoe-Chiba band `|i - j| <= band`); series of unequal
//! lengths take the scalar kernel's sloped band.

/// Series per batch.
pub(crate) const LANES: usize = 8;

/// Reusable buffers of [`dtw_lanes_sq`]: the batch's series interleaved by lane, and two rows of
/// cumulative costs (squared units) per lane.
#[derive(Debug, Clone, Default)]
pub(crate) struct LaneScratch {
    /// Sample `k` (time-major index) of lane `l` at `k * LANES + l`.
    cols: Vec<f32>,
    prev: Vec<f32>,
    curr: Vec<f32>,
}

/// `a` if `a < b`, else `b` (the scalar kernel's `min2`, one `minps` lane).
#[inline(always)]
fn min2(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// DTW in the dependent form (squared units) of `query` against each of `rows`, all time-major
/// with `channels` floats per time step and of the query's length, Sakoe-Chiba radius `band`
/// (time steps). Lane `l`'s result is exact when it is `<= cutoff` and `f32::INFINITY`
/// otherwise; a NaN `cutoff` is `+inf`. Rows of another length, `channels == 0`, or a length
/// that is not a whole number of time steps give `f32::INFINITY` in every lane (callers check
/// these beforehand; nothing panics).
pub(crate) fn dtw_lanes_sq(
    query: &[f32],
    rows: &[&[f32]; LANES],
    channels: usize,
    band: usize,
    cutoff: f32,
    s: &mut LaneScratch,
) -> [f32; LANES] {
    lanes_dispatch::<SIMD>(query, rows, channels, band, cutoff, s)
}

/// Explicit SIMD where the target guarantees it: SSE2 on x86-64.
const SIMD: bool = cfg!(target_arch = "x86_64");

/// [`dtw_lanes_sq`] by channel count, with or without explicit SIMD.
fn lanes_dispatch<const SIMD: bool>(
    query: &[f32],
    rows: &[&[f32]; LANES],
    channels: usize,
    band: usize,
    cutoff: f32,
    s: &mut LaneScratch,
) -> [f32; LANES] {
    match channels {
        1 => lanes_core::<1, SIMD>(query, rows, 1, band, cutoff, s),
        2 => lanes_core::<2, SIMD>(query, rows, 2, band, cutoff, s),
        3 => lanes_core::<3, SIMD>(query, rows, 3, band, cutoff, s),
        6 => lanes_core::<6, SIMD>(query, rows, 6, band, cutoff, s),
        c => lanes_core::<0, SIMD>(query, rows, c, band, cutoff, s),
    }
}

/// [`dtw_lanes_sq`] with the channel count `C` known at compile time (`C == 0`: `c` at run time),
/// its rows computed by explicit SIMD instructions when `SIMD` (x86-64 only, where SSE2 is part
/// of the baseline) or by the portable loop otherwise; both give the same bits.
#[inline(always)]
fn lanes_core<const C: usize, const SIMD: bool>(
    query: &[f32],
    rows: &[&[f32]; LANES],
    c: usize,
    band: usize,
    cutoff: f32,
    s: &mut LaneScratch,
) -> [f32; LANES] {
    const INF: f32 = f32::INFINITY;
    let c = if C > 0 { C } else { c };
    let dead = [INF; LANES];
    if c == 0 || query.is_empty() || !query.len().is_multiple_of(c) {
        return dead;
    }
    if rows.iter().any(|r| r.len() != query.len()) {
        return dead;
    }
    let cutoff = if cutoff.is_nan() { INF } else { cutoff };
    let n = query.len() / c;
    let w = band.min(n);

    s.cols.clear();
    s.cols.resize(query.len() * LANES, 0.0);
    for (k, lanes) in s.cols.chunks_exact_mut(LANES).enumerate() {
        for (v, row) in lanes.iter_mut().zip(rows) {
            *v = row[k];
        }
    }
    let width = (n + 1) * LANES;
    s.prev.clear();
    s.prev.resize(width, INF);
    s.curr.clear();
    s.curr.resize(width, INF);
    let (mut prev, mut curr) = (&mut s.prev[..], &mut s.curr[..]);
    // Virtual row -1: only column -1 (slot 0) is reachable, at cost 0.
    prev[..LANES].fill(0.0);

    let (cols, _) = s.cols.as_chunks::<LANES>();
    for (i, qi) in query.chunks_exact(c).enumerate() {
        let lo = i.saturating_sub(w);
        let hi = (i + w).min(n - 1);
        let (above, _) = prev.as_chunks::<LANES>();
        let (row, _) = curr.as_chunks_mut::<LANES>();
        let (Some(col), Some(diags), Some(ups), Some(outs)) = (
            cols.get(lo * c..(hi + 1) * c),
            above.get(lo..=hi),
            above.get(lo + 1..=hi + 1),
            row.get_mut(lo + 1..=hi + 1),
        ) else {
            debug_assert!(false, "lane rows out of range");
            return dead;
        };
        let low = if SIMD {
            row_cells_simd::<C>(qi, col, diags, ups, outs)
        } else {
            row_cells_portable::<C>(qi, col, diags, ups, outs)
        };
        if low.iter().all(|&v| v > cutoff) {
            return dead;
        }
        if i == 0 {
            // The virtual row's slot becomes column -1 of row 1's upper row: unreachable.
            prev[..LANES].fill(INF);
        }
        std::mem::swap(&mut prev, &mut curr);
    }
    let mut out = dead;
    for (o, &v) in out.iter_mut().zip(prev.get(n * LANES..).unwrap_or(&[])) {
        if v <= cutoff {
            *o = v;
        }
    }
    out
}

/// One row of the batched dynamic program over the columns given: `col` holds the columns'
/// samples (`c` lane groups per column), `diags` and `ups` the row above at columns `j - 1` and
/// `j`, `outs` receives the row; returns each lane's minimum over the row. Portable form.
#[inline(always)]
fn row_cells_portable<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    diags: &[[f32; LANES]],
    ups: &[[f32; LANES]],
    outs: &mut [[f32; LANES]],
) -> [f32; LANES] {
    const INF: f32 = f32::INFINITY;
    let c = if C > 0 { C } else { qi.len() };
    let mut left = [INF; LANES];
    let mut low = [INF; LANES];
    for (((ys, dg), up), out) in col.chunks_exact(c).zip(diags).zip(ups).zip(outs) {
        let mut cost = [0.0f32; LANES];
        for (&x, y) in qi.iter().zip(ys) {
            for l in 0..LANES {
                let d = x - y[l];
                cost[l] += d * d;
            }
        }
        for l in 0..LANES {
            let v = cost[l] + min2(min2(up[l], dg[l]), left[l]);
            out[l] = v;
            left[l] = v;
            low[l] = min2(low[l], v);
        }
    }
    low
}

/// [`row_cells_portable`] in SSE2 instructions, two 4-lane registers per lane group (`minps`
/// is `a < b ? a : b`, the portable form's `min2`, so the bits are the same).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn row_cells_simd<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    diags: &[[f32; LANES]],
    ups: &[[f32; LANES]],
    outs: &mut [[f32; LANES]],
) -> [f32; LANES] {
    use std::arch::x86_64::{
        __m128, _mm_add_ps, _mm_loadu_ps, _mm_min_ps, _mm_mul_ps, _mm_set1_ps, _mm_setzero_ps,
        _mm_storeu_ps, _mm_sub_ps,
    };
    const _: () = assert!(LANES == 8);
    let c = if C > 0 { C } else { qi.len() };
    // SAFETY: SSE2 is part of the x86-64 baseline, and every load and store below reads or
    // writes one `[f32; 8]` through its own reference (two unaligned 4-float halves).
    unsafe {
        let load = |a: &[f32; LANES]| -> (__m128, __m128) {
            (_mm_loadu_ps(a.as_ptr()), _mm_loadu_ps(a.as_ptr().add(4)))
        };
        let inf = _mm_set1_ps(f32::INFINITY);
        let (mut left0, mut left1) = (inf, inf);
        let (mut low0, mut low1) = (inf, inf);
        for (((ys, dg), up), out) in col.chunks_exact(c).zip(diags).zip(ups).zip(outs) {
            let (mut cost0, mut cost1) = (_mm_setzero_ps(), _mm_setzero_ps());
            for (&x, y) in qi.iter().zip(ys) {
                let xv = _mm_set1_ps(x);
                let (y0, y1) = load(y);
                let (d0, d1) = (_mm_sub_ps(xv, y0), _mm_sub_ps(xv, y1));
                cost0 = _mm_add_ps(cost0, _mm_mul_ps(d0, d0));
                cost1 = _mm_add_ps(cost1, _mm_mul_ps(d1, d1));
            }
            let (u0, u1) = load(up);
            let (g0, g1) = load(dg);
            let v0 = _mm_add_ps(cost0, _mm_min_ps(_mm_min_ps(u0, g0), left0));
            let v1 = _mm_add_ps(cost1, _mm_min_ps(_mm_min_ps(u1, g1), left1));
            _mm_storeu_ps(out.as_mut_ptr(), v0);
            _mm_storeu_ps(out.as_mut_ptr().add(4), v1);
            (left0, left1) = (v0, v1);
            low0 = _mm_min_ps(low0, v0);
            low1 = _mm_min_ps(low1, v1);
        }
        let mut low = [0.0f32; LANES];
        _mm_storeu_ps(low.as_mut_ptr(), low0);
        _mm_storeu_ps(low.as_mut_ptr().add(4), low1);
        low
    }
}

/// Elsewhere the portable form serves (never called: `SIMD` is false there).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn row_cells_simd<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    diags: &[[f32; LANES]],
    ups: &[[f32; LANES]],
    outs: &mut [[f32; LANES]],
) -> [f32; LANES] {
    row_cells_portable::<C>(qi, col, diags, ups, outs)
}

#[cfg(test)]
mod tests {
    use super::super::dtw::{dtw_dependent_sq, DtwScratch};
    use super::*;
    use proptest::prelude::*;

    fn series(len: usize) -> impl Strategy<Value = Vec<f32>> {
        prop::collection::vec(-4.0f32..4.0, len)
    }

    proptest! {
        /// Every lane equals the scalar kernel bit for bit under the cutoff, and is +inf above; with
        /// and without explicit SIMD.
        #[test]
        fn lanes_equal_the_scalar_kernel(
            (c, data) in (1usize..5, 1usize..40).prop_flat_map(|(c, steps)| {
                (Just(c), prop::collection::vec(series(c * steps), LANES + 1))
            }),
            band in 0usize..45,
            cut in prop::option::of(0.0f32..200.0),
        ) {
            let query = &data[0];
            let rows: [&[f32]; LANES] = std::array::from_fn(|l| data[l + 1].as_slice());
            let cutoff = cut.unwrap_or(f32::INFINITY);
            let mut ls = LaneScratch::default();
            let got = dtw_lanes_sq(query, &rows, c, band, cutoff, &mut ls);
            // The explicit SIMD rows and the portable ones give the same bits.
            let portable = lanes_dispatch::<false>(query, &rows, c, band, cutoff, &mut ls);
            let simd = lanes_dispatch::<true>(query, &rows, c, band, cutoff, &mut ls);
            prop_assert_eq!(got.map(f32::to_bits), portable.map(f32::to_bits));
            prop_assert_eq!(got.map(f32::to_bits), simd.map(f32::to_bits));
            let mut scratch = DtwScratch::new();
            for (l, row) in rows.iter().enumerate() {
                let full = dtw_dependent_sq(query, row, c, band, f32::INFINITY, &mut scratch);
                prop_assert!(full.is_finite());
                if full <= cutoff {
                    prop_assert_eq!(got[l].to_bits(), full.to_bits(), "lane {}", l);
                } else {
                    prop_assert_eq!(got[l], f32::INFINITY, "lane {}", l);
                }
            }
        }
    }

    #[test]
    fn known_value_and_bad_shapes() {
        // One channel, band 1: a = [0, 1, 2], b = [0, 2, 2]: path (0,0),(1,1),(2,2) costs 1;
        // (0,0),(1,0),(2,1),(2,2)... the minimum is 1.
        let a = [0.0f32, 1.0, 2.0];
        let b = [0.0f32, 2.0, 2.0];
        let rows = [&b[..]; LANES];
        let mut s = LaneScratch::default();
        let got = dtw_lanes_sq(&a, &rows, 1, 1, f32::INFINITY, &mut s);
        assert!(got.iter().all(|&v| v == 1.0));
        assert!(dtw_lanes_sq(&a, &rows, 1, 1, 0.5, &mut s)
            .iter()
            .all(|&v| v == f32::INFINITY));
        let short = [0.0f32, 1.0];
        let mut mixed = rows;
        mixed[3] = &short;
        assert!(dtw_lanes_sq(&a, &mixed, 1, 1, f32::INFINITY, &mut s)
            .iter()
            .all(|&v| v == f32::INFINITY));
        assert!(dtw_lanes_sq(&a, &rows, 0, 1, f32::INFINITY, &mut s)
            .iter()
            .all(|&v| v == f32::INFINITY));
        assert!(dtw_lanes_sq(&a, &rows, 2, 1, f32::INFINITY, &mut s)
            .iter()
            .all(|&v| v == f32::INFINITY));
    }
}
