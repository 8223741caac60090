//! The on-disk format (versions 1 and 2), little-endian throughout. Flat indexes are written as
//! version 1; indexes with a hierarchy ([`GraphKind::Hnsw`]) as version 2, which appends the
//! layers after the link slots:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `b"NSWGIDX\0"` |
//! | 4 | format version (u32) |
//! | 4 | metric (u32: 0 Euclidean, 1 DTW) |
//! | 8 x 7 | dim, band, max_degree, ef_construction, restarts (written as 1, ignored on load), seed, n (u64 each) |
//! | 4·n·dim | vectors (f32, row-major) |
//! | 8·n | user ids (i64) |
//! | 4·n | degrees (u32) |
//! | 4·n·max_degree | link slots (u32 node numbers; the first `degree` of each node are used) |
//! | 8 + 8 | version 2 only: entry node and top level (u64 each; `u64::MAX` twice when n = 0) |
//! | n | version 2 only: level of every node (u8, at most 30) |
//! | per level l = 1..=top | version 2 only: for the `n_l` nodes of level >= l in ascending order, degrees (4·n_l) then `M` link slots each (4·n_l·M), `M = max(max_degree / 2, 2)` |
//! | 4 | CRC-32 of every preceding byte |
//!
//! Loading checks the magic, version, checksum, exact length, and every value the search indexes
//! with (degrees, link targets, ids; levels, layer links, the entry point), so a loaded index cannot
//! make search read out of bounds.

use crate::error::{invalid, Error};
use crate::graph::{Graph, Layer, Layers, MAX_LEVEL};
use crate::index::Index;
use crate::insert::upper_degree;
use crate::metric::Metric;
use crate::params::{BuildParams, GraphKind};
use crate::store::{Floats, Store};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"NSWGIDX\0";
/// Highest format version this build reads (it reads 1 and 2). Flat indexes are written as version
/// 1, hierarchical ones as version 2.
pub const FORMAT_VERSION: u32 = 2;
const FLAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 72;

/// What a saved index file says about itself, read without loading the vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Format version of the file.
    pub version: u32,
    /// The metric, with the DTW band in samples.
    pub metric: Metric,
    /// Width of every vector.
    pub dim: usize,
    /// Number of stored vectors.
    pub n: usize,
    /// Build parameters stored with the graph.
    pub params: BuildParams,
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
    if bytes.len() < HEADER_LEN {
        return Err(fmt_err(format!(
            "file is truncated: {} bytes, shorter than the {HEADER_LEN}-byte header",
            bytes.len()
        )));
    }
    let band = usize_at(bytes, 24, "band")?;
    let metric = match u32_at(bytes, 12) {
        0 => Metric::Euclidean,
        1 => Metric::Dtw { band },
        m => return Err(fmt_err(format!("unknown metric code {m}"))),
    };
    let h = Header {
        version,
        metric,
        dim: usize_at(bytes, 16, "dim")?,
        n: usize_at(bytes, 64, "n")?,
        params: BuildParams {
            max_degree: usize_at(bytes, 32, "max_degree")?,
            ef_construction: usize_at(bytes, 40, "ef_construction")?,
            seed: u64_at(bytes, 56),
            graph: if version >= 2 {
                GraphKind::Hnsw
            } else {
                GraphKind::Nsw
            },
        },
    };
    if h.dim == 0 || h.params.max_degree < 2 || h.params.max_degree > 4096 {
        return Err(fmt_err("header holds an invalid dim or max_degree"));
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
    let mut buf = Vec::with_capacity(HEADER_LEN);
    std::fs::File::open(path)?
        .take(HEADER_LEN as u64)
        .read_to_end(&mut buf)?;
    parse_header(&buf)
}

