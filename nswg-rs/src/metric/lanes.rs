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
//! one. Lanes above `cutoff` report `f32::INFINITY`.
//!
//! Pruning follows EAPrunedDTW, for the batch as a whole: a cell is live when some lane's value in
//! it is `<= cutoff`. Costs are non-negative, so a cell can only be live if one of its three
//! predecessors is; each row is therefore computed only from the previous row's first live column
//! to one past its last live one, and beyond that only while the row's own left neighbour is live
//! (there the cell is `cost + left`, which is what the full recurrence gives for a live cell).
//! Cells outside the computed span read as `+inf`. A dead cell may hold another value than the
//! scalar kernel's (it is above `cutoff` either way); a live one holds the same bits. The batch
//! stops once a row has no live cell.
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

/// Whether some lane of `v` is `<= cut` (the cell is live).
#[inline(always)]
fn any_live(v: &[f32; LANES], cut: f32) -> bool {
    // Without an early exit, so that the eight compares are one vector compare.
    v.iter().fold(0u32, |live, &x| live | u32::from(x <= cut)) != 0
}

/// The row kernels: portable loops, SSE2 (the x86-64 baseline) or AVX (detected at run time).
/// All three give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// Only chosen off x86-64 (and by the tests).
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    Portable,
    Sse2,
    Avx,
}

impl Kernel {
    /// The widest kernel this machine runs.
    fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx") {
                return Kernel::Avx;
            }
            Kernel::Sse2
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Kernel::Portable
        }
    }

    /// Whether this machine runs the kernel.
    #[cfg(test)]
    fn available(self) -> bool {
        match self {
            Kernel::Portable => true,
            Kernel::Sse2 => cfg!(target_arch = "x86_64"),
            Kernel::Avx => Kernel::best() == Kernel::Avx,
        }
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
    lanes_dispatch(Kernel::best(), query, rows, channels, band, cutoff, s)
}

/// [`dtw_lanes_sq`] by channel count, with the row kernel `kernel` (which the machine runs).
fn lanes_dispatch(
    kernel: Kernel,
    query: &[f32],
    rows: &[&[f32]; LANES],
    channels: usize,
    band: usize,
    cutoff: f32,
    s: &mut LaneScratch,
) -> [f32; LANES] {
    match channels {
        1 => lanes_core::<1>(kernel, query, rows, 1, band, cutoff, s),
        2 => lanes_core::<2>(kernel, query, rows, 2, band, cutoff, s),
        3 => lanes_core::<3>(kernel, query, rows, 3, band, cutoff, s),
        6 => lanes_core::<6>(kernel, query, rows, 6, band, cutoff, s),
        c => lanes_core::<0>(kernel, query, rows, c, band, cutoff, s),
    }
}

