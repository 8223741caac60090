//! Distances: squared Euclidean, cosine, inner product and banded DTW, with the lower bounds that
//! prune DTW work.
//!
//! Inside the crate every distance is kept in internal units, monotone in the true distance
//! ([`Metric::to_true`] converts): squared units for Euclidean and DTW (the public search
//! functions return the square root, so Euclidean results are true L2 and DTW results are `sqrt`
//! of the minimal sum of squared differences along a warping path); for cosine the squared
//! Euclidean distance between the unit-normalised vectors, `2 - 2 cos`, reported halved as
//! `1 - cos`; for the inner product `1 - <q, x>` itself.

pub mod bounds;
pub mod dtw;
pub mod euclidean;
pub(crate) mod lanes;

use crate::error::{invalid, Error};
use crate::stats::SearchStats;
use dtw::DtwScratch;

/// The distance an index uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Euclidean (L2) distance.
    Euclidean,
    /// Dynamic time warping with a Sakoe-Chiba band of radius `band` samples (cell `(i, j)` is
    /// allowed iff `|i - j| <= band`); `band >= dim - 1` is full DTW, `band = 0` equals Euclidean.
    Dtw {
        /// Sakoe-Chiba radius in samples.
        band: usize,
    },
    /// Independent multichannel DTW (DTW_I): the sum over channels of each channel's own DTW
    /// with a Sakoe-Chiba band of radius `band` time steps. [`Metric::Dtw`] on a multichannel
    /// index is the dependent form (DTW_D: one warping path, the cell cost summed over
    /// channels); with one channel the two are the same distance. See `dtw::dtw_independent_sq`.
    DtwIndependent {
        /// Sakoe-Chiba radius in time steps.
        band: usize,
    },
    /// Cosine distance `1 - cos(q, x)`, from 0 (same direction) to 2 (opposite). Vectors are
    /// normalised to unit length when stored and queries when searched (a zero vector is an
    /// error), so the index holds and returns the unit vectors, and the search ranks by the
    /// squared Euclidean distance between unit vectors, `2 - 2 cos` (the Euclidean kernels, 8-bit
    /// codes included).
    Cosine,
    /// Inner-product distance `1 - <q, x>` (hnswlib's `"ip"`): smaller is a larger inner
    /// product. It can be negative and is not a metric (a vector need not be its own nearest
    /// neighbour); on unit vectors it equals the cosine distance.
    InnerProduct,
}

