//! The on-disk format (versions 1 to 4), little-endian throughout. Flat indexes are written as
//! version 1; indexes with a hierarchy ([`GraphKind::Hnsw`]) as version 2, which appends the
//! layers after the link slots; an index holding rows not yet linked into its graph
//! ([`Index::pending`]) as version 3, which adds the graph kind and the number of linked rows to
//! the header and stores the graph of those rows only (the first `linked` rows; the others are
//! linked by the next build); a multichannel or independent-DTW index as version 4, version 3's
//! layout with the channel count and a shape code added to the header; an index with the cosine or
//! inner-product metric, or with removed rows (free slots, or slots refilled and not yet relinked),
//! as version 5, version 4's layout with two counts added to the header and the relinked slots
//! after the ids. So a fully built single-channel index is written exactly as before:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `b"NSWGIDX\0"` |
//! | 4 | format version (u32) |
//! | 4 | metric (u32: 0 Euclidean, 1 DTW (dependent for several channels), 2 independent DTW (versions 4 and 5), 3 cosine, 4 inner product (version 5 only)) |
//! | 8 x 7 | dim, band, max_degree, ef_construction, restarts (written as 1, ignored on load), seed, n (u64 each) |
//! | 8 + 8 | versions 3 and 4: graph kind (u64: 0 flat, 1 hierarchy) and `g`, the rows linked (u64; `g < n` in version 3, `g <= n` in 4); in versions 1 and 2, `g = n` |
//! | 8 + 8 | version 4 only: channels (u64, floats per time step, dividing dim) and the shape code (u64; 0: every row has dim floats; 1: series of their own lengths, and the dim field holds the total floats `F` of all rows instead) |
//! | 8 | versions 4 and 5: the DTW window of a shape-1 index (f64 bits, a fraction 0 to 1 of the shorter series of each pair), or `u64::MAX` for none |
//! | 8 + 8 + 8 | version 5 only: `f`, the free slots (u64; their id is -1); `r`, the slots refilled since their row was removed and not yet linked again (u64); the stored rows awaiting links (u64: `r` plus the rows in use past the first `g`) |
//! | 8·n | shape 1 only: time steps of every series (u64, at least 1 each, summing to `F / channels`) |
//! | 4·n·dim (shape 1: 4·F) | vectors (f32, row-major; a series time-major, `channels` floats per time step; shape 1: back to back) |
//! | 8·n | user ids (i64; -1 marks a free slot, version 5 only) |
//! | 4·r | version 5 only: the refilled slots awaiting their links (u32 node numbers below `g`, ascending) |
//! | 4·g | degrees (u32) |
//! | 4·g·max_degree | link slots (u32 node numbers; the first `degree` of each node are used) |
//! | 8 + 8 | hierarchy only: entry node and top level (u64 each; `u64::MAX` twice when g = 0) |
//! | g | hierarchy only: level of every linked node (u8, at most 30) |
//! | per level l = 1..=top | hierarchy only: for the `g_l` nodes of level >= l in ascending order, degrees (4·g_l) then `M` link slots each (4·g_l·M), `M = max(max_degree / 2, 2)` |
//! | 4 | CRC-32 of every preceding byte |
//!
//! Loading checks the magic, version, checksum, exact length, and every value the search indexes
//! with (degrees, link targets, ids; levels, layer links, the entry point), so a loaded index cannot
//! make search read out of bounds.
//!
//! Both directions stream in pieces of [`PIECE`] bytes, checksumming as they go: saving never
//! holds the file in memory beside the index, and loading reads straight into the index's own
//! buffers, after checking the header's sizes against the file's length (so a forged header cannot
//! make it allocate more than the file holds). Values are checked after the checksum, so a
//! corrupt file is reported as corrupt rather than by whichever value the damage hit.