/// Cells at slots `start..=end` of one row through the chosen kernel, from the row above
/// (`prev`) and the left neighbour (the cell before `start` reads as `+inf`). `None` if a slice
/// is out of range.
#[inline(always)]
fn row_cells<const C: usize>(
    kernel: Kernel,
    qi: &[f32],
    cols: &[[f32; LANES]],
    prev: &[[f32; LANES]],
    curr: &mut [[f32; LANES]],
    start: usize,
    end: usize,
) -> Option<()> {
    let c = qi.len();
    let col = cols.get((start - 1) * c..end * c)?;
    let diags = prev.get(start - 1..end)?;
    let ups = prev.get(start..=end)?;
    let outs = curr.get_mut(start..=end)?;
    match kernel {
        // SAFETY: SSE2 is part of the x86-64 baseline; AVX was detected (`Kernel::best`).
        #[cfg(target_arch = "x86_64")]
        Kernel::Sse2 => unsafe { row_cells_sse2::<C>(qi, col, diags, ups, outs) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx => unsafe { row_cells_avx::<C>(qi, col, diags, ups, outs) },
        // Elsewhere only the portable kernel is chosen.
        _ => row_cells_portable::<C>(qi, col, diags, ups, outs),
    }
    Some(())
}

/// Bands at most this many cells wide are computed whole in every row (no live span kept): the
/// span's bookkeeping costs more per row than the few cells it would skip.
const NARROW_BAND_CELLS: usize = 16;

/// One row's span of cells through the chosen kernel: the cells at slots `start..=end1` from
/// the row above (`prev`) and the left neighbour, then, from `end1 + 1` up to `last`, from the
/// left neighbour alone while some lane of it is live. Slot `t` is column `t - 1`; `cols` holds
/// the batch's samples by column. Returns the last slot computed.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row_span<const C: usize>(
    kernel: Kernel,
    qi: &[f32],
    cols: &[[f32; LANES]],
    prev: &[[f32; LANES]],
    curr: &mut [[f32; LANES]],
    (start, end1, last): (usize, usize, usize),
    cut: f32,
) -> Option<usize> {
    let c = qi.len();
    row_cells::<C>(kernel, qi, cols, prev, curr, start, end1)?;
    if end1 >= last {
        return Some(end1);
    }
    let left = curr[end1];
    if !any_live(&left, cut) {
        return Some(end1);
    }
    let col = cols.get(end1 * c..last * c)?;
    let outs = curr.get_mut(end1 + 1..=last)?;
    let done = match kernel {
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Kernel::Sse2 => unsafe { row_left_sse2::<C>(qi, col, left, outs, cut) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx => unsafe { row_left_avx::<C>(qi, col, left, outs, cut) },
        _ => row_left_portable::<C>(qi, col, left, outs, cut),
    };
    Some(end1 + done)
}

/// [`dtw_lanes_sq`] with the channel count `C` known at compile time (`C == 0`: `c` at run time).
#[inline(always)]
fn lanes_core<const C: usize>(
    kernel: Kernel,
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
    let cut = if cutoff.is_nan() { INF } else { cutoff };
    let n = query.len() / c;
    let w = band.min(n);

    // The batch's samples by column, transposed as the rows reach them (a batch that dies
    // early never reads its last columns). Buffers are reused without clearing: every cell a row
    // reads was written by the row before it, or is the virtual row -1 set below.
    let floats = query.len() * LANES;
    if s.cols.len() < floats {
        s.cols.resize(floats, 0.0);
    }
    let mut ready = 0usize; // columns transposed so far
    let transpose = |cols: &mut [f32], ready: &mut usize, upto: usize| {
        let from = *ready * c;
        if let Some(dst) = cols.get_mut(from * LANES..upto * c * LANES) {
            for (k, lanes) in (from..).zip(dst.chunks_exact_mut(LANES)) {
                for (v, row) in lanes.iter_mut().zip(rows) {
                    *v = row[k];
                }
            }
        }
        *ready = (*ready).max(upto);
    };
    // Slots 0..=n: slot `t` holds column `t - 1`, slot 0 the virtual column -1.
    let width = (n + 1) * LANES;
    for buf in [&mut s.prev, &mut s.curr] {
        if buf.len() < width {
            buf.resize(width, INF);
        }
    }
    let (mut prev, _) = s.prev[..width].as_chunks_mut::<LANES>();
    let (mut curr, _) = s.curr[..width].as_chunks_mut::<LANES>();
    // Virtual row -1: only column -1 (slot 0) is reachable, at cost 0; row 0 reads it up to
    // slot w + 1. `(first, last)`: the previous row's first and last live slots.
    prev[0] = [0.0; LANES];
    for slot in prev.iter_mut().take(w + 2).skip(1) {
        *slot = dead;
    }
    if 2 * w < NARROW_BAND_CELLS {
        transpose(&mut s.cols, &mut ready, n);
        let (cols, _) = s.cols[..floats].as_chunks::<LANES>();
        return lanes_narrow::<C>(kernel, query, cols, prev, curr, c, w, cut);
    }
    let (mut first, mut last) = (0usize, 0usize);
    let mut end = 0;
    for (i, qi) in query.chunks_exact(c).enumerate() {
        let lo = i.saturating_sub(w) + 1;
        let hi = (i + w).min(n - 1) + 1;
        // Slot `hi` is column `hi - 1`: the last this row reads.
        if hi > ready {
            transpose(&mut s.cols, &mut ready, (hi + w).min(n));
        }
        let (cols, _) = s.cols[..floats].as_chunks::<LANES>();
        let start = lo.max(first);
        let end1 = hi.min(last + 1);
        if start > end1 {
            return dead;
        }
        // The cell left of the span reads as +inf, for this row and as the next row's diagonal.
        curr[start - 1] = dead;
        let Some(e) = row_span::<C>(kernel, qi, cols, prev, curr, (start, end1, hi), cut) else {
            debug_assert!(false, "lane rows out of range");
            return dead;
        };
        end = e;
        if let Some(next) = curr.get_mut(e + 1) {
            *next = dead; // the cell right of the span, the next row's upper neighbour
        }
        let span = &curr[start..=e];
        let Some(a) = span.iter().position(|v| any_live(v, cut)) else {
            return dead;
        };
        let b = span.iter().rposition(|v| any_live(v, cut)).unwrap_or(a);
        (first, last) = (start + a, start + b);
        std::mem::swap(&mut prev, &mut curr);
    }
    let mut out = dead;
    if end == n {
        for (o, &v) in out.iter_mut().zip(&prev[n]) {
            if v <= cut {
                *o = v;
            }
        }
    }
    out
}

/// The rows of [`lanes_core`] for a narrow band: each row's whole band (slots
/// `i - w + 1..=i + w + 1`, clipped), with the cells just outside it set to `+inf` for the next
/// row; the batch stops at a row with no live cell. `prev` holds the virtual row -1 (slot 0 at
/// 0, the others `+inf`). Cells above `cut` are kept as computed rather than set to `+inf`: a
/// path through one costs more than `cut`, so the live cells, and the result, are the same.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lanes_narrow<'a, const C: usize>(
    kernel: Kernel,
    query: &[f32],
    cols: &[[f32; LANES]],
    mut prev: &'a mut [[f32; LANES]],
    mut curr: &'a mut [[f32; LANES]],
    c: usize,
    w: usize,
    cut: f32,
) -> [f32; LANES] {
    let dead = [f32::INFINITY; LANES];
    let n = query.len() / c;
    for (i, qi) in query.chunks_exact(c).enumerate() {
        let lo = i.saturating_sub(w) + 1;
        let hi = (i + w).min(n - 1) + 1;
        // Row i reads the row above at slots lo - 1..=hi: all written by it or set here.
        curr[lo - 1] = dead;
        if row_cells::<C>(kernel, qi, cols, prev, curr, lo, hi).is_none() {
            debug_assert!(false, "lane rows out of range");
            return dead;
        }
        if let Some(next) = curr.get_mut(hi + 1) {
            *next = dead;
        }
        let low = curr[lo..=hi]
            .iter()
            .fold(dead, |m, v| std::array::from_fn(|l| min2(m[l], v[l])));
        if !any_live(&low, cut) {
            return dead;
        }
        std::mem::swap(&mut prev, &mut curr);
    }
    let mut out = dead;
    for (o, &v) in out.iter_mut().zip(&prev[n]) {
        if v <= cut {
            *o = v;
        }
    }
    out
}

