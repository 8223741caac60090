//! Banded dynamic time warping (DTW) with early abandoning: the hot kernel of DTW search.
//!
//! # Definition (used everywhere in this crate)
//!
//! For series `a` (length `n`) and `b` (length `m`), a *warping path* is a sequence of cells
//! `(i, j)` from `(0, 0)` to `(n - 1, m - 1)` where each step moves to `(i + 1, j)`, `(i, j + 1)`
//! or `(i + 1, j + 1)`. With a Sakoe-Chiba band of radius `band` (in samples), a cell is allowed
//! iff `|i - j| <= band`. The DTW value in **squared units** is
//!
//! ```text
//! dtw_sq(a, b) = min over allowed warping paths P of  sum_{(i, j) in P} (a[i] - b[j])^2
//! ```
//!
//! and the DTW *distance* reported to users is `sqrt(dtw_sq)`; every function in this module works
//! in squared units and leaves the square root to the caller.
//!
//! - `band = 0` with `n == m` is the squared Euclidean distance; `band >= max(n, m) - 1` is
//!   unconstrained DTW.
//! - **Unequal lengths** (`n != m`, series of a variable-length index): the straight band
//!   `|i - j| <= band` would miss the corner `(n - 1, m - 1)` once `|n - m| > band`, so the band
//!   instead follows the diagonal from `(0, 0)` to `(n - 1, m - 1)`, exactly as aeon's Sakoe-Chiba
//!   window does (aeon 1.x `create_bounding_matrix`): `band` is its thickness, in time steps of
//!   the shorter series, around `max(n, m) + 1` evenly spaced points of that diagonal (see
//!   `sloped_band`). For equal lengths the two rules allow the same cells. This matches aeon
//!   (whose `window` fraction `w` is a thickness of `int(w * min(n, m))`) rather than tslearn
//!   (whose `sakoe_chiba_radius` widens the straight band by `|n - m|`), because aeon's
//!   k-NN estimators are the ones pyembed's replace: the same band gives the same neighbours.
//!   `band >= max(n, m)` is unconstrained DTW in both cases, and a path always exists.
//! - Two empty series are at distance `0`; an empty and a non-empty series are at distance
//!   `f32::INFINITY` (no warping path exists).
//! - Inputs are expected to be finite (the index rejects non-finite data where it enters); with
//!   NaN or infinite samples the result is unspecified, but nothing panics.
//!
//! # Early abandoning
//!
//! Every function takes a `cutoff` in squared units and returns the exact value whenever that value
//! is `<= cutoff`; otherwise it returns *some* value `> cutoff` (this implementation returns
//! `f32::INFINITY`). A NaN `cutoff` is treated as `f32::INFINITY` (no abandoning).
//!
//! The dynamic program keeps two rows of length `m + 1` (O(length) memory in a reusable
//! [`DtwScratch`]) and prunes like EAPrunedDTW (Herrmann & Webb, 2021): any cell whose
//! cumulative cost already exceeds the row's threshold cannot lie on a path of total `<= cutoff`,
//! so each row is computed only between the first and one past the last cell still under the
//! threshold of the row above; when a whole row exceeds it, the computation stops. Because every
//! step adds a non-negative cost and f32 rounding is monotone, a pruned cell is `> cutoff` in the
//! very f32 arithmetic used here, so a result `<= cutoff` is bit-identical to the unpruned one.
//!
//! [`dtw_sq_cb`] additionally lowers row `i`'s threshold by `cb[i + band + 1]`, a lower bound on
//! the cost still to come (UCR Suite style, built by `bounds::lb_keogh_cumulative_sq`), with a
//! small relative slack that absorbs f32 rounding so exactness is kept.

/// Reusable O(length) scratch for banded DTW (two rows of the band).
///
/// Holds two `f32` rows of `m + 1` cumulative costs (squared units) for the longest `b` seen so
/// far; it grows on first use and is reused without allocating afterwards. Its contents carry no
/// meaning between calls.
#[derive(Debug, Clone, Default)]
pub struct DtwScratch {
    prev: Vec<f32>,
    curr: Vec<f32>,
    /// First and last allowed column of every row, for series of unequal lengths.
    band_lo: Vec<usize>,
    band_hi: Vec<usize>,
}

impl DtwScratch {
    /// Empty scratch (no allocation until the first DTW call; buffers hold squared-unit costs).
    pub fn new() -> Self {
        Self::default()
    }
}

/// Banded DTW in squared units with early abandoning: returns the exact value when it is <= cutoff, otherwise
/// returns some value > cutoff (f32::INFINITY is fine) as soon as a whole row of the band exceeds cutoff.
///
/// `band` is the Sakoe-Chiba radius in samples and `cutoff` is in squared units (see the module
/// docs for the definition). Never panics: empty inputs, `band = 0`, `band >= length` and unequal
/// lengths are all handled as documented at module level (`f32::INFINITY` when `|a.len() -
/// b.len()| > band`). Time O(`a.len()` * (2 `band` + 1)), memory O(`b.len()`) in `scratch`.
pub fn dtw_sq(a: &[f32], b: &[f32], band: usize, cutoff: f32, scratch: &mut DtwScratch) -> f32 {
    dtw_core(a, b, band, cutoff, &[], scratch)
}

/// Banded DTW in squared units, abandoning early with the help of a cumulative lower bound `cb`.
///
/// Same contract and units as [`dtw_sq`]: the exact value when it is `<= cutoff`, otherwise some
/// value `> cutoff` (`f32::INFINITY`). `cb[k]` must be a lower bound (squared units) on the summed
/// cost of the path cells lying in rows `>= k` or in columns `>= k`, e.g. the suffix sums
/// `cb[k] = sum_{t >= k} term[t]` of LB_Keogh terms computed by
/// `bounds::lb_keogh_cumulative_sq` for either series against the other's envelope with the same
/// `band`. After row `i` (a sample of `a`) the remaining path must still cross every column
/// `>= i + band + 1`, so a cell of row `i` whose cumulative cost plus `cb[i + band + 1]` exceeds
/// `cutoff` is pruned (indices `>= cb.len()` count as `0`; an empty `cb` gives [`dtw_sq`]).
/// Rounding is absorbed by a relative slack of `(a.len() + b.len() + cb.len() + 4) * f32::EPSILON`.
/// A `cb` that is not a valid lower bound may cause a wrong (too large) result, never a panic.
pub fn dtw_sq_cb(
    a: &[f32],
    b: &[f32],
    band: usize,
    cutoff: f32,
    cb: &[f32],
    scratch: &mut DtwScratch,
) -> f32 {
    dtw_core(a, b, band, cutoff, cb, scratch)
}

