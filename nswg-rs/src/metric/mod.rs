//! Distances: squared Euclidean and banded DTW, with the lower bounds that prune DTW work.
//!
//! Inside the crate every distance is kept in squared units (monotone in the true distance); the
//! public search functions return the square root, so Euclidean results are true L2 and DTW results
//! are `sqrt` of the minimal sum of squared differences along a warping path.

pub mod bounds;
pub mod dtw;
pub mod euclidean;

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
}

impl Metric {
    /// Short lowercase name: `"euclidean"` or `"dtw"`.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Euclidean => "euclidean",
            Metric::Dtw { .. } => "dtw",
        }
    }

    /// The DTW band in samples, or `None` for Euclidean.
    pub fn band(&self) -> Option<usize> {
        match self {
            Metric::Euclidean => None,
            Metric::Dtw { band } => Some(*band),
        }
    }

    /// The metric named `name` (`"euclidean"` or `"dtw"`) for vectors of `dim` floats; `band` is the
    /// DTW Sakoe-Chiba radius in samples (`None`: full DTW, stored as `dim - 1`). The band's range
    /// is checked by [`crate::Index::new`], after `dim`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown name (`metric`) or a band with Euclidean (`band`).
    pub fn from_name(name: &str, band: Option<usize>, dim: usize) -> Result<Metric, Error> {
        match (name, band) {
            ("euclidean", None) => Ok(Metric::Euclidean),
            ("euclidean", Some(_)) => Err(invalid("band", "is only meaningful with metric='dtw'")),
            ("dtw", band) => Ok(Metric::Dtw {
                band: band.unwrap_or(dim.saturating_sub(1)),
            }),
            (other, _) => Err(invalid(
                "metric",
                format!("must be 'euclidean' or 'dtw', got {other:?}"),
            )),
        }
    }

    /// Distance between two equal-length vectors in the metric's true units (not squared), as a
    /// search computes it.
    pub fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            // DTW at band 0 as the search computes it (see `eval_sq`): the Euclidean distance.
            Metric::Euclidean | Metric::Dtw { band: 0 } => euclidean::sq_euclidean(a, b).sqrt(),
            Metric::Dtw { band } => {
                dtw::dtw_sq(a, b, *band, f32::INFINITY, &mut DtwScratch::new()).sqrt()
            }
        }
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
}

impl QueryPrep {
    /// Computes whatever the metric needs about `query` once per search.
    pub fn prepare(&mut self, metric: Metric, query: &[f32]) {
        if let Metric::Dtw { band } = metric {
            self.upper.resize(query.len(), 0.0);
            self.lower.resize(query.len(), 0.0);
            bounds::envelope(query, band, &mut self.upper, &mut self.lower);
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
        Metric::Euclidean => {
            stats.visited += 1;
            stats.distance_calls += 1;
            euclidean::sq_euclidean(query, stored.row)
        }
        Metric::Dtw { band } => eval_dtw_sq(band, query, prep, stored, cutoff, stats),
    }
}

/// The DTW case of [`eval_sq`] (same contract).
#[inline(never)]
fn eval_dtw_sq(
    band: usize,
    query: &[f32],
    prep: &mut QueryPrep,
    stored: Stored<'_>,
    cutoff: f32,
    stats: &mut SearchStats,
) -> f32 {
    stats.visited += 1;
    let row = stored.row;
    if band == 0 {
        // The only warping path is the diagonal: DTW is the squared Euclidean distance, which
        // costs one pass, as much as a bound would.
        stats.distance_calls += 1;
        return euclidean::sq_euclidean(query, row);
    }
    if cutoff < f32::INFINITY {
        // Cheapest bound first (UCR Suite order). A bound > cutoff means the true DTW is
        // > cutoff too, so the candidate could not enter the result set anyway.
        let lb = bounds::lb_kim_sq(query, row);
        if lb > cutoff {
            stats.lb_kim_pruned += 1;
            return lb;
        }
        // LB_Keogh both ways, keeping each one's suffix sums: the tighter set lets the DTW
        // below abandon a row as soon as its cost plus the bound of what remains exceeds
        // the cutoff (the UCR Suite's cumulative bound).
        prep.cb_fwd.resize(query.len(), 0.0);
        prep.cb_rev.resize(query.len(), 0.0);
        let fwd = bounds::lb_keogh_cumulative_sq(row, &prep.upper, &prep.lower, &mut prep.cb_fwd);
        if fwd > cutoff {
            stats.lb_keogh_pruned += 1;
            return fwd;
        }
        let rev =
            bounds::lb_keogh_cumulative_sq(query, stored.upper, stored.lower, &mut prep.cb_rev);
        if rev > cutoff {
            stats.lb_keogh_rev_pruned += 1;
            return rev;
        }
        let cb = if fwd > rev {
            &prep.cb_fwd
        } else {
            &prep.cb_rev
        };
        stats.distance_calls += 1;
        let d = dtw::dtw_sq_cb(query, row, band, cutoff, cb, &mut prep.dtw);
        if d > cutoff {
            stats.abandoned += 1;
        }
        return d;
    }
    stats.distance_calls += 1;
    dtw::dtw_sq(query, row, band, f32::INFINITY, &mut prep.dtw)
}