/// One row of the batched dynamic program over the columns given: `col` holds the columns'
/// samples (`c` lane groups per column), `diags` and `ups` the row above at columns `j - 1` and
/// `j`, `outs` receives the row (the cell left of the first is `+inf`). Portable form.
#[inline(always)]
fn row_cells_portable<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    diags: &[[f32; LANES]],
    ups: &[[f32; LANES]],
    outs: &mut [[f32; LANES]],
) {
    let c = if C > 0 { C } else { qi.len() };
    let mut left = [f32::INFINITY; LANES];
    for (((ys, dg), up), out) in col.chunks_exact(c).zip(diags).zip(ups).zip(outs) {
        let cost = cell_cost::<C>(qi, ys);
        for l in 0..LANES {
            let v = cost[l] + min2(min2(up[l], dg[l]), left[l]);
            out[l] = v;
            left[l] = v;
        }
    }
}

/// The cost of one cell per lane: the squared differences summed over the channels in order.
#[inline(always)]
fn cell_cost<const C: usize>(qi: &[f32], ys: &[[f32; LANES]]) -> [f32; LANES] {
    let mut cost = [0.0f32; LANES];
    for (&x, y) in qi.iter().zip(ys) {
        for l in 0..LANES {
            let d = x - y[l];
            cost[l] += d * d;
        }
    }
    cost
}

