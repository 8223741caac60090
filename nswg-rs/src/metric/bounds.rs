//! Lower bounds on banded DTW (LB_Kim, LB_Keogh) and the Sakoe-Chiba envelope they need.
//!
//! Everything here is in the squared units of `dtw::dtw_sq` (see the definition in the `dtw`
//! module docs) and never overestimates it for the same `band`: not only in exact arithmetic but
//! also against the f32 value `dtw_sq` actually computes. LB_Kim uses the same two cell costs the
//! DP adds first and last, and LB_Keogh is scaled down by a relative slack of
//! `(2 * x.len() + upper.len() + 4) * f32::EPSILON` (about 4e-5 at length 100) that covers the
//! difference in summation order. So `bound > cutoff` safely proves `dtw_sq > cutoff`.

use super::dtw;

/// LB_Kim (first and last point version, LB_KimFL) in squared units: squared differences of the first points and of the last points.
///
/// Squared units; every warping path starts at cell `(0, 0)` and ends at `(n - 1, m - 1)`, so this
/// is `<= dtw_sq(a, b, band, ..)` for every band. Returns `0` if either series is empty, and only
/// the first term when both have length 1 (the two cells coincide). Unequal lengths are fine.
pub fn lb_kim_sq(a: &[f32], b: &[f32]) -> f32 {
    match (a.first(), b.first(), a.last(), b.last()) {
        (Some(&a0), Some(&b0), Some(&an), Some(&bm)) => {
            let d0 = a0 - b0;
            if a.len() == 1 && b.len() == 1 {
                d0 * d0
            } else {
                let dn = an - bm;
                d0 * d0 + dn * dn
            }
        }
        _ => 0.0,
    }
}

/// Upper and lower envelope of `series` for Sakoe-Chiba radius `band`: `upper[i] = max(series[i-band..=i+band])`, `lower[i] = min(...)`, clipped to the series; O(n).
///
/// Values are in the units of `series`; `band` is in samples. This uses the van Herk / Gil-Werman
/// block method in place (three comparisons per sample, no allocation). Only the first
/// `n = min(series.len(), upper.len(), lower.len())` entries are written, and they hold the
/// envelope of `series[..n]`; entries beyond `n` are left untouched. `band = 0` copies the series;
/// `band >= n - 1` gives the global maximum and minimum everywhere.
pub fn envelope(series: &[f32], band: usize, upper: &mut [f32], lower: &mut [f32]) {
    let n = series.len().min(upper.len()).min(lower.len());
    if let (Some(s), Some(up), Some(lo)) = (series.get(..n), upper.get_mut(..n), lower.get_mut(..n))
    {
        sliding_extreme(s, band, up, |p, q| if q > p { q } else { p });
        sliding_extreme(s, band, lo, |p, q| if q < p { q } else { p });
    }
}

/// `out[i] = pick` over `s[i - w ..= i + w]` clipped to `s`, by van Herk / Gil-Werman.
///
/// Cut `s` into blocks of `k = 2w + 1`. A full window `[l, l + 2w]` either is one block or spans
/// two neighbouring ones, so it is `pick(suffix of l's block from l, prefix of the next block to
/// r)`. Suffixes are computed first and parked at `out[l + w]`, the slot of the output that needs
/// them (`i = l + w`), so the forward pass reads each one just before overwriting it.
fn sliding_extreme(s: &[f32], band: usize, out: &mut [f32], pick: impl Fn(f32, f32) -> f32) {
    let n = s.len().min(out.len());
    if n == 0 {
        return;
    }
    let (s, out) = (&s[..n], &mut out[..n]);
    let w = band.min(n - 1);
    if w == 0 {
        out.copy_from_slice(s);
        return;
    }
    let k = 2 * w + 1;

    // Pass 1: suffix extremes within each block, parked at out[l + w] (when l + w < n).
    for (bi, block) in s.chunks(k).enumerate() {
        let start = bi * k;
        let mut acc = f32::NAN;
        for (t, &v) in block.iter().enumerate().rev() {
            acc = if t + 1 == block.len() {
                v
            } else {
                pick(acc, v)
            };
            if let Some(slot) = out.get_mut(start + t + w) {
                *slot = acc;
            }
        }
    }

    // Pass 2: prefix extremes `p` of r's block up to r, with r = i + w, for the unclipped windows.
    let mut p = f32::NAN;
    let mut pos = 0usize; // r % k
    for (r, &v) in s.iter().enumerate() {
        p = if pos == 0 { v } else { pick(p, v) };
        if r >= w {
            let i = r - w;
            // Window [i - w, r]: clipped at 0 (then inside block 0) it is the prefix alone;
            // otherwise the suffix parked at out[i] joins the prefix (when r ends a block, both
            // cover that whole block, which is still right).
            out[i] = if i < w { p } else { pick(out[i], p) };
        }
        pos += 1;
        if pos == k {
            pos = 0;
        }
    }

    // Windows clipped at the right end: [i - w, n - 1] for i >= n - w; `p` is the last prefix.
    let last_block = ((n - 1) / k) * k;
    let tail_start = n - w;
    for (t, slot) in out[tail_start..].iter_mut().enumerate() {
        let i = tail_start + t;
        *slot = if i < w {
            p // the whole series lies in block 0
        } else if i - w >= last_block {
            *slot // suffix of the last block from i - w to n - 1
        } else {
            pick(*slot, p)
        };
    }
}