/// Banded DTW of two multichannel series in squared units, in the *dependent* form (DTW_D): one
/// warping path for all channels, the cost of cell `(i, j)` being the squared Euclidean distance
/// between time step `i` of `a` and time step `j` of `b` across all `channels`.
///
/// Series are time-major: time step `t` is `a[t * channels .. (t + 1) * channels]`, so `a` holds
/// `a.len() / channels` steps (a trailing partial step is ignored). `band` is in time steps and
/// `cutoff` in squared units, with the contract of [`dtw_sq`]; `channels == 1` equals [`dtw_sq`].
/// `channels == 0` gives `0` for two empty inputs and `f32::INFINITY` otherwise.
pub fn dtw_dependent_sq(
    a: &[f32],
    b: &[f32],
    channels: usize,
    band: usize,
    cutoff: f32,
    scratch: &mut DtwScratch,
) -> f32 {
    dtw_dependent_sq_cb(a, b, channels, band, cutoff, &[], scratch)
}

/// [`dtw_dependent_sq`] abandoning early with a cumulative lower bound `cb` over time steps
/// (`cb[k]` bounds the cost of the path cells in rows or columns `>= k`, as in [`dtw_sq_cb`]).
pub(crate) fn dtw_dependent_sq_cb(
    a: &[f32],
    b: &[f32],
    channels: usize,
    band: usize,
    cutoff: f32,
    cb: &[f32],
    scratch: &mut DtwScratch,
) -> f32 {
    match channels {
        0 => {
            if a.is_empty() && b.is_empty() {
                0.0
            } else {
                f32::INFINITY
            }
        }
        1 => dtw_core(a, b, band, cutoff, cb, scratch),
        2 => dtw_fixed::<2>(a, b, band, cutoff, cb, scratch),
        3 => dtw_fixed::<3>(a, b, band, cutoff, cb, scratch),
        4 => dtw_fixed::<4>(a, b, band, cutoff, cb, scratch),
        6 => dtw_fixed::<6>(a, b, band, cutoff, cb, scratch),
        8 => dtw_fixed::<8>(a, b, band, cutoff, cb, scratch),
        c => dtw_core(
            Frames { data: a, c },
            Frames { data: b, c },
            band,
            cutoff,
            cb,
            scratch,
        ),
    }
}

/// [`dtw_core`] over time steps of a channel count known at compile time, so the cost of a cell
/// (the sum over the channels) is an unrolled loop instead of one of runtime length.
#[inline]
fn dtw_fixed<const C: usize>(
    a: &[f32],
    b: &[f32],
    band: usize,
    cutoff: f32,
    cb: &[f32],
    scratch: &mut DtwScratch,
) -> f32 {
    dtw_core(
        FixedFrames::<C> { data: a },
        FixedFrames::<C> { data: b },
        band,
        cutoff,
        cb,
        scratch,
    )
}

/// Banded DTW of two multichannel series in squared units, in the *independent* form (DTW_I): the
/// sum over channels of each channel's own DTW (each channel warps on its own path).
///
/// Same layout, units and cutoff contract as [`dtw_dependent_sq`]; a channel whose DTW is
/// infinite makes the sum infinite. Since every path of DTW_D is a candidate path of each
/// channel, `dtw_independent_sq <= dtw_dependent_sq` (up to f32 rounding), and both equal
/// [`dtw_sq`] for one channel. Stops as soon as the channels done so far exceed `cutoff`.
pub fn dtw_independent_sq(
    a: &[f32],
    b: &[f32],
    channels: usize,
    band: usize,
    cutoff: f32,
    scratch: &mut DtwScratch,
) -> f32 {
    dtw_independent_sq_lb(a, b, channels, band, cutoff, &[], scratch)
}

/// [`dtw_independent_sq`] when `independent`, else [`dtw_dependent_sq`]: DTW in a metric's form
/// (same layout, units and cutoff contract).
pub(crate) fn dtw_form_sq(
    independent: bool,
    a: &[f32],
    b: &[f32],
    channels: usize,
    band: usize,
    cutoff: f32,
    scratch: &mut DtwScratch,
) -> f32 {
    if independent {
        dtw_independent_sq(a, b, channels, band, cutoff, scratch)
    } else {
        dtw_dependent_sq(a, b, channels, band, cutoff, scratch)
    }
}

/// [`dtw_independent_sq`] that lowers each channel's cutoff by `rest[ch]`, a lower bound on the
/// DTW of each later channel (squared units; empty: no bound), and by what the earlier channels
/// already cost: channel `ch` may abandon once the sum can no longer stay `<= cutoff`. Rounding
/// is absorbed by a relative slack, so a result `<= cutoff` is the exact sum.
pub(crate) fn dtw_independent_sq_lb(
    a: &[f32],
    b: &[f32],
    channels: usize,
    band: usize,
    cutoff: f32,
    rest: &[f32],
    scratch: &mut DtwScratch,
) -> f32 {
    if channels <= 1 {
        return dtw_dependent_sq_cb(a, b, channels, band, cutoff, &[], scratch);
    }
    let cutoff = if cutoff.is_nan() {
        f32::INFINITY
    } else {
        cutoff
    };
    // f32 subtraction loses precision relative to the operands, not to the difference: the
    // slack is relative to the cutoff.
    let slack = (channels + 4) as f32 * 4.0 * f32::EPSILON;
    // Lower bound of the channels not yet computed.
    let mut ahead: f32 = rest.iter().take(channels).sum();
    let mut total = 0.0f32;
    for ch in 0..channels {
        ahead -= rest.get(ch).copied().unwrap_or(0.0);
        let budget = if cutoff < f32::INFINITY {
            let ahead = ahead.max(0.0);
            (cutoff - total - ahead).max(0.0) + (cutoff + total + ahead) * slack
        } else {
            f32::INFINITY
        };
        let ca = Channel {
            data: a,
            c: channels,
            ch,
        };
        let cb = Channel {
            data: b,
            c: channels,
            ch,
        };
        let d = dtw_core(ca, cb, band, budget, &[], scratch);
        if d > budget {
            return f32::INFINITY;
        }
        total += d;
        if total > cutoff {
            return f32::INFINITY;
        }
    }
    total
}

/// A series as the DTW kernel reads it: a number of time steps, any run of consecutive steps as
/// an iterator, and the cost of pairing two steps (squared units).
trait Steps: Copy {
    /// One time step.
    type Step: Copy;
    /// Consecutive time steps.
    type Run: Iterator<Item = Self::Step>;
    /// Number of time steps.
    fn len(self) -> usize;
    /// Steps `lo..=hi`, or `None` when the range does not fit.
    fn range(self, lo: usize, hi: usize) -> Option<Self::Run>;
    /// Cost of the cell pairing steps `a` and `b` (squared units).
    fn cost(a: Self::Step, b: Self::Step) -> f32;
}