use crate::error::{invalid, Error};
use crate::graph::{Graph, Layers, MAX_LEVEL};
use crate::index::{Index, FREE_ID};
use crate::insert::upper_degree;
use crate::metric::Metric;
use crate::params::{BuildParams, GraphKind, MAX_DIM};
use crate::store::{Floats, Store};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"NSWGIDX\0";
/// Highest format version this build reads (it reads 1 to 5). Flat indexes are written as version
/// 1, hierarchical ones as version 2, indexes with pending rows as version 3, multichannel or
/// independent-DTW indexes as version 4 (pending rows or not), and cosine, inner-product or
/// indexes with removed rows as version 5.
pub const FORMAT_VERSION: u32 = 5;
const FLAT_VERSION: u32 = 1;
const HNSW_VERSION: u32 = 2;
const PENDING_VERSION: u32 = 3;
const MULTI_VERSION: u32 = 4;
const SLOTS_VERSION: u32 = 5;
const HEADER_LEN: usize = 72;
/// Header length of version 3 (graph kind and linked rows added).
const HEADER_V3_LEN: usize = HEADER_LEN + 16;
/// Header length of version 4 (channels, the shape code and the window added to version 3's).
const HEADER_V4_LEN: usize = HEADER_V3_LEN + 24;
/// Header length of version 5 (free, refilled and pending counts added to version 4's).
const HEADER_V5_LEN: usize = HEADER_V4_LEN + 24;
/// The window field of a version-4 header without a window.
const NO_WINDOW: u64 = u64::MAX;
/// Bytes converted per piece when streaming a section in or out.
const PIECE: usize = 1 << 16;

/// What a saved index file says about itself, read without loading the vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Format version of the file.
    pub version: u32,
    /// The metric, with the DTW band in samples.
    pub metric: Metric,
    /// Width of every vector (floats: time steps x channels for a series).
    pub dim: usize,
    /// Floats per time step (1 in files of versions 1 to 3).
    pub channels: usize,
    /// Series of their own lengths ([`Index::variable`]; `dim` is then 0).
    pub variable: bool,
    /// Floats stored in all: `n * dim`, or the sum of the series' lengths times `channels`.
    pub floats: usize,
    /// The DTW window of a variable-length index ([`Index::variable_windowed`]).
    pub window: Option<f64>,
    /// Number of slots (stored vectors plus free slots).
    pub n: usize,
    /// Free slots, left by removed rows (version 5; 0 otherwise).
    pub free: usize,
    /// Slots refilled after a removal and not yet linked again (version 5; 0 otherwise).
    pub relink: usize,
    /// Stored rows awaiting links ([`Index::pending`]; `n - linked` before version 5).
    pub pending: usize,
    /// How many of them (the first ones) are linked into the graph; the others are pending
    /// ([`Index::pending`]). Equals `n` in files of versions 1 and 2.
    pub linked: usize,
    /// Build parameters stored with the graph.
    pub params: BuildParams,
}

/// The header's length for the format version in its bytes 8..12 (`bytes` holds at least 12).
fn header_len(bytes: &[u8]) -> usize {
    match u32_at(bytes, 8) {
        PENDING_VERSION => HEADER_V3_LEN,
        MULTI_VERSION => HEADER_V4_LEN,
        SLOTS_VERSION => HEADER_V5_LEN,
        _ => HEADER_LEN,
    }
}