/// Cells right of the row above's live span, from `left` (the cell before the first) alone:
/// `cost + left`, stopping after the first cell with no live lane. Returns the cells computed.
/// Portable form.
#[inline(always)]
fn row_left_portable<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    mut left: [f32; LANES],
    outs: &mut [[f32; LANES]],
    cut: f32,
) -> usize {
    let c = if C > 0 { C } else { qi.len() };
    for (t, (ys, out)) in col.chunks_exact(c).zip(outs.iter_mut()).enumerate() {
        let cost = cell_cost::<C>(qi, ys);
        for l in 0..LANES {
            left[l] += cost[l];
        }
        // `cost + left` as the recurrence adds it (addition commutes bit for bit).
        *out = left;
        if !any_live(&left, cut) {
            return t + 1;
        }
    }
    outs.len()
}

/// [`row_cells_portable`] in SSE2 instructions, two 4-lane registers per lane group (`minps`
/// is `a < b ? a : b`, the portable form's `min2`, so the bits are the same).
///
/// # Safety
/// The CPU must run SSE2 (always true on x86-64).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn row_cells_sse2<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    diags: &[[f32; LANES]],
    ups: &[[f32; LANES]],
    outs: &mut [[f32; LANES]],
) {
    use std::arch::x86_64::{_mm_add_ps, _mm_min_ps, _mm_set1_ps, _mm_storeu_ps};
    let c = if C > 0 { C } else { qi.len() };
    let inf = _mm_set1_ps(f32::INFINITY);
    let (mut left0, mut left1) = (inf, inf);
    for (((ys, dg), up), out) in col.chunks_exact(c).zip(diags).zip(ups).zip(outs) {
        let (cost0, cost1) = sse2_cost::<C>(qi, ys);
        let (u0, u1) = sse2_load(up);
        let (g0, g1) = sse2_load(dg);
        let v0 = _mm_add_ps(cost0, _mm_min_ps(_mm_min_ps(u0, g0), left0));
        let v1 = _mm_add_ps(cost1, _mm_min_ps(_mm_min_ps(u1, g1), left1));
        // SAFETY: `out` is one `[f32; 8]`, written as two unaligned 4-float halves.
        unsafe {
            _mm_storeu_ps(out.as_mut_ptr(), v0);
            _mm_storeu_ps(out.as_mut_ptr().add(4), v1);
        }
        (left0, left1) = (v0, v1);
    }
}

/// One lane group as two SSE registers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sse2_load(a: &[f32; LANES]) -> (std::arch::x86_64::__m128, std::arch::x86_64::__m128) {
    use std::arch::x86_64::_mm_loadu_ps;
    const _: () = assert!(LANES == 8);
    // SAFETY: two unaligned 4-float reads inside one `[f32; 8]`.
    unsafe { (_mm_loadu_ps(a.as_ptr()), _mm_loadu_ps(a.as_ptr().add(4))) }
}

/// A cell's cost per lane in SSE2 registers, summed over the channels in order.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sse2_cost<const C: usize>(
    qi: &[f32],
    ys: &[[f32; LANES]],
) -> (std::arch::x86_64::__m128, std::arch::x86_64::__m128) {
    use std::arch::x86_64::{_mm_add_ps, _mm_mul_ps, _mm_set1_ps, _mm_setzero_ps, _mm_sub_ps};
    // SAFETY: SSE2 is part of the x86-64 baseline.
    unsafe {
        let (mut cost0, mut cost1) = (_mm_setzero_ps(), _mm_setzero_ps());
        for (&x, y) in qi.iter().zip(ys) {
            let xv = _mm_set1_ps(x);
            let (y0, y1) = sse2_load(y);
            let (d0, d1) = (_mm_sub_ps(xv, y0), _mm_sub_ps(xv, y1));
            cost0 = _mm_add_ps(cost0, _mm_mul_ps(d0, d0));
            cost1 = _mm_add_ps(cost1, _mm_mul_ps(d1, d1));
        }
        (cost0, cost1)
    }
}