/// One LB_Keogh term in squared units: the squared distance from `x` to `[lower, upper]`.
#[inline(always)]
fn keogh_term(x: f32, upper: f32, lower: f32) -> f32 {
    let above = x - upper;
    let below = lower - x;
    let above = if above > 0.0 { above } else { 0.0 };
    let below = if below > 0.0 { below } else { 0.0 };
    above * above + below * below
}

/// Relative down-scaling that keeps an f32 sum of bound terms below the f32 DTW sum.
#[inline]
fn rounding_slack(x_len: usize, env_len: usize) -> f32 {
    let e = (2 * x_len + env_len + 4) as f32 * f32::EPSILON;
    if e < 1.0 {
        1.0 - e
    } else {
        0.0
    }
}

/// Summation lanes (independent accumulators, so the loop vectorizes).
const LANES: usize = 8;
/// Samples between two early-abandoning checks.
const BLOCK: usize = 64;

/// Adds the LB_Keogh terms of equal-length slices into `lanes`.
#[inline(always)]
fn add_terms(lanes: &mut [f32; LANES], x: &[f32], upper: &[f32], lower: &[f32]) {
    let (xs, us, ls) = (
        x.chunks_exact(LANES),
        upper.chunks_exact(LANES),
        lower.chunks_exact(LANES),
    );
    let (xr, ur, lr) = (xs.remainder(), us.remainder(), ls.remainder());
    for ((xc, uc), lc) in xs.zip(us).zip(ls) {
        for (((acc, &xv), &uv), &lv) in lanes.iter_mut().zip(xc).zip(uc).zip(lc) {
            *acc += keogh_term(xv, uv, lv);
        }
    }
    for (((acc, &xv), &uv), &lv) in lanes.iter_mut().zip(xr).zip(ur).zip(lr) {
        *acc += keogh_term(xv, uv, lv);
    }
}

#[inline(always)]
fn lanes_sum(l: &[f32; LANES]) -> f32 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

/// LB_Keogh in squared units: sum over `i` of `(x[i] - upper[i])^2` where `x[i] > upper[i]` and `(x[i] - lower[i])^2` where `x[i] < lower[i]`; stops early and returns the partial sum once it exceeds `cutoff`.
///
/// Squared units. `upper`/`lower` are the [`envelope`] of the other series with the same `band`;
/// the result is `<= dtw_sq(x, other, band, ..)`, including after f32 rounding (the sum is scaled
/// down by the slack in the module docs, and the early-stop test uses that scaled value). Sums
/// over `i < min(x.len(), upper.len(), lower.len())`; a bound only for equal lengths (unequal
/// ones follow a sloped band, see `dtw`). The check against `cutoff` happens every 64 samples, so the returned partial sum may
/// include a few more terms; any returned value `> cutoff` proves `dtw_sq > cutoff`.
pub fn lb_keogh_sq(x: &[f32], upper: &[f32], lower: &[f32], cutoff: f32) -> f32 {
    let n = x.len().min(upper.len()).min(lower.len());
    let scale = rounding_slack(x.len(), upper.len());
    let mut lanes = [0.0f32; LANES];
    for ((xb, ub), lb) in x[..n]
        .chunks(BLOCK)
        .zip(upper[..n].chunks(BLOCK))
        .zip(lower[..n].chunks(BLOCK))
    {
        add_terms(&mut lanes, xb, ub, lb);
        let bound = lanes_sum(&lanes) * scale;
        if bound > cutoff {
            return bound;
        }
    }
    lanes_sum(&lanes) * scale
}

/// Per-position LB_Keogh terms as suffix sums, for `dtw::dtw_sq_cb`; returns the whole bound.
///
/// Squared units. With `n = min(x.len(), upper.len(), lower.len(), cb.len())` and
/// `term[t] = keogh(x[t], upper[t], lower[t])` (the LB_Keogh summand of [`lb_keogh_sq`]), writes
/// `cb[k] = term[k] + term[k + 1] + ... + term[n - 1]` for `k < n` and `cb[k] = 0` for `k >= n`.
/// So `cb[k]` lower-bounds the cost a warping path spends in positions `>= k` of `x` (rows of
/// `x`, or columns if `x` is the second series of the DTW): pass `x` = either series and the
/// [`envelope`] of the other, with the DTW's `band`. The suffix sums are plain f32 sums;
/// `dtw_sq_cb` applies its own rounding slack. Returns the full LB_Keogh bound (all `n` terms,
/// scaled like [`lb_keogh_sq`], no early stop), which never overestimates `dtw_sq`.
pub fn lb_keogh_cumulative_sq(x: &[f32], upper: &[f32], lower: &[f32], cb: &mut [f32]) -> f32 {
    let n = x.len().min(upper.len()).min(lower.len()).min(cb.len());
    let (head, tail) = cb.split_at_mut(n);
    tail.fill(0.0);
    for (((c, &xv), &uv), &lv) in head.iter_mut().zip(x).zip(upper).zip(lower) {
        *c = keogh_term(xv, uv, lv);
    }
    let mut acc = 0.0f32;
    for c in head.iter_mut().rev() {
        acc += *c;
        *c = acc;
    }
    acc * rounding_slack(x.len(), upper.len())
}