impl Metric {
    /// Short lowercase name: `"euclidean"`, `"cosine"`, `"ip"` or `"dtw"`.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Euclidean => "euclidean",
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "ip",
            Metric::Dtw { .. } | Metric::DtwIndependent { .. } => "dtw",
        }
    }

    /// The DTW band in samples, or `None` for the vector metrics.
    pub fn band(&self) -> Option<usize> {
        match self {
            Metric::Euclidean | Metric::Cosine | Metric::InnerProduct => None,
            Metric::Dtw { band } | Metric::DtwIndependent { band } => Some(*band),
        }
    }

    /// True for cosine: stored rows and queries are normalised to unit length.
    pub fn normalizes(&self) -> bool {
        matches!(self, Metric::Cosine)
    }

    /// True when no distance is negative (every metric but the inner product), so a negative
    /// radius or limit means nothing.
    pub fn non_negative(&self) -> bool {
        !matches!(self, Metric::InnerProduct)
    }

    /// The distance in true units (what searches report) of an internal value `d` (see the
    /// module notes): `sqrt(d)` for Euclidean and DTW, `d / 2` for cosine, `d` for the inner
    /// product.
    #[inline]
    pub fn to_true(&self, d: f32) -> f32 {
        match self {
            Metric::Cosine => d * 0.5,
            Metric::InnerProduct => d,
            _ => d.sqrt(),
        }
    }

    /// An internal value at or a little above that of the true distance `t` (relative 1e-6 for
    /// the square, far above f32 rounding; exact for cosine and the inner product): any internal
    /// value above it has a true distance above `t`, so a cutoff of it rejects no row at `t`.
    /// +inf for +inf.
    pub(crate) fn internal_above(&self, t: f32) -> f32 {
        if !t.is_finite() {
            return t;
        }
        match self {
            Metric::Cosine => t * 2.0,
            Metric::InnerProduct => t,
            _ => (f64::from(t) * f64::from(t) * (1.0 + 1e-6)) as f32,
        }
    }

    /// `"independent"` for [`Metric::DtwIndependent`], `"dependent"` for [`Metric::Dtw`], `None`
    /// for Euclidean: how a multichannel DTW combines its channels.
    pub fn dependence(&self) -> Option<&'static str> {
        match self {
            Metric::Euclidean | Metric::Cosine | Metric::InnerProduct => None,
            Metric::Dtw { .. } => Some("dependent"),
            Metric::DtwIndependent { .. } => Some("independent"),
        }
    }

    /// The metric named `name` (`"euclidean"`, `"cosine"`, `"ip"` or `"dtw"`) for vectors of
    /// `dim` floats; `band` is the DTW Sakoe-Chiba radius in samples (`None`: full DTW, stored as
    /// `dim - 1`). The band's range is checked by [`crate::Index::new`], after `dim`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown name (`metric`) or a band with another metric than DTW
    /// (`band`).
    pub fn from_name(name: &str, band: Option<usize>, dim: usize) -> Result<Metric, Error> {
        let vector = match name {
            "euclidean" => Some(Metric::Euclidean),
            "cosine" => Some(Metric::Cosine),
            "ip" => Some(Metric::InnerProduct),
            _ => None,
        };
        match (name, vector, band) {
            (_, Some(m), None) => Ok(m),
            (_, Some(_), Some(_)) => Err(invalid("band", "is only meaningful with metric='dtw'")),
            ("dtw", None, band) => Ok(Metric::Dtw {
                band: band.unwrap_or(dim.saturating_sub(1)),
            }),
            (other, _, _) => Err(invalid(
                "metric",
                format!("must be 'euclidean', 'cosine', 'ip' or 'dtw', got {other:?}"),
            )),
        }
    }

    /// This metric with multichannel DTW's `dependence`: `"independent"` turns DTW into
    /// [`Metric::DtwIndependent`], `"dependent"` or `None` keeps [`Metric::Dtw`] (same band).
    ///
    /// # Errors
    /// `InvalidParameter` (`dependence`) for another name, or any name with Euclidean.
    pub fn with_dependence(self, dependence: Option<&str>) -> Result<Metric, Error> {
        match (self, dependence) {
            (m, None) => Ok(m),
            (m, Some(_)) if m.band().is_none() => Err(invalid(
                "dependence",
                "is only meaningful with metric='dtw'",
            )),
            (m, Some("dependent")) => Ok(m.band().map_or(m, |band| Metric::Dtw { band })),
            (m, Some("independent")) => {
                Ok(m.band().map_or(m, |band| Metric::DtwIndependent { band }))
            }
            (_, Some(other)) => Err(invalid(
                "dependence",
                format!("must be 'dependent' or 'independent', got {other:?}"),
            )),
        }
    }

    /// Distance between two equal-length vectors in the metric's true units (not squared), as a
    /// search computes it (one channel).
    pub fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        self.distance_channels(a, b, 1)
    }

    /// Distance between two time-major series of `channels` floats per time step, in true units
    /// (converted by [`Metric::to_true`] from the internal value the search computes): Euclidean,
    /// cosine or inner product over every float, or DTW in the metric's dependent or independent
    /// form. `channels == 1` is [`Metric::distance`]. Cosine normalises both (NaN for a zero
    /// vector, which an index never holds).
    pub fn distance_channels(&self, a: &[f32], b: &[f32], channels: usize) -> f32 {
        let s = &mut DtwScratch::new();
        let inf = f32::INFINITY;
        match self {
            Metric::Cosine => {
                let unit = |x: &[f32]| -> Vec<f32> {
                    let norm = norm_of(x);
                    x.iter().map(|v| (f64::from(*v) / norm) as f32).collect()
                };
                self.to_true(euclidean::sq_euclidean(&unit(a), &unit(b)))
            }
            Metric::Euclidean | Metric::InnerProduct => self.to_true(vector_sq(*self, a, b)),
            // DTW at band 0 as the search computes it (see `eval_sq`): the Euclidean distance.
            Metric::Dtw { band: 0 } | Metric::DtwIndependent { band: 0 } if a.len() == b.len() => {
                euclidean::sq_euclidean(a, b).sqrt()
            }
            Metric::Dtw { band } | Metric::DtwIndependent { band } => {
                let independent = matches!(self, Metric::DtwIndependent { .. });
                dtw::dtw_form_sq(independent, a, b, channels, *band, inf, s).sqrt()
            }
        }
    }
}