fn fmt_err(reason: impl Into<String>) -> Error {
    Error::Format {
        reason: reason.into(),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn usize_at(b: &[u8], at: usize, name: &str) -> Result<usize, Error> {
    usize::try_from(u64_at(b, at)).map_err(|_| fmt_err(format!("{name} does not fit in memory")))
}

/// Parses and checks the fixed-size header at the start of `bytes`.
fn parse_header(bytes: &[u8]) -> Result<Header, Error> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(fmt_err(
            "missing magic bytes (is this an index saved by pyembed?)",
        ));
    }
    let version = u32_at(bytes, 8);
    if version > FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version == 0 {
        return Err(fmt_err("format version 0 does not exist"));
    }
    let need = header_len(bytes);
    if bytes.len() < need {
        return Err(fmt_err(format!(
            "file is truncated: {} bytes, shorter than the {need}-byte header",
            bytes.len()
        )));
    }
    let n = usize_at(bytes, 64, "n")?;
    let (graph, linked) = match version {
        FLAT_VERSION => (GraphKind::Nsw, n),
        HNSW_VERSION => (GraphKind::Hnsw, n),
        _ => {
            let graph = match u64_at(bytes, HEADER_LEN) {
                0 => GraphKind::Nsw,
                1 => GraphKind::Hnsw,
                g => return Err(fmt_err(format!("unknown graph kind code {g}"))),
            };
            let linked = usize_at(bytes, HEADER_LEN + 8, "linked")?;
            if linked > n || (linked == n && version == PENDING_VERSION) {
                // Version 3 is written only with rows pending: one file form per index.
                return Err(fmt_err(format!(
                    "a version-3 header says {linked} of its {n} rows are linked; it is written \
                     only with rows pending"
                )));
            }
            (graph, linked)
        }
    };
    let band = usize_at(bytes, 24, "band")?;
    let metric = match u32_at(bytes, 12) {
        0 => Metric::Euclidean,
        1 => Metric::Dtw { band },
        2 if version >= MULTI_VERSION => Metric::DtwIndependent { band },
        3 if version >= SLOTS_VERSION => Metric::Cosine,
        4 if version >= SLOTS_VERSION => Metric::InnerProduct,
        m => return Err(fmt_err(format!("unknown metric code {m}"))),
    };
    let (channels, variable) = if version >= MULTI_VERSION {
        let variable = match u64_at(bytes, HEADER_V3_LEN + 8) {
            0 => false,
            1 => true,
            _ => return Err(fmt_err("unknown shape code (written by a newer pyembed?)")),
        };
        (usize_at(bytes, HEADER_V3_LEN, "channels")?, variable)
    } else {
        (1, false)
    };
    let window = match version {
        MULTI_VERSION | SLOTS_VERSION => match u64_at(bytes, HEADER_V3_LEN + 16) {
            NO_WINDOW => None,
            bits => {
                let w = f64::from_bits(bits);
                if !variable || !(0.0..=1.0).contains(&w) {
                    return Err(fmt_err(format!(
                        "header holds an invalid DTW window {w} (fractions 0 to 1, variable \
                         lengths only)"
                    )));
                }
                Some(w)
            }
        },
        _ => None,
    };
    // A variable-length file keeps its total floats where the others keep dim.
    let (free, relink, pending) = if version >= SLOTS_VERSION {
        (
            usize_at(bytes, HEADER_V4_LEN, "free")?,
            usize_at(bytes, HEADER_V4_LEN + 8, "relink")?,
            usize_at(bytes, HEADER_V4_LEN + 16, "pending")?,
        )
    } else {
        (0, 0, n - linked)
    };
    if free > n || relink > linked || pending > n - free {
        return Err(fmt_err(format!(
            "header holds {free} free and {relink} refilled slots for {n} rows, {linked} linked"
        )));
    }
    let dim_field = usize_at(bytes, 16, "dim")?;
    let (dim, floats) = if variable {
        (0, dim_field)
    } else {
        (
            dim_field,
            n.checked_mul(dim_field)
                .ok_or_else(|| fmt_err("sizes in the header overflow"))?,
        )
    };
    let h = Header {
        version,
        metric,
        dim,
        channels,
        variable,
        floats,
        window,
        n,
        free,
        relink,
        pending,
        linked,
        params: BuildParams {
            max_degree: usize_at(bytes, 32, "max_degree")?,
            ef_construction: usize_at(bytes, 40, "ef_construction")?,
            seed: u64_at(bytes, 56),
            graph,
        },
    };
    if (h.dim == 0 && !h.variable)
        || h.dim > MAX_DIM
        || h.params.max_degree < 2
        || h.params.max_degree > 4096
    {
        return Err(fmt_err("header holds an invalid dim or max_degree"));
    }
    if h.variable && (h.metric.band().is_none_or(|b| b > Index::FULL_BAND) || h.channels == 0) {
        return Err(fmt_err(
            "a variable-length header needs DTW with a band of at most the largest dim, and channels",
        ));
    }
    if h.channels == 0 || h.channels > MAX_DIM || !h.dim.is_multiple_of(h.channels) {
        return Err(fmt_err(format!(
            "header holds {} channels, not a divisor of dim={}",
            h.channels, h.dim
        )));
    }
    if !h.variable
        && h.metric
            .band()
            .is_some_and(|band| band > h.dim / h.channels)
    {
        return Err(fmt_err(format!(
            "header holds a DTW band of {band} samples, above the series length {} (dim={}, \
             channels={})",
            h.dim / h.channels,
            h.dim,
            h.channels
        )));
    }
    // Bytes 48..56 held the build-time restarts (always >= 1); builds no longer use them.
    if h.params.ef_construction == 0 || u64_at(bytes, 48) == 0 || h.n > u32::MAX as usize {
        return Err(fmt_err(
            "header holds an invalid ef_construction, restarts or n",
        ));
    }
    Ok(h)
}

/// Reads only the header of the index file at `path`.
///
/// # Errors
/// `Io` if the file cannot be read; `Format` or `UnsupportedVersion` if it is not a valid header.
pub fn read_header(path: &Path) -> Result<Header, Error> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(HEADER_V5_LEN);
    std::fs::File::open(path)?
        .take(HEADER_V5_LEN as u64)
        .read_to_end(&mut buf)?;
    parse_header(&buf)
}