impl Index {
    /// Serialises the whole index (vectors, ids, graph, parameters) in the format above.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.len();
        let dim = self.dim();
        let m = self.graph.max_degree;
        let mut b = Vec::with_capacity(HEADER_LEN + n * (4 * dim + 12 + 4 * m) + 4);
        b.extend_from_slice(MAGIC);
        let version = if self.layers.is_some() {
            FORMAT_VERSION
        } else {
            FLAT_VERSION
        };
        b.extend_from_slice(&version.to_le_bytes());
        let (code, band) = match self.metric() {
            Metric::Euclidean => (0u32, 0usize),
            Metric::Dtw { band } => (1, band),
        };
        b.extend_from_slice(&code.to_le_bytes());
        // The fifth field held the build-time restarts; builds use one, and it is written as 1
        // so files stay byte-identical to those of earlier releases.
        for v in [dim, band, m, self.params.ef_construction, 1] {
            b.extend_from_slice(&(v as u64).to_le_bytes());
        }
        b.extend_from_slice(&self.params.seed.to_le_bytes());
        b.extend_from_slice(&(n as u64).to_le_bytes());
        for x in self.store.data.as_slice() {
            b.extend_from_slice(&x.to_le_bytes());
        }
        for x in &self.ids {
            b.extend_from_slice(&x.to_le_bytes());
        }
        let (counts, links) = self.graph.raw();
        for x in counts.iter().chain(&links) {
            b.extend_from_slice(&x.to_le_bytes());
        }
        if let Some(layers) = &self.layers {
            let (entry, top) = layers
                .entry()
                .map_or((u64::MAX, u64::MAX), |(e, t)| (e as u64, t as u64));
            b.extend_from_slice(&entry.to_le_bytes());
            b.extend_from_slice(&top.to_le_bytes());
            b.extend_from_slice(&layers.levels);
            for layer in &layers.upper {
                let (counts, links) = layer.graph.raw();
                for x in counts.iter().chain(&links) {
                    b.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Writes the index to `path` (through a temporary file in the same folder, renamed into place,
    /// so a crash never leaves a half-written index under the final name).
    ///
    /// # Errors
    /// `Io` if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = self.to_bytes();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Reads an index written by [`Index::save`].
    ///
    /// # Errors
    /// `Io` if the file cannot be read; `Format` if it is truncated, corrupt or inconsistent;
    /// `UnsupportedVersion` if it was written by a newer format.
    pub fn load(path: &Path) -> Result<Index, Error> {
        let bytes = std::fs::read(path)?;
        Index::from_bytes(&bytes)
    }

    /// Parses an index from bytes produced by [`Index::to_bytes`], validating everything.
    ///
    /// # Errors
    /// As [`Index::load`], without `Io`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Index, Error> {
        let h = parse_header(bytes)?;
        let (n, dim, m) = (h.n, h.dim, h.params.max_degree);
        let expected = n
            .checked_mul(dim)
            .and_then(|v| v.checked_mul(4))
            .and_then(|v| v.checked_add(n.checked_mul(12)?))
            .and_then(|v| v.checked_add(n.checked_mul(m)?.checked_mul(4)?))
            .and_then(|v| v.checked_add(HEADER_LEN + 4))
            .ok_or_else(|| fmt_err("sizes in the header overflow"))?;
        let base = expected - 4;
        // Version 2: the layer section's size follows from the levels (checked before use).
        let mut level_counts: Vec<usize> = Vec::new();
        let mu = upper_degree(m);
        let expected = if h.params.graph == GraphKind::Hnsw {
            let lv_end = base
                .checked_add(16)
                .and_then(|v| v.checked_add(n))
                .ok_or_else(|| fmt_err("sizes in the header overflow"))?;
            if bytes.len() < lv_end {
                return Err(fmt_err(format!(
                    "file has {} bytes, too short for the levels its header describes (truncated)",
                    bytes.len()
                )));
            }
            for &lv in &bytes[base + 16..lv_end] {
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
            let mut total = lv_end;
            for &c in &level_counts {
                total = c
                    .checked_mul(4 * (1 + mu))
                    .and_then(|v| v.checked_add(total))
                    .ok_or_else(|| fmt_err("sizes in the file overflow"))?;
            }
            total
                .checked_add(4)
                .ok_or_else(|| fmt_err("sizes in the file overflow"))?
        } else {
            expected
        };
        if bytes.len() != expected {
            return Err(fmt_err(format!(
                "file has {} bytes but its header describes {expected} (truncated or corrupt)",
                bytes.len()
            )));
        }
        let body = &bytes[..expected - 4];
        if crc32fast::hash(body) != u32_at(bytes, expected - 4) {
            return Err(fmt_err("checksum mismatch (the file is corrupt)"));
        }
        let mut at = HEADER_LEN;
        let mut data = Floats::default();
        data.reserve_exact(n * dim);
        let mut part = Vec::with_capacity(4096);
        for bytes in body[at..at + 4 * n * dim].chunks(4 * 4096) {
            part.clear();
            for c in bytes.chunks_exact(4) {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if !x.is_finite() {
                    return Err(fmt_err("a stored vector holds a non-finite value"));
                }
                part.push(x);
            }
            data.extend_from_slice(&part);
        }
        at += 4 * n * dim;
        let mut ids = Vec::with_capacity(n);
        let mut id_map = HashMap::with_capacity(n);
        for (node, c) in body[at..at + 8 * n].chunks_exact(8).enumerate() {
            let id = u64_at(c, 0) as i64;
            if id < 0 || id_map.insert(id, node as u32).is_some() {
                return Err(fmt_err(format!("invalid or repeated id {id}")));
            }
            ids.push(id);
        }
        at += 8 * n;
        let counts: Vec<u32> = body[at..at + 4 * n]
            .chunks_exact(4)
            .map(|c| u32_at(c, 0))
            .collect();
        at += 4 * n;
        let links: Vec<u32> = body[at..at + 4 * n * m]
            .chunks_exact(4)
            .map(|c| u32_at(c, 0))
            .collect();
        let mut seen: Vec<u32> = Vec::with_capacity(m);
        for (node, &deg) in counts.iter().enumerate() {
            if deg as usize > m {
                return Err(fmt_err(format!(
                    "node {node} has degree {deg} above max_degree={m}"
                )));
            }
            seen.clear();
            seen.extend_from_slice(&links[node * m..node * m + deg as usize]);
            if seen.iter().any(|&t| t as usize >= n || t as usize == node) {
                return Err(fmt_err(format!("node {node} has an invalid link")));
            }
            seen.sort_unstable();
            if seen.windows(2).any(|w| w[0] == w[1]) {
                return Err(fmt_err(format!("node {node} has a repeated link")));
            }
        }
        let mut store = Store::new(dim, h.metric);
        store.data = data;
        store.compute_envelopes(0);
        store.encode_rows(0);
        let graph = Graph::from_raw(m, counts, links);
        let layers = if h.params.graph == GraphKind::Hnsw {
            Some(read_layers(body, base, n, mu, &level_counts)?)
        } else {
            None
        };
        let index = Index::from_parts(store, graph, layers, h.params, ids, id_map);
        if index.len() != n {
            return Err(invalid("n", "inconsistent"));
        }
        Ok(index)
    }
}

/// Parses and validates the layer section of a version-2 file (`body` = the file without its CRC,
/// whose length was checked against `level_counts`): levels, entry point, degrees, link targets.
fn read_layers(
    body: &[u8],
    base: usize,
    n: usize,
    m: usize,
    level_counts: &[usize],
) -> Result<Layers, Error> {
    let entry = u64_at(body, base);
    let top = u64_at(body, base + 8);
    let levels = &body[base + 16..base + 16 + n];
    let mut layers = Layers::new(m);
    for (node, &lv) in levels.iter().enumerate() {
        layers.push(node as u32, lv as usize);
    }
    let max_level = level_counts.len();
    let entry = if n == 0 {
        if entry != u64::MAX || top != u64::MAX {
            return Err(fmt_err("an empty index has an entry point"));
        }
        None
    } else {
        let node = usize::try_from(entry)
            .ok()
            .filter(|&e| e < n)
            .ok_or_else(|| fmt_err(format!("entry point {entry} is not a stored node")))?;
        if top != max_level as u64 || levels[node] as usize != max_level {
            return Err(fmt_err(format!(
                "entry point {node} is not on the top level {max_level}"
            )));
        }
        Some((node as u32, max_level))
    };
    let mut at = base + 16 + n;
    let mut upper = Vec::with_capacity(max_level);
    let mut seen: Vec<u32> = Vec::with_capacity(m);
    for (l, layer) in layers.upper.drain(..).enumerate() {
        let level = l + 1;
        let len = layer.nodes.len();
        if level_counts.get(l) != Some(&len) {
            return Err(fmt_err("layer sizes disagree with the levels"));
        }
        let counts: Vec<u32> = body[at..at + 4 * len]
            .chunks_exact(4)
            .map(|c| u32_at(c, 0))
            .collect();
        at += 4 * len;
        let links: Vec<u32> = body[at..at + 4 * len * m]
            .chunks_exact(4)
            .map(|c| u32_at(c, 0))
            .collect();
        at += 4 * len * m;
        for (slot, &deg) in counts.iter().enumerate() {
            let node = layer.nodes[slot];
            if deg as usize > m {
                return Err(fmt_err(format!(
                    "node {node} has degree {deg} above {m} on level {level}"
                )));
            }
            seen.clear();
            seen.extend_from_slice(&links[slot * m..slot * m + deg as usize]);
            if seen
                .iter()
                .any(|&t| t as usize >= n || t == node || (levels[t as usize] as usize) < level)
            {
                return Err(fmt_err(format!(
                    "node {node} has an invalid link on level {level}"
                )));
            }
            seen.sort_unstable();
            if seen.windows(2).any(|w| w[0] == w[1]) {
                return Err(fmt_err(format!(
                    "node {node} has a repeated link on level {level}"
                )));
            }
        }
        upper.push(Layer {
            nodes: layer.nodes,
            graph: Graph::from_raw(m, counts, links),
        });
    }
    if at != body.len() {
        return Err(fmt_err("layer section has the wrong length"));
    }
    layers.upper = upper;
    layers.set_entry(entry);
    Ok(layers)
}