/// One channel: a plain slice of samples.
impl<'s> Steps for &'s [f32] {
    type Step = f32;
    type Run = std::iter::Copied<std::slice::Iter<'s, f32>>;
    #[inline(always)]
    fn len(self) -> usize {
        <[f32]>::len(self)
    }
    #[inline(always)]
    fn range(self, lo: usize, hi: usize) -> Option<Self::Run> {
        self.get(lo..=hi).map(|s| s.iter().copied())
    }
    #[inline(always)]
    fn cost(a: f32, b: f32) -> f32 {
        let d = a - b;
        d * d
    }
}

/// Time-major multichannel samples, `c` floats per step (the dependent form's cell cost).
#[derive(Clone, Copy)]
struct Frames<'s> {
    data: &'s [f32],
    c: usize,
}

impl<'s> Steps for Frames<'s> {
    type Step = &'s [f32];
    type Run = std::slice::ChunksExact<'s, f32>;
    #[inline(always)]
    fn len(self) -> usize {
        self.data.len() / self.c
    }
    #[inline(always)]
    fn range(self, lo: usize, hi: usize) -> Option<Self::Run> {
        self.data
            .get(lo * self.c..(hi + 1) * self.c)
            .map(|s| s.chunks_exact(self.c))
    }
    #[inline(always)]
    fn cost(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }
}

/// Time steps of time-major samples with `C` channels, `C` fixed at compile time (as
/// [`Frames`]; a trailing partial step is ignored).
#[derive(Clone, Copy)]
struct FixedFrames<'s, const C: usize> {
    data: &'s [f32],
}

impl<'s, const C: usize> Steps for FixedFrames<'s, C> {
    type Step = &'s [f32; C];
    type Run = std::slice::Iter<'s, [f32; C]>;
    #[inline(always)]
    fn len(self) -> usize {
        self.data.len() / C
    }
    #[inline(always)]
    fn range(self, lo: usize, hi: usize) -> Option<Self::Run> {
        self.data.as_chunks::<C>().0.get(lo..=hi).map(|s| s.iter())
    }
    #[inline(always)]
    fn cost(a: &[f32; C], b: &[f32; C]) -> f32 {
        let mut sum = 0.0;
        for k in 0..C {
            let d = a[k] - b[k];
            sum += d * d;
        }
        sum
    }
}

/// Channel `ch` of time-major multichannel samples with `c` channels (the independent form).
#[derive(Clone, Copy)]
struct Channel<'s> {
    data: &'s [f32],
    c: usize,
    ch: usize,
}

impl<'s> Steps for Channel<'s> {
    type Step = f32;
    type Run = std::iter::StepBy<std::iter::Copied<std::slice::Iter<'s, f32>>>;
    #[inline(always)]
    fn len(self) -> usize {
        self.data.len() / self.c
    }
    #[inline(always)]
    fn range(self, lo: usize, hi: usize) -> Option<Self::Run> {
        if hi >= self.len() {
            return None;
        }
        self.data
            .get(lo * self.c + self.ch..=hi * self.c + self.ch)
            .map(|s| s.iter().copied().step_by(self.c))
    }
    #[inline(always)]
    fn cost(a: f32, b: f32) -> f32 {
        let d = a - b;
        d * d
    }
}