/// The Euclidean norm of `x`, summed in f64.
pub(crate) fn norm_of(x: &[f32]) -> f64 {
    x.iter()
        .map(|v| f64::from(*v) * f64::from(*v))
        .sum::<f64>()
        .sqrt()
}

/// Writes `rows` (rows of `dim` floats) scaled to unit length into `out`, for the cosine metric.
///
/// # Errors
/// `InvalidParameter` (`what`) naming the first row whose norm is 0 (or too small for its unit
/// vector to be finite).
pub(crate) fn normalize_rows(
    what: &'static str,
    rows: &[f32],
    dim: usize,
    out: &mut Vec<f32>,
) -> Result<(), Error> {
    out.clear();
    out.reserve_exact(rows.len());
    for (i, row) in rows.chunks_exact(dim.max(1)).enumerate() {
        let norm = norm_of(row);
        let unit = row.iter().map(|v| (f64::from(*v) / norm) as f32);
        let start = out.len();
        out.extend(unit);
        if norm == 0.0 || out[start..].iter().any(|v| !v.is_finite()) {
            return Err(invalid(
                what,
                format!(
                    "row {i} has norm {norm:e}: the cosine distance is undefined for a zero \
                     vector"
                ),
            ));
        }
    }
    Ok(())
}

/// `rows` as the metric compares them: scaled to unit length for cosine (a copy; see
/// [`normalize_rows`]), else as given.
///
/// # Errors
/// As [`normalize_rows`].
pub(crate) fn as_compared<'a>(
    metric: Metric,
    what: &'static str,
    rows: &'a [f32],
    dim: usize,
) -> Result<std::borrow::Cow<'a, [f32]>, Error> {
    if !metric.normalizes() {
        return Ok(std::borrow::Cow::Borrowed(rows));
    }
    let mut v = Vec::new();
    normalize_rows(what, rows, dim, &mut v)?;
    Ok(std::borrow::Cow::Owned(v))
}

/// Internal distance between two vectors under a vector metric (see the module notes): squared
/// Euclidean for Euclidean and cosine (on unit vectors), `1 - <a, b>` for the inner product.
/// (DTW metrics never reach it: they get the squared Euclidean distance, their band-0 value.)
#[inline(always)]
pub(crate) fn vector_sq(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::InnerProduct => 1.0 - euclidean::dot(a, b),
        _ => euclidean::sq_euclidean(a, b),
    }
}

/// The DTW band in time steps between series of `n` and `m` steps: `band`, or with a `window`
/// (a fraction of the shorter series, variable-length indexes only) aeon's
/// `int(window * min(n, m))`, computed in f64 as aeon does; a window of 1 or more is full DTW.
#[inline]
pub(crate) fn pair_band(band: usize, window: Option<f64>, n: usize, m: usize) -> usize {
    match window {
        None => band,
        Some(w) if w >= 1.0 => usize::MAX,
        Some(w) => (w * n.min(m) as f64) as usize,
    }
}