/// A writer that checksums everything passed through it.
struct Summed<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `items` to `w` as little-endian values of `N` bytes, converted in pieces.
fn put<T, const N: usize>(
    w: &mut impl Write,
    items: impl Iterator<Item = T>,
    le: fn(T) -> [u8; N],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(PIECE);
    for x in items {
        buf.extend_from_slice(&le(x));
        if buf.len() + N > PIECE {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)
}

/// Fills `buf` from `r`; a file that ends first is reported as truncated.
fn read_all(r: &mut impl Read, buf: &mut [u8]) -> Result<(), Error> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            fmt_err("the file ended early (truncated while it was being read)")
        } else {
            Error::Io(e)
        }
    })
}

/// A reader that checksums everything read through it and reports a short file as truncated.
struct Source<R: Read> {
    inner: R,
    crc: crc32fast::Hasher,
}

impl<R: Read> Source<R> {
    /// Fills `buf` from the file (checksummed).
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        read_all(&mut self.inner, buf)?;
        self.crc.update(buf);
        Ok(())
    }

    /// Reads `count` little-endian values of `N` bytes, handing them to `sink` in pieces along
    /// with the position of each piece's first value.
    fn values<T, const N: usize>(
        &mut self,
        count: usize,
        le: fn([u8; N]) -> T,
        mut sink: impl FnMut(usize, &[T]),
    ) -> Result<(), Error> {
        let per = PIECE / N;
        let mut raw = vec![0u8; per.min(count) * N];
        let mut out = Vec::with_capacity(per.min(count));
        let mut done = 0;
        while done < count {
            let k = per.min(count - done);
            self.fill(&mut raw[..k * N])?;
            out.clear();
            out.extend(raw[..k * N].chunks_exact(N).map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                le(a)
            }));
            sink(done, &out);
            done += k;
        }
        Ok(())
    }
}

/// Bytes before the layer section: a header of `header` bytes, `n` vectors and ids, and the
/// degrees and link slots of `linked` nodes (`None` on overflow).
fn base_len(header: usize, n: usize, linked: usize, floats: usize, m: usize) -> Option<usize> {
    floats
        .checked_mul(4)?
        .checked_add(n.checked_mul(8)?)?
        .checked_add(linked.checked_mul(m.checked_add(1)?)?.checked_mul(4)?)?
        .checked_add(header)
}

/// Bytes of one upper layer of `nodes` nodes whose lists hold `m` links (`None` on overflow).
fn layer_len(nodes: usize, m: usize) -> Option<usize> {
    nodes.checked_mul(4 * (1 + m))
}

fn length_err(len: u64, expected: usize) -> Error {
    fmt_err(format!(
        "file has {len} bytes but its header describes {expected} (truncated or corrupt)"
    ))
}

impl Index {
    /// The format version [`Index::save`] writes for this index: 4 for a multichannel or
    /// independent-DTW index, else 3 while rows are pending, else 2 with a hierarchy, else 1.
    pub fn format_version(&self) -> u32 {
        if matches!(self.metric(), Metric::Cosine | Metric::InnerProduct)
            || !self.free.is_empty()
            || !self.relink.is_empty()
        {
            SLOTS_VERSION
        } else if self.store.channels > 1
            || self.store.variable
            || matches!(self.metric(), Metric::DtwIndependent { .. })
        {
            MULTI_VERSION
        } else if self.pending() > 0 {
            PENDING_VERSION
        } else if self.layers.is_some() {
            HNSW_VERSION
        } else {
            FLAT_VERSION
        }
    }

    /// Size in bytes of the file [`Index::save`] writes for this index.
    pub fn file_len(&self) -> usize {
        let (n, linked) = (self.slots(), self.graph.len());
        let layers = self.layers.as_ref().map_or(Some(0), |l| {
            l.upper.iter().try_fold(16 + linked, |sum, layer| {
                sum.checked_add(layer_len(layer.nodes.len(), l.m)?)
            })
        });
        let header = match self.format_version() {
            SLOTS_VERSION => HEADER_V5_LEN + 4 * self.relink.len(),
            MULTI_VERSION => HEADER_V4_LEN,
            PENDING_VERSION => HEADER_V3_LEN,
            _ => HEADER_LEN,
        };
        // Sizes of an index held in memory do not overflow.
        let lengths = if self.store.variable { 8 * n } else { 0 };
        base_len(
            header + lengths,
            n,
            linked,
            self.store.data.len(),
            self.graph.max_degree,
        )
        .zip(layers)
        .map_or(usize::MAX, |(base, layers)| base + layers + 4)
    }

