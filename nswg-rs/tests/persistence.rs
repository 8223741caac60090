//! Save/load round trips, and corrupt files that must fail cleanly, never panic.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use nswg::{BuildParams, Entry, Error, GraphKind, Index, Metric, SearchParams};

fn small(metric: Metric) -> Index {
    small_with(metric, false)
}

/// 40 rows of width 6 with max_degree 4; with `hierarchy`, upper layers have degree cap 2 and
/// (with the default seed) reach level 3 or more, so every part of the version-2 section is present.
fn small_with(metric: Metric, hierarchy: bool) -> Index {
    let dim = 6;
    let mut idx = Index::new(
        dim,
        metric,
        BuildParams {
            max_degree: 4,
            graph: kind(hierarchy),
            ..Default::default()
        },
    )
    .unwrap();
    let ids: Vec<i64> = (0..40).map(|i| 1000 - 7 * i).collect();
    idx.add(&walks(40, dim, 21), Some(&ids), 1).unwrap();
    idx
}

#[test]
fn save_load_round_trip() {
    for metric in [Metric::Euclidean, Metric::Dtw { band: 2 }] {
        let idx = small(metric);
        let dir =
            std::env::temp_dir().join(format!("nswg-rt-{}-{}", std::process::id(), metric.name()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.nswg");
        idx.save(&path).unwrap();
        let h = nswg::read_header(&path).unwrap();
        assert_eq!((h.dim, h.n, h.metric), (6, 40, metric));
        let back = Index::load(&path).unwrap();
        assert_eq!(back.to_bytes(), idx.to_bytes());
        let q = walks(10, 6, 22);
        let p = SearchParams::default();
        let a = idx.search_batch(&q, 5, &p, false).unwrap();
        let b = back.search_batch(&q, 5, &p, false).unwrap();
        assert_eq!(a.ids, b.ids);
        assert_eq!(a.distances, b.distances);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn every_truncation_fails_cleanly() {
    let bytes = small(Metric::Dtw { band: 1 }).to_bytes();
    for cut in 0..bytes.len() {
        assert!(
            Index::from_bytes(&bytes[..cut]).is_err(),
            "truncation at {cut} loaded"
        );
    }
}

#[test]
fn byte_flips_fail_cleanly() {
    let bytes = small(Metric::Euclidean).to_bytes();
    let mut r = Rng::new(3);
    for _ in 0..2000 {
        let mut b = bytes.clone();
        let at = (r.next_u64() % b.len() as u64) as usize;
        let bit = 1u8 << (r.next_u64() % 8);
        b[at] ^= bit;
        match Index::from_bytes(&b) {
            Err(Error::Format { .. }) | Err(Error::UnsupportedVersion { .. }) => {}
            Err(e) => panic!("unexpected error kind {e:?}"),
            Ok(_) => panic!("flip at byte {at} loaded"),
        }
    }
}

#[test]
fn future_version_is_reported() {
    let mut b = small(Metric::Euclidean).to_bytes();
    b[8..12].copy_from_slice(&99u32.to_le_bytes());
    match Index::from_bytes(&b) {
        Err(Error::UnsupportedVersion {
            found: 99,
            supported: 5,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn hierarchy_save_load_round_trip() {
    for metric in [Metric::Euclidean, Metric::Dtw { band: 2 }] {
        let idx = small_with(metric, true);
        let (_, top) = idx.entry_point().unwrap();
        assert!(top >= 2, "test index too flat: top level {top}");
        let bytes = idx.to_bytes();
        assert_eq!(bytes[8..12], 2u32.to_le_bytes());
        let back = Index::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert!(back.build_params().graph == GraphKind::Hnsw);
        assert_eq!(back.entry_point(), idx.entry_point());
        let q = walks(10, 6, 22);
        let p = SearchParams {
            entry: Some(Entry::Hierarchy),
            ..Default::default()
        };
        let a = idx.search_batch(&q, 5, &p, false).unwrap();
        let b = back.search_batch(&q, 5, &p, false).unwrap();
        assert_eq!(a.ids, b.ids);
        assert_eq!(a.distances, b.distances);
        // Adding after a load continues the same hierarchy.
        let mut c = back;
        c.add(&walks(5, 6, 23), None, 1).unwrap();
        assert_eq!(c.len(), 45);
    }
    // An empty hierarchical index round-trips too.
    let empty = Index::new(
        3,
        Metric::Euclidean,
        BuildParams {
            graph: GraphKind::Hnsw,
            ..Default::default()
        },
    )
    .unwrap();
    let back = Index::from_bytes(&empty.to_bytes()).unwrap();
    assert!(back.is_empty() && back.build_params().graph == GraphKind::Hnsw);
}

#[test]
fn hierarchy_every_truncation_fails_cleanly() {
    let bytes = small_with(Metric::Dtw { band: 1 }, true).to_bytes();
    for cut in 0..bytes.len() {
        assert!(
            Index::from_bytes(&bytes[..cut]).is_err(),
            "truncation at {cut} loaded"
        );
    }
}

#[test]
fn hierarchy_byte_flips_fail_cleanly() {
    let bytes = small_with(Metric::Euclidean, true).to_bytes();
    let mut r = Rng::new(4);
    for round in 0..3000 {
        let mut b = bytes.clone();
        // Half of the flips land in the layer section at the end.
        let at = if round % 2 == 0 {
            (r.next_u64() % b.len() as u64) as usize
        } else {
            b.len() - 1 - (r.next_u64() % 400) as usize
        };
        let bit = 1u8 << (r.next_u64() % 8);
        b[at] ^= bit;
        match Index::from_bytes(&b) {
            Err(Error::Format { .. }) | Err(Error::UnsupportedVersion { .. }) => {}
            Err(e) => panic!("unexpected error kind {e:?}"),
            Ok(_) => panic!("flip at byte {at} loaded"),
        }
    }
}

/// Rewrites the CRC so that a crafted (inconsistent) body passes the checksum.
fn fix_crc(b: &mut [u8]) {
    let n = b.len() - 4;
    let crc = crc32(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
}

/// CRC-32 (IEEE), bitwise: the tests need no extra crate.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in data {
        c ^= x as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn hierarchy_inconsistent_layers_are_rejected_even_with_a_valid_checksum() {
    let idx = small_with(Metric::Euclidean, true);
    let bytes = idx.to_bytes();
    let (n, dim, m) = (40usize, 6usize, 4usize);
    let base = 72 + n * (4 * dim + 12 + 4 * m);
    let mut ok = bytes.clone();
    fix_crc(&mut ok);
    assert!(Index::from_bytes(&ok).is_ok());
    // Entry point out of range, or not on the top level.
    let (entry, _) = idx.entry_point().unwrap();
    let entry_node = idx.ids().iter().position(|&i| i == entry).unwrap();
    let other = (0..n).find(|&v| v != entry_node).unwrap();
    for bad_entry in [n as u64, other as u64] {
        let mut b = bytes.clone();
        b[base..base + 8].copy_from_slice(&bad_entry.to_le_bytes());
        fix_crc(&mut b);
        assert!(matches!(Index::from_bytes(&b), Err(Error::Format { .. })));
    }
    // Wrong top level; a level above the maximum.
    let mut b = bytes.clone();
    b[base + 8..base + 16].copy_from_slice(&1000u64.to_le_bytes());
    fix_crc(&mut b);
    assert!(matches!(Index::from_bytes(&b), Err(Error::Format { .. })));
    let mut b = bytes.clone();
    b[base + 16] = 200;
    fix_crc(&mut b);
    assert!(matches!(Index::from_bytes(&b), Err(Error::Format { .. })));
    // Layer 1: degree above the cap, a link out of range, a self-loop.
    let n1 = idx
        .ids()
        .iter()
        .filter(|&&id| idx.level(id).unwrap() >= 1)
        .count();
    let l1 = base + 16 + n;
    let mut b = bytes.clone();
    b[l1..l1 + 4].copy_from_slice(&3u32.to_le_bytes());
    fix_crc(&mut b);
    assert!(matches!(Index::from_bytes(&b), Err(Error::Format { .. })));
    let slots = l1 + 4 * n1;
    for bad in [n as u32, u32::MAX] {
        let mut b = bytes.clone();
        b[l1..l1 + 4].copy_from_slice(&1u32.to_le_bytes());
        b[slots..slots + 4].copy_from_slice(&bad.to_le_bytes());
        fix_crc(&mut b);
        assert!(matches!(Index::from_bytes(&b), Err(Error::Format { .. })));
    }
}

/// Files written by release 0.1.0 (`tests/data/v0.1.0-*.nswg`, flat and layered, Euclidean and
/// DTW, made by `pyembed.Index.save` before the core was split) load, keep their parameters, and
/// give the exact answers that release wrote next to them (`*.expected.txt`: k, dim, the queries,
/// then `id:distance` per neighbor).
#[test]
fn files_of_release_0_1_0_load_with_identical_exact_answers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for name in [
        "euclidean-flat",
        "euclidean-layered",
        "dtw-flat",
        "dtw-layered",
    ] {
        let idx = Index::load(&dir.join(format!("v0.1.0-{name}.nswg"))).unwrap();
        let layered = name.ends_with("layered");
        let p = idx.build_params();
        assert_eq!(p.graph, kind(layered), "{name}");
        assert_eq!(
            (p.max_degree, p.ef_construction, p.seed),
            (8, 64, 7),
            "{name}"
        );
        let want_metric = if name.starts_with("dtw") {
            Metric::Dtw { band: 3 }
        } else {
            Metric::Euclidean
        };
        assert_eq!((idx.metric(), idx.dim(), idx.len()), (want_metric, 16, 120));
        let text =
            std::fs::read_to_string(dir.join(format!("v0.1.0-{name}.expected.txt"))).unwrap();
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        let head: Vec<usize> = lines
            .next()
            .unwrap()
            .split(' ')
            .map(|x| x.parse().unwrap())
            .collect();
        let (k, dim, nq) = (head[0], head[1], head[2]);
        let queries: Vec<f32> = lines
            .by_ref()
            .take(nq)
            .flat_map(|l| l.split(' ').map(|x| x.parse::<f32>().unwrap()))
            .collect();
        assert_eq!(queries.len(), nq * dim);
        let r = idx
            .search_batch(&queries, k, &SearchParams::default(), true)
            .unwrap();
        for (qi, line) in lines.enumerate() {
            for (j, pair) in line.split(' ').enumerate() {
                let (id, d) = pair.split_once(':').unwrap();
                assert_eq!(
                    r.ids[qi * k + j],
                    id.parse::<i64>().unwrap(),
                    "{name} q{qi}"
                );
                assert_eq!(
                    r.distances[qi * k + j],
                    d.parse::<f32>().unwrap(),
                    "{name} q{qi}"
                );
            }
        }
        // Written again, the file is byte for byte the one the release wrote.
        let bytes = std::fs::read(dir.join(format!("v0.1.0-{name}.nswg"))).unwrap();
        assert_eq!(idx.to_bytes(), bytes, "{name}");
    }
}

/// A header that claims far more data than the file holds fails on the length check, before
/// anything of that size is allocated (n = 2^32 - 1 rows of 2^24 floats would be 256 PiB).
#[test]
fn a_forged_header_cannot_make_load_allocate() {
    let mut b = small(Metric::Euclidean).to_bytes();
    b[16..24].copy_from_slice(&(nswg::MAX_DIM as u64).to_le_bytes());
    b[64..72].copy_from_slice(&u64::from(u32::MAX).to_le_bytes());
    fix_crc(&mut b);
    match Index::from_bytes(&b) {
        Err(Error::Format { reason }) => assert!(reason.contains("header describes"), "{reason}"),
        other => panic!("{:?}", other.map(|i| i.len())),
    }
    // Wider than MAX_DIM is refused by the header check itself.
    b[16..24].copy_from_slice(&(nswg::MAX_DIM as u64 + 1).to_le_bytes());
    assert!(matches!(Index::from_bytes(&b), Err(Error::Format { .. })));
}

/// The streamed writer and reader agree with the byte-vector forms, through readers that hand
/// out one byte at a time (every piece boundary falls everywhere), and `file_len` is exact.
#[test]
fn streamed_writes_and_reads_match_the_byte_forms() {
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            if buf.is_empty() {
                return Ok(0);
            }
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }
    for hierarchy in [false, true] {
        for metric in [Metric::Euclidean, Metric::Dtw { band: 2 }] {
            let idx = small_with(metric, hierarchy);
            let bytes = idx.to_bytes();
            assert_eq!(idx.file_len(), bytes.len());
            let mut streamed = Vec::new();
            idx.write_to(&mut streamed).unwrap();
            assert_eq!(streamed, bytes);
            let back = Index::read_from(Trickle(&bytes), bytes.len() as u64).unwrap();
            assert_eq!(back.to_bytes(), bytes);
            // A reader that ends before the length it was promised is a truncated file.
            let cut = &bytes[..bytes.len() - 9];
            match Index::read_from(cut, bytes.len() as u64) {
                Err(Error::Format { reason }) => {
                    assert!(reason.contains("ended early"), "{reason}")
                }
                other => panic!("{:?}", other.map(|i| i.len())),
            }
        }
    }
}

/// `save` leaves exactly the index file in its folder (no temporary), replaces an existing file
/// whole, and a failed save (the folder is gone) is an `Io` error.
#[test]
fn saves_replace_the_file_and_leave_nothing_else() {
    let dir = std::env::temp_dir().join(format!("nswg-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("i.nswg");
    let (a, b) = (
        small(Metric::Euclidean),
        small_with(Metric::Dtw { band: 1 }, true),
    );
    for idx in [&a, &b, &a] {
        idx.save(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), idx.to_bytes());
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("i.nswg")]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(a.save(&path), Err(Error::Io(_))));
}

/// A DTW band above `dim`, which `Index::new` refuses, is refused in a file too.
#[test]
fn a_band_above_dim_is_refused_on_load() {
    let mut b = small(Metric::Dtw { band: 1 }).to_bytes();
    for band in [7u64, u64::MAX] {
        b[24..32].copy_from_slice(&band.to_le_bytes());
        fix_crc(&mut b);
        match Index::from_bytes(&b) {
            Err(Error::Format { reason }) => assert!(
                reason.contains("above the series length 6 (dim=6"),
                "{reason}"
            ),
            other => panic!("band {band}: {:?}", other.map(|i| i.len())),
        }
    }
}

#[test]
fn pending_rows_survive_save_and_load_as_version_3() {
    // An index with rows not yet linked is written as version 3 (graph of the linked rows only);
    // loading and building gives the graph of building before saving. A fully built index is
    // still written as version 1 or 2.
    for graph in [GraphKind::Hnsw, GraphKind::Nsw] {
        for metric in [Metric::Euclidean, Metric::Dtw { band: 2 }] {
            let params = BuildParams {
                graph,
                ..BuildParams::default()
            };
            let data = uniform_rows(900, 8, 61);
            let mut idx = Index::new(8, metric, params).unwrap();
            idx.add(&data[..300 * 8], None, 1).unwrap();
            idx.add_unlinked(&data[300 * 8..], None).unwrap();
            let bytes = idx.to_bytes();
            assert_eq!(bytes.len(), idx.file_len());
            assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 3);
            let mut back = Index::from_bytes(&bytes).unwrap();
            assert_eq!((back.len(), back.pending()), (900, 600));
            assert_eq!(back.to_bytes(), bytes);
            let dir = std::env::temp_dir().join(format!("nswg-v3-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{graph:?}-{}.nswg", metric.name()));
            idx.save(&path).unwrap();
            let h = nswg::read_header(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert_eq!(
                (h.version, h.n, h.linked, h.params.graph),
                (3, 900, 300, graph)
            );
            idx.build(1).unwrap();
            back.build(1).unwrap();
            let built = idx.to_bytes();
            assert_eq!(back.to_bytes(), built);
            let want = if graph == GraphKind::Hnsw { 2 } else { 1 };
            assert_eq!(u32::from_le_bytes(built[8..12].try_into().unwrap()), want);
            // Truncations and flips of a version-3 file are refused.
            for cut in [0, 11, 72, 80, 87, bytes.len() - 1] {
                assert!(Index::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            let mut forged = bytes.clone();
            forged[80..88].copy_from_slice(&901u64.to_le_bytes());
            assert!(Index::from_bytes(&forged).is_err());
        }
    }
}