/// A query prepared for repeated distance evaluation: for DTW, its envelope.
#[derive(Default)]
pub(crate) struct QueryPrep {
    pub upper: Vec<f32>,
    pub lower: Vec<f32>,
    pub dtw: DtwScratch,
    /// Suffix sums of LB_Keogh terms (candidate vs query envelope), for `dtw_sq_cb`.
    cb_fwd: Vec<f32>,
    /// Suffix sums of LB_Keogh terms (query vs candidate envelope).
    cb_rev: Vec<f32>,
    /// Floats per time step of the query and the stored rows (set by `prepare`).
    channels: usize,
    /// The index's DTW window, a fraction of the shorter series (set by `prepare`).
    window: Option<f64>,
    /// Per-channel LB_Keogh both ways, for the independent form's abandoning.
    per_channel: [Vec<f32>; 2],
    /// Buffers of the batched DTW ([`dtw_lanes_batch`]).
    lanes: lanes::LaneScratch,
    /// The monotone queues of LB_Keogh along a sloped band ([`bounds::lb_keogh_band_sq`]).
    queues: [Vec<usize>; 2],
    /// The query's range table (built on first use after `prepare`), for LB_Keogh of stored
    /// series of another length against the query.
    table: bounds::RangeTable,
    table_ready: bool,
}

/// The smallest band radius (time steps) at which series of unequal lengths get LB_Keogh along
/// their band: below it a DTW row has few cells more than the bound's row, and the bound cost
/// more than it saved. Measured (exact 1-NN search, one thread, window 0.1, radius 4 against
/// radius 0): JapaneseVowels (12 channels, 7-29 steps, radii 0-2) 30 ms against 90 ms,
/// PickupGestureWiimoteZ (29-361 steps, radii 2-36) 6.5 ms against 8.4 ms.
const BAND_LB_MIN_RADIUS: usize = 4;

/// Whether series of `n` and `m` time steps (unequal) get LB_Keogh along their band of radius
/// `band`: not when the band is the whole matrix (the bound would be the distance to the other
/// series' overall range) nor below [`BAND_LB_MIN_RADIUS`].
pub(crate) fn band_lb_applies(band: usize, n: usize, m: usize) -> bool {
    band < n.max(m) && band >= BAND_LB_MIN_RADIUS
}

impl QueryPrep {
    /// A lower bound of the DTW (either form; squared units) from the prepared query to the
    /// stored `row` of the same length: LB_Kim, then LB_Keogh of the row against the query's
    /// envelope, the larger of the two, stopping once it exceeds `cutoff`. Returns the bound and
    /// whether LB_Kim decided it (it is the larger). What a graph walk orders and defers its
    /// candidates by before it computes their DTW (see `Index::walk`).
    #[inline]
    pub fn lb_order_sq(&self, query: &[f32], row: &[f32], cutoff: f32) -> (f32, bool) {
        let kim = bounds::lb_kim_channels_sq(query, row, self.channels);
        if kim > cutoff {
            return (kim, true);
        }
        let keogh = bounds::lb_keogh_sq(row, &self.upper, &self.lower, cutoff);
        if kim > keogh {
            (kim, true)
        } else {
            (keogh, false)
        }
    }