    /// Serialises the whole index (vectors, ids, graph, parameters) in the format above.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.file_len());
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut b);
        b
    }

    /// Streams the index in the format above to `w`, in pieces of 64 KiB (the file is never held
    /// in memory; wrap unbuffered writers in a `BufWriter` for the small header writes).
    ///
    /// # Errors
    /// `Io` if `w` fails.
    pub fn write_to(&self, w: &mut impl Write) -> Result<(), Error> {
        let mut w = Summed {
            inner: w,
            crc: crc32fast::Hasher::new(),
        };
        let n = self.slots();
        let m = self.graph.max_degree;
        let mut head = Vec::with_capacity(HEADER_V5_LEN);
        head.extend_from_slice(MAGIC);
        let version = self.format_version();
        head.extend_from_slice(&version.to_le_bytes());
        let (code, band) = match self.metric() {
            Metric::Euclidean => (0u32, 0usize),
            Metric::Dtw { band } => (1, band),
            Metric::DtwIndependent { band } => (2, band),
            Metric::Cosine => (3, 0),
            Metric::InnerProduct => (4, 0),
        };
        head.extend_from_slice(&code.to_le_bytes());
        // The fifth field held the build-time restarts; builds use one, and it is written as 1
        // so files stay byte-identical to those of earlier releases.
        // A variable-length index keeps its total floats where the others keep dim.
        let dim_field = if self.store.variable {
            self.store.data.len()
        } else {
            self.dim()
        };
        for v in [dim_field, band, m, self.params.ef_construction, 1] {
            head.extend_from_slice(&(v as u64).to_le_bytes());
        }
        head.extend_from_slice(&self.params.seed.to_le_bytes());
        head.extend_from_slice(&(n as u64).to_le_bytes());
        if version >= PENDING_VERSION {
            let kind = u64::from(self.layers.is_some());
            head.extend_from_slice(&kind.to_le_bytes());
            head.extend_from_slice(&(self.graph.len() as u64).to_le_bytes());
        }
        if version >= MULTI_VERSION {
            head.extend_from_slice(&(self.store.channels as u64).to_le_bytes());
            let shape = u64::from(self.store.variable); // 0: rows of dim floats; 1: own lengths
            head.extend_from_slice(&shape.to_le_bytes());
            let window = self.store.window.map_or(NO_WINDOW, f64::to_bits);
            head.extend_from_slice(&window.to_le_bytes());
        }
        if version >= SLOTS_VERSION {
            head.extend_from_slice(&(self.free.len() as u64).to_le_bytes());
            head.extend_from_slice(&(self.relink.len() as u64).to_le_bytes());
            head.extend_from_slice(&(self.pending() as u64).to_le_bytes());
        }
        w.write_all(&head)?;
        if self.store.variable {
            let c = self.store.channels;
            let steps = (0..n).map(|i| (self.store.span(i).len() / c) as u64);
            put(&mut w, steps, u64::to_le_bytes)?;
        }
        put(&mut w, self.store.data.as_slice().iter(), |x| {
            x.to_le_bytes()
        })?;
        put(&mut w, self.ids.iter(), |x| x.to_le_bytes())?;
        let mut relink = self.relink.clone();
        relink.sort_unstable();
        put(&mut w, relink.into_iter(), u32::to_le_bytes)?;
        put(&mut w, self.graph.raw_counts(), u32::to_le_bytes)?;
        put(&mut w, self.graph.raw_slots(), u32::to_le_bytes)?;
        if let Some(layers) = &self.layers {
            let (entry, top) = layers
                .entry()
                .map_or((u64::MAX, u64::MAX), |(e, t)| (e as u64, t as u64));
            w.write_all(&entry.to_le_bytes())?;
            w.write_all(&top.to_le_bytes())?;
            w.write_all(&layers.levels)?;
            for layer in &layers.upper {
                put(&mut w, layer.graph.raw_counts(), u32::to_le_bytes)?;
                put(&mut w, layer.graph.raw_slots(), u32::to_le_bytes)?;
            }
        }
        let crc = w.crc.clone().finalize();
        w.inner.write_all(&crc.to_le_bytes())?;
        w.inner.flush()?;
        Ok(())
    }

    /// Writes the index to `path` crash-safely: into an unnamed (Linux) or uniquely named
    /// temporary file in the same folder, synced, renamed over `path`, and the folder synced.
    /// At every moment `path` holds either the previous file or the new one, complete; a failed
    /// save removes its temporary file, and concurrent saves to one path (threads or processes)
    /// leave one of them whole. Memory use beyond the index is one 1 MiB buffer.
    ///
    /// # Errors
    /// `Io` if the file cannot be written (the previous file, if any, is untouched).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        crate::durable::replace(path, |f| {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            self.write_to(&mut w)?;
            w.flush()?;
            Ok(())
        })
    }

    /// Reads an index written by [`Index::save`], streaming it into the index's own buffers (no
    /// second copy of the file in memory).
    ///
    /// # Errors
    /// `Io` if the file cannot be read; `Format` if it is truncated, corrupt or inconsistent;
    /// `UnsupportedVersion` if it was written by a newer format.
    pub fn load(path: &Path) -> Result<Index, Error> {
        let f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        Index::read_from(std::io::BufReader::with_capacity(PIECE, f), len)
    }

    /// Parses an index from bytes produced by [`Index::to_bytes`], validating everything.
    ///
    /// # Errors
    /// As [`Index::load`], without `Io`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Index, Error> {
        Index::read_from(bytes, bytes.len() as u64)
    }

    /// Reads an index of `len` bytes (the whole file's length, used to check the header's sizes
    /// before anything is allocated) from `r`, validating everything.
    ///
    /// # Errors
    /// As [`Index::load`].
    pub fn read_from(r: impl Read, len: u64) -> Result<Index, Error> {
        let mut src = Source {
            inner: r,
            crc: crc32fast::Hasher::new(),
        };
        let file_len = usize::try_from(len).unwrap_or(usize::MAX);
        let mut head = vec![0u8; HEADER_LEN.min(file_len)];
        src.fill(&mut head)?;
        if head.len() >= 12 && header_len(&head) > head.len() && file_len >= header_len(&head) {
            let mut more = vec![0u8; header_len(&head) - HEADER_LEN];
            src.fill(&mut more)?;
            head.extend_from_slice(&more);
        }
        let h = parse_header(&head)?;
        let (n, g, dim, m) = (h.n, h.linked, h.dim, h.params.max_degree);
        let lengths_len = if h.variable {
            n.checked_mul(8)
        } else {
            Some(0)
        }
        .and_then(|l| l.checked_add(h.relink.checked_mul(4)?));
        let base = lengths_len
            .and_then(|l| base_len(head.len().checked_add(l)?, n, g, h.floats, m))
            .ok_or_else(|| fmt_err("sizes in the header overflow"))?;
        let hnsw = h.params.graph == GraphKind::Hnsw;
        // The smallest file the header allows (the layer section's size follows from the levels).
        let least = base
            .checked_add(if hnsw { 16 + g + 4 } else { 4 })
            .ok_or_else(|| fmt_err("sizes in the header overflow"))?;
        if (hnsw && len < least as u64) || (!hnsw && len != least as u64) {
            return Err(length_err(len, least));
        }
        let oom = |_| Error::OutOfMemory {
            what: "the index being loaded",
            bytes: base,
        };
        let mut store = Store::new(dim, h.channels, h.metric);
        let floats = h.floats;
        if h.metric.band().is_some() {
            // The DTW envelopes computed after the load: two more copies of the rows.
            store.upper.try_reserve_exact(floats).map_err(oom)?;
            store.lower.try_reserve_exact(floats).map_err(oom)?;
        }
        let mut steps: Vec<u64> = Vec::new();
        if h.variable {
            steps.try_reserve_exact(n).map_err(oom)?;
            src.values(n, u64::from_le_bytes, |_, p| steps.extend_from_slice(p))?;
        }
        let mut data = Floats::default();
        data.reserve_exact(floats).map_err(oom)?;
        src.values(floats, f32::from_le_bytes, |_, p| data.extend_from_slice(p))?;
        let mut ids = Vec::new();
        ids.try_reserve_exact(n).map_err(oom)?;
        src.values(n, i64::from_le_bytes, |_, p| ids.extend_from_slice(p))?;
        let mut relink: Vec<u32> = Vec::new();
        relink.try_reserve_exact(h.relink).map_err(oom)?;
        src.values(h.relink, u32::from_le_bytes, |_, p| {
            relink.extend_from_slice(p)
        })?;
        let mut graph = Graph::new(m);
        graph.reserve(g).map_err(oom)?;
        graph.grow(g);
        src.values(g, u32::from_le_bytes, |at, p| graph.fill_counts(at, p))?;
        src.values(g * m, u32::from_le_bytes, |at, p| graph.fill_slots(at, p))?;
        let mut layers = None;
        if hnsw {
            let mut ends = [0u8; 16];
            src.fill(&mut ends)?;
            let mut levels = vec![0u8; g];
            src.fill(&mut levels)?;
            layers = Some(read_layers(&mut src, &ends, levels, m, len, base)?);
        }
        let sum = src.crc.clone().finalize();
        let mut stored = [0u8; 4];
        read_all(&mut src.inner, &mut stored)?;
        if u32::from_le_bytes(stored) != sum {
            return Err(fmt_err("checksum mismatch (the file is corrupt)"));
        }
        // The checksum holds: now every value the search relies on.
        if data.as_slice().iter().any(|x| !x.is_finite()) {
            return Err(fmt_err("a stored vector holds a non-finite value"));
        }
        let mut id_map = HashMap::new();
        id_map.try_reserve(n).map_err(oom)?;
        let mut free = Vec::new();
        for (node, &id) in ids.iter().enumerate() {
            if id == FREE_ID && h.version >= SLOTS_VERSION {
                free.push(node as u32);
            } else if id < 0 || id_map.insert(id, node as u32).is_some() {
                return Err(fmt_err(format!("invalid or repeated id {id}")));
            }
        }
        if free.len() != h.free {
            return Err(fmt_err(format!(
                "the header says {} free slots, the ids mark {}",
                h.free,
                free.len()
            )));
        }
        if relink.windows(2).any(|w| w[0] >= w[1])
            || relink
                .iter()
                .any(|&r| r as usize >= g || ids[r as usize] == FREE_ID)
        {
            return Err(fmt_err("invalid list of refilled slots"));
        }
        check_links(&graph, 0, |slot| slot as u32, |t| (t as usize) < g)?;
        if let Some((l, entry, top)) = &layers {
            // After removals every linked slot can be free or awaiting links: no entry then.
            let mut waiting = vec![false; g];
            for &r in &relink {
                waiting[r as usize] = true;
            }
            let rooted = (0..g).any(|i| ids[i] != FREE_ID && !waiting[i]);
            check_layers(l, *entry, *top, g, rooted)?;
        }
        let layers = layers.map(|(l, _, _)| l);
        if h.variable {
            let c = h.channels;
            let mut end = 0usize;
            store.ends.try_reserve_exact(n).map_err(oom)?;
            for &t in &steps {
                let f = usize::try_from(t)
                    .ok()
                    .and_then(|t| t.checked_mul(c))
                    .filter(|&f| f > 0 && f <= MAX_DIM)
                    .ok_or_else(|| fmt_err(format!("a stored series has {t} time steps")))?;
                end = end.checked_add(f).filter(|&e| e <= floats).ok_or_else(|| {
                    fmt_err("the series' lengths add up to more floats than the file holds")
                })?;
                store.ends.push(end);
            }
            if end != floats {
                return Err(fmt_err(format!(
                    "the series' lengths add up to {end} floats, the header says {floats}"
                )));
            }
            store.variable = true;
            store.window = h.window;
        }
        store.data = data;
        store.compute_envelopes(0);
        store.encode_rows(0);
        // Free slots have no links (refilled slots awaiting links may have some: back-links
        // pushed before the save), and nothing links to a free slot.
        let mut unlinked = vec![false; n];
        for &f in &free {
            unlinked[f as usize] = true;
        }
        let bad = |g: &Graph, node_of: &dyn Fn(usize) -> usize| {
            let m = g.max_degree;
            let slots: Vec<u32> = g.raw_slots().collect();
            g.raw_counts().enumerate().any(|(slot, deg)| {
                let node = node_of(slot);
                let used = &slots[slot * m..slot * m + (deg as usize).min(m)];
                (deg > 0 && unlinked[node]) || used.iter().any(|&t| unlinked[t as usize])
            })
        };
        if h.free + h.relink > 0 {
            let layer_bad = layers.as_ref().is_some_and(|l| {
                l.upper
                    .iter()
                    .any(|layer| bad(&layer.graph, &|s| layer.nodes[s] as usize))
            });
            let entry_free = layers
                .as_ref()
                .and_then(Layers::entry)
                .is_some_and(|(e, _)| ids[e as usize] == FREE_ID);
            if bad(&graph, &|s| s) || layer_bad || entry_free {
                return Err(fmt_err(
                    "a free slot is linked, has links or is the entry point",
                ));
            }
        }
        let mut index = Index::from_parts(store, graph, layers, h.params, ids, id_map);
        index.restore_slots(free, relink);
        if index.pending() != h.pending {
            return Err(fmt_err(format!(
                "the header says {} rows await links, the slots say {}",
                h.pending,
                index.pending()
            )));
        }
        if index.slots() != n {
            return Err(invalid("n", "inconsistent"));
        }
        Ok(index)
    }
}

