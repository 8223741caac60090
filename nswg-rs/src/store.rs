//! The vector store: one flat row-major `f32` buffer, plus each row's DTW envelope when the metric needs it.

use crate::metric::{bounds, Metric, Stored};

/// Rows of `dim` floats, stored contiguously; node `i` is `data[i*dim .. (i+1)*dim]`.
pub(crate) struct Store {
    pub dim: usize,
    /// Floats per time step (1 for plain vectors and univariate series): rows are time-major,
    /// `dim / channels` time steps of `channels` floats each.
    pub channels: usize,
    /// Rows of their own lengths (a whole number of time steps each): row `i` is
    /// `data[ends[i - 1] .. ends[i]]` (from 0 for the first), and `dim` is 0.
    pub variable: bool,
    /// One past the last float of every row (variable-length stores only; empty otherwise).
    pub ends: Vec<usize>,
    /// DTW band as a fraction of the shorter series of each pair (variable-length stores only;
    /// see `metric::pair_band`).
    pub window: Option<f64>,
    pub metric: Metric,
    pub data: Floats,
    /// Upper DTW envelope of every row (empty for Euclidean), same layout as `data`.
    pub upper: Vec<f32>,
    /// Lower DTW envelope of every row (empty for Euclidean), same layout as `data`.
    pub lower: Vec<f32>,
    /// 8-bit codes of every row, once asked for ([`crate::Index::set_codes`]; Euclidean only), for
    /// [`crate::SearchParams::quantized`].
    pub codes: Option<Codes>,
}

impl Store {
    pub fn new(dim: usize, channels: usize, metric: Metric) -> Self {
        Store {
            dim,
            channels,
            variable: false,
            ends: Vec::new(),
            window: None,
            metric,
            data: Floats::default(),
            upper: Vec::new(),
            lower: Vec::new(),
            codes: None,
        }
    }

    /// The floats of row `i` (`i < n`) as a range of `data` (and of the envelopes).
    #[inline]
    pub fn span(&self, i: usize) -> std::ops::Range<usize> {
        if self.variable {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            start..self.ends[i]
        } else {
            i * self.dim..(i + 1) * self.dim
        }
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data.as_slice()[self.span(i)]
    }

    /// Number of stored rows.
    pub fn rows(&self) -> usize {
        if self.variable {
            self.ends.len()
        } else {
            self.data.len().checked_div(self.dim).unwrap_or(0)
        }
    }

    /// Reads one float of every 64-byte line of row `i` and discards the sum, so that all of the
    /// row's cache misses are in flight at once before the distance needs them (a portable, safe
    /// software prefetch: measured on 30,000 x 128 clustered vectors it took single-thread search
    /// from ~0.4x to ~0.7x hnswlib's QPS, the same as `_mm_prefetch`, which would need `unsafe`).
    #[inline]
    pub fn touch_row(&self, i: usize) {
        if let Some(r) = self.data.as_slice().get(self.span(i)) {
            let mut acc = 0.0f32;
            for x in r.iter().step_by(16) {
                acc += *x;
            }
            std::hint::black_box(acc);
        }
    }

    /// The envelope of row `i`, or two empty slices for Euclidean.
    #[inline]
    pub fn envelope(&self, i: usize) -> (&[f32], &[f32]) {
        if self.upper.is_empty() {
            (&[], &[])
        } else {
            let r = self.span(i);
            (&self.upper[r.clone()], &self.lower[r])
        }
    }