    /// LB_Keogh of a stored series of another length than `query` against the query's range
    /// along their sloped band of thickness `band` ([`bounds::lb_keogh_band_sq`]; squared
    /// units, stopping above `cutoff`), or `None` when the band is the whole matrix (the bound
    /// then is the series' distance to the query's overall range: not computed). With `coarse`,
    /// its block-mean form ([`bounds::lb_paa_table_sq`]: about an eighth of the work, at most
    /// the full bound).
    #[inline(always)]
    pub fn lb_band_of_row_sq(
        &mut self,
        query: &[f32],
        row: &[f32],
        band: usize,
        cutoff: f32,
        coarse: bool,
    ) -> Option<f32> {
        let c = self.channels.max(1);
        let (n, m) = (query.len() / c, row.len() / c);
        if n == 0 || m == 0 || !band_lb_applies(band, n, m) {
            return None;
        }
        if !self.table_ready {
            self.table.build(query, c);
            self.table_ready = true;
        }
        if coarse {
            return Some(bounds::lb_paa_table_sq(row, &self.table, band, cutoff));
        }
        /// The bound along the cover.
        struct Table<'a> {
            row: &'a [f32],
            table: &'a bounds::RangeTable,
            cutoff: f32,
        }
        impl dtw::AlongCover for Table<'_> {
            type Out = f32;
            #[inline(always)]
            fn along(self, cover: impl Iterator<Item = (usize, usize)> + Clone) -> f32 {
                bounds::lb_keogh_table_sq(self.row, self.table, cover, self.cutoff)
            }
        }
        let table = &self.table;
        Some(dtw::with_sloped_cover(
            m,
            n,
            band,
            Table { row, table, cutoff },
        ))
    }

    /// [`QueryPrep::lb_band_of_row_sq`] the other way: the query against the stored series'
    /// range along the band.
    fn lb_band_of_query_sq(&mut self, query: &[f32], row: &[f32], band: usize, cutoff: f32) -> f32 {
        let c = self.channels.max(1);
        let (n, m) = (query.len() / c, row.len() / c);
        /// The bound along the cover.
        struct Queues<'a> {
            query: &'a [f32],
            row: &'a [f32],
            c: usize,
            cutoff: f32,
            queues: &'a mut [Vec<usize>; 2],
        }
        impl dtw::AlongCover for Queues<'_> {
            type Out = f32;
            #[inline(always)]
            fn along(self, cover: impl Iterator<Item = (usize, usize)> + Clone) -> f32 {
                let Queues {
                    query,
                    row,
                    c,
                    cutoff,
                    queues,
                } = self;
                bounds::lb_keogh_band_sq(query, row, c, cover, cutoff, queues)
            }
        }
        let queues = &mut self.queues;
        dtw::with_sloped_cover(
            n,
            m,
            band,
            Queues {
                query,
                row,
                c,
                cutoff,
                queues,
            },
        )
    }

    /// [`QueryPrep::prepare`] for a caller that reads no bound of the query (the batched kernel
    /// alone): no envelope (emptied, so that none of an earlier query is read).
    pub fn prepare_without_envelope(&mut self, channels: usize, window: Option<f64>) {
        self.channels = channels.max(1);
        self.window = window;
        self.table_ready = false;
        self.upper.clear();
        self.lower.clear();
    }

    /// Computes whatever the metric needs about `query` (time-major, `channels` floats per time
    /// step) once per search; `window` is the index's (see [`pair_band`]).
    pub fn prepare(&mut self, metric: Metric, channels: usize, window: Option<f64>, query: &[f32]) {
        self.prepare_without_envelope(channels, window);
        if let Some(band) = metric.band() {
            let steps = query.len() / self.channels;
            let band = pair_band(band, window, steps, steps);
            self.upper.resize(query.len(), 0.0);
            self.lower.resize(query.len(), 0.0);
            bounds::envelope_channels(query, self.channels, band, &mut self.upper, &mut self.lower);
        }
    }
}

/// A stored row as a distance reads it: the floats and, for DTW, the row's envelope (empty slices
/// for Euclidean).
#[derive(Clone, Copy)]
pub(crate) struct Stored<'a> {
    pub row: &'a [f32],
    pub upper: &'a [f32],
    pub lower: &'a [f32],
}