/// Reads the layer section of a version-2 file after its 16-byte entry/top field `ends` and the
/// node levels: checks the levels (they size the section) and the file's length against them,
/// then streams every upper layer's degrees and link slots. Returns the layers (entry point not
/// yet set) and the raw entry and top, checked by [`check_layers`] once the checksum holds.
fn read_layers<R: Read>(
    src: &mut Source<R>,
    ends: &[u8; 16],
    levels: Vec<u8>,
    m: usize,
    len: u64,
    base: usize,
) -> Result<(Layers, u64, u64), Error> {
    let mut level_counts: Vec<usize> = Vec::new();
    for &lv in &levels {
        let lv = lv as usize;
        if lv > MAX_LEVEL {
            return Err(fmt_err(format!("a node has level {lv} above {MAX_LEVEL}")));
        }
        if level_counts.len() < lv {
            level_counts.resize(lv, 0);
        }
        for c in &mut level_counts[..lv] {
            *c += 1;
        }
    }
    let mu = upper_degree(m);
    let mut total = base + 16 + levels.len() + 4;
    for &c in &level_counts {
        total = layer_len(c, mu)
            .and_then(|v| v.checked_add(total))
            .ok_or_else(|| fmt_err("sizes in the file overflow"))?;
    }
    if len != total as u64 {
        return Err(length_err(len, total));
    }
    let mut layers = Layers::new(mu);
    for (node, &lv) in levels.iter().enumerate() {
        layers.push(node as u32, lv as usize);
    }
    for layer in &mut layers.upper {
        let k = layer.nodes.len();
        src.values(k, u32::from_le_bytes, |at, p| {
            layer.graph.fill_counts(at, p)
        })?;
        src.values(k * mu, u32::from_le_bytes, |at, p| {
            layer.graph.fill_slots(at, p)
        })?;
    }
    Ok((layers, u64_at(ends, 0), u64_at(ends, 8)))
}