/// The Sakoe-Chiba envelope of each channel of a time-major multichannel series (`channels`
/// floats per time step), written in the same layout: `upper[t * channels + ch]` is the largest
/// sample of channel `ch` within `band` time steps of step `t`. One channel is [`envelope`].
pub fn envelope_channels(
    series: &[f32],
    channels: usize,
    band: usize,
    upper: &mut [f32],
    lower: &mut [f32],
) {
    if channels <= 1 {
        return envelope(series, band, upper, lower);
    }
    let steps = series.len().min(upper.len()).min(lower.len()) / channels;
    let (mut s, mut up, mut lo) = (vec![0.0; steps], vec![0.0; steps], vec![0.0; steps]);
    for ch in 0..channels {
        for (v, x) in s.iter_mut().zip(series.iter().skip(ch).step_by(channels)) {
            *v = *x;
        }
        envelope(&s, band, &mut up, &mut lo);
        let outs = upper.iter_mut().skip(ch).step_by(channels);
        for (o, v) in outs.zip(&up) {
            *o = *v;
        }
        let outs = lower.iter_mut().skip(ch).step_by(channels);
        for (o, v) in outs.zip(&lo) {
            *o = *v;
        }
    }
}

/// LB_Kim (first and last time steps) of two time-major multichannel series in squared units:
/// the squared Euclidean distance across channels between the first steps plus that between the
/// last steps. A lower bound of both multichannel forms (`dtw::dtw_dependent_sq` and
/// `dtw::dtw_independent_sq`), since every path of every channel starts at `(0, 0)` and ends at
/// `(n - 1, m - 1)`; scaled down by the rounding slack for more than one channel (the forms add
/// the same terms in other orders). One channel is exactly [`lb_kim_sq`].
pub fn lb_kim_channels_sq(a: &[f32], b: &[f32], channels: usize) -> f32 {
    if channels <= 1 {
        return lb_kim_sq(a, b);
    }
    let cost =
        |x: &[f32], y: &[f32]| -> f32 { x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum() };
    let (mut sa, mut sb) = (a.chunks_exact(channels), b.chunks_exact(channels));
    let (Some(a0), Some(b0)) = (sa.next(), sb.next()) else {
        return 0.0;
    };
    let first = cost(a0, b0);
    let total = match (sa.next_back(), sb.next_back()) {
        (None, None) => first,
        (an, bm) => first + cost(an.unwrap_or(a0), bm.unwrap_or(b0)),
    };
    total * rounding_slack(2 * channels, 2 * channels)
}

/// [`lb_keogh_cumulative_sq`] over time steps of a time-major multichannel series: `cb[t]` (for
/// `t` below the number of steps) is the sum of the LB_Keogh terms of every channel at steps
/// `>= t`, and the return value is the whole bound (scaled by the rounding slack). A lower bound
/// of both multichannel forms. One channel is exactly [`lb_keogh_cumulative_sq`].
pub fn lb_keogh_cumulative_channels_sq(
    x: &[f32],
    upper: &[f32],
    lower: &[f32],
    channels: usize,
    cb: &mut [f32],
) -> f32 {
    if channels <= 1 {
        return lb_keogh_cumulative_sq(x, upper, lower, cb);
    }
    let n = x.len().min(upper.len()).min(lower.len()) / channels;
    let n = n.min(cb.len());
    let (head, tail) = cb.split_at_mut(n);
    tail.fill(0.0);
    let steps = x
        .chunks_exact(channels)
        .zip(upper.chunks_exact(channels))
        .zip(lower.chunks_exact(channels));
    for (c, ((xs, us), ls)) in head.iter_mut().zip(steps) {
        *c = xs
            .iter()
            .zip(us)
            .zip(ls)
            .map(|((&xv, &uv), &lv)| keogh_term(xv, uv, lv))
            .sum();
    }
    let mut acc = 0.0f32;
    for c in head.iter_mut().rev() {
        acc += *c;
        *c = acc;
    }
    acc * rounding_slack(x.len(), upper.len())
}

/// LB_Keogh between time-major series of unequal lengths under a band of any shape, in squared
/// units: row `i` of `x` (its `i`-th time step) may pair only with steps `lo..=hi` of `y`, the
/// `i`-th pair of `band` (non-decreasing bounds, such as the sloped band of `dtw` or
/// [`super::dtw::SlopedCover`]), so every warping path pays at
/// least the squared distance from `x[i]` to the range of `y` over those steps, channel by
/// channel. Sums those distances over every row and channel, scaled down by the rounding slack
/// so the result never exceeds the f32 DTW. Stops early and returns the partial sum once it
/// exceeds `cutoff`. `queues` is scratch. Rows past the end of `band` and ranges outside `y` end
/// the sum (callers pass a band of `x`'s length over `y`'s steps).
pub fn lb_keogh_band_sq(
    x: &[f32],
    y: &[f32],
    channels: usize,
    band: impl Iterator<Item = (usize, usize)> + Clone,
    cutoff: f32,
    queues: &mut [Vec<usize>; 2],
) -> f32 {
    if channels <= 1 {
        band_core::<1>(x, y, 1, band, cutoff, queues)
    } else {
        band_core::<0>(x, y, channels, band, cutoff, queues)
    }
}