/// Squared distance from a prepared query to a stored row, or some value `> cutoff` once the true
/// value is known to exceed `cutoff` (lower bounds, early abandoning). Never wrong below `cutoff`:
/// a returned value `<= cutoff` is exact. Counters go to `stats`. The Euclidean case is inlined into
/// the search loops; DTW goes through [`eval_dtw_sq`].
#[inline(always)]
pub(crate) fn eval_sq(
    metric: Metric,
    query: &[f32],
    prep: &mut QueryPrep,
    stored: Stored<'_>,
    cutoff: f32,
    stats: &mut SearchStats,
) -> f32 {
    match metric {
        Metric::Euclidean | Metric::Cosine | Metric::InnerProduct => {
            stats.visited += 1;
            stats.distance_calls += 1;
            vector_sq(metric, query, stored.row)
        }
        Metric::Dtw { band } => eval_dtw_sq(band, false, query, prep, stored, cutoff, stats),
        Metric::DtwIndependent { band } => {
            eval_dtw_sq(band, true, query, prep, stored, cutoff, stats)
        }
    }
}

/// The DTW case of [`eval_sq`] (same contract), in the dependent form or, with `independent`,
/// the independent one.
#[inline(never)]
fn eval_dtw_sq(
    band: usize,
    independent: bool,
    query: &[f32],
    prep: &mut QueryPrep,
    stored: Stored<'_>,
    cutoff: f32,
    stats: &mut SearchStats,
) -> f32 {
    stats.visited += 1;
    let row = stored.row;
    let c = prep.channels.max(1);
    let band = pair_band(band, prep.window, query.len() / c, row.len() / c);
    if band == 0 && row.len() == query.len() {
        // The only warping path is the diagonal: DTW is the squared Euclidean distance (in both
        // forms), which costs one pass, as much as a bound would. (Between unequal lengths the
        // band follows a sloped diagonal: a DTW.)
        stats.distance_calls += 1;
        return euclidean::sq_euclidean(query, row);
    }
    if cutoff < f32::INFINITY {
        // Cheapest bound first (UCR Suite order). A bound > cutoff means the true DTW is
        // > cutoff too, so the candidate could not enter the result set anyway. Every bound
        // here bounds the independent form, which is at most the dependent one.
        let lb = bounds::lb_kim_channels_sq(query, row, c);
        if lb > cutoff {
            stats.lb_kim_pruned += 1;
            return lb;
        }
        if row.len() != query.len() {
            // Series of another length (a variable-length index): the band follows the sloped
            // diagonal, which the stored straight envelopes do not bound; LB_Keogh is computed
            // along the pair's own band instead, both ways (unless the band is everything).
            match prep.lb_band_of_row_sq(query, row, band, cutoff, false) {
                Some(fwd) => {
                    if fwd > cutoff {
                        stats.lb_keogh_pruned += 1;
                        return fwd;
                    }
                    let rev = prep.lb_band_of_query_sq(query, row, band, cutoff);
                    if rev > cutoff {
                        stats.lb_keogh_rev_pruned += 1;
                        return rev;
                    }
                }
                None => stats.lb_keogh_skipped += 1,
            }
            stats.distance_calls += 1;
            let d = dtw::dtw_form_sq(independent, query, row, c, band, cutoff, &mut prep.dtw);
            if d > cutoff {
                stats.abandoned += 1;
            }
            return d;
        }
        // LB_Keogh both ways, keeping each one's suffix sums over time steps: the tighter set
        // lets the DTW below abandon a row as soon as its cost plus the bound of what remains
        // exceeds the cutoff (the UCR Suite's cumulative bound).
        let steps = query.len() / c;
        prep.cb_fwd.resize(steps, 0.0);
        prep.cb_rev.resize(steps, 0.0);
        let fwd = bounds::lb_keogh_cumulative_channels_sq(
            row,
            &prep.upper,
            &prep.lower,
            c,
            &mut prep.cb_fwd,
        );
        if fwd > cutoff {
            stats.lb_keogh_pruned += 1;
            return fwd;
        }
        let rev = bounds::lb_keogh_cumulative_channels_sq(
            query,
            stored.upper,
            stored.lower,
            c,
            &mut prep.cb_rev,
        );
        if rev > cutoff {
            stats.lb_keogh_rev_pruned += 1;
            return rev;
        }
        stats.distance_calls += 1;
        let d = if independent {
            // Each channel's own tighter bound tells the channels before it how much room
            // the later ones need.
            let [fw, rv] = &mut prep.per_channel;
            fw.resize(c, 0.0);
            rv.resize(c, 0.0);
            bounds::lb_keogh_per_channel_sq(row, &prep.upper, &prep.lower, fw);
            bounds::lb_keogh_per_channel_sq(query, stored.upper, stored.lower, rv);
            for (f, r) in fw.iter_mut().zip(rv.iter()) {
                *f = f.max(*r);
            }
            dtw::dtw_independent_sq_lb(query, row, c, band, cutoff, fw, &mut prep.dtw)
        } else {
            let cb = if fwd > rev {
                &prep.cb_fwd
            } else {
                &prep.cb_rev
            };
            dtw::dtw_dependent_sq_cb(query, row, c, band, cutoff, cb, &mut prep.dtw)
        };
        if d > cutoff {
            stats.abandoned += 1;
        }
        return d;
    }
    stats.distance_calls += 1;
    dtw::dtw_form_sq(
        independent,
        query,
        row,
        c,
        band,
        f32::INFINITY,
        &mut prep.dtw,
    )
}