/// Checks a loaded hierarchy of `n` nodes (read by [`read_layers`]): the entry point is a node of
/// the top level in use (none for an empty index, or when no linked slot is `rooted`: all free or
/// awaiting links), and every upper list links nodes of its level.
/// Sets the entry point.
fn check_layers(
    layers: &Layers,
    entry: u64,
    top: u64,
    n: usize,
    rooted: bool,
) -> Result<(), Error> {
    let max_level = layers.upper.len();
    let entry = if n == 0 || !rooted {
        if entry != u64::MAX || top != u64::MAX {
            return Err(fmt_err("an empty index has an entry point"));
        }
        None
    } else {
        let node = usize::try_from(entry)
            .ok()
            .filter(|&e| e < n)
            .ok_or_else(|| fmt_err(format!("entry point {entry} is not a stored node")))?;
        // After removals the highest levels can hold only free slots: the entry is then the
        // top of the levels still in use (version 5; the loader checks it is not free).
        if top > max_level as u64 || u64::from(layers.levels[node]) != top {
            return Err(fmt_err(format!(
                "entry point {node} is not on its level {top} (levels up to {max_level})"
            )));
        }
        Some((node as u32, top as usize))
    };
    for (l, layer) in layers.upper.iter().enumerate() {
        let level = l + 1;
        check_links(
            &layer.graph,
            level,
            |slot| layer.nodes[slot],
            |t| (t as usize) < n && layers.levels[t as usize] as usize >= level,
        )?;
    }
    layers.set_entry(entry);
    Ok(())
}