/// [`row_left_portable`] in SSE2 instructions.
///
/// # Safety
/// The CPU must run SSE2 (always true on x86-64).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn row_left_sse2<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    left: [f32; LANES],
    outs: &mut [[f32; LANES]],
    cut: f32,
) -> usize {
    use std::arch::x86_64::{
        _mm_add_ps, _mm_cmple_ps, _mm_movemask_ps, _mm_or_ps, _mm_set1_ps, _mm_storeu_ps,
    };
    let c = if C > 0 { C } else { qi.len() };
    let cutv = _mm_set1_ps(cut);
    let (mut left0, mut left1) = sse2_load(&left);
    for (t, (ys, out)) in col.chunks_exact(c).zip(outs.iter_mut()).enumerate() {
        let (cost0, cost1) = sse2_cost::<C>(qi, ys);
        left0 = _mm_add_ps(cost0, left0);
        left1 = _mm_add_ps(cost1, left1);
        // SAFETY: `out` is one `[f32; 8]`, written as two unaligned 4-float halves.
        unsafe {
            _mm_storeu_ps(out.as_mut_ptr(), left0);
            _mm_storeu_ps(out.as_mut_ptr().add(4), left1);
        }
        let live = _mm_or_ps(_mm_cmple_ps(left0, cutv), _mm_cmple_ps(left1, cutv));
        if _mm_movemask_ps(live) == 0 {
            return t + 1;
        }
    }
    outs.len()
}

/// A cell's cost per lane in one AVX register, summed over the channels in order.
///
/// # Safety
/// The CPU must run AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
fn avx_cost<const C: usize>(qi: &[f32], ys: &[[f32; LANES]]) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_sub_ps,
    };
    let mut cost = _mm256_setzero_ps();
    for (&x, y) in qi.iter().zip(ys) {
        // SAFETY: one unaligned 8-float read of one `[f32; 8]`.
        let yv = unsafe { _mm256_loadu_ps(y.as_ptr()) };
        let d = _mm256_sub_ps(_mm256_set1_ps(x), yv);
        cost = _mm256_add_ps(cost, _mm256_mul_ps(d, d));
    }
    cost
}

/// [`row_cells_portable`] in AVX instructions, one 8-lane register per lane group (no fused
/// multiply-add, so the bits are the portable form's).
///
/// # Safety
/// The CPU must run AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn row_cells_avx<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    diags: &[[f32; LANES]],
    ups: &[[f32; LANES]],
    outs: &mut [[f32; LANES]],
) {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_loadu_ps, _mm256_min_ps, _mm256_set1_ps, _mm256_storeu_ps,
    };
    let c = if C > 0 { C } else { qi.len() };
    let mut left = _mm256_set1_ps(f32::INFINITY);
    for (((ys, dg), up), out) in col.chunks_exact(c).zip(diags).zip(ups).zip(outs) {
        let cost = avx_cost::<C>(qi, ys);
        // SAFETY: unaligned 8-float reads and a write of one `[f32; 8]` each.
        unsafe {
            let (u, g) = (_mm256_loadu_ps(up.as_ptr()), _mm256_loadu_ps(dg.as_ptr()));
            left = _mm256_add_ps(cost, _mm256_min_ps(_mm256_min_ps(u, g), left));
            _mm256_storeu_ps(out.as_mut_ptr(), left);
        }
    }
}

/// [`row_left_portable`] in AVX instructions.
///
/// # Safety
/// The CPU must run AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn row_left_avx<const C: usize>(
    qi: &[f32],
    col: &[[f32; LANES]],
    left: [f32; LANES],
    outs: &mut [[f32; LANES]],
    cut: f32,
) -> usize {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_cmp_ps, _mm256_loadu_ps, _mm256_movemask_ps, _mm256_set1_ps,
        _mm256_storeu_ps, _CMP_LE_OQ,
    };
    let c = if C > 0 { C } else { qi.len() };
    let cutv = _mm256_set1_ps(cut);
    // SAFETY: one unaligned 8-float read of one `[f32; 8]`.
    let mut acc = unsafe { _mm256_loadu_ps(left.as_ptr()) };
    for (t, (ys, out)) in col.chunks_exact(c).zip(outs.iter_mut()).enumerate() {
        acc = _mm256_add_ps(avx_cost::<C>(qi, ys), acc);
        // SAFETY: one unaligned 8-float write of one `[f32; 8]`.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), acc) };
        if _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(acc, cutv)) == 0 {
            return t + 1;
        }
    }
    outs.len()
}