/// Whether `dtw_lanes_screen` and [`dtw_lanes_batch`] may evaluate the rows of an index under
/// `metric`: the dependent (or one-channel) DTW with a band, on an index of one length
/// (`!variable`: every stored row has the query's length).
pub(crate) fn lanes_apply(metric: Metric, variable: bool) -> bool {
    matches!(metric, Metric::Dtw { band } if band > 0) && !variable
}

/// The cheap bounds [`eval_sq`] tries before a DTW (LB_Kim, then LB_Keogh of the query against
/// the row's envelope), for a row about to join a batch of [`dtw_lanes_batch`]; the caller has
/// the row's LB_Keogh against the query's envelope (its scan order). Counts the row as visited
/// and, when a bound exceeds `cutoff` (squared units), as pruned by it: then returns false.
pub(crate) fn dtw_lanes_screen(
    query: &[f32],
    prep: &QueryPrep,
    stored: Stored<'_>,
    cutoff: f32,
    stats: &mut SearchStats,
) -> bool {
    stats.visited += 1;
    if cutoff == f32::INFINITY {
        return true;
    }
    if bounds::lb_kim_channels_sq(query, stored.row, prep.channels.max(1)) > cutoff {
        stats.lb_kim_pruned += 1;
        return false;
    }
    if bounds::lb_keogh_sq(query, stored.upper, stored.lower, cutoff) > cutoff {
        stats.lb_keogh_rev_pruned += 1;
        return false;
    }
    true
}

/// DTW (squared units, dependent form) of `query` against up to [`lanes::LANES`] stored rows
/// that passed `dtw_lanes_screen` under `metric` (see [`lanes_apply`]), computed together;
/// `out[l]` is exact when `<= cutoff`, else `+inf`. Counts a distance call per row and an
/// abandon per row above `cutoff`.
pub(crate) fn dtw_lanes_batch(
    metric: Metric,
    query: &[f32],
    prep: &mut QueryPrep,
    rows: &[&[f32]],
    cutoff: f32,
    stats: &mut SearchStats,
    out: &mut [f32],
) {
    let c = prep.channels.max(1);
    let steps = query.len() / c;
    let band = pair_band(metric.band().unwrap_or(0), prep.window, steps, steps);
    let Some(&first) = rows.first() else {
        return;
    };
    let batch: [&[f32]; lanes::LANES] =
        std::array::from_fn(|l| rows.get(l).copied().unwrap_or(first));
    let d = lanes::dtw_lanes_sq(query, &batch, c, band, cutoff, &mut prep.lanes);
    for (o, &v) in out.iter_mut().zip(&d).take(rows.len()) {
        stats.distance_calls += 1;
        if v > cutoff {
            stats.abandoned += 1;
        }
        *o = v;
    }
}