/// `a` if `a < b`, else `b`: a single `minss` (inputs are finite or +inf here).
#[inline(always)]
fn min2(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// The pruned, banded DP shared by [`dtw_sq`] and [`dtw_sq_cb`].
///
/// Buffers are indexed by column + 1, so index 0 stands for column -1. For the row above the
/// current one, `[s, pp)` is the range of columns whose cumulative cost is under that row's
/// threshold ("live"); every other column of that row counts as +inf. Invariant: the row above has
/// a written value or +inf at every column in `[j_start - 1, j_last + 1]` of its own computation,
/// and the current row only reads columns inside that range, so no stale value is ever read.
fn dtw_core<S: Steps>(
    a: S,
    b: S,
    band: usize,
    cutoff: f32,
    cb: &[f32],
    scratch: &mut DtwScratch,
) -> f32 {
    const INF: f32 = f32::INFINITY;
    let n = a.len();
    let m = b.len();
    if n == 0 || m == 0 {
        return if n == m { 0.0 } else { INF };
    }
    let cutoff = if cutoff.is_nan() { INF } else { cutoff };
    // Radius beyond the longest length changes nothing; clamping keeps `i + w` from overflowing.
    let w = band.min(n.max(m));
    // Unequal lengths: the band follows the sloped diagonal (rows' column ranges precomputed);
    // the cumulative bound assumes the straight one, so it is not used.
    let sloped = n != m && w < n.max(m);
    let cb = if n == m { cb } else { &[] };
    let mut ranges = (
        std::mem::take(&mut scratch.band_lo),
        std::mem::take(&mut scratch.band_hi),
    );
    if sloped {
        sloped_band(n, m, w, &mut ranges.0, &mut ranges.1);
    }
    let d = dtw_rows(
        a,
        b,
        w,
        sloped.then_some((&ranges.0, &ranges.1)),
        cutoff,
        cb,
        scratch,
    );
    (scratch.band_lo, scratch.band_hi) = ranges;
    d
}

/// The allowed columns of every row of the `n x m` cost matrix between series of unequal lengths
/// (`lo[i]..=hi[i]` for row `i`): aeon's Sakoe-Chiba window (`_sakoe_chiba_bounding` of aeon
/// 1.x, with its thickness `t` given in time steps of the shorter series). The diagonal is
/// sampled at `max(n, m) + 1` evenly spaced steps `s`, at row `floor(s / (max + 1) * n)` and column
/// `floor(s / (max + 1) * m)` (computed in f64 as aeon does, so the cells are the same); each
/// sample allows the cells within `t` of it along the shorter series' axis. Both bounds are
/// non-decreasing, every row has at least one cell, and cells `(0, 0)` and `(n - 1, m - 1)` are
/// always allowed, so a path always exists.
pub(crate) fn sloped_band(n: usize, m: usize, t: usize, lo: &mut Vec<usize>, hi: &mut Vec<usize>) {
    let steps = n.max(m) + 1;
    lo.clear();
    hi.clear();
    lo.resize(n, 0);
    hi.resize(n, m - 1);
    if n <= m {
        // Rows are the shorter axis: sample s allows rows within t of its row, at its column.
        // A row's first column is that of the first sample within t of it, its last column
        // that of the last one.
        let (mut next, mut done, mut prev_c) = (0, 0, 0);
        for (r, c) in diagonal(steps, n).zip(diagonal(steps, m)) {
            let end = (r + t + 1).min(n);
            while next < end {
                lo[next] = c;
                next += 1;
            }
            // Rows more than t below this sample's row had their last sample before it.
            while done < n && r > done + t {
                hi[done] = prev_c;
                done += 1;
            }
            prev_c = c;
        }
        for h in hi.iter_mut().skip(done) {
            *h = prev_c;
        }
    } else {
        // Columns are the shorter axis: sample s allows columns within t of its column, at its
        // row; a row's range spans those of all the samples on it.
        let mut last = usize::MAX;
        for (r, c) in diagonal(steps, n).zip(diagonal(steps, m)) {
            if let (Some(l), Some(h)) = (lo.get_mut(r), hi.get_mut(r)) {
                if r != last {
                    *l = c.saturating_sub(t);
                    last = r;
                }
                *h = (c + t).min(m - 1);
            }
        }
    }
}

/// A superset of row `i`'s allowed columns in [`sloped_band`]`(n, m, t)` in O(1): the range of
/// columns that the sampled diagonal can reach from that row, widened by two steps on each
/// side for the floors and the f64 rounding of aeon's sampling. Both ends are non-decreasing
/// in `i`; for `i < n` and `m > 0` the range lies in `0..m`. Lower bounds over a superset stay
/// lower bounds (the range of a larger set is wider), so this serves them without building
/// the exact band.
#[cfg(test)]
fn sloped_band_cover(n: usize, m: usize, t: usize, i: usize) -> (usize, usize) {
    let last = m.saturating_sub(1);
    let (lo, hi) = if n <= m {
        // Rows are the shorter axis: samples within t rows of i, at columns about i * m / n.
        (m * i.saturating_sub(t) / n, (m * (i + t + 1)).div_ceil(n))
    } else {
        // Columns are the shorter axis: the samples on row i, widened by t columns.
        ((m * i / n).saturating_sub(t), (m * (i + 1)).div_ceil(n) + t)
    };
    (lo.saturating_sub(2).min(last), (hi + 2).min(last))
}

/// `floor(m * k / n)` and its remainder, for `k` advancing by one.
#[derive(Debug, Clone, Copy)]
struct Frac {
    q: usize,
    r: usize,
}

/// `sloped_band_cover(n, m, t, i)` for `i = 0, 1, .., n - 1` (nothing when `n` or `m` is 0),
/// without a division or an unpredictable branch per row: the fractions `m * k / n` advance by
/// `m / n` per row, kept as exact quotient and remainder. `ROWS_SHORTER` is `n <= m` (which of
/// the two rules applies), fixed at compile time so that the loop has no branch on it; build
/// it with [`SlopedCover::new`] under the right value (see [`with_sloped_cover`]).
#[derive(Debug, Clone)]
pub(crate) struct SlopedCover<const ROWS_SHORTER: bool> {
    n: usize,
    t: usize,
    i: usize,
    last: usize,
    whole: usize,
    part: usize,
    /// `k = i - t` (rows the shorter axis, once `i >= t`) or `k = i`.
    low: Frac,
    /// `k = i + t + 1` or `k = i + 1`.
    high: Frac,
}

impl<const ROWS_SHORTER: bool> SlopedCover<ROWS_SHORTER> {
    /// The cover of the band of thickness `t` between `n` rows and `m` columns; `ROWS_SHORTER`
    /// must be `n <= m` (otherwise the ranges are another rule's, still monotone but not a
    /// cover: callers go through [`with_sloped_cover`]).
    pub(crate) fn new(n: usize, m: usize, t: usize) -> Self {
        debug_assert_eq!(ROWS_SHORTER, n <= m);
        let frac = |k: usize| Frac {
            q: (m * k).checked_div(n).unwrap_or(0),
            r: (m * k).checked_rem(n).unwrap_or(0),
        };
        SlopedCover {
            n: if m == 0 { 0 } else { n },
            t,
            i: 0,
            last: m.saturating_sub(1),
            whole: m.checked_div(n).unwrap_or(0),
            part: m.checked_rem(n).unwrap_or(0),
            low: frac(0),
            high: frac(if ROWS_SHORTER { t + 1 } else { 1 }),
        }
    }

    /// Advances `f` by `m / n`.
    #[inline(always)]
    fn step(&self, f: &mut Frac) {
        f.q += self.whole;
        f.r += self.part;
        // Without a branch: the carry follows the pattern of `m * k % n`, which a branch
        // predictor misses about as often as not.
        let carry = usize::from(f.r >= self.n);
        f.r -= carry * self.n;
        f.q += carry;
    }
}

impl<const ROWS_SHORTER: bool> Iterator for SlopedCover<ROWS_SHORTER> {
    type Item = (usize, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.i >= self.n {
            return None;
        }
        let ceil = |f: &Frac| f.q + usize::from(f.r != 0);
        let (low, high) = (self.low, self.high);
        let out = if ROWS_SHORTER {
            (
                low.q.saturating_sub(2).min(self.last),
                (ceil(&high) + 2).min(self.last),
            )
        } else {
            (
                low.q.saturating_sub(self.t + 2).min(self.last),
                (ceil(&high) + self.t + 2).min(self.last),
            )
        };
        if !ROWS_SHORTER || self.i >= self.t {
            let mut f = self.low;
            self.step(&mut f);
            self.low = f;
        }
        let mut f = self.high;
        self.step(&mut f);
        self.high = f;
        self.i += 1;
        Some(out)
    }
}

/// The union of the [`SlopedCover`] of a run of rows, in O(1) per run from one f64 product per
/// end (for block bounds, which look the range up once per run of rows): at least the cover
/// of every row of the run, widened by one more column on each side than the cover for the
/// rounding of `m / n` in f64.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockCover {
    ratio: f64,
    rows_shorter: bool,
    t: usize,
    last: usize,
}

impl BlockCover {
    /// The cover of the band of thickness `t` between `n` rows and `m` columns (`n, m > 0`).
    pub(crate) fn new(n: usize, m: usize, t: usize) -> Self {
        BlockCover {
            ratio: m as f64 / n.max(1) as f64,
            rows_shorter: n <= m,
            t,
            last: m.saturating_sub(1),
        }
    }