/// [`lb_keogh_band_sq`] with the channel count `C` fixed at compile time (`C == 0`: `channels`).
#[inline(always)]
fn band_core<const C: usize>(
    x: &[f32],
    y: &[f32],
    channels: usize,
    band: impl Iterator<Item = (usize, usize)> + Clone,
    cutoff: f32,
    queues: &mut [Vec<usize>; 2],
) -> f32 {
    let c = if C > 0 { C } else { channels.max(1) };
    let (n, m) = (x.len() / c, y.len() / c);
    let scale = rounding_slack(x.len(), y.len());
    let [up, down] = queues;
    let mut total = 0.0f32;
    for ch in 0..c {
        let at = |t: usize| y[t * c + ch];
        // Monotone queues of steps of `y` (live from their heads): the window's maximum
        // first in `up`, its minimum first in `down`. Both window ends only move right.
        up.clear();
        down.clear();
        let (mut up_head, mut down_head) = (0usize, 0usize);
        let mut next = 0usize; // first step of `y` not yet queued
        for (i, (l, h)) in band.clone().take(n).enumerate() {
            if l > h || h >= m {
                break;
            }
            while next <= h {
                let v = at(next);
                while up.len() > up_head && up.last().is_some_and(|&t| at(t) <= v) {
                    up.pop();
                }
                up.push(next);
                while down.len() > down_head && down.last().is_some_and(|&t| at(t) >= v) {
                    down.pop();
                }
                down.push(next);
                next += 1;
            }
            while up.get(up_head).is_some_and(|&t| t < l) {
                up_head += 1;
            }
            while down.get(down_head).is_some_and(|&t| t < l) {
                down_head += 1;
            }
            let (Some(&u), Some(&d)) = (up.get(up_head), down.get(down_head)) else {
                break;
            };
            total += keogh_term(x[i * c + ch], at(u), at(d));
            if i % BLOCK == BLOCK - 1 && total * scale > cutoff {
                return total * scale;
            }
        }
        if total * scale > cutoff {
            return total * scale;
        }
    }
    total * scale
}

/// Maxima and minima of a time-major series over windows of `2^k` time steps, each channel on
/// its own (a sparse table): the range of any run of steps is then the union of two windows.
#[derive(Debug, Clone, Default)]
pub struct RangeTable {
    channels: usize,
    steps: usize,
    /// `[max, min]` per entry. Level `k` starts at `k * steps * channels`; entry `(t, ch)` covers
    /// steps `t..t + 2^k`.
    range: Vec<[f32; 2]>,
}

impl RangeTable {
    /// Builds the table of `series` (`channels` floats per time step): O(steps log steps).
    pub fn build(&mut self, series: &[f32], channels: usize) {
        let c = channels.max(1);
        let n = series.len() / c;
        let row = n * c;
        self.channels = c;
        self.steps = n;
        let levels = (usize::BITS - n.max(1).leading_zeros()) as usize;
        self.range.clear();
        self.range.extend(series[..row].iter().map(|&v| [v, v]));
        for k in 1..levels {
            let half = (1usize << (k - 1)) * c;
            let base = (k - 1) * row;
            for t in 0..row {
                // Entries past the last full window repeat the shorter one (never read).
                let other = if t + half < row { t + half } else { t };
                let ([a, p], [b, q]) = (self.range[base + t], self.range[base + other]);
                self.range
                    .push([if a > b { a } else { b }, if p < q { p } else { q }]);
            }
        }
    }
}

/// [`lb_keogh_band_sq`] with the range of `y` over each row's steps read from `y`'s
/// [`RangeTable`] (O(1) per row and channel) instead of computed: the same bound, up to f32
/// summation order (both are scaled down by the same slack).
pub fn lb_keogh_table_sq(
    x: &[f32],
    y: &RangeTable,
    band: impl Iterator<Item = (usize, usize)>,
    cutoff: f32,
) -> f32 {
    if y.channels <= 1 {
        table_core::<1>(x, y, band, cutoff)
    } else {
        table_core::<0>(x, y, band, cutoff)
    }
}

/// [`lb_keogh_table_sq`] with the channel count `C` fixed at compile time (`C == 0`: the
/// table's).
#[inline(always)]
fn table_core<const C: usize>(
    x: &[f32],
    y: &RangeTable,
    band: impl Iterator<Item = (usize, usize)>,
    cutoff: f32,
) -> f32 {
    let c = if C > 0 { C } else { y.channels.max(1) };
    let row = y.steps * c;
    let scale = rounding_slack(x.len(), row);
    let mut total = 0.0f32;
    for (i, (xs, (l, h))) in x.chunks_exact(c).zip(band).enumerate() {
        if l > h || h >= y.steps {
            break;
        }
        let k = (usize::BITS - 1 - (h - l + 1).leading_zeros()) as usize;
        let (a, b) = (k * row + l * c, k * row + (h + 1 - (1 << k)) * c);
        let (Some(ra), Some(rb)) = (y.range.get(a..a + c), y.range.get(b..b + c)) else {
            break;
        };
        for ((&x, &[ua, la]), &[ub, lb]) in xs.iter().zip(ra).zip(rb) {
            let up = if ua > ub { ua } else { ub };
            let down = if la < lb { la } else { lb };
            total += keogh_term(x, up, down);
        }
        if i % BLOCK == BLOCK - 1 && total * scale > cutoff {
            return total * scale;
        }
    }
    total * scale
}

/// Time steps of `x` per block of [`lb_paa_table_sq`].
pub const PAA_STEPS: usize = 8;

/// A coarse, cheap form of [`lb_keogh_table_sq`] along the sloped band of thickness `t`
/// between `x` (rows) and `y` (columns) (squared units, scaled by the rounding slack, stopping
/// early above `cutoff`): `x`'s steps in blocks of [`PAA_STEPS`], each block's mean per
/// channel against `y`'s range over the columns of all its rows ([`dtw::BlockCover`]). It is
/// at most LB_Keogh along the same band, so it is a lower bound of DTW wherever LB_Keogh is: a
/// block's range contains each of its rows' ranges, and the squared distance to a range is
/// convex, so the sum over a block's `b` steps is at least `b` times the distance of their
/// mean (Jensen). It costs one range lookup per block instead of one per step. The sums are in
/// f64, so the mean of values inside a range stays inside it.
pub fn lb_paa_table_sq(x: &[f32], y: &RangeTable, t: usize, cutoff: f32) -> f32 {
    if y.channels <= 1 {
        paa_core::<1>(x, y, t, cutoff)
    } else {
        paa_core::<0>(x, y, t, cutoff)
    }
}