/// Checks every list of `g`, a graph on `level` (0 for the base graph) whose list `slot` belongs
/// to node `node_of(slot)`: the degree is within the cap, every target passes `valid` and is not
/// the list's own node, and no target repeats.
fn check_links(
    g: &Graph,
    level: usize,
    node_of: impl Fn(usize) -> u32,
    valid: impl Fn(u32) -> bool,
) -> Result<(), Error> {
    let m = g.max_degree;
    let on = if level == 0 {
        String::new()
    } else {
        format!(" on level {level}")
    };
    let mut seen: Vec<u32> = Vec::with_capacity(m);
    let mut slots = g.raw_slots();
    for (slot, deg) in g.raw_counts().enumerate() {
        let node = node_of(slot);
        seen.clear();
        seen.extend(slots.by_ref().take(m));
        if deg as usize > m {
            let cap = if level == 0 {
                format!("max_degree={m}")
            } else {
                m.to_string()
            };
            return Err(fmt_err(format!(
                "node {node} has degree {deg} above {cap}{on}"
            )));
        }
        seen.truncate(deg as usize);
        if seen.iter().any(|&t| !valid(t) || t == node) {
            return Err(fmt_err(format!("node {node} has an invalid link{on}")));
        }
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(fmt_err(format!("node {node} has a repeated link{on}")));
        }
    }
    Ok(())
}