    /// Columns `lo..=hi` covering rows `first..=last_row` (`first <= last_row`).
    #[inline(always)]
    pub(crate) fn span(&self, first: usize, last_row: usize) -> (usize, usize) {
        // The cover's ends are floor(m * k / n) and ceil(m * k' / n) of the row's own ks; an
        // f64 product is within one of the exact quotient, so one more column each way keeps
        // the exact ends inside.
        let (k_lo, k_hi, widen) = if self.rows_shorter {
            (first.saturating_sub(self.t), last_row + self.t + 1, 3)
        } else {
            (first, last_row + 1, self.t + 3)
        };
        let lo = ((k_lo as f64 * self.ratio) as usize).saturating_sub(widen);
        let hi = (k_hi as f64 * self.ratio) as usize + 1 + widen;
        (lo.min(self.last), hi.min(self.last))
    }
}

/// Something computed along a [`SlopedCover`], whichever rule applies.
pub(crate) trait AlongCover {
    /// The result.
    type Out;
    /// Computes it along `cover`.
    fn along(self, cover: impl Iterator<Item = (usize, usize)> + Clone) -> Self::Out;
}

/// `f` along the cover of the band of thickness `t` between `n` rows and `m` columns
/// (`sloped_band_cover` of each row), with the rule chosen once.
#[inline(always)]
pub(crate) fn with_sloped_cover<F: AlongCover>(n: usize, m: usize, t: usize, f: F) -> F::Out {
    if n <= m {
        f.along(SlopedCover::<true>::new(n, m, t))
    } else {
        f.along(SlopedCover::<false>::new(n, m, t))
    }
}

/// `floor(s / steps * size)` for `s = 0, 1, .., steps - 1`, computed as aeon computes it (in
/// f64: `(s / steps) * size`) but without a division per sample: the exact quotient and
/// remainder of `s * size / steps` advance by `size` each sample, and only where the exact value
/// is an integer (remainder 0) can the f64 product round below it, so only there is the f64
/// formula evaluated.
fn diagonal(steps: usize, size: usize) -> impl Iterator<Item = usize> {
    let (mut q, mut rem) = (0usize, 0usize);
    (0..steps).map(move |s| {
        let v = if rem == 0 {
            ((s as f64 / steps as f64) * size as f64) as usize
        } else {
            q
        };
        rem += size; // size < steps: the quotient grows by at most one
        if rem >= steps {
            rem -= steps;
            q += 1;
        }
        v
    })
}