    /// Row `i` with its envelope, as the distances read it.
    #[inline]
    pub fn stored(&self, i: usize) -> Stored<'_> {
        let (upper, lower) = self.envelope(i);
        Stored {
            row: self.row(i),
            upper,
            lower,
        }
    }

    /// Appends validated rows (a multiple of `dim` floats) and computes their envelopes.
    /// Reserves room for `additional` more rows exactly (no doubling), envelopes included.
    pub fn reserve(
        &mut self,
        additional: usize,
        floats: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        self.data.reserve_exact(floats)?;
        if self.variable {
            self.ends.try_reserve_exact(additional)?;
        }
        if self.metric.band().is_some() {
            self.upper.try_reserve_exact(floats)?;
            self.lower.try_reserve_exact(floats)?;
        } else if let Some(c) = self.codes.as_mut() {
            c.bytes.reserve_exact(floats)?;
        }
        Ok(())
    }

    pub fn push_rows(&mut self, rows: &[f32]) {
        let (start, first) = (self.data.len(), self.rows());
        self.data.extend_from_slice(rows);
        self.compute_envelopes(first);
        self.encode_rows(start);
    }

    /// Appends validated rows of their own lengths to a variable-length store: `rows` is their
    /// concatenation and `ends[i]` one past the last float of row `i` in `rows` (the last is
    /// `rows.len()`). Computes their envelopes.
    pub fn push_series(&mut self, rows: &[f32], ends: &[usize]) {
        let (first, start) = (self.rows(), self.data.len());
        self.data.extend_from_slice(rows);
        self.ends.extend(ends.iter().map(|end| start + end));
        self.compute_envelopes(first);
    }

    /// Overwrites row `i` (a fixed-length store's, `dim` floats) with `row` (an add filling a
    /// free slot), and brings its envelope and codes up to date.
    pub fn overwrite_row(&mut self, i: usize, row: &[f32]) {
        let span = self.span(i);
        self.data.as_mut_slice()[span.clone()].copy_from_slice(row);
        self.compute_envelopes_of(i..i + 1);
        self.encode_span(span);
    }

    /// Brings the 8-bit codes up to date with the rows from float offset `start` on (Euclidean
    /// and cosine: see [`Store::encode_span`]).
    pub fn encode_rows(&mut self, start: usize) {
        self.encode_span(start..self.data.len());
    }

    /// Brings the 8-bit codes up to date with the rows in the float range `span` (new or
    /// overwritten): widens the per-coordinate ranges to them, re-encoding every row if a range
    /// changed, else encoding only those. The ranges are the minimum and maximum of every
    /// coordinate ever stored (a removed row's values stay counted), and a loaded index
    /// re-encodes from its rows. Does nothing while the store keeps no codes.
    pub fn encode_span(&mut self, span: std::ops::Range<usize>) {
        let start = span.start;
        let data = &self.data.as_slice()[..span.end];
        let Some(c) = self.codes.as_mut() else {
            return;
        };
        if c.lo.len() != self.dim {
            c.lo = vec![f32::INFINITY; self.dim];
            c.hi = vec![f32::NEG_INFINITY; self.dim];
        }
        let mut widened = false;
        for row in data[start..].chunks_exact(self.dim) {
            for ((x, lo), hi) in row.iter().zip(&mut c.lo).zip(&mut c.hi) {
                if *x < *lo {
                    *lo = *x;
                    widened = true;
                }
                if *x > *hi {
                    *hi = *x;
                    widened = true;
                }
            }
        }
        let from = if widened {
            // In f64: `hi - lo` of two finite f32 can overflow f32.
            c.scale =
                c.lo.iter()
                    .zip(&c.hi)
                    .map(|(&lo, &hi)| ((f64::from(hi) - f64::from(lo)) / 255.0) as f32)
                    .collect();
            0
        } else {
            start
        };
        let data = if widened { self.data.as_slice() } else { data };
        c.bytes.resize(self.data.len());
        let out = &mut c.bytes.as_mut_slice()[from..data.len()];
        for (row, codes) in data[from..]
            .chunks_exact(self.dim)
            .zip(out.chunks_exact_mut(self.dim))
        {
            for (((x, lo), s), code) in row.iter().zip(&c.lo).zip(&c.scale).zip(codes) {
                *code = if *s > 0.0 {
                    ((f64::from(*x) - f64::from(*lo)) / f64::from(*s))
                        .round()
                        .clamp(0.0, 255.0) as u8
                } else {
                    0
                };
            }
        }
    }

    /// Bytes this store has allocated: rows, envelopes, row ends, codes.
    pub fn memory_usage(&self) -> usize {
        let codes = self.codes.as_ref().map_or(0, |c| {
            c.bytes.capacity_bytes() + 4 * (c.lo.capacity() + c.hi.capacity() + c.scale.capacity())
        });
        self.data.capacity_bytes()
            + 4 * (self.upper.capacity() + self.lower.capacity())
            + 8 * self.ends.capacity()
            + codes
    }

    /// Starts keeping 8-bit codes of every row (encoding the rows stored so far), or drops them.
    pub fn set_codes(&mut self, on: bool) {
        match (on, self.codes.is_some()) {
            (true, false) => {
                self.codes = Some(Codes::default());
                self.encode_rows(0);
            }
            (false, true) => self.codes = None,
            _ => {}
        }
    }

    /// Computes envelopes for every row from row `first` on (DTW only).
    pub fn compute_envelopes(&mut self, first: usize) {
        self.compute_envelopes_of(first..self.rows());
    }

    /// Computes the envelopes of the rows `rows` (DTW only).
    fn compute_envelopes_of(&mut self, rows: std::ops::Range<usize>) {
        if let Some(band) = self.metric.band() {
            self.upper.resize(self.data.len(), 0.0);
            self.lower.resize(self.data.len(), 0.0);
            for i in rows {
                let r = self.span(i);
                let steps = r.len() / self.channels;
                let band = crate::metric::pair_band(band, self.window, steps, steps);
                let (up, lo) = (&mut self.upper[r.clone()], &mut self.lower[r.clone()]);
                bounds::envelope_channels(&self.data.as_slice()[r], self.channels, band, up, lo);
            }
        }
    }
}