/// [`lb_paa_table_sq`] with the channel count `C` fixed at compile time (`C == 0`: the
/// table's).
#[inline(always)]
fn paa_core<const C: usize>(x: &[f32], y: &RangeTable, t: usize, cutoff: f32) -> f32 {
    let c = if C > 0 { C } else { y.channels.max(1) };
    let (n, m) = (x.len() / c, y.steps);
    if n == 0 || m == 0 {
        return 0.0;
    }
    let row = m * c;
    let cover = dtw::BlockCover::new(n, m, t);
    // The f64 -> f32 conversion's rounding on top of the slack of the f32 sums of the DTW.
    let scale = f64::from(rounding_slack(x.len(), row)) * (1.0 - 2.0 * f64::from(f32::EPSILON));
    let mut total = 0.0f64;
    for (b, block) in x[..n * c].chunks(PAA_STEPS * c).enumerate() {
        let first = b * PAA_STEPS;
        let count = block.len() / c;
        let (lo, hi) = cover.span(first, first + count - 1);
        let k = (usize::BITS - 1 - (hi - lo + 1).leading_zeros()) as usize;
        let (a, z) = (k * row + lo * c, k * row + (hi + 1 - (1 << k)) * c);
        let (Some(ra), Some(rz)) = (y.range.get(a..a + c), y.range.get(z..z + c)) else {
            break;
        };
        let weight = count as f64;
        for (ch, (&[ua, la], &[uz, lz])) in ra.iter().zip(rz).enumerate() {
            let up = f64::from(if ua > uz { ua } else { uz });
            let down = f64::from(if la < lz { la } else { lz });
            let sum = if C == 1 && count == PAA_STEPS {
                // A tree of sums (no chain of eight dependent adds).
                let v: [f64; PAA_STEPS] = std::array::from_fn(|i| f64::from(block[i]));
                ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
            } else {
                block[ch..]
                    .iter()
                    .step_by(c)
                    .map(|&v| f64::from(v))
                    .sum::<f64>()
            };
            let mean = sum / weight;
            let (above, below) = ((mean - up).max(0.0), (down - mean).max(0.0));
            total += weight * (above * above + below * below);
        }
        if b % (BLOCK / PAA_STEPS) == BLOCK / PAA_STEPS - 1 && ((total * scale) as f32) > cutoff {
            break;
        }
    }
    (total * scale) as f32
}

/// LB_Keogh of each channel separately (squared units, scaled by the rounding slack): `out[ch]`
/// is a lower bound of channel `ch`'s own DTW, as `dtw::dtw_independent_sq` sums them.
/// `out.len()` is the channel count; time-major layout as in [`envelope_channels`].
pub fn lb_keogh_per_channel_sq(x: &[f32], upper: &[f32], lower: &[f32], out: &mut [f32]) {
    let c = out.len();
    out.fill(0.0);
    if c == 0 {
        return;
    }
    let n = x.len().min(upper.len()).min(lower.len()) / c * c;
    for (k, ((&xv, &uv), &lv)) in x[..n].iter().zip(&upper[..n]).zip(&lower[..n]).enumerate() {
        out[k % c] += keogh_term(xv, uv, lv);
    }
    let scale = rounding_slack(n / c, n / c);
    for o in out.iter_mut() {
        *o *= scale;
    }
}

#[cfg(test)]
mod tests {
    use super::super::dtw::{dtw_dependent_sq, dtw_independent_sq, dtw_sq, dtw_sq_cb, DtwScratch};
    use super::*;
    use proptest::prelude::*;