/// The DP of [`dtw_core`] over rows of `a` (`n` steps) and columns of `b` (`m` steps), both
/// non-empty: row `i` spans columns `i - w ..= i + w` (clipped), or `ranges` when given.
#[allow(clippy::too_many_arguments)]
fn dtw_rows<S: Steps>(
    a: S,
    b: S,
    w: usize,
    ranges: Option<(&Vec<usize>, &Vec<usize>)>,
    cutoff: f32,
    cb: &[f32],
    scratch: &mut DtwScratch,
) -> f32 {
    const INF: f32 = f32::INFINITY;
    let n = a.len();
    let m = b.len();

    // Relative slack for the `cb` test: f32 sums of k terms are within k * EPSILON / 2 of exact.
    let slack = (n + m + cb.len() + 4) as f32 * f32::EPSILON;
    let cb = if slack < 0.5 { cb } else { &[] };
    let grow = 1.0 + slack;
    let shrink = 1.0 - slack;

    let width = m + 1;
    if scratch.prev.len() < width {
        scratch.prev.resize(width, INF);
    }
    if scratch.curr.len() < width {
        scratch.curr.resize(width, INF);
    }
    let (Some(mut prev), Some(mut curr)) =
        (scratch.prev.get_mut(..width), scratch.curr.get_mut(..width))
    else {
        debug_assert!(false, "scratch rows shorter than m + 1");
        return INF;
    };

    // Virtual row -1: only "column -1" (index 0) is reachable, with cost 0; column 0 is +inf.
    prev[0] = 0.0;
    prev[1] = INF;
    let mut s = 0usize; // first live column of the row above
    let mut pp = 0usize; // one past its last live column ("pruning point")

    for (i, ai) in a.range(0, n - 1).into_iter().flatten().enumerate() {
        let (lo, hi) = match ranges {
            Some((l, h)) => (
                l.get(i).copied().unwrap_or(m),
                h.get(i).copied().unwrap_or(0),
            ),
            None => (i.saturating_sub(w), (i + w).min(m - 1)),
        };
        // Threshold for this row: cells above it cannot lie on a path of total <= cutoff.
        let t = match cb.get(i + w + 1) {
            Some(&c) if i + 1 < n => {
                let t = cutoff * grow - c * shrink;
                if t < cutoff {
                    t
                } else {
                    cutoff
                }
            }
            _ => cutoff,
        };

        // Columns [j_start, j_full] can have a live cell above or diagonally above.
        let j_start = lo.max(s);
        let j_full = hi.min(pp);
        if j_start > j_full {
            return INF;
        }
        curr[j_start] = INF; // column j_start - 1 of this row
        let (Some(bs), Some(ups), Some(diags), Some(outs)) = (
            b.range(j_start, j_full),
            prev.get(j_start + 1..=j_full + 1),
            prev.get(j_start..=j_full),
            curr.get_mut(j_start + 1..=j_full + 1),
        ) else {
            debug_assert!(false, "row window out of range");
            return INF;
        };
        let mut cells = bs.zip(ups).zip(diags).zip(outs.iter_mut());

        // Leading cells over the threshold are dead: find the first live one.
        let mut left = INF;
        let mut new_s = None;
        let mut j = j_start;
        for (((bj, &up), &dg), out) in &mut cells {
            let v = S::cost(ai, bj) + min2(min2(up, dg), left);
            *out = v;
            left = v;
            j += 1;
            if v <= t {
                new_s = Some(j - 1);
                break;
            }
        }
        let Some(new_s) = new_s else {
            // Columns right of j_full only extend this row to the right (cost >= left > t).
            return INF;
        };
        let mut new_pp = new_s + 1;
        for (((bj, &up), &dg), out) in cells {
            let v = S::cost(ai, bj) + min2(min2(up, dg), left);
            *out = v;
            left = v;
            j += 1;
            if v <= t {
                new_pp = j;
            }
        }

        // Right of the row above's pruning point only the left neighbour can be live.
        if j <= hi {
            if let (Some(bs), Some(outs)) = (b.range(j, hi), curr.get_mut(j + 1..=hi + 1)) {
                for (bj, out) in bs.zip(outs) {
                    let v = S::cost(ai, bj) + left;
                    if v <= t {
                        *out = v;
                        left = v;
                        j += 1;
                        new_pp = j;
                    } else {
                        break;
                    }
                }
            }
        }
        // Column j (one past the last written) must read as +inf from the next row.
        if let Some(cell) = curr.get_mut(j + 1) {
            *cell = INF;
        }

        s = new_s;
        pp = new_pp;
        std::mem::swap(&mut prev, &mut curr);
    }

    if pp == m {
        prev[m]
    } else {
        INF
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// aeon 1.6's dense Sakoe-Chiba bounding matrix (`_sakoe_chiba_bounding`), transcribed
    /// literally, with `thickness = band` for unequal lengths and `|i - j| <= band` for equal ones.
    fn allowed(n: usize, m: usize, band: usize) -> Vec<Vec<bool>> {
        if n == m {
            return (0..n)
                .map(|i| (0..m).map(|j| i.abs_diff(j) <= band).collect())
                .collect();
        }
        if n > m {
            let t = allowed(m, n, band);
            return (0..n).map(|i| (0..m).map(|j| t[j][i]).collect()).collect();
        }
        let mut mat = vec![vec![false; m]; n];
        let max_size = m.max(n) + 1;
        for step in 0..max_size {
            let x = ((step as f64 / max_size as f64) * n as f64).floor() as i64;
            let y = ((step as f64 / max_size as f64) * m as f64).floor() as usize;
            let upper = (x - band as i64).max(0) as usize;
            let lower = (x + band as i64 + 1).min(n as i64) as usize;
            for row in mat.iter_mut().take(lower).skip(upper) {
                row[y] = true;
            }
        }
        if band >= n.max(m) {
            return vec![vec![true; m]; n];
        }
        mat
    }

    /// The pairs of lengths the cover tests try: all up to `below`, and a few long and skewed.
    fn cover_sizes(below: usize) -> Vec<(usize, usize)> {
        let mut sizes: Vec<(usize, usize)> = (1..below)
            .flat_map(|n| (1..below).map(move |m| (n, m)))
            .collect();
        sizes.extend([
            (267, 201),
            (201, 267),
            (361, 29),
            (29, 361),
            (1000, 7),
            (7, 1000),
        ]);
        sizes
    }

    /// Every row's [`SlopedCover`] of the band of thickness `t` between `n` rows and `m` columns.
    fn cover_of(n: usize, m: usize, t: usize) -> (Vec<usize>, Vec<usize>) {
        if n <= m {
            SlopedCover::<true>::new(n, m, t).unzip()
        } else {
            SlopedCover::<false>::new(n, m, t).unzip()
        }
    }

    #[test]
    fn sloped_band_cover_holds_the_band() {
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        for (n, m) in cover_sizes(70) {
            for t in [0, 1, 2, 3, 5, 8, 13, 40] {
                sloped_band(n, m, t, &mut lo, &mut hi);
                let cover = cover_of(n, m, t);
                let mut before = (0, 0);
                for i in 0..n {
                    let (a, b) = sloped_band_cover(n, m, t, i);
                    assert!(a <= lo[i] && hi[i] <= b && b < m, "n={n} m={m} t={t} i={i}");
                    assert!(
                        a >= before.0 && b >= before.1,
                        "not monotone: n={n} m={m} t={t}"
                    );
                    assert_eq!(
                        (cover.0[i], cover.1[i]),
                        (a, b),
                        "fill n={n} m={m} t={t} i={i}"
                    );
                    before = (a, b);
                }
            }
        }
    }

    #[test]
    fn block_cover_holds_the_rows_of_the_block() {
        for (n, m) in cover_sizes(60) {
            for t in [0, 1, 2, 3, 5, 8, 13, 40] {
                let cover = cover_of(n, m, t);
                let block = BlockCover::new(n, m, t);
                for width in [1, 3, 8] {
                    for first in 0..n {
                        let last = (first + width - 1).min(n - 1);
                        let (lo, hi) = block.span(first, last);
                        let want = (cover.0[first], cover.1[last]);
                        assert!(
                            lo <= want.0 && want.1 <= hi && hi < m,
                            "n={n} m={m} t={t} {first}..={last}"
                        );
                        // No wider than needed by more than the f64 margin.
                        assert!(
                            want.0 - lo <= 3 && hi - want.1 <= 3,
                            "n={n} m={m} t={t} {first}..={last}: {lo}..={hi} vs {want:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sloped_band_equals_aeons_matrix() {
        let mut sizes: Vec<(usize, usize)> =
            (1..30).flat_map(|n| (1..30).map(move |m| (n, m))).collect();
        // Larger pairs, where the f64 product lands on integers in many places.
        sizes.extend([
            (267, 201),
            (201, 267),
            (361, 29),
            (29, 361),
            (300, 150),
            (128, 96),
            (97, 1),
        ]);
        for (n, m) in sizes {
            {
                for band in [0, 1, 2, 3, 5, 8, 13, 20, 40] {
                    let want = allowed(n, m, band);
                    let (mut lo, mut hi) = (Vec::new(), Vec::new());
                    if n == m || band >= n.max(m) {
                        continue;
                    }
                    sloped_band(n, m, band, &mut lo, &mut hi);
                    for i in 0..n {
                        let cols: Vec<usize> = (0..m).filter(|&j| want[i][j]).collect();
                        assert_eq!(
                            (lo[i], hi[i]),
                            (cols[0], *cols.last().unwrap()),
                            "{n}x{m} band {band} row {i}"
                        );
                        assert_eq!(
                            cols.len(),
                            hi[i] - lo[i] + 1,
                            "{n}x{m} band {band}: row {i} has a gap"
                        );
                    }
                }
            }
        }
    }

    /// Full (n+1) x (m+1) table in f64, respecting the band: the slow twin of `dtw_sq`.
    fn naive_dtw_sq(a: &[f32], b: &[f32], band: usize) -> f64 {
        naive_dependent_sq(a, b, 1, band)
    }

    /// Full table in f64 with the dependent cell cost (squared distance across `c` channels).
    fn naive_dependent_sq(a: &[f32], b: &[f32], c: usize, band: usize) -> f64 {
        let (n, m) = (a.len() / c, b.len() / c);
        if n == 0 && m == 0 {
            return 0.0;
        }
        if n == 0 || m == 0 {
            return f64::INFINITY;
        }
        let ok = allowed(n, m, band);
        let mut d = vec![vec![f64::INFINITY; m + 1]; n + 1];
        d[0][0] = 0.0;
        for i in 1..=n {
            for j in 1..=m {
                if !ok[i - 1][j - 1] {
                    continue;
                }
                let cost: f64 = (0..c)
                    .map(|ch| (a[(i - 1) * c + ch] as f64 - b[(j - 1) * c + ch] as f64).powi(2))
                    .sum();
                let best = d[i - 1][j].min(d[i][j - 1]).min(d[i - 1][j - 1]);
                d[i][j] = cost + best;
            }
        }
        d[n][m]
    }

    fn dtw(a: &[f32], b: &[f32], band: usize) -> f32 {
        dtw_sq(a, b, band, f32::INFINITY, &mut DtwScratch::new())
    }

    fn close(got: f32, want: f64) -> bool {
        if want.is_infinite() {
            return got.is_infinite();
        }
        (got as f64 - want).abs() <= 1e-4 * want.abs().max(1e-3)
    }

    fn series(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
        // Mix of small integers (ties, exact zeros) and continuous values.
        let value = prop_oneof![(-3i32..=3).prop_map(|v| v as f32), -10.0f32..10.0];
        proptest::collection::vec(value, 1..max_len)
    }

    #[test]
    fn known_values() {
        let mut s = DtwScratch::new();
        // a=[0,1,2], b=[0,2,2]. Cost table (a_i - b_j)^2, rows i, cols j:
        //   i=0: 0 4 4 ; i=1: 1 1 1 ; i=2: 4 0 0
        // Full DTW: D row0 = 0 4 8; row1 = 1 1 2; row2 = 5 1 1  -> 1 (path (0,0),(1,1),(2,1),(2,2)
        // costs 0+1+0+0 = 1, or (0,0),(1,0)?.. ends at 1). Band 0: 0 + 1 + 0 = 1.
        assert_eq!(
            dtw_sq(&[0.0, 1.0, 2.0], &[0.0, 2.0, 2.0], 1, f32::INFINITY, &mut s),
            1.0
        );
        assert_eq!(
            dtw_sq(&[0.0, 1.0, 2.0], &[0.0, 2.0, 2.0], 0, f32::INFINITY, &mut s),
            1.0
        );
        // a=[0,0,1,1], b=[0,1,1,1]: band 0 = 0+1+0+0 = 1; band 1: path (0,0),(1,0),(2,1),(3,2),(3,3)
        // costs 0+0+0+0+0 = 0.
        assert_eq!(
            dtw_sq(
                &[0.0, 0.0, 1.0, 1.0],
                &[0.0, 1.0, 1.0, 1.0],
                0,
                f32::INFINITY,
                &mut s
            ),
            1.0
        );
        assert_eq!(
            dtw_sq(
                &[0.0, 0.0, 1.0, 1.0],
                &[0.0, 1.0, 1.0, 1.0],
                1,
                f32::INFINITY,
                &mut s
            ),
            0.0
        );
        // a=[1,2,3,4], b=[2,3,4,5]: band 0 = 4 * 1 = 4. Band 1: (0,0)=1, then (1,0)=0,(2,1)=0,
        // (3,2)=0, (3,3)=1 -> 2. Full: same 2 (first and last points always cost 1 each).
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0]);
        assert_eq!(dtw_sq(&a, &b, 0, f32::INFINITY, &mut s), 4.0);
        assert_eq!(dtw_sq(&a, &b, 1, f32::INFINITY, &mut s), 2.0);
        assert_eq!(dtw_sq(&a, &b, 100, f32::INFINITY, &mut s), 2.0);
        // Unequal lengths: a=[0,1], b=[0,1,1]: the band follows the sloped diagonal, sampled at
        // 4 points (rows floor(s/4*2), columns floor(s/4*3)): cells (0,0),(0,0),(1,1),(1,2), so
        // band 0 already reaches the corner: 0. Band 1: the same 0.
        assert_eq!(
            dtw_sq(&[0.0, 1.0], &[0.0, 1.0, 1.0], 0, f32::INFINITY, &mut s),
            0.0
        );
        // a=[0,5,0,5,0,5] (6) against b=[1,1] (2), band 0: the rows of a map onto b's columns
        // 0,0,0,1,1,1 along the slope: 1 + 16 + 1 + 16 + 1 + 16 = 51.
        assert_eq!(
            dtw_sq(
                &[0.0, 5.0, 0.0, 5.0, 0.0, 5.0],
                &[1.0, 1.0],
                0,
                f32::INFINITY,
                &mut s
            ),
            51.0
        );
        assert_eq!(
            dtw_sq(&[0.0, 1.0], &[0.0, 1.0, 1.0], 1, f32::INFINITY, &mut s),
            0.0
        );
        // a=[3], b=[0,1,2] with band 2: the single row visits every column: 9+4+1 = 14.
        assert_eq!(
            dtw_sq(&[3.0], &[0.0, 1.0, 2.0], 2, f32::INFINITY, &mut s),
            14.0
        );
        assert_eq!(
            dtw_sq(&[0.0, 1.0, 2.0], &[3.0], 2, f32::INFINITY, &mut s),
            14.0
        );
    }

    #[test]
    fn edge_cases_do_not_panic() {
        let mut s = DtwScratch::new();
        assert_eq!(dtw_sq(&[], &[], 0, 1.0, &mut s), 0.0);
        assert_eq!(dtw_sq(&[], &[1.0], 5, 1.0, &mut s), f32::INFINITY);
        assert_eq!(dtw_sq(&[1.0], &[], 5, 1.0, &mut s), f32::INFINITY);
        assert_eq!(
            dtw_sq(&[1.0], &[3.0], usize::MAX, f32::INFINITY, &mut s),
            4.0
        );
        assert_eq!(
            dtw_sq(&[1.0, 2.0], &[1.0, 2.0], usize::MAX, f32::NAN, &mut s),
            0.0
        );
        assert_eq!(
            dtw_sq(&[1.0, 2.0], &[1.0, 2.0], 1, -1.0, &mut s),
            f32::INFINITY
        );
        assert_eq!(
            dtw_sq_cb(&[1.0], &[2.0], 0, 0.5, &[f32::NAN; 4], &mut s),
            f32::INFINITY
        );
        let v = dtw_sq(
            &[f32::NAN, 1.0],
            &[1.0, f32::INFINITY],
            1,
            f32::INFINITY,
            &mut s,
        );
        let _ = v; // unspecified, but must not panic
                   // Scratch shrinking and growing between calls.
        let long: Vec<f32> = (0..100).map(|i| i as f32).collect();
        assert_eq!(dtw_sq(&long, &long, 3, f32::INFINITY, &mut s), 0.0);
        assert_eq!(
            dtw_sq(&[0.0, 1.0, 2.0], &[0.0, 2.0, 2.0], 1, f32::INFINITY, &mut s),
            1.0
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn self_distance_is_zero(x in series(40), band in 0usize..45) {
            prop_assert_eq!(dtw(&x, &x, band), 0.0);
        }

        #[test]
        fn symmetric(x in series(40), y in series(40), band in 0usize..45) {
            let (xy, yx) = (dtw(&x, &y, band), dtw(&y, &x, band));
            prop_assert!(xy == yx, "{} vs {}", xy, yx);
        }

        #[test]
        fn band_zero_is_squared_euclidean(x in series(40), seed in any::<u64>()) {
            let y: Vec<f32> = x.iter().enumerate()
                .map(|(i, v)| v + ((seed >> (i % 64)) & 7) as f32 - 3.5).collect();
            let euclid: f64 = x.iter().zip(&y).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum();
            prop_assert!(close(dtw(&x, &y, 0), euclid));
        }

        #[test]
        fn widening_band_never_increases(x in series(40), y in series(40), band in 0usize..45) {
            let (narrow, wide) = (dtw(&x, &y, band), dtw(&x, &y, band + 1));
            prop_assert!(wide <= narrow, "band {}: {} then {}", band, narrow, wide);
        }

        #[test]
        fn equals_naive_reference(x in series(40), y in series(40), band in 0usize..45) {
            let want = naive_dtw_sq(&x, &y, band);
            let got = dtw(&x, &y, band);
            prop_assert!(close(got, want), "got {} want {}", got, want);
        }

        #[test]
        fn equals_naive_reference_equal_lengths(
            (x, y) in (1usize..40).prop_flat_map(|n| (
                proptest::collection::vec(-10.0f32..10.0, n),
                proptest::collection::vec(-10.0f32..10.0, n))),
            band in 0usize..45,
        ) {
            let want = naive_dtw_sq(&x, &y, band);
            let got = dtw(&x, &y, band);
            prop_assert!(close(got, want), "got {} want {}", got, want);
        }

        #[test]
        fn early_abandoning_is_exact_below_cutoff(
            x in series(40), y in series(40), band in 0usize..45, frac in 0.0f32..2.0,
        ) {
            let exact = dtw(&x, &y, band);
            let mut s = DtwScratch::new();
            let cutoffs = [
                exact, exact * frac, next_down(exact), next_up(exact), 0.0, -1.0, f32::INFINITY,
            ];
            for cutoff in cutoffs {
                let got = dtw_sq(&x, &y, band, cutoff, &mut s);
                if exact <= cutoff {
                    prop_assert!(got == exact, "cutoff {}: got {} exact {}", cutoff, got, exact);
                } else {
                    prop_assert!(got > cutoff, "cutoff {}: got {} exact {}", cutoff, got, exact);
                }
            }
        }

        #[test]
        fn fixed_channel_counts_equal_the_runtime_count_bit_for_bit(
            (c, x, y) in prop::sample::select(vec![2usize, 3, 4, 6, 8])
                .prop_flat_map(|c| (Just(c), series(10 * c), series(10 * c))),
            band in 0usize..12, frac in 0.0f32..2.0,
        ) {
            let (x, y) = (&x[..x.len() / c * c], &y[..y.len() / c * c]);
            let mut s = DtwScratch::new();
            let generic = |cutoff: f32, s: &mut DtwScratch| {
                dtw_core(Frames { data: x, c }, Frames { data: y, c }, band, cutoff, &[], s)
            };
            let exact = generic(f32::INFINITY, &mut s);
            for cutoff in [f32::INFINITY, exact, exact * frac, 0.0] {
                let want = generic(cutoff, &mut s);
                let got = dtw_dependent_sq(x, y, c, band, cutoff, &mut s);
                prop_assert!(
                    got.to_bits() == want.to_bits(),
                    "c {} cutoff {}: fixed {} runtime {}", c, cutoff, got, want
                );
            }
        }

        #[test]
        fn multichannel_forms_equal_their_naive_definitions(
            (c, x, y) in (1usize..10).prop_flat_map(|c| (Just(c), series(12 * c), series(12 * c))),
            band in 0usize..14, frac in 0.0f32..2.0,
        ) {
            // Whole time steps only; the kernels ignore a trailing partial step.
            let (x, y) = (&x[..x.len() / c * c], &y[..y.len() / c * c]);
            let dep_want = naive_dependent_sq(x, y, c, band);
            let ind_want: f64 = (0..c)
                .map(|ch| {
                    let (xc, yc): (Vec<f32>, Vec<f32>) =
                        (x.iter().skip(ch).step_by(c).copied().collect(),
                         y.iter().skip(ch).step_by(c).copied().collect());
                    naive_dtw_sq(&xc, &yc, band)
                })
                .sum();
            let mut s = DtwScratch::new();
            let dep = dtw_dependent_sq(x, y, c, band, f32::INFINITY, &mut s);
            let ind = dtw_independent_sq(x, y, c, band, f32::INFINITY, &mut s);
            prop_assert!(close(dep, dep_want), "dependent {} want {}", dep, dep_want);
            prop_assert!(close(ind, ind_want), "independent {} want {}", ind, ind_want);
            // DTW_I <= DTW_D: each channel may take its own best path.
            prop_assert!(ind_want <= dep_want * (1.0 + 1e-9) || dep_want.is_infinite());
            if c == 1 {
                prop_assert_eq!(dep, dtw(x, y, band));
                prop_assert_eq!(ind, dep);
            }
            // Early abandoning never changes a value at or below the cutoff.
            for (exact, f) in [(dep, 0usize), (ind, 1)] {
                for cutoff in [exact, exact * frac, next_down(exact), next_up(exact), 0.0] {
                    let got = if f == 0 {
                        dtw_dependent_sq(x, y, c, band, cutoff, &mut s)
                    } else {
                        dtw_independent_sq(x, y, c, band, cutoff, &mut s)
                    };
                    if exact <= cutoff {
                        prop_assert!(got == exact, "form {} cutoff {}: got {} exact {}", f, cutoff, got, exact);
                    } else {
                        prop_assert!(got > cutoff, "form {} cutoff {}: got {} exact {}", f, cutoff, got, exact);
                    }
                }
            }
        }

        #[test]
        fn scratch_reuse_is_stateless(x in series(40), y in series(40), z in series(40), band in 0usize..45) {
            let mut s = DtwScratch::new();
            let _ = dtw_sq(&z, &x, band, f32::INFINITY, &mut s);
            let _ = dtw_sq(&x, &z, band, 1.0, &mut s);
            prop_assert_eq!(dtw_sq(&x, &y, band, f32::INFINITY, &mut s), dtw(&x, &y, band));
        }
    }

    fn next_up(v: f32) -> f32 {
        if v.is_finite() {
            f32::from_bits(if v == 0.0 { 1 } else { v.to_bits() + 1 })
        } else {
            v
        }
    }

    fn next_down(v: f32) -> f32 {
        if v.is_finite() && v > 0.0 {
            f32::from_bits(v.to_bits() - 1)
        } else if v == 0.0 {
            -f32::from_bits(1)
        } else {
            v
        }
    }
}