/// Scalar quantisation of the stored rows to one byte per coordinate: coordinate `j` of a row is
/// stored as the code `c` whose value `lo[j] + scale[j] * c` is nearest, with `lo`/`hi` the
/// smallest/largest stored value of coordinate `j` and `scale = (hi - lo) / 255`, so the error per
/// coordinate is at most `scale / 2`. A quantized search walks the graph on these (a quarter of the
/// memory traffic of the floats) and re-ranks its final candidates with the floats.
#[derive(Default)]
pub(crate) struct Codes {
    pub lo: Vec<f32>,
    pub hi: Vec<f32>,
    pub scale: Vec<f32>,
    pub bytes: Bytes,
}

impl Codes {
    /// The codes of row `i` of width `dim` (empty past the end).
    #[inline(always)]
    pub fn row(&self, dim: usize, i: usize) -> &[u8] {
        self.bytes
            .as_slice()
            .get(i * dim..(i + 1) * dim)
            .unwrap_or(&[])
    }

    /// [`Store::touch_row`] for the codes of row `i`: one read per cache line of the row.
    #[inline]
    pub fn touch(&self, dim: usize, i: usize) {
        let mut acc = 0u8;
        for x in self.row(dim, i).iter().step_by(64) {
            acc ^= *x;
        }
        std::hint::black_box(acc);
    }
}

/// One 64-byte cache line of bytes; the unit of [`Bytes`]' allocation.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct ByteLine([u8; 64]);

/// A growable byte buffer starting on a 64-byte cache line (see [`Floats`]).
#[derive(Default)]
pub(crate) struct Bytes {
    lines: Vec<ByteLine>,
    len: usize,
}

impl Bytes {
    /// The bytes, `len` of them.
    #[inline(always)]
    pub fn as_slice(&self) -> &[u8] {
        &bytemuck::cast_slice::<ByteLine, u8>(&self.lines)[..self.len]
    }