    /// LB_Keogh of a series against a range table along a cover.
    struct Along<'a>(&'a [f32], &'a RangeTable);
    impl crate::metric::dtw::AlongCover for Along<'_> {
        type Out = f32;
        fn along(self, cover: impl Iterator<Item = (usize, usize)> + Clone) -> f32 {
            lb_keogh_table_sq(self.0, self.1, cover, f32::INFINITY)
        }
    }

    fn naive_envelope(s: &[f32], band: usize) -> (Vec<f32>, Vec<f32>) {
        let n = s.len();
        let mut up = Vec::with_capacity(n);
        let mut lo = Vec::with_capacity(n);
        for i in 0..n {
            let win = &s[i.saturating_sub(band)..=i.saturating_add(band).min(n - 1)];
            up.push(win.iter().copied().fold(f32::NEG_INFINITY, f32::max));
            lo.push(win.iter().copied().fold(f32::INFINITY, f32::min));
        }
        (up, lo)
    }

    fn env(s: &[f32], band: usize) -> (Vec<f32>, Vec<f32>) {
        let mut up = vec![0.0; s.len()];
        let mut lo = vec![0.0; s.len()];
        envelope(s, band, &mut up, &mut lo);
        (up, lo)
    }

    fn dtw(a: &[f32], b: &[f32], band: usize) -> f32 {
        dtw_sq(a, b, band, f32::INFINITY, &mut DtwScratch::new())
    }

    fn series(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
        let value = prop_oneof![(-3i32..=3).prop_map(|v| v as f32), -10.0f32..10.0];
        proptest::collection::vec(value, 1..max_len)
    }

    /// Two series of one length (as in the index), from 1 to `max_len - 1` samples.
    fn pair(max_len: usize) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (1..max_len).prop_flat_map(|n| {
            let value = prop_oneof![(-3i32..=3).prop_map(|v| v as f32), -10.0f32..10.0];
            (
                proptest::collection::vec(value.clone(), n),
                proptest::collection::vec(value, n),
            )
        })
    }

    #[test]
    fn known_values() {
        // a=[0,1,2], b=[0,2,2]: first (0-0)^2 = 0, last (2-2)^2 = 0.
        assert_eq!(lb_kim_sq(&[0.0, 1.0, 2.0], &[0.0, 2.0, 2.0]), 0.0);
        // a=[1,2,3,4], b=[2,3,4,5]: 1 + 1 = 2 (= the full DTW, see dtw tests).
        assert_eq!(lb_kim_sq(&[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 4.0, 5.0]), 2.0);
        assert_eq!(lb_kim_sq(&[1.0], &[3.0]), 4.0);
        assert_eq!(lb_kim_sq(&[], &[3.0]), 0.0);
        // Envelope of [3,1,4,1,5,9,2] with band 1:
        //   upper = [3,4,4,5,9,9,9], lower = [1,1,1,1,1,2,2].
        let (up, lo) = env(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0], 1);
        assert_eq!(up, [3.0, 4.0, 4.0, 5.0, 9.0, 9.0, 9.0]);
        assert_eq!(lo, [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0]);
        // LB_Keogh of x=[0,5,0] against upper=[3,4,4], lower=[1,1,1]:
        //   (0-1)^2 + (5-4)^2 + (0-1)^2 = 3, times the slack (1 - 13 eps).
        let lb = lb_keogh_sq(
            &[0.0, 5.0, 0.0],
            &[3.0, 4.0, 4.0],
            &[1.0, 1.0, 1.0],
            f32::INFINITY,
        );
        assert!(lb <= 3.0 && lb > 3.0 * (1.0 - 1e-5), "{lb}");
        let mut cb = [9.0f32; 5];
        let total = lb_keogh_cumulative_sq(
            &[0.0, 5.0, 0.0],
            &[3.0, 4.0, 4.0],
            &[1.0, 1.0, 1.0],
            &mut cb,
        );
        assert_eq!(cb, [3.0, 2.0, 1.0, 0.0, 0.0]);
        assert_eq!(total, lb);
    }

    #[test]
    fn edge_cases_do_not_panic() {
        let (mut up, mut lo) = (vec![7.0; 3], vec![7.0; 2]);
        envelope(&[1.0, 2.0, 3.0], usize::MAX, &mut up, &mut lo);
        assert_eq!(up, [2.0, 2.0, 7.0]); // envelope of the common prefix [1, 2]
        assert_eq!(lo, [1.0, 1.0]);
        envelope(&[], 3, &mut [], &mut []);
        assert_eq!(lb_keogh_sq(&[], &[], &[], 0.0), 0.0);
        assert_eq!(
            lb_keogh_sq(&[1.0, 2.0], &[0.0], &[0.0], f32::INFINITY),
            1.0 * rounding_slack(2, 1)
        );
        assert_eq!(lb_keogh_cumulative_sq(&[1.0], &[0.0], &[0.0], &mut []), 0.0);
    }

    #[test]
    fn early_stop_returns_partial_sum_above_cutoff() {
        let x = vec![2.0f32; 1000];
        let (up, lo) = (vec![1.0f32; 1000], vec![0.0f32; 1000]);
        let full = lb_keogh_sq(&x, &up, &lo, f32::INFINITY);
        assert!(full > 999.0 && full <= 1000.0);
        let partial = lb_keogh_sq(&x, &up, &lo, 10.0);
        assert!(partial > 10.0 && partial <= 64.0, "{partial}");
    }

    /// Two series of `a` and `b` floats from a seeded generator: small integers (ties) when
    /// `ints`, else reals in [-10, 10).
    fn seeded_pair(seed: u64, ints: bool, a: usize, b: usize) -> (Vec<f32>, Vec<f32>) {
        let mut r = seed;
        let mut next = || {
            r = r
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (r >> 40) as f32 / (1u64 << 24) as f32;
            if ints {
                (u * 7.0).floor() - 3.0
            } else {
                u * 20.0 - 10.0
            }
        };
        let x = (0..a).map(|_| next()).collect();
        let y = (0..b).map(|_| next()).collect();
        (x, y)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn envelope_equals_naive(x in series(60), band in 0usize..70) {
            let (up, lo) = env(&x, band);
            let (nup, nlo) = naive_envelope(&x, band);
            prop_assert_eq!(up, nup);
            prop_assert_eq!(lo, nlo);
        }

        #[test]
        fn multichannel_bounds_stay_below_both_forms(
            (c, steps) in (1usize..6, 1usize..25),
            seed in any::<u64>(),
            band in 0usize..28,
            ints in any::<bool>(),
        ) {
            // Two equal-length time-major series of `c` channels (small integers give ties).
            let (x, y) = seeded_pair(seed, ints, steps * c, steps * c);
            let mut s = DtwScratch::new();
            let dep = dtw_dependent_sq(&x, &y, c, band, f32::INFINITY, &mut s);
            let ind = dtw_independent_sq(&x, &y, c, band, f32::INFINITY, &mut s);
            let (mut ux, mut lx) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            let (mut uy, mut ly) = (vec![0.0; y.len()], vec![0.0; y.len()]);
            envelope_channels(&x, c, band, &mut ux, &mut lx);
            envelope_channels(&y, c, band, &mut uy, &mut ly);
            // The envelope is each channel's own envelope, interleaved.
            for ch in 0..c {
                let xc: Vec<f32> = x.iter().skip(ch).step_by(c).copied().collect();
                let (u1, l1) = env(&xc, band);
                let ui: Vec<f32> = ux.iter().skip(ch).step_by(c).copied().collect();
                let li: Vec<f32> = lx.iter().skip(ch).step_by(c).copied().collect();
                prop_assert_eq!(ui, u1);
                prop_assert_eq!(li, l1);
            }
            let kim = lb_kim_channels_sq(&x, &y, c);
            let mut cb = vec![0.0; steps];
            let fwd = lb_keogh_cumulative_channels_sq(&x, &uy, &ly, c, &mut cb);
            let rev = lb_keogh_cumulative_channels_sq(&y, &ux, &lx, c, &mut cb);
            let flat_fwd = lb_keogh_sq(&x, &uy, &ly, f32::INFINITY);
            let mut per = vec![0.0; c];
            lb_keogh_per_channel_sq(&x, &uy, &ly, &mut per);
            let per_sum: f32 = per.iter().sum();
            // Every bound below DTW_I, which is below DTW_D, as the f32 values come out.
            for (name, lb) in [("kim", kim), ("fwd", fwd), ("rev", rev), ("flat", flat_fwd), ("per", per_sum)] {
                prop_assert!(lb <= ind, "{} {} > DTW_I {} (c={}, band={})", name, lb, ind, c, band);
            }
            prop_assert!(ind <= dep * (1.0 + 1e-5), "DTW_I {} > DTW_D {}", ind, dep);
            // Each channel's bound is below that channel's DTW.
            for (ch, &b) in per.iter().enumerate() {
                let xc: Vec<f32> = x.iter().skip(ch).step_by(c).copied().collect();
                let yc: Vec<f32> = y.iter().skip(ch).step_by(c).copied().collect();
                prop_assert!(b <= dtw(&xc, &yc, band), "channel {}", ch);
            }
            if c == 1 {
                prop_assert_eq!(kim, lb_kim_sq(&x, &y));
                let mut cb1 = vec![0.0; steps];
                let one = lb_keogh_cumulative_sq(&x, &uy, &ly, &mut cb1);
                prop_assert_eq!(fwd.to_bits(), one.to_bits());
            }
        }

        #[test]
        fn paa_bound_of_equal_values_is_zero(n in 1usize..40, m in 1usize..40, band in 0usize..12, v in -5.0f32..5.0) {
            // Every mean of values inside a range stays inside it: no rounding above zero.
            let (x, y) = (vec![v; n], vec![v; m]);
            let mut table = RangeTable::default();
            table.build(&y, 1);
            prop_assert_eq!(lb_paa_table_sq(&x, &table, band, f32::INFINITY), 0.0);
        }

        #[test]
        fn band_bound_of_unequal_lengths_stays_below_both_forms(
            (c, n, m) in (1usize..4, 1usize..40, 1usize..40),
            seed in any::<u64>(),
            band in 0usize..12,
            ints in any::<bool>(),
            cut in prop::option::of(0.0f32..50.0),
        ) {
            let (x, y) = seeded_pair(seed, ints, n * c, m * c);
            let mut s = DtwScratch::new();
            let dep = dtw_dependent_sq(&x, &y, c, band, f32::INFINITY, &mut s);
            let ind = dtw_independent_sq(&x, &y, c, band, f32::INFINITY, &mut s);
            let mut queues = [Vec::new(), Vec::new()];
            for (a, b, rows, cols) in [(&x, &y, n, m), (&y, &x, m, n)] {
                let (mut lo, mut hi) = (Vec::new(), Vec::new());
                crate::metric::dtw::sloped_band(rows, cols, band, &mut lo, &mut hi);
                let pairs = lo.iter().copied().zip(hi.iter().copied());
                let lb = lb_keogh_band_sq(a, b, c, pairs.clone(), f32::INFINITY, &mut queues);
                prop_assert!(lb <= ind, "band LB {} > DTW_I {} (n={}, m={}, band={})", lb, ind, n, m, band);
                prop_assert!(ind <= dep * (1.0 + 1e-5));
                // The sum of the distances to each row's range, computed naively (f64).
                let mut naive = 0.0f64;
                for i in 0..rows {
                    for ch in 0..c {
                        let range = (lo[i]..=hi[i]).map(|t| b[t * c + ch]);
                        let (up, down) = range.fold((f32::MIN, f32::MAX), |(u, d), v| (u.max(v), d.min(v)));
                        naive += f64::from(keogh_term(a[i * c + ch], up, down));
                    }
                }
                prop_assert!((f64::from(lb) - naive).abs() <= 1e-4 * naive.max(1.0), "{} vs naive {}", lb, naive);
                let mut table = RangeTable::default();
                table.build(b, c);
                let fast = lb_keogh_table_sq(a, &table, pairs.clone(), f32::INFINITY);
                prop_assert!((fast - lb).abs() <= 1e-5 * lb.max(1.0), "table {} vs {}", fast, lb);
                prop_assert!(fast <= ind, "table LB {} > DTW_I {}", fast, ind);
                // The block form along the band's cover: below LB_Keogh along that cover, which
                // is at most the band's own (a cover holds the band).
                let covered = crate::metric::dtw::with_sloped_cover(rows, cols, band, Along(a, &table));
                let paa = lb_paa_table_sq(a, &table, band, f32::INFINITY);
                prop_assert!(covered <= fast * (1.0 + 1e-5) + 1e-6, "cover {} > band {}", covered, fast);
                prop_assert!(paa <= covered * (1.0 + 1e-5) + 1e-6, "PAA {} > cover LB {}", paa, covered);
                prop_assert!(paa <= ind, "PAA LB {} > DTW_I {} (n={}, m={}, band={})", paa, ind, rows, cols, band);
                if let Some(cut) = cut {
                    let early = lb_paa_table_sq(a, &table, band, cut);
                    prop_assert!(early == paa || (early > cut && early <= paa), "{} {} {}", early, paa, cut);
                }
                // Stopping early only ever reports a value above the cutoff.
                if let Some(cut) = cut {
                    let early = lb_keogh_band_sq(a, b, c, pairs.clone(), cut, &mut queues);
                    prop_assert!(early == lb || early > cut, "{} {} {}", early, lb, cut);
                }
            }
        }

        #[test]
        fn lb_kim_below_dtw(x in series(40), y in series(40), band in 0usize..45) {
            let d = dtw(&x, &y, band);
            prop_assert!(lb_kim_sq(&x, &y) <= d);
            prop_assert!(lb_kim_sq(&y, &x) <= d);
        }

        #[test]
        fn lb_keogh_below_dtw_both_ways((x, y) in pair(40), band in 0usize..45) {
            let d = dtw(&x, &y, band);
            let (xu, xl) = env(&x, band);
            let (yu, yl) = env(&y, band);
            let q = lb_keogh_sq(&x, &yu, &yl, f32::INFINITY);
            let c = lb_keogh_sq(&y, &xu, &xl, f32::INFINITY);
            prop_assert!(q <= d, "query vs candidate envelope {} > dtw {}", q, d);
            prop_assert!(c <= d, "candidate vs query envelope {} > dtw {}", c, d);
        }

        #[test]
        fn lb_keogh_early_stop(x in series(300), y in series(300), band in 0usize..10, cutoff in 0.0f32..500.0) {
            let (yu, yl) = env(&y, band);
            let full = lb_keogh_sq(&x, &yu, &yl, f32::INFINITY);
            let part = lb_keogh_sq(&x, &yu, &yl, cutoff);
            if full <= cutoff {
                prop_assert_eq!(part, full);
            } else {
                prop_assert!(part > cutoff && part <= full);
            }
        }

        #[test]
        fn cumulative_matches_terms(x in series(100), y in series(100), band in 0usize..10) {
            let (yu, yl) = env(&y, band);
            let mut cb = vec![f32::NAN; x.len() + 3];
            let total = lb_keogh_cumulative_sq(&x, &yu, &yl, &mut cb);
            let n = x.len().min(y.len());
            for (k, &got) in cb.iter().enumerate() {
                let want: f64 = (k..n).map(|t| {
                    let (v, u, l) = (x[t] as f64, yu[t] as f64, yl[t] as f64);
                    if v > u { (v - u).powi(2) } else if v < l { (v - l).powi(2) } else { 0.0 }
                }).sum();
                prop_assert!((got as f64 - want).abs() <= 1e-4 * want.max(1.0), "k {}: {} vs {}", k, got, want);
            }
            let lb = lb_keogh_sq(&x, &yu, &yl, f32::INFINITY);
            prop_assert!((total - lb).abs() <= 1e-4 * lb.max(1.0));
        }

        #[test]
        fn dtw_cb_exact_when_not_abandoning(
            (x, y) in pair(40), band in 0usize..45, frac in 0.0f32..2.0, swap in any::<bool>(),
        ) {
            let exact = dtw(&x, &y, band);
            // cb from either orientation: x's terms (rows) or y's terms (columns).
            let (ex, ey) = if swap { (&y, &x) } else { (&x, &y) };
            let (u, l) = env(ey, band);
            let mut cb = vec![0.0; ex.len()];
            lb_keogh_cumulative_sq(ex, &u, &l, &mut cb);
            let mut s = DtwScratch::new();
            let cutoffs = [exact, exact * frac, exact * (1.0 + 1e-6), exact * (1.0 - 1e-6),
                           f32::INFINITY, 0.0];
            for cutoff in cutoffs {
                let got = dtw_sq_cb(&x, &y, band, cutoff, &cb, &mut s);
                if exact <= cutoff {
                    prop_assert!(got == exact, "cutoff {}: got {} exact {}", cutoff, got, exact);
                } else {
                    prop_assert!(got > cutoff, "cutoff {}: got {} exact {}", cutoff, got, exact);
                }
            }
        }

        #[test]
        fn dtw_cb_exact_long_series(
            (x, y) in pair(400), band in 0usize..40, frac in 0.5f32..1.5,
        ) {
            let exact = dtw(&x, &y, band);
            let (u, l) = env(&y, band);
            let mut cb = vec![0.0; x.len()];
            lb_keogh_cumulative_sq(&x, &u, &l, &mut cb);
            let mut s = DtwScratch::new();
            for cutoff in [exact, exact * frac] {
                let got = dtw_sq_cb(&x, &y, band, cutoff, &cb, &mut s);
                if exact <= cutoff {
                    prop_assert!(got == exact, "cutoff {}: got {} exact {}", cutoff, got, exact);
                } else {
                    prop_assert!(got > cutoff);
                }
            }
            let (xu, xl) = env(&x, band);
            prop_assert!(lb_keogh_sq(&x, &u, &l, f32::INFINITY) <= exact);
            prop_assert!(lb_keogh_sq(&y, &xu, &xl, f32::INFINITY) <= exact);
        }
    }
}