#[cfg(test)]
mod tests {
    use super::super::dtw::{dtw_dependent_sq, DtwScratch};
    use super::*;
    use proptest::prelude::*;

    fn series(len: usize) -> impl Strategy<Value = Vec<f32>> {
        prop::collection::vec(-4.0f32..4.0, len)
    }

    /// A channel count in `channels` and a query followed by `LANES` stored series, all of one
    /// length in `steps` time steps.
    fn batch(
        channels: std::ops::Range<usize>,
        steps: std::ops::Range<usize>,
    ) -> impl Strategy<Value = (usize, Vec<Vec<f32>>)> {
        (channels, steps).prop_flat_map(|(c, steps)| {
            (Just(c), prop::collection::vec(series(c * steps), LANES + 1))
        })
    }

    /// The query and the batch's stored series of `data` (from [`batch`]).
    fn split(data: &[Vec<f32>]) -> (&[f32], [&[f32]; LANES]) {
        (&data[0], std::array::from_fn(|l| data[l + 1].as_slice()))
    }

    proptest! {
        /// Every lane equals the scalar kernel bit for bit under the cutoff, and is +inf above; with
        /// every row kernel.
        #[test]
        fn lanes_equal_the_scalar_kernel(
            (c, data) in batch(1..8, 1..40),
            band in 0usize..45,
            cut in prop::option::of(0.0f32..200.0),
        ) {
            let (query, rows) = split(&data);
            let cutoff = cut.unwrap_or(f32::INFINITY);
            let mut ls = LaneScratch::default();
            let got = dtw_lanes_sq(query, &rows, c, band, cutoff, &mut ls);
            // Every row kernel this machine runs gives the same bits.
            for kernel in [Kernel::Portable, Kernel::Sse2, Kernel::Avx] {
                if kernel.available() {
                    let other = lanes_dispatch(kernel, query, &rows, c, band, cutoff, &mut ls);
                    prop_assert_eq!(got.map(f32::to_bits), other.map(f32::to_bits), "{:?}", kernel);
                }
            }
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// One scratch reused by a run of batches of other lengths, bands and cutoffs (its buffers
        /// are not cleared between calls) gives every batch the scalar kernel's results.
        #[test]
        fn a_reused_scratch_keeps_every_batch_exact(
            runs in prop::collection::vec((batch(1..4, 1..60), 0usize..70, prop::option::of(0.0f32..300.0)), 1..8),
        ) {
            let mut ls = LaneScratch::default();
            let mut scratch = DtwScratch::new();
            for ((c, data), band, cut) in &runs {
                let (query, rows) = split(data);
                let cutoff = cut.unwrap_or(f32::INFINITY);
                let got = dtw_lanes_sq(query, &rows, *c, *band, cutoff, &mut ls);
                for (l, row) in rows.iter().enumerate() {
                    let full = dtw_dependent_sq(query, row, *c, *band, f32::INFINITY, &mut scratch);
                    let want = if full <= cutoff { full } else { f32::INFINITY };
                    prop_assert_eq!(got[l].to_bits(), want.to_bits(), "lane {}", l);
                }
            }
        }
    }

    proptest! {
        /// A cutoff equal to one lane's distance keeps that lane, exactly (a cell equal to the
        /// cutoff is live), and slightly below it drops the lane.
        #[test]
        fn a_cutoff_at_a_lane_distance_keeps_it(
            (c, data) in batch(1..7, 1..30),
            band in 0usize..35,
            lane in 0usize..LANES,
        ) {
            let (query, rows) = split(&data);
            let mut scratch = DtwScratch::new();
            let exact = dtw_dependent_sq(query, rows[lane], c, band, f32::INFINITY, &mut scratch);
            let mut ls = LaneScratch::default();
            for kernel in [Kernel::Portable, Kernel::Sse2, Kernel::Avx] {
                if !kernel.available() {
                    continue;
                }
                let got = lanes_dispatch(kernel, query, &rows, c, band, exact, &mut ls);
                prop_assert_eq!(got[lane].to_bits(), exact.to_bits(), "{:?}", kernel);
                let below = exact.next_down();
                if below >= 0.0 {
                    let got = lanes_dispatch(kernel, query, &rows, c, band, below, &mut ls);
                    prop_assert_eq!(got[lane], f32::INFINITY, "{:?}", kernel);
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