    /// The bytes, mutable.
    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<ByteLine, u8>(&mut self.lines)[..self.len]
    }

    /// Bytes allocated.
    pub fn capacity_bytes(&self) -> usize {
        self.lines.capacity() * 64
    }

    /// Keeps the first `len` bytes, or appends zeros up to `len`.
    pub fn resize(&mut self, len: usize) {
        let lines = len.div_ceil(64);
        crate::pages::grow_advised(&mut self.lines, lines);
        self.lines.resize(lines, ByteLine([0; 64]));
        self.len = len;
    }

    /// Room for `additional` more bytes without reallocating (no doubling).
    pub fn reserve_exact(
        &mut self,
        additional: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        let need = (self.len + additional).div_ceil(64);
        crate::pages::reserve_advised(&mut self.lines, need)
    }
}

/// One 64-byte cache line of floats; the unit of [`Floats`]' allocation.
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A growable `f32` buffer whose first element starts a 64-byte cache line. A `Vec<f32>` from the
/// system allocator starts 16 bytes into a line, so every 512-byte row of 128 floats spans 9 lines
/// instead of 8 and every 128-byte row of 32 floats 3 instead of 2: a search, bound by how many
/// lines it fetches, pays for the extra ones. Rows of any width still lie back to back.
#[derive(Default)]
pub(crate) struct Floats {
    lines: Vec<Line>,
    len: usize,
}

impl Floats {
    /// The floats, `len()` of them.
    #[inline(always)]
    pub fn as_slice(&self) -> &[f32] {
        &bytemuck::cast_slice::<Line, f32>(&self.lines)[..self.len]
    }

    /// The floats, mutable.
    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut bytemuck::cast_slice_mut::<Line, f32>(&mut self.lines)[..self.len]
    }

    /// Bytes allocated.
    pub fn capacity_bytes(&self) -> usize {
        self.lines.capacity() * 64
    }

    /// Number of floats held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Room for `additional` more floats without reallocating (no doubling).
    pub fn reserve_exact(
        &mut self,
        additional: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        let need = (self.len + additional).div_ceil(16);
        crate::pages::reserve_advised(&mut self.lines, need)
    }

    /// Appends `xs`.
    pub fn extend_from_slice(&mut self, xs: &[f32]) {
        let start = self.len;
        self.len += xs.len();
        let lines = self.len.div_ceil(16);
        crate::pages::grow_advised(&mut self.lines, lines);
        self.lines.resize(lines, Line::default());
        bytemuck::cast_slice_mut::<Line, f32>(&mut self.lines)[start..self.len].copy_from_slice(xs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decode_within_half_a_step_and_follow_the_ranges() {
        let dim = 5;
        let mut st = Store::new(dim, 1, Metric::Euclidean);
        st.set_codes(true);
        let rows: Vec<f32> = (0..200)
            .map(|i| ((i * 7919) % 1000) as f32 * 0.01 - 3.0 + (i % dim) as f32)
            .collect();
        st.push_rows(&rows[..100]);
        st.push_rows(&rows[100..]);
        let c = st.codes.as_ref().unwrap();
        for j in 0..dim {
            let col = rows.iter().skip(j).step_by(dim);
            let lo = col.clone().fold(f32::INFINITY, |a, &b| a.min(b));
            let hi = col.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            assert_eq!((c.lo[j], c.hi[j]), (lo, hi));
        }
        for (i, row) in rows.chunks_exact(dim).enumerate() {
            for (j, x) in row.iter().enumerate() {
                let back = c.lo[j] + c.scale[j] * f32::from(c.row(dim, i)[j]);
                assert!(
                    (back - x).abs() <= c.scale[j] * 0.5 + 1e-5,
                    "row {i} col {j}"
                );
            }
        }
        // A constant coordinate codes to 0 and decodes exactly.
        let mut flat = Store::new(2, 1, Metric::Euclidean);
        flat.set_codes(true);
        flat.push_rows(&[1.5, 0.0, 1.5, 1.0]);
        let c = flat.codes.as_ref().unwrap();
        assert_eq!((c.row(2, 0), c.row(2, 1)), (&[0u8, 0][..], &[0u8, 255][..]));
    }
}
